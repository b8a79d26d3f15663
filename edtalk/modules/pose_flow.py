"""Normalizing flow phi_p for probabilistic pose (paper Sec. 3.3 and Appendix, Eq. 5, 8; MoGlow-style).

The flow maps a sequence of pose weights W^p = (w^p_1..w^p_N), w^p_t in R^{Kp}, to Gaussian codes
z_t, conditioned on audio features f^a_{1:N} (from E_a). Each of the K steps is

1. ActNorm: h' = (h - mu) / delta per channel; mu, delta initialised from the first training batch
   (the mean and std of W^p, as in the paper), then learned.
2. Invertible 1x1 convolution: h'' = W h' (a Kp x Kp matrix applied to every frame); either an LU
   parameterisation (log|det W| = sum log|s|) or a plain matrix (log|det W| = slogdet(W)).
3. Transformer coupling: split h'' = (h1, h2); (t, s) = F(h1, f^a_{1:N}), where F is a transformer
   encoder over the time axis; h2 <- (h2 + t) * s with s = sigmoid(.) + offset kept positive.

``encode(W^p, f^a) -> (z, logdet)`` is phi_p^{-1}; ``decode(z, f^a) -> W^p`` is phi_p (exact
inverse). ``log_prob`` gives log p(W^p | f^a) = log N(z; 0, I) + log|det dz/dW^p| per sequence, so
L_MLE = -log_prob. ``sample(f^a, seed)`` draws z ~ N(0, T^2 I) and decodes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edtalk.config import ModelConfig

SCALE_FLOOR = 1e-3  # s = sigmoid(raw + 2) + floor keeps coupling scales away from 0


def _wide(x: torch.Tensor) -> torch.Tensor:
    """``x`` in at least float32: log-determinants and log p(z) are sums of T·Kp terms per step, which
    bf16 (DeepSpeed --bf16) would round to 8 bits."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


class ActNorm(nn.Module):
    """Per-channel affine y = (x - mu) / delta, data-initialised on the first training call."""

    def __init__(self, channels: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))  # log(1 / delta)
        self.register_buffer("initialized", torch.tensor(False))
        self.known_initialized = False  # the buffer read True once: no read (a GPU wait) per call after

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.known_initialized = False  # a loaded ``initialized`` is read again at the next training call
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def _init_from(self, x: torch.Tensor) -> None:
        flat = x.reshape(-1, x.shape[-1])
        self.loc.copy_(flat.mean(0))
        std = flat.std(0, unbiased=False) if flat.shape[0] > 1 else torch.ones_like(self.loc)
        self.log_scale.copy_(-torch.log(std.clamp_min(1e-6)))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not self.known_initialized:
            if not bool(self.initialized):
                self._init_from(x)
            self.known_initialized = True
        y = (x - self.loc) * torch.exp(self.log_scale)
        return y, _wide(self.log_scale).sum().expand(x.shape[0]) * x.shape[1]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) + self.loc


class InvertibleLinear(nn.Module):
    """Invertible 1x1 convolution over the Kp channels of every frame: y = x W^T."""

    def __init__(self, channels: int, lu: bool = True):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        self.lu = lu
        if lu:
            p, lower, upper = torch.linalg.lu(q)
            s = torch.diagonal(upper)
            self.register_buffer("perm", p)
            self.register_buffer("sign_s", torch.sign(s))
            self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
            self.lower = nn.Parameter(lower)
            self.upper = nn.Parameter(torch.triu(upper, 1))
            self.log_s = nn.Parameter(torch.log(s.abs()))
        else:
            self.weight = nn.Parameter(q)

    def _dtype(self) -> torch.dtype:
        """At least float32: bf16 has no LU inverse and too few bits for an exact inverse."""
        param = self.log_s if self.lu else self.weight
        return torch.promote_types(param.dtype, torch.float32)

    def matrix(self) -> torch.Tensor:
        """W in ``_dtype()``, whatever the parameters' dtype (DeepSpeed --bf16)."""
        dt = self._dtype()
        if not self.lu:
            return self.weight.to(dt)
        mask = self.lower_mask.to(dt)
        eye = torch.eye(self.lower.shape[0], dtype=dt, device=self.lower.device)
        lower = self.lower.to(dt) * mask + eye
        upper = self.upper.to(dt) * mask.t() + torch.diag(self.sign_s.to(dt) * torch.exp(self.log_s.to(dt)))
        return self.perm.to(dt) @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        dt = self._dtype()
        return self.log_s.to(dt).sum() if self.lu else torch.linalg.slogdet(self.weight.to(dt))[1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.matrix()
        y = (x.to(w.dtype) @ w.t()).to(x.dtype)
        return y, _wide(self.log_abs_det()).expand(x.shape[0]) * x.shape[1]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        w = self.matrix()
        return (y.to(w.dtype) @ torch.linalg.inv(w).t()).to(y.dtype)


class TransformerCoupling(nn.Module):
    """Affine coupling: h2 <- (h2 + t) * s, (t, s) = F(h1, f^a) with F a transformer over time."""

    def __init__(self, channels: int, cond_dim: int, hidden: int, heads: int, layers: int):
        super().__init__()
        self.split = channels // 2
        self.embed = nn.Linear(self.split + cond_dim, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout=0.0, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(hidden, 2 * (channels - self.split))
        nn.init.zeros_(self.out.weight)  # starts near the identity map
        nn.init.zeros_(self.out.bias)

    def _shift_scale(self, h1: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t_len = h1.shape[1]
        pos = _sinusoid(t_len, self.embed.out_features, h1.device, h1.dtype)
        x = self.transformer(self.embed(torch.cat([h1, cond], dim=-1)) + pos)
        shift, raw = self.out(x).chunk(2, dim=-1)
        return shift, torch.sigmoid(raw + 2.0) + SCALE_FLOOR

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h1, h2 = x[..., : self.split], x[..., self.split :]
        shift, scale = self._shift_scale(h1, cond)
        return torch.cat([h1, (h2 + shift) * scale], dim=-1), torch.log(_wide(scale)).sum(dim=(1, 2))

    def inverse(self, y: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h1, h2 = y[..., : self.split], y[..., self.split :]
        shift, scale = self._shift_scale(h1, cond)
        return torch.cat([h1, h2 / scale - shift], dim=-1)


def _sinusoid(length: int, dim: int, device, dtype) -> torch.Tensor:
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table.to(dtype)


class PoseFlow(nn.Module):
    """phi_p: K x (ActNorm, InvertibleLinear, TransformerCoupling) on W^p [B, T, Kp] given f^a [B, T, A]."""

    def __init__(self, cfg: ModelConfig, channels: int | None = None, cond_dim: int | None = None):
        super().__init__()
        self.channels = channels or cfg.n_weights("pose")
        cond_dim = cond_dim or cfg.audio_feature_dim
        self.steps = nn.ModuleList()
        for _ in range(cfg.flow_steps):
            self.steps.append(
                nn.ModuleList(
                    [
                        ActNorm(self.channels),
                        InvertibleLinear(self.channels, lu=cfg.flow_lu),
                        TransformerCoupling(
                            self.channels, cond_dim, cfg.flow_hidden, cfg.flow_heads, cfg.flow_layers
                        ),
                    ]
                )
            )

    def encode(self, w_p: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = phi_p^{-1}(W^p, f^a) and log|det dz/dW^p| per sequence [B], summed in at least float32
        whatever the working dtype (with --bf16 a sum of T·Kp·K log-scales in bf16 keeps 8 bits)."""
        _check(w_p, cond, self.channels)
        h, logdet = w_p, w_p.new_zeros(w_p.shape[0], dtype=_wide(w_p).dtype)
        for actnorm, mix, coupling in self.steps:
            h, ld1 = actnorm(h)
            h, ld2 = mix(h)
            h, ld3 = coupling(h, cond)
            logdet = logdet + ld1 + ld2 + ld3
        return h, logdet

    def decode(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """W^p = phi_p(z, f^a) (exact inverse of ``encode``)."""
        _check(z, cond, self.channels)
        h = z
        for actnorm, mix, coupling in reversed(self.steps):
            h = actnorm.inverse(mix.inverse(coupling.inverse(h, cond)))
        return h

    def log_prob(self, w_p: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """log p(W^p | f^a) per sequence [B], in nats. The audio_pose stage trains on the same quantity
        per dimension, ``edtalk.losses.flow_nll`` (L_MLE, Eq. 5: -log_prob.mean() / (N·D))."""
        z, logdet = self.encode(w_p, cond)
        log_pz = -0.5 * (_wide(z).pow(2) + math.log(2 * math.pi)).sum(dim=(1, 2))
        return log_pz + logdet

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, seed: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Draw W^p [B, T, Kp] for audio features [B, T, A]; ``seed`` makes it reproducible."""
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(int(seed))
        else:
            gen.seed()
        shape = (cond.shape[0], cond.shape[1], self.channels)
        z = torch.randn(shape, generator=gen).to(device=cond.device, dtype=cond.dtype) * temperature
        return self.decode(z, cond)


def _check(x: torch.Tensor, cond: torch.Tensor, channels: int) -> None:
    if x.dim() != 3 or x.shape[-1] != channels:
        raise ValueError(f"pose flow expects [B, T, {channels}] pose weights, got {tuple(x.shape)}")
    if cond.dim() != 3 or cond.shape[:2] != x.shape[:2]:
        raise ValueError(
            f"audio condition must be [B, T, A] matching {tuple(x.shape[:2])}, got {tuple(cond.shape)}"
        )
