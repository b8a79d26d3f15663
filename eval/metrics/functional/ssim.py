"""SSIM per frame, as ``skimage.metrics.structural_similarity(gt, pred, channel_axis=-1)`` on uint8.

skimage defaults (Wang et al. 2004 with a uniform window): 7x7 window, K1 = 0.01, K2 = 0.03,
data_range = 255, sample covariance (N/(N-1)), the SSIM map averaged over the interior that the
window covers fully (a 3-pixel border is cropped), then averaged over channels. The uniform
filter over the interior is a valid 7x7 average: its window sums of x, y, x^2, y^2 and xy are
integers, computed exactly in int32 (shifted rows, then shifted columns, added) and then
divided by 49 in float64, which gives bit for bit what a float64 ``avg_pool2d`` gives (the sums
are exact in either); with in-place float64 arithmetic this is ~10x faster on CPU. The SSIM
map is reduced in channels-last order, as the pooled float64 version did, so the per-frame
values are unchanged to the last bit.
"""

from __future__ import annotations

import numpy as np
import torch

from eval.metrics.functional.checks import check_frame_pair


def frame_ssim(
    gt: np.ndarray, pred: np.ndarray, win_size: int = 7, data_range: float = 255.0, batch: int = 16
) -> np.ndarray:
    """(T,) SSIM per frame of uint8 (T, H, W, C) arrays (``batch`` frames at a time: small
    batches keep the float64 temporaries in cache; the values do not depend on it)."""
    check_frame_pair(gt, pred)  # the integer window sums read uint8: a float frame truncated to 0
    check_win_size(win_size)
    if min(gt.shape[1:3]) < win_size:
        raise ValueError(f"frames {gt.shape[1:3]} are smaller than the SSIM window {win_size}")
    out = [
        _ssim_batch(gt[i : i + batch], pred[i : i + batch], win_size, data_range)
        for i in range(0, len(gt), batch)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def check_win_size(win_size: int) -> None:
    """ValueError unless ``win_size`` is odd and at least 3, as skimage requires (an even window
    has no centre pixel; skimage refuses it, the window sums here would silently take it)."""
    if win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"SSIM win_size must be odd and >= 3, got {win_size}")


def _window_sums(t: torch.Tensor, win: int) -> torch.Tensor:
    """Exact sums over every valid ``win`` x ``win`` window of an integer (N, C, H, W) tensor
    (``win`` shifted rows added, then ``win`` shifted columns)."""
    h, w = t.shape[2] - win + 1, t.shape[3] - win + 1
    rows = t[:, :, 0:h].clone()
    for k in range(1, win):
        rows += t[:, :, k : k + h]
    sums = rows[..., 0:w].clone()
    for k in range(1, win):
        sums += rows[..., k : k + w]
    return sums


def _ssim_batch(gt: np.ndarray, pred: np.ndarray, win: int, data_range: float) -> np.ndarray:
    # int32 holds every window sum exactly: 49 * 255^2 < 2^22. The float64 formula below does
    # the operations of the textbook expression in its order (in place, to save allocations):
    # v = cov_norm * (E[xy] - ux uy); (2 ux uy + c1)(2 vxy + c2) / ((ux^2 + uy^2 + c1)(vx + vy + c2)).
    x = torch.from_numpy(np.ascontiguousarray(gt)).permute(0, 3, 1, 2).to(torch.int32)
    y = torch.from_numpy(np.ascontiguousarray(pred)).permute(0, 3, 1, 2).to(torch.int32)
    np_ = win * win
    cov_norm = np_ / (np_ - 1.0)

    def mean(t: torch.Tensor) -> torch.Tensor:
        return _window_sums(t, win).to(torch.float64).div_(np_)

    ux, uy = mean(x), mean(y)
    vx = mean(x * x).sub_(ux * ux).mul_(cov_norm)
    vy = mean(y * y).sub_(uy * uy).mul_(cov_norm)
    vxy = mean(x * y).sub_(ux * uy).mul_(cov_norm)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    num = (2 * ux).mul_(uy).add_(c1).mul_(vxy.mul_(2).add_(c2))
    den = ux.mul_(ux).add_(uy.mul_(uy)).add_(c1).mul_(vx.add_(vy).add_(c2))
    s = num.div_(den).contiguous(memory_format=torch.channels_last)  # earlier versions' reduction order
    return s.mean(dim=(2, 3)).mean(dim=1).numpy()
