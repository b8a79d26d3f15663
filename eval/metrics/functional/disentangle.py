"""Ground-truth disentanglement maths (synthtalk): judge predictions vs the driving clips' truth.

All functions are pure. Frames are paired by index and truncated to the shorter sequence (a
generated clip has the driving clip's frame count).
"""

from __future__ import annotations

import numpy as np


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
