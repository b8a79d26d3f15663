"""The per-emotion W^e table exported after the expression stage (final.pt's meta["emotion_weights"],
which ``infer --emotion`` reads through ``edtalk.driving.emotion_weights``): W^e = ELN(E(frames)), the
expression bank's weights, averaged over frames of each emotion's clips in the frame cache.

Heavy imports (torch, numpy) are inside functions.
"""

from __future__ import annotations


def _eln_weights(model, frames):
    """W^e = ELN(E(frames)) for uint8 frames (n, H, W, 3), as float on the CPU."""
    from edtalk.data.sampler import to_tensor
    from edtalk.driving import model_device

    f, _ = model.encode(to_tensor(frames).to(model_device(model)))
    return model.navigate(f, ("expression",))["expression"].float().cpu()


def emotion_weight_table(
    model, cache, frames_per_clip: int = 8, clips_per_emotion: int = 32
) -> dict[str, list[float]]:
    """Per-emotion mean W^e: ELN on ``frames_per_clip`` evenly spaced frames of at most
    ``clips_per_emotion`` clips of each emotion, evenly spread over the cache (E in batches of 64 frames).

    The cap keeps the export of a stage that trained on many rendered people (1824 clips at the demo's
    ``--extra-identities 64``) from encoding every clip: E costs about 5 ms a frame on one core.
    """
    import numpy as np
    import torch

    from edtalk.data.clip import EMOTIONS

    table = {}
    model.eval()
    with torch.no_grad():
        for e in sorted(set(cache.emotion[cache.emotion >= 0].tolist())):
            clips = np.flatnonzero(cache.emotion == e)
            clips = clips[
                np.linspace(0, len(clips) - 1, min(len(clips), clips_per_emotion)).round().astype(int)
            ]
            span = np.linspace(0, 1, frames_per_clip)[None] * (cache.length[clips, None] - 1)
            idx = (cache.start[clips, None] + span.round().astype(int)).ravel()
            w = torch.cat(
                [
                    _eln_weights(model, cache.frames[chunk])
                    for chunk in np.array_split(idx, -(-len(idx) // 64))
                ]
            )
            table[EMOTIONS[e]] = w.view(len(clips), frames_per_clip, -1).mean(1).mean(0).tolist()
    return table
