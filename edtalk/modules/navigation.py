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

Orientation: Householder QR (LAPACK, and torch.qr in the official code) gives column k of Q the sign
that makes R_kk's sign opposite to the k-th pivot's, so a basis b_k reverses whenever that pivot, a
smooth function of V, crosses zero during training (the demo's stage 1 reversed one mouth basis within
its first 2 steps from the shipped init; the head's weight then drove that direction backwards). Here
each column is turned to make R's diagonal positive (Gram-Schmidt's Q, continuous in V) and then by a
fixed sign per basis, ``orientation``, taken at initialisation as the Householder signs of that V: a
new model's bases are bit for bit the official convention's, and stay so until a pivot would have
crossed zero. A checkpoint saved before ``orientation`` existed gets it from its own V on loading, so
it draws exactly what it drew.
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


def raw_key_of(orientation_key: str) -> str | None:
    """The state key of the V whose orientation ``orientation_key`` holds (``...banks.orientation.mouth``
    -> ``...banks.raw.mouth``), or None for another key: a bank's orientation goes with its V."""
    head, sep, bank = orientation_key.rpartition("orientation.")
    return f"{head}raw.{bank}" if sep and (not head or head.endswith(".")) and "." not in bank else None


class OrientationUnknownError(ValueError):
    """A state whose banks' orientation is neither saved nor derivable from its V."""


def _qr(joined: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reduced QR of V + jitter in float32 whatever the training dtype: there is no bf16/fp16 QR kernel
    (geqrf), and a half-precision Q would not be orthonormal anyway."""
    return torch.linalg.qr(joined.float() + QR_JITTER, mode="reduced")


def _signs(r: torch.Tensor) -> torch.Tensor:
    """+-1 per column: the sign of R's diagonal (a zero counts as +1)."""
    return torch.where(torch.diagonal(r) < 0, -1.0, 1.0).to(r.dtype)


@torch.no_grad()
def householder_signs(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per bank, the sign of each column of Householder QR's Q (the official torch.qr convention)
    relative to Gram-Schmidt's, for raw weights V^* joined in bank order: ``orientation``'s value.
    Computed on the CPU (LAPACK's signs, on whatever device V is) and returned on V's device."""
    device = next(iter(raw.values())).device
    if device.type == "meta":  # a model built for its shapes only (parameter counts): no values
        return {name: torch.ones(v.shape[1], device=device) for name, v in raw.items()}
    signs = _signs(_qr(torch.cat([v.detach().cpu() for v in raw.values()], dim=1))[1]).to(device)
    return {
        name: part.clone()
        for name, part in zip(raw, torch.split(signs, [v.shape[1] for v in raw.values()]), strict=True)
    }


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
            if cfg.orthogonal:  # +-1 per basis (module docstring), saved with V: banks.orientation.<bank>
                self.orientation = nn.Module()
                # in bank order (ParameterDict sorts its keys): the order of the joined [V^m | V^p | V^e]
                for name, signs in householder_signs({n: self.raw[n] for n in self.names}).items():
                    self.orientation.register_buffer(name, signs)
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
        q, r = _qr(joined)
        orientation = torch.cat([getattr(self.orientation, name) for name in self.names]).to(
            q.device, q.dtype
        )
        q = (q * (_signs(r) * orientation)).to(joined.dtype)  # Gram-Schmidt's Q, turned by the fixed signs
        sizes = [self.raw[name].shape[1] for name in self.names]
        return dict(zip(self.names, torch.split(q, sizes, dim=1), strict=True))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """A state saved before ``orientation`` existed (every checkpoint until then), or a graft that
        leaves a bank's out, gets it from the V it loads (the module's own for a bank the state lacks,
        as a non-strict load keeps it): the Householder signs that V was drawn with. A ZeRO-3 engine
        state holds empty placeholders for V, so there it cannot be derived: a clear error."""
        keys = {name: f"{prefix}orientation.{name}" for name in self.names}
        if hasattr(self, "orientation") and any(k not in state_dict for k in keys.values()):
            raw = {name: state_dict.get(f"{prefix}raw.{name}", self.raw[name]) for name in self.names}
            if any(v.numel() == 0 for v in raw.values()):
                raise OrientationUnknownError(
                    "its banks are DeepSpeed ZeRO-3 partitions saved before the banks kept their orientation "
                    "(3abb113), which cannot be derived from them: train this stage afresh (drop --resume); "
                    "its parent's final.pt loads as before"
                )
            derived = householder_signs(raw)
            for name, key in keys.items():
                state_dict.setdefault(key, derived[name])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def combine(
        self, name: str, weights: torch.Tensor, bases: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """f^{r->*} = sum_i w^*_i b^*_i  ([B, K] -> [B, D])."""
        basis = (bases or self.bases())[name]
        return weights @ basis.to(weights.dtype).t()
