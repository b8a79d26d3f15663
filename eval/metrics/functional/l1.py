"""L1 per frame on the [0, 1] pixel scale (FOMM / LIA): mean |pred - gt| / 255 over pixels."""

from __future__ import annotations

import numpy as np
import torch

from eval.metrics.functional.checks import check_frame_pair


def frame_l1(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(T,) mean absolute difference per frame of uint8 (T, H, W, C) arrays, scaled to [0, 1]."""
    check_frame_pair(gt, pred)  # float frames in [0, 1] divided by 255 again scored ~255x too low
    a = torch.from_numpy(np.ascontiguousarray(gt)).to(torch.float64)
    b = torch.from_numpy(np.ascontiguousarray(pred)).to(torch.float64)
    return ((a - b).abs().flatten(1).mean(1) / 255.0).numpy()
