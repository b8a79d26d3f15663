"""FOMM ``pose-evaluation`` formulas (AKD, AED), quirks included.

AKD (``cmp_kp.py``): mean over frames of mean_{j,c} |kp_gt[f,j,c] - kp_gen[f,j,c]| (an L1 over the
68 x 2 coordinates, not a Euclidean distance); frames whose generated keypoints are missing are
skipped. AED (``cmp.py``): mean over frames of sum_d (e_gt[f,d] - e_gen[f,d])^2 (the *squared*
Euclidean distance of 128-D OpenFace embeddings).
"""

from __future__ import annotations

import numpy as np

from eval.metrics.functional.checks import check_point_pair


def frame_akd(kp_gt: np.ndarray, kp_gen: np.ndarray) -> np.ndarray:
    """(T,) mean absolute coordinate difference; NaN where either side has no keypoints."""
    kp_gt, kp_gen = np.asarray(kp_gt, np.float64), np.asarray(kp_gen, np.float64)
    check_point_pair(kp_gt, kp_gen, "keypoint", "(T, K, 2)", (2,))
    return np.abs(kp_gt - kp_gen).mean(axis=(1, 2))


def frame_aed(e_gt: np.ndarray, e_gen: np.ndarray) -> np.ndarray:
    """(T,) squared L2 distance between (T, D) identity embeddings."""
    e_gt, e_gen = np.asarray(e_gt, np.float64), np.asarray(e_gen, np.float64)
    check_point_pair(e_gt, e_gen, "embedding", "(T, D)")
    return ((e_gt - e_gen) ** 2).sum(axis=1)
