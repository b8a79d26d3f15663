"""eval.cross_target: the generator redraws a clip from its id, and draws one face with another's mouth."""

import numpy as np
import pytest

from edtalk.data.readers import read_clips
from edtalk.data.synthtalk import generate
from edtalk.data.synthtalk.presets import Preset
from edtalk.experts.data import decode_clips
from eval.cross_target import CrossTargetError, parse_clip_id, render_cross

QUICK = Preset("quick", 64, (1, 1, 2), 1, 2.0, 2.2, emotions=("happy", "sad"), levels=(1, 3))


@pytest.fixture(scope="module")
def test_clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthtalk") / "set"
    generate(root, QUICK, seed=0, workers=1, progress=False)
    return root, decode_clips(read_clips("synthtalk", root, split="test"), progress=False)


def test_a_clip_redrawn_from_its_id_matches_its_video(test_clips):
    root, clips = test_clips
    a = clips[0]
    again = render_cross(root, a, a, a, a, a.n_frames)  # A's face with A's own tracks: the clip itself
    assert again.shape == a.frames.shape
    assert np.abs(again.astype(float) - a.frames).mean() < 4.0  # what H.264 leaves (about 2 levels)


def test_another_mouth_changes_the_lower_face_and_loops_like_drive_video(test_clips):
    root, clips = test_clips
    a = next(c for c in clips if c.emotion != clips[-1].emotion)
    b = next(c for c in clips if c.identity != a.identity)
    n = 2 * a.n_frames + 3  # longer than every track: each is ping-pong looped
    own, swapped = (render_cross(root, a, m, a, a, n).astype(float) for m in (a, b))
    diff = np.abs(own - swapped).mean(axis=(0, 3))  # (S, S)
    half = diff.shape[0] // 2
    assert diff[half:].mean() > 3 * diff[: half - 8].mean()  # the mouth moved, the brows barely
    # frame a.n_frames is the second-to-last frame again (forward, then backward)
    assert np.abs(own[a.n_frames] - own[a.n_frames - 2]).mean() < 1e-6


def test_clips_the_generator_cannot_redraw_are_refused(test_clips):
    root, clips = test_clips
    assert parse_clip_id("st012#happy#level_3#001") == (12, "happy", 3, 1)
    with pytest.raises(CrossTargetError, match="not a synthtalk clip id"):
        parse_clip_id("id10001#xyz")
    a = clips[0]
    tampered = type(a)(**{**a.__dict__, "mouth": a.mouth + 0.5})
    with pytest.raises(CrossTargetError, match="does not redraw"):
        render_cross(root, a, tampered, a, a, 4)
