"""Pure loss functions, one per term of the EDTalk paper (Sec. 3.2, 3.3), named after the symbols.

Every function takes tensors and returns a scalar tensor; none holds state or weights. Networks
that a loss needs (the perceptual feature extractor Φ, the discriminator D, the motion feature
networks φ/ψ, the SyncNet expert) are called by the stage code and only their *outputs* come in here,
so each term can be tested on known inputs.

Reductions: image terms are means over pixels and batch (the paper's norms are sums; a mean only
rescales the gradient, which the loss weights absorb); feature terms are means over the batch of the
per-sample value written in the paper.

| paper symbol     | function                      | where              |
|------------------|-------------------------------|--------------------|
| L_rec, L_self    | ``reconstruction_l1``         | Eq. 2 (self: same image drives itself) |
| L_adv (G / D)    | ``adversarial_generator`` / ``adversarial_discriminator`` | Eq. 3, non-saturating |
| L_fea, L_m-c     | ``feature_consistency``       | Eq. 4; exp(-cos) |
| L_mot            | ``motion_reconstruction``     | Sec. 3.2, ||φ(I)-φ(Î)||_2 + ||ψ(I)-ψ(Î)||_2 |
| L^m_fea, L^p_rec | ``weight_l2``                 | Sec. 3.3, ||W - Ŵ||_2 |
| L^m_rec          | ``reconstruction_l2``         | Sec. 3.3, ||I - Î||_2 (mean squared) |
| L^m_sync         | ``sync_loss``                 | Sec. 3.3, -log cos(v, s) (tangent below 0.1) |
| L_MLE            | ``flow_nll``                  | Eq. 5 (with the flow's log-determinant) |
| L_tem            | ``temporal_difference``       | Eq. 6 |
| L_exp            | ``weight_l1``                 | Sec. 3.3, ||W^e - Ŵ^e||_1 |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def reconstruction_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_rec / L_self (Eq. 2): mean absolute error between the generated and the real image."""
    return (pred - target).abs().mean()


def reconstruction_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L^m_rec: squared L2 image error, averaged over pixels and batch (MSE)."""
    return F.mse_loss(pred, target)


def adversarial_generator(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_adv for G (Eq. 3), non-saturating form used by LIA/EDTalk: softplus(-D(Î))."""
    return F.softplus(-fake_logits).mean()


def adversarial_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_adv for D (Eq. 3): -log D(I) - log(1 - D(Î)) with D = sigmoid(logits)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def feature_consistency(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L_fea (Eq. 4) and L_m-c: exp(-S(a, b)) with S the cosine similarity over the last dim.

    Identical vectors give exp(-1) (the minimum), opposite ones exp(1). Mean over the batch.
    """
    return torch.exp(-F.cosine_similarity(a, b, dim=-1, eps=1e-8)).mean()


def motion_reconstruction(
    real_features: list[torch.Tensor], fake_features: list[torch.Tensor]
) -> torch.Tensor:
    """L_mot: sum over feature networks (φ: face reconstruction, ψ: emotion) of ||f(I) - f(Î)||_2.

    Each entry is a (B, ...) feature of one network; the per-sample L2 norm is averaged over the batch.
    """
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError("motion_reconstruction needs one real and one fake feature per network")
    total = real_features[0].new_zeros(())
    for real, fake in zip(real_features, fake_features, strict=True):
        total = total + (real - fake).flatten(1).norm(dim=1).mean()
    return total


def weight_l2(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """L^m_fea = ||W^m - Ŵ^m||_2 and L^p_rec = ||W^p - Ŵ^p||_2: per-sample L2 norm, batch mean."""
    return (target - pred).flatten(1).norm(dim=1).mean()


def weight_l1(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """L_exp = ||W^e - Ŵ^e||_1: per-sample L1 norm over the bank weights, batch mean."""
    return (target - pred).flatten(1).abs().sum(dim=1).mean()


SYNC_TANGENT_AT = 0.1  # below this cosine, L^m_sync follows -log's tangent (see sync_loss)


def sync_loss(
    audio_embedding: torch.Tensor, video_embedding: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """L^m_sync (Wav2Lip): -log( v·s / max(||v|| ||s||, eps) ) where that cosine c >= 0.1, and below
    it -log's tangent at 0.1 (the same value and slope there, slope -10 for every lower c).

    Wav2Lip's SyncNet embeddings are ReLU outputs, so its cosine is >= 0; the sync expert here embeds
    on the signed unit sphere, so c < 0 happens, and the paper's form, clamped at eps, gave exactly the
    worst-synced windows a constant loss (13.8) with zero gradient. Above 0.1 nothing changes."""
    cos = F.cosine_similarity(audio_embedding, video_embedding, dim=-1, eps=eps).clamp(max=1.0)
    c0 = SYNC_TANGENT_AT
    tangent = -math.log(c0) + (c0 - cos) / c0
    return torch.where(cos >= c0, -torch.log(cos.clamp(min=c0)), tangent).mean()


def flow_nll(z: torch.Tensor, logdet: torch.Tensor) -> torch.Tensor:
    """L_MLE (Eq. 5): -log p_Z(z) - log|det ∂z/∂W^p| under a standard normal p_Z, in nats per dim.

    ``z``: (B, N, D) latent codes of the N frames; ``logdet``: (B,) summed log-determinant of the
    inverse flow. Dividing by N·D keeps the value comparable across clip lengths and bank sizes.
    """
    b, n, d = z.shape
    z = z.to(torch.promote_types(z.dtype, torch.float32))  # the sum in float32 under --bf16
    log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(dim=(1, 2))
    return (-(log_pz + logdet) / (n * d)).mean()


def temporal_difference(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """L_tem (Eq. 6): mean over t of ||(w_t - w_{t-1}) - (ŵ_t - ŵ_{t-1})||_2 for (B, N, D) sequences."""
    if target.shape[1] < 2:
        raise ValueError("temporal_difference needs sequences of at least 2 frames")
    delta = target.diff(dim=1) - pred.diff(dim=1)
    return delta.norm(dim=-1).mean()
