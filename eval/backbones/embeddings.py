"""Image embeddings (FID's set-level statistics, AED's per-frame identity): ``ctx.feature("embedding",
side, backbone=...)``.

``EMBEDDERS`` maps a backbone name to ``embed(frames uint8 (N,H,W,3) RGB, device) -> (N, D)``
float64. Registered: ``pytorch_fid`` (eval/backbones/inception_fid.py), ``torchvision_eat``
(eval/backbones/inception_tv.py), ``openface_embed`` (eval/backbones/openface.py) and the synthtalk
judges (eval/backbones/judges.py).
"""

from __future__ import annotations

import numpy as np

from edtalk.registry import Registry
from eval.context import FEATURES, ClipContext

EMBEDDERS: Registry = Registry("image embedding backbone")


@FEATURES.register("embedding")
def embedding_feature(
    ctx: ClipContext,
    side: str,
    backbone: str = "pytorch_fid",
    crop: str = "none",
    size: int | None = None,
    indices: tuple[int, ...] | None = None,
    options: tuple[tuple[str, object], ...] = (),
) -> np.ndarray:
    """(N, D) embeddings of the side's frames ``indices`` (all frames when None); ``options``
    are extra keyword arguments of the embedder (e.g. ``(("dims", 64),)`` for pytorch_fid)."""
    if backbone not in EMBEDDERS:
        import eval.backbones

        eval.backbones.load_all()
    frames = ctx.feature("crop", side, kind=crop, size=size)
    if indices is not None:
        frames = frames[np.asarray(indices, dtype=np.int64)]
    return np.asarray(EMBEDDERS.get(backbone)(frames, ctx.device, **dict(options)), dtype=np.float64)
