"""Landmark distances M-LMD / F-LMD (EAT's ``test_lmd.py`` convention).

Per frame t, for a point set S (mouth = iBUG 48-67, 20 points; face = all 68):
    centring (``per_set_centroid``): each set minus its own centroid (translation only),
    ld(t) = sum_j || S_pred_j(t) - S_gt_j(t) ||_2
Per video: LMD = sum_t ld(t) / (N_valid * |S|), N_valid = frames where both sides have a face.
"""

from __future__ import annotations

import numpy as np

from eval.metrics.functional.checks import check_point_pair

REGIONS = {"mouth": slice(48, 68), "face": slice(0, 68)}


def center(points: np.ndarray) -> np.ndarray:
    """Subtract each frame's centroid: (T, N, 2) -> (T, N, 2)."""
    return points - points.mean(axis=-2, keepdims=True)


def frame_lmd(gt: np.ndarray, pred: np.ndarray, region: str, centering: str = "per_set_centroid"):
    """(T,) mean point distance per frame (= ld(t) / |S|); NaN where either side has no face.
    ``gt`` and ``pred``: (T, 68, 2) iBUG landmarks of paired frames."""
    check_point_pair(np.asarray(gt), np.asarray(pred), "landmark", "(T, 68, 2)", (68, 2))
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; known: {', '.join(REGIONS)}")
    sel = REGIONS[region]
    g, p = gt[:, sel].astype(np.float64), pred[:, sel].astype(np.float64)
    if centering == "per_set_centroid":
        g, p = center(g), center(p)
    elif centering != "none":
        raise ValueError(f"unknown centering {centering!r}; known: per_set_centroid, none")
    return np.linalg.norm(p - g, axis=-1).mean(axis=-1)


def video_lmd(gt: np.ndarray, pred: np.ndarray, region: str, centering: str = "per_set_centroid"):
    """(value, n_valid): sum over valid frames of ld(t) / (n_valid * |S|); value None if none valid."""
    d = frame_lmd(gt, pred, region, centering)
    valid = ~np.isnan(d)
    n = int(valid.sum())
    return (float(d[valid].mean()) if n else None), n
