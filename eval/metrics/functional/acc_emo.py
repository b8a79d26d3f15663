"""Acc_emo maths: Emotion-FAN's frame attention (Meng et al., ICIP 2019) and video-level top-1.

Frame features f_i (512-D), self-attention weights alpha_i = sigmoid(w_a . f_i + b_a):

    f_v    = sum_i alpha_i f_i / sum_i alpha_i                      (self-attention video feature)
    beta_i = sigmoid(w_b . [f_i; f_v] + b_b)                         (relation attention)
    paper:     f'_v = sum_i alpha_i beta_i [f_i; f_v] / sum_i alpha_i beta_i
    eval code: f'_v = sum_i alpha_i        [f_i; f_v] / sum_i alpha_i beta_i

then logits = W_c f'_v + b_c. The ``eval_code`` form is what Emotion-FAN's and EAT's test code
(``ResNet_AT.forward(phrase="eval", AT_level="second_level")``) compute, i.e. what produced the
published Acc_emo numbers; ``paper`` is the training-time / paper formula.
"""

from __future__ import annotations

import math

import numpy as np
import torch

AGGREGATIONS = ("eval_code", "paper")


def self_attention_pool(f: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """f: (N, D) frame features, alpha: (N, 1) -> f_v (D,)."""
    return (f * alpha).sum(0) / alpha.sum(0)


def relation_attention_pool(
    f: torch.Tensor,
    f_v: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    aggregation: str = "eval_code",
) -> torch.Tensor:
    """[f_i; f_v] (N, 2D) pooled with alpha (N,1) and beta (N,1) -> (2D,) (see module docstring)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    cat = torch.cat([f, f_v.expand_as(f)], dim=1)
    weight = alpha if aggregation == "eval_code" else alpha * beta
    return (cat * weight).sum(0) / (alpha * beta).sum(0)


def video_correct(scores: np.ndarray, label: int) -> bool:
    """Top-1 of a video's class scores (logits or probabilities) equals ``label``."""
    return int(np.argmax(np.asarray(scores))) == int(label)


def accuracy_percent(correct: int, count: int) -> tuple[float | None, float | None]:
    """(accuracy in %, sample standard deviation of the per-video 0/100 values)."""
    if count == 0:
        return None, None
    p = correct / count
    spread = 100.0 * math.sqrt(p * (1 - p) * count / (count - 1)) if count > 1 else None
    return 100.0 * p, spread
