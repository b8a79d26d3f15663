"""Fréchet Inception Distance from mergeable feature moments.

A set of features is summarised by its moments (n, sum_i f_i, sum_i f_i f_i^T) in float64, which
add exactly across shards; mean and covariance (ddof = 1, as ``np.cov(rowvar=False)``) follow:
    mu = S1 / n,   Sigma = (S2 - n mu mu^T) / (n - 1)
FID = ||mu1 - mu2||^2 + Tr(Sigma1) + Tr(Sigma2) - 2 Tr(sqrtm(Sigma1 Sigma2)), with pytorch-fid's
numerics: ``scipy.linalg.sqrtm`` (without pytorch-fid's ``disp=False``, deprecated in scipy 1.17
and removed in 1.18; it only added an unused error estimate, the root is the same); if the product
is singular (non-finite result) eps = 1e-6 is added to both diagonals; an imaginary part is
dropped if its diagonal is within 1e-3, else error. scipy's "Matrix is singular" LinAlgWarning is
silenced inside the sqrtm calls only (the eps fallback handles it), and a negative FID within
sqrtm round-off (``NEGATIVE_TOLERANCE`` x the summed traces, at least that much in absolute terms)
is reported as 0.0.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

NEGATIVE_TOLERANCE = 1e-6  # relative to max(1, Tr(Sigma1) + Tr(Sigma2)); round-off, clamped to 0


def moments(features: np.ndarray) -> dict:
    f = np.asarray(features, dtype=np.float64)
    return {"n": int(f.shape[0]), "sum": f.sum(0), "outer": f.T @ f}


def empty_moments() -> dict:
    return {"n": 0, "sum": None, "outer": None}


def merge_moments(a: dict, b: dict) -> dict:
    if a["n"] == 0:
        return b
    if b["n"] == 0:
        return a
    return {"n": a["n"] + b["n"], "sum": a["sum"] + b["sum"], "outer": a["outer"] + b["outer"]}


def mean_cov(m: dict) -> tuple[np.ndarray, np.ndarray]:
    n = m["n"]
    if n < 2:
        raise ValueError(f"FID needs at least 2 feature vectors per set, got {n}")
    mu = m["sum"] / n
    sigma = (m["outer"] - n * np.outer(mu, mu)) / (n - 1)
    return mu, sigma


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag))} in sqrtm")
        covmean = covmean.real
    traces = float(np.trace(sigma1) + np.trace(sigma2))
    fid = float(diff.dot(diff) + traces - 2 * np.trace(covmean))
    if -NEGATIVE_TOLERANCE * max(1.0, traces) <= fid < 0.0:
        return 0.0  # sqrtm round-off on (near-)identical sets; FID is never negative
    return fid


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` without its "Matrix is singular" warning (handled by the caller)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Matrix is singular", category=linalg.LinAlgWarning)
        return linalg.sqrtm(matrix)
