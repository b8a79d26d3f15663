"""FOMM ``pose-evaluation`` formulas (AKD, AED), quirks included.

AKD (``cmp_kp.py``): mean over frames of mean_{j,c} |kp_gt[f,j,c] - kp_gen[f,j,c]| (an L1 over the
68 x 2 coordinates, not a Euclidean distance); frames whose generated keypoints are missing are
skipped. AED (``cmp.py``): mean over frames of sum_d (e_gt[f,d] - e_gen[f,d])^2 (the *squared*
Euclidean distance of 128-D OpenFace embeddings).
"""

from __future__ import annotations

import numpy as np


def frame_akd(kp_gt: np.ndarray, kp_gen: np.ndarray) -> np.ndarray:
    """(T,) mean absolute coordinate difference; NaN where either side has no keypoints."""
    return np.abs(np.asarray(kp_gt, np.float64) - np.asarray(kp_gen, np.float64)).mean(axis=(1, 2))


def frame_aed(e_gt: np.ndarray, e_gen: np.ndarray) -> np.ndarray:
    """(T,) squared L2 distance between identity embeddings."""
    return ((np.asarray(e_gt, np.float64) - np.asarray(e_gen, np.float64)) ** 2).sum(axis=1)
