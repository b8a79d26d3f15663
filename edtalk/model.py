"""EDTalk (paper Sec. 3): encoder E, latent navigation + banks, generator G, EEM, and the audio modules.

Symbols (paper -> code):
- f^{*->r} = E(I^*)                      ``encode(img) -> (f_r, skips)``; skips = f^{id}
- W^* = MLP^*(f^{*->r}), * in {m, p, e}   ``navigate(f_r) -> {"mouth": W^m, "pose": W^p, "expression": W^e}``
- B^m, B^p, B^e                          ``bases() -> {"mouth": [D, Km], "pose": [D, Kp], ...}``
- f^{r->*} = sum_i w^*_i b^*_i           ``motion(weights) -> {name: [B, D]}``
- f^{i->d} = f^{i->r} + sum_* f^{r->*}   ``compose(f_r_src, weights) -> latent``
- I^g = G(f^{i->d}, f^{id}, EEM(f^{r->e}))  ``generate(latent, skips, expression_latent)``
Images are [-1, 1], NCHW. Audio modules: ``audio_lip`` (E_a + MLP^m_A), ``pose_flow`` (phi_p),
``expression_predictor`` (E_S, E_T, MLP^e_A). The discriminator D is built separately
(``edtalk.modules.discriminator.Discriminator(cfg)``) because only training needs it.

Checkpoints: ``save_checkpoint(path, state_dict, cfg, extra)`` / ``load_checkpoint(path)`` store
{"config": cfg.to_dict(), "state_dict": ..., "meta": {...}} and load with weights_only=True.

CLI: ``python -m edtalk.model summary --preset paper [--json]`` prints parameter counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edtalk.atomic import atomic_path
from edtalk.cli import model_preset, name_subcommands, report_error
from edtalk.config import ConfigError, ModelConfig
from edtalk.modules.audio_encoder import AudioToLip
from edtalk.modules.discriminator import Discriminator
from edtalk.modules.eem import EmotionEnhancement
from edtalk.modules.encoder import Encoder
from edtalk.modules.expression_predictor import ExpressionPredictor
from edtalk.modules.generator import Generator, init_copy_path
from edtalk.modules.navigation import LatentNavigation, MotionBanks
from edtalk.modules.pose_flow import PoseFlow
from edtalk.provenance import git_hash, machine

# Official parameter counts (shared/reference/edtalk-official-facts.md, measured on the official modules).
OFFICIAL_PARAMS = {"encoder": 21.64e6, "generator": 64.23e6, "audio_lip": 2.82e6, "discriminator": 24.00e6}


class EDTalk(nn.Module):
    """The EDTalk model. ``EDTalk(cfg)``; see the module docstring for the paper-symbol map."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if not isinstance(cfg, ModelConfig):  # a dict or a preset's name: AttributeError deep inside
            raise TypeError(
                f"EDTalk(cfg) takes a ModelConfig (ModelConfig.preset('tiny'), ModelConfig.from_dict(d)), "
                f"got {type(cfg).__name__}"
            )
        self.cfg = cfg
        self.encoder = Encoder(cfg)  # E
        self.navigation = LatentNavigation(cfg)  # shared trunk + MLP^m / MLP^p / MLP^e
        self.banks = MotionBanks(cfg)  # B^m, B^p, B^e
        self.generator = Generator(cfg)  # G
        init_copy_path(self.encoder, self.generator)  # G(E(I)) starts as ~I (identity warp + read-out)
        self.eem = EmotionEnhancement(cfg) if cfg.has_eem else None  # EEM
        self.audio_lip = AudioToLip(cfg)  # E_a + MLP^m_A
        self.pose_flow = PoseFlow(cfg) if "pose" in cfg.bank_names else None  # phi_p
        self.expression_predictor = ExpressionPredictor(cfg) if "expression" in cfg.bank_names else None

    # --- the four steps of Eq. 1 ---------------------------------------------------------------
    def bases(self) -> dict[str, torch.Tensor]:
        """{"mouth": B^m [D, Km], "pose": B^p [D, Kp], "expression": B^e [D, Ke]} (present components)."""
        return self.banks.bases()

    def encode(self, img: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """E(I) -> (f^{*->r} [B, D], f^{id} skips coarse (8x8) -> fine (image_size))."""
        self._check_image(img)
        return self.encoder(img)

    def navigate(self, f_r: torch.Tensor, names: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        """W^* = MLP^*(f^{*->r}) for each component (all present components by default)."""
        return self.navigation(f_r, names)

    def motion(self, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """f^{r->*} = B^* W^* for each given component ([B, K] -> [B, D])."""
        bases = self.bases()
        return {name: self.banks.combine(name, w, bases) for name, w in weights.items()}

    def compose(self, f_r_src: torch.Tensor, weights: dict[str, torch.Tensor]) -> torch.Tensor:
        """f^{i->d} = f^{i->r} + f^{r->m} + f^{r->p} + f^{r->e} (components absent from ``weights`` add 0)."""
        latent = f_r_src
        for offset in self.motion(weights).values():
            latent = latent + offset
        return latent

    def expression_latent(self, w_e: torch.Tensor) -> torch.Tensor:
        """f^{r->e} = B^e W^e, the EEM's input."""
        return self.banks.combine("expression", w_e)

    def generate(
        self, latent: torch.Tensor, skips: list[torch.Tensor], expression_latent: torch.Tensor | None = None
    ) -> torch.Tensor:
        """I^g = G(f^{i->d}, f^{id}, EEM(f^{r->e})). Skips with batch 1 are broadcast to the latent's batch.

        ``expression_latent`` is f^{r->e} [B, D] (not W^e); it is ignored when the model has no EEM.
        """
        batch = latent.shape[0]
        skips = [s.expand(batch, -1, -1, -1) if s.shape[0] == 1 and batch > 1 else s for s in skips]
        if expression_latent is not None and self.eem is not None:
            skips = self.eem(skips, expression_latent)
        return self.generator(latent, skips)

    def forward(
        self,
        identity_img: torch.Tensor,
        mouth_img: torch.Tensor,
        pose_img: torch.Tensor | None = None,
        expression_img: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Video-driven generation: identity I^i with the mouth of I^m, pose of I^p, expression of I^e.

        All images [B, 3, H, W] (identity may have B = 1). Drivers of absent components are ignored;
        a missing pose/expression driver leaves that component at the identity's canonical offset 0.
        """
        drivers = {"mouth": mouth_img, "pose": pose_img, "expression": expression_img}
        drivers = {k: v for k, v in drivers.items() if v is not None and k in self.cfg.bank_names}
        f_src, skips = self.encode(identity_img)
        f_drv, _ = self.encode(torch.cat(list(drivers.values()), dim=0))
        weights = {}
        for name, part in zip(drivers, f_drv.split([v.shape[0] for v in drivers.values()]), strict=True):
            weights[name] = self.navigate(part, (name,))[name]
        batch = max(w.shape[0] for w in weights.values())
        f_src = f_src.expand(batch, -1) if f_src.shape[0] == 1 else f_src
        latent = self.compose(f_src, weights)
        e = self.expression_latent(weights["expression"]) if "expression" in weights else None
        return self.generate(latent, skips, e)

    def _check_image(self, img: torch.Tensor) -> None:
        size = self.cfg.image_size
        if img.dim() != 4 or img.shape[1] != 3 or img.shape[2] != size or img.shape[3] != size:
            raise ValueError(
                f"EDTalk({size} px) expects images [B, 3, {size}, {size}], got {tuple(img.shape)}"
            )
        if not img.is_floating_point():  # uint8 frames: a dtype error from the first convolution
            raise ValueError(
                f"EDTalk expects float images in [-1, 1], got {img.dtype} (uint8 frames: "
                "edtalk.driving.model_input converts them)"
            )


# --- parameter counts ----------------------------------------------------------------------------
def _count(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def parameter_counts(cfg: ModelConfig) -> dict[str, int]:
    """Parameters per part. ``generator`` = E + navigation MLPs + banks + G + EEM (official "Generator")."""
    with torch.device("meta"):  # no memory, no init time
        model, disc = EDTalk(cfg), Discriminator(cfg)
    counts = {
        "encoder": _count(model.encoder),
        "navigation": _count(model.navigation),
        "banks": _count(model.banks),
        "decoder": _count(model.generator),
        "eem": _count(model.eem),
    }
    counts["generator"] = sum(counts.values())
    counts["audio_lip"] = _count(model.audio_lip)
    counts["pose_flow"] = _count(model.pose_flow)
    counts["expression_predictor"] = _count(model.expression_predictor)
    counts["discriminator"] = _count(disc)
    return counts


# --- checkpoints -----------------------------------------------------------------------------------
class CheckpointError(ValueError):
    """A checkpoint file is missing or malformed; the message names the file and the problem."""


def _provenance() -> dict[str, Any]:
    return {
        "git": git_hash(),
        "versions": {"torch": str(torch.__version__), "python": sys.version.split()[0]},
        "machine": machine(),
    }


def save_checkpoint(path: str | Path, model_state: dict, cfg: ModelConfig, extra: dict | None = None) -> Path:
    """Atomically write {"config", "state_dict", "meta"} with torch.save.

    ``extra`` goes into "meta" (plain Python/tensor values only, so weights_only loading works), e.g.
    {"stage": "expression", "step": 1000, "emotion_weights": {"happy": [...10 floats]}}.
    Git hash, library versions and the machine that wrote it are added under meta["provenance"].
    """
    path = Path(path)
    payload = {
        "config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model_state.items()},
        "meta": {**(extra or {}), "provenance": _provenance()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 of a state dict's weights (names, dtypes, shapes and bytes, in name order): the same for
    two checkpoints of the same weights, whose files differ (meta, provenance, torch.save's archive
    name: every save of one checkpoint has another file sha256)."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
    return digest.hexdigest()


def _kind(value: object) -> str:
    """What a checkpoint field holds instead of a dict, for its error: "None", "a list"."""
    return "None" if value is None else f"a {type(value).__name__}"


def checkpoint_path_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a checkpoint file ("<path>: ...", naming what writes one); None for a file."""
    path = Path(path)
    if path.is_dir():
        pts = sorted(p.name for p in path.glob("*.pt"))
        inside = f" (it holds {', '.join(pts[:3])})" if pts else ""
        return f"{path}: is a folder; give the checkpoint file (.pt) in it{inside}"
    if not path.is_file():
        return (
            f"{path}: checkpoint not found (no such file); `python -m edtalk.train` writes each stage's "
            "<out>/<stage>/final.pt (`make demo`: runs/audio_expression/final.pt)"
        )
    return None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint: {"config": ModelConfig, "state_dict": dict, "meta": dict} (weights_only=True)."""
    path = Path(path)
    if problem := checkpoint_path_problem(path):
        raise CheckpointError(problem)
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04" and head[:1] != b"\x80":  # torch.save's zip archive, or a legacy pickle
        raise CheckpointError(f"{path}: not a torch checkpoint (expected a .pt written by torch.save)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt/unsafe files; all mean "unreadable"
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CheckpointError(
            f"{path}: not a readable EDTalk checkpoint ({err.__class__.__name__}: {first_line[:300]})"
        ) from None
    missing = [k for k in ("config", "state_dict") if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise CheckpointError(f"{path}: not an EDTalk checkpoint (missing keys: {', '.join(missing)})")
    config, meta = payload["config"], payload.get("meta")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its config is {_kind(config)}, not a mapping of ModelConfig fields")
    try:
        cfg = ModelConfig.from_dict(config)
    except (ConfigError, TypeError, ValueError) as err:  # an unknown key, a wrong type or value
        raise CheckpointError(f"{path}: its config is not a valid ModelConfig: {err}") from None
    if meta is None:  # no meta recorded: nothing known about its training
        meta = {}
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its meta is {_kind(meta)}, not a mapping (dict)")
    done = meta.get("stages_done")
    if done is not None and not (isinstance(done, (list, tuple)) and all(isinstance(s, str) for s in done)):
        raise CheckpointError(
            f"{path}: its meta['stages_done'] is {str(done)[:60]!r}, not a list of stage names"
        )
    return {"config": cfg, "state_dict": payload["state_dict"], "meta": meta}


def build_from_checkpoint(path: str | Path, strict: bool = True) -> tuple[EDTalk, dict[str, Any]]:
    """EDTalk(cfg) with the checkpoint's weights loaded, in eval mode; returns (model, checkpoint dict)."""
    ckpt = load_checkpoint(path)
    model = EDTalk(ckpt["config"])
    try:
        result = model.load_state_dict(ckpt["state_dict"], strict=strict)
    except RuntimeError as err:  # the weights were not made by this config (edited, or another code)
        lines = str(err).splitlines()
        missing = sum(line.strip().startswith("Missing key") for line in lines)
        detail = "; ".join(line.strip() for line in lines[1:3])
        raise CheckpointError(
            f"{path}: its weights do not fit the model its config describes"
            f"{' (keys missing)' if missing else ''}: {detail[:300]}"
        ) from None
    if not strict and (result.missing_keys or result.unexpected_keys):
        ckpt["meta"]["load_report"] = {"missing": result.missing_keys, "unexpected": result.unexpected_keys}
    return model.eval(), ckpt


# --- CLI -----------------------------------------------------------------------------------------
def _summary(args: argparse.Namespace) -> int:
    cfg = ModelConfig.preset(args.preset)
    counts = parameter_counts(cfg)
    if args.json:
        print(json.dumps({"preset": args.preset, **counts}, indent=2))
        return 0
    print(f"EDTalk parameter counts, preset {args.preset!r} ({cfg.image_size} px, latent {cfg.latent_dim})")
    for key, value in counts.items():
        ref = OFFICIAL_PARAMS.get(key) if args.preset == "paper" else None
        note = f"   official {ref / 1e6:.2f} M ({100 * (value - ref) / ref:+.2f}%)" if ref else ""
        print(f"  {key:<22}{value / 1e6:10.3f} M{note}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edtalk.model", description="Inspect EDTalk model presets."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser(
        "summary", help="parameter counts per part (E, G incl. banks/MLPs/EEM, audio, D)"
    )
    summary.add_argument(
        "--preset", type=model_preset, default="paper", help="model preset: paper or tiny (default: paper)"
    )
    summary.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    name_subcommands(sub)
    args = parser.parse_args(argv)
    try:
        return _summary(args)
    except ConfigError as err:
        return report_error(err)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
