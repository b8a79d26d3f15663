"""Ground-truth disentanglement maths (synthtalk): judge predictions vs the driving clips' truth.

All functions are pure. Frames are paired by index and truncated to the shorter sequence (a
generated clip has the driving clip's frame count).
"""

from __future__ import annotations

import numpy as np

NO_GROUND_TRUTH = "the dataset has no ground-truth factors (synthtalk sidecars)"


def no_ground_truth(sidecar: object, extra: dict | None, factor: str) -> str | None:
    """Why a clip with this ``sidecar`` path and ``extra`` has no truth of ``factor`` (mouth | pose |
    expression) to score against, or None when it has: its own sidecar, or cross-driving's driver
    of that factor in ``extra["drivers"]``."""
    if sidecar is None and factor not in (extra or {}).get("drivers", {}):
        return NO_GROUND_TRUTH
    return None


def factor_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame mean absolute error over the factor axis: (T, K) vs (T', K) -> (min(T, T'),)."""
    p = np.asarray(predicted, np.float64)
    t = np.asarray(truth, np.float64)
    if p.ndim != 2 or t.ndim != 2 or p.shape[1] != t.shape[1]:
        raise ValueError(f"factor arrays must be (T, K) with equal K, got {p.shape} and {t.shape}")
    n = min(len(p), len(t))
    return np.abs(p[:n] - t[:n]).mean(axis=1)


def emotion_error(logits: np.ndarray, label: int) -> float:
    """Video-level top-1 error: 1.0 if argmax of the frame-averaged logits (T, C) != ``label``."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError(f"emotion logits must be (T, C) with T > 0, got {logits.shape}")
    return float(int(np.argmax(logits.mean(axis=0))) != int(label))


def identity_cosine(embeddings: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Per-frame cosine between (T, D) embeddings and the source identity, the normalised mean of
    the (S, D) source embeddings: -> (T,)."""
    e = np.asarray(embeddings, np.float64)
    s = np.asarray(source, np.float64).reshape(-1, e.shape[-1]).mean(axis=0)
    e = e / np.linalg.norm(e, axis=1, keepdims=True).clip(1e-12)
    s = s / max(np.linalg.norm(s), 1e-12)
    return e @ s


# iBUG-68 (0-based): inner upper lip 61-63 faces inner lower lip 67-65; eyes 36-41 and 42-47.
_INNER_UPPER, _INNER_LOWER = [61, 62, 63], [67, 66, 65]


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(T, 68, 2) iBUG landmarks -> (T,) inner-lip gap over the inter-ocular distance (scale-free);
    NaN where a frame has no landmarks."""
    p = np.asarray(landmarks, np.float64)
    if p.ndim != 3 or p.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must be (T, 68, 2), got {p.shape}")
    gap = np.linalg.norm(p[:, _INNER_UPPER] - p[:, _INNER_LOWER], axis=2).mean(axis=1)
    eyes = np.linalg.norm(p[:, 36:42].mean(axis=1) - p[:, 42:48].mean(axis=1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gap / eyes


def track_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two (T,) tracks over the frames where both are finite, truncated to
    the shorter; None when fewer than 3 such frames or either track is constant there."""
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], np.float64), np.asarray(b[:n], np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])
