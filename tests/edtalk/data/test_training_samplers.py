"""Who is paired with whom in the stage samplers (``edtalk.data.training.StageSampler``).

A tiny in-memory ``FrameCache`` whose every pixel stores its clip's index, so a sampled image says
which clip it came from.
"""

import numpy as np

from edtalk.data.clip import EMOTIONS
from edtalk.data.training import FrameCache, StageSampler

# (identity, emotion) per clip: identity 0 and 1 have one neutral clip, identity 2 has none
CLIPS = [(0, "neutral"), (0, "happy"), (0, "angry"), (1, "sad"), (1, "neutral"), (2, "fear"), (2, "happy")]
FRAMES_PER_CLIP = 3


def _cache() -> FrameCache:
    n = len(CLIPS) * FRAMES_PER_CLIP
    clip_of_row = np.repeat(np.arange(len(CLIPS)), FRAMES_PER_CLIP)
    frames = np.broadcast_to(clip_of_row[:, None, None, None] * 10, (n, 4, 4, 3)).astype(np.uint8)
    return FrameCache(
        frames=frames,
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        mels=np.zeros((n, 80, 16), np.float16),
        start=np.arange(len(CLIPS)) * FRAMES_PER_CLIP,
        length=np.full(len(CLIPS), FRAMES_PER_CLIP),
        identity=np.array([i for i, _ in CLIPS]),
        emotion=np.array([EMOTIONS.index(e) for _, e in CLIPS]),
        clip_ids=[f"c{k}" for k in range(len(CLIPS))],
        identities=["id0", "id1", "id2"],
        transcripts=[""] * len(CLIPS),
    )


def _clip_index(images) -> np.ndarray:
    """The clip each sampled image came from (its pixel value / 10)."""
    values = ((images[:, 0, 0, 0] + 1.0) * 127.5).round().numpy()
    return (values / 10).round().astype(int)


def test_eg_pretrain_source_is_a_neutral_frame_of_the_targets_identity():
    batch = StageSampler(_cache(), seed=0).frame_pairs(256)
    src, tgt = _clip_index(batch["source"]), _clip_index(batch["target"])
    assert len(set(tgt)) == len(CLIPS)  # targets come from every clip, emotional ones included
    for s, t in zip(src, tgt, strict=True):
        assert CLIPS[s][0] == CLIPS[t][0]  # same person
        if CLIPS[t][0] in (0, 1):
            assert CLIPS[s][1] == "neutral"  # the official stage-1 MEAD pairing
    # an identity without a neutral clip still gets sources, from its own clips
    assert {s for s, t in zip(src, tgt, strict=True) if CLIPS[t][0] == 2} <= {5, 6}


def test_expression_source_is_neutral_and_driver_carries_its_clips_emotion():
    batch = StageSampler(_cache(), seed=1).expression_windows(128, window=3)
    src, drv = _clip_index(batch["source"]), _clip_index(batch["driving"])
    for s, d, emotion in zip(src, drv, batch["emotion"].tolist(), strict=True):
        assert CLIPS[s][0] == CLIPS[d][0]
        assert EMOTIONS[emotion] == CLIPS[d][1]
        if CLIPS[d][0] in (0, 1):
            assert CLIPS[s][1] == "neutral"
