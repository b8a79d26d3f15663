"""Component-aware Latent Navigation (paper Sec. 3.1): MLP^m/MLP^p/MLP^e heads and the banks B^m, B^p, B^e.

Heads: W^* = MLP^*(f^{*->r}). As in the official code, a shared linear trunk (``trunk_layers`` x D->D)
feeds three heads (``head_layers`` x D->D, then D->K); all layers are linear (no activations), so
each W^* is an affine function of f^{*->r}.

Banks: each bank stores raw weights V^* in R^{D x K*}. With ``orthogonal=True`` the bases are the Q
factor of the QR decomposition of the joined matrix [V^m | V^p | V^e] (torch.linalg.qr), split back
per bank. Q has orthonormal columns, so <b_i, b_j> = 0 within and across banks (the paper's
orthogonality constraint holds exactly, with no loss term). Because Householder QR is Gram-Schmidt in
column order, the first Km + Kp columns of Q depend only on V^m and V^p: training V^e (the expression
stage) leaves B^m and B^p unchanged (the "prefix property").
``orthogonal=False`` ("w/o Orthogonal") uses the raw V^* as free bases. ``use_bank=False``
("w/o Bank") makes the heads output D-dim offsets f^{r->*} directly; the bases are then the fixed
identity I_D so that f^{r->*} = B^* W^* holds uniformly.
"""

from __future__ import annotations

import torch
from torch import nn

from edtalk.config import ModelConfig
from edtalk.modules.stylegan_ops import EqualLinear

QR_JITTER = 1e-8  # added to V before QR, as in the official code (keeps exact zeros away from QR)


def _linear_stack(dims: list[int]) -> nn.Sequential:
    return nn.Sequential(*[EqualLinear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)])


class LatentNavigation(nn.Module):
    """Shared trunk + one head per component: f^{*->r} [B, D] -> W^* [B, K*]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.latent_dim
        self.trunk = _linear_stack([d] * (cfg.trunk_layers + 1))
        self.heads = nn.ModuleDict(
            {
                name: _linear_stack([d] * (cfg.head_layers + 1) + [cfg.n_weights(name)])
                for name in cfg.bank_names
            }
        )

    def forward(self, f_r: torch.Tensor, names: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        h = self.trunk(f_r)
        return {name: self.heads[name](h) for name in (names or tuple(self.heads))}


class MotionBanks(nn.Module):
    """The banks B^m, B^p, B^e: ``bases()`` -> {name: [D, K]} (orthonormal across banks if orthogonal)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.names = cfg.bank_names
        self.orthogonal, self.use_bank = cfg.orthogonal, cfg.use_bank
        self.latent_dim = cfg.latent_dim
        if cfg.use_bank:
            # one Parameter per bank, so a stage can train V^e alone (optimiser sees only that tensor)
            self.raw = nn.ParameterDict(
                {name: nn.Parameter(torch.randn(cfg.latent_dim, cfg.bank_size(name))) for name in self.names}
            )
        else:  # "w/o Bank": the identity basis, a buffer so that it moves with the module (to a GPU)
            self.register_buffer("eye", torch.eye(cfg.latent_dim), persistent=False)

    def bases(self) -> dict[str, torch.Tensor]:
        if not self.use_bank:
            return {name: self.eye for name in self.names}
        # "w/o Orthogonal" (Table 3): the raw N(0, 1) columns, of norm about sqrt(D), so the ablation
        # changes the bases' scale as well as their orthogonality (the paper does not say how its free
        # bases were scaled)
        if not self.orthogonal:
            return {name: self.raw[name] for name in self.names}
        joined = torch.cat([self.raw[name] for name in self.names], dim=1)
        # QR in float32 whatever the training dtype: there is no bf16/fp16 QR kernel (geqrf), and a
        # half-precision Q would not be orthonormal anyway
        q, _ = torch.linalg.qr(joined.float() + QR_JITTER, mode="reduced")
        q = q.to(joined.dtype)
        sizes = [self.raw[name].shape[1] for name in self.names]
        return dict(zip(self.names, torch.split(q, sizes, dim=1), strict=True))

    def combine(
        self, name: str, weights: torch.Tensor, bases: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """f^{r->*} = sum_i w^*_i b^*_i  ([B, K] -> [B, D])."""
        basis = (bases or self.bases())[name]
        return weights @ basis.to(weights.dtype).t()
