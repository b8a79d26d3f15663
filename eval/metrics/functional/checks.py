"""Input checks shared by the functional metrics: a clear ValueError instead of a silently wrong number
(numpy broadcasting a one-frame side over a clip, a float frame read on the 0..255 scale) or a
traceback from deep inside."""

from __future__ import annotations

import numpy as np


def check_frame_pair(gt: np.ndarray, pred: np.ndarray, need_uint8: bool = True) -> None:
    """ValueError unless ``gt`` and ``pred`` are (T, H, W, C) frame arrays of one shape (uint8 when
    ``need_uint8``)."""
    if gt.shape != pred.shape:
        raise ValueError(f"frame shapes differ: {gt.shape} vs {pred.shape}")
    if gt.ndim != 4:
        raise ValueError(
            f"expected (T, H, W, C) frames, got shape {gt.shape}: add a frame axis (x[None]) for one "
            "image, a channel axis (x[..., None]) for grey frames"
        )
    if need_uint8 and (gt.dtype != np.uint8 or pred.dtype != np.uint8):
        raise ValueError(
            f"expected uint8 frames (0..255), got {gt.dtype} and {pred.dtype}: convert float frames "
            "with np.clip(np.rint(x * 255), 0, 255).astype(np.uint8) from [0, 1]"
        )


def check_point_pair(gt: np.ndarray, pred: np.ndarray, what: str, layout: str, tail: tuple = ()) -> None:
    """ValueError unless ``gt`` and ``pred`` (per-frame landmarks or embeddings) have one shape, with
    as many axes as ``layout`` names ("(T, K, 2)") and ``tail`` as their last sizes."""
    if gt.shape != pred.shape:
        raise ValueError(f"{what} shapes differ: {gt.shape} vs {pred.shape} (pair the frames first)")
    if gt.ndim != layout.count(",") + 1 or gt.shape[gt.ndim - len(tail) :] != tuple(tail):
        raise ValueError(f"{what} must be {layout}, got {gt.shape}")
