"""PSNR per frame, as ``skimage.metrics.peak_signal_noise_ratio`` on uint8 (data_range 255).

PSNR_t = 10 log10(255^2 / MSE_t), MSE over all pixels and channels of frame t.
Identical frames give MSE 0 and PSNR = +inf (as skimage); the stateful metric decides how an
infinite frame is pooled.
"""

from __future__ import annotations

import numpy as np
import torch

from eval.metrics.functional.checks import check_frame_pair


def frame_mse(gt: np.ndarray, pred: np.ndarray, batch: int = 8) -> np.ndarray:
    """(T,) mean squared error per frame of (T, H, W, C) arrays, in float64.

    uint8 inputs take an exact integer path: squared differences in int32 (at most 255^2), summed
    per frame in int64, divided by the pixel count; the sums of integer squares are exact in
    skimage's float64 too, so the values are bit-identical to it, and ``batch`` frames at a time
    keep the temporaries in cache (~8x faster than whole-clip float64 tensors). Other dtypes are
    converted to float64."""
    check_frame_pair(gt, pred, need_uint8=False)
    n_values = int(np.prod(gt.shape[1:]))
    if gt.dtype == np.uint8 and pred.dtype == np.uint8:
        sums = []
        for i in range(0, len(gt), batch):
            d = torch.from_numpy(np.ascontiguousarray(gt[i : i + batch])).to(torch.int32)
            d.sub_(torch.from_numpy(np.ascontiguousarray(pred[i : i + batch])).to(torch.int32))
            sums.append(d.mul_(d).flatten(1).sum(1, dtype=torch.int64).numpy())
        total = np.concatenate(sums) if sums else np.zeros(0, np.int64)
        return total.astype(np.float64) / n_values
    a = torch.from_numpy(np.ascontiguousarray(gt)).to(torch.float64)
    b = torch.from_numpy(np.ascontiguousarray(pred)).to(torch.float64)
    return ((a - b) ** 2).flatten(1).mean(1).numpy()


def frame_psnr(gt: np.ndarray, pred: np.ndarray, data_range: float | None = None) -> np.ndarray:
    """(T,) PSNR in dB per frame; +inf where a frame is identical. ``data_range`` is 255 for uint8
    frames and must be given for any other dtype (a float frame in [0, 1] read as 0..255 scored
    48 dB too high)."""
    if data_range is None:
        if gt.dtype != np.uint8 or pred.dtype != np.uint8:
            raise ValueError(f"frame_psnr of {gt.dtype} / {pred.dtype} frames needs data_range (uint8: 255)")
        data_range = 255.0
    mse = frame_mse(gt, pred)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10((data_range**2) / mse)
