"""Which of EDTalk's parameters a stage trains, and the module the DeepSpeed engine wraps.

A stage names its trainable parameters by prefix (``Stage.trainable``); the run's ``StageConfig`` may
add some (``also_train``, the stage's ``extra_trainable``) and ask for some to start afresh (the
stage's ``fresh_prefixes``). Everything else is frozen: ``requires_grad=False`` and eval mode.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from edtalk.config import StageConfig
from edtalk.modules import ALWAYS_FROZEN

if TYPE_CHECKING:
    from edtalk.stages import Stage


def param_matches(name: str, prefixes: tuple[str, ...]) -> bool:
    """``name`` is one of ``prefixes`` or lies under one (``encoder`` matches ``encoder.conv.weight``)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _prefixes_in(model: nn.Module, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """The ``prefixes`` that name at least one parameter of ``model``."""
    names = [n for n, _ in model.named_parameters()]
    return tuple(p for p in prefixes if any(param_matches(n, (p,)) for n in names))


def trainable_prefixes(stage: Stage, model: nn.Module) -> tuple[str, ...]:
    """The stage's prefixes, keeping only those that exist in this model (ablated parts are absent)."""
    return _prefixes_in(model, stage.trainable)


def with_also_train(stage: Stage, prefixes: tuple[str, ...], model: nn.Module) -> Stage:
    """``stage`` training ``prefixes`` beside its own parameters (``StageConfig.also_train``); a prefix
    that names no parameter of ``model`` is an error, not a silent no-op."""
    found = _prefixes_in(model, prefixes)
    unknown = [p for p in prefixes if p not in found]
    if unknown:
        modules = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
        raise ValueError(
            f"also_train {unknown}: no EDTalk parameter name starts with these prefixes "
            f"(top-level modules: {', '.join(modules)})"
        )
    return replace(stage, trainable=stage.trainable + tuple(prefixes)) if prefixes else stage


def configured_stage(stage: Stage, cfg: StageConfig, model: nn.Module) -> Stage:
    """``stage`` as ``cfg`` runs it: its own parameters, ``cfg.also_train``, and what the stage's
    ``extra_trainable`` adds for ``cfg`` (eg_pretrain with ``eg_expression_bank``: ELN and B^e)."""
    extra = tuple(cfg.also_train)
    if stage.extra_trainable is not None:
        extra += tuple(p for p in stage.extra_trainable(cfg, model) if p not in stage.trainable)
    return with_also_train(stage, extra, model)


def start_fresh(stage: Stage, cfg: StageConfig, model: nn.Module, seed: int = 0) -> list[str]:
    """Re-initialise what ``cfg`` asks this stage to learn from scratch; returns the parameter names.

    The parameters under the stage's ``fresh_prefixes(cfg)`` get the values a fresh latent navigation
    and fresh motion banks seeded with ``seed`` start with (the same on every rank). mouth_pose with
    ``cfg.fresh_mouth_pose_banks`` restarts MLN, PLN, B^m and B^p this way, replacing stage 1's, which
    played LIA's motion bank, as the official mouth-pose trainer starts EDTalk's new banks; the shared
    trunk, E and G keep stage 1's weights. A resumed run then loads its checkpoint over these values.
    """
    if stage.fresh_prefixes is None:
        return []
    prefixes = _prefixes_in(model, tuple(stage.fresh_prefixes(cfg)))
    if not prefixes:
        return []
    from edtalk.modules.navigation import LatentNavigation, MotionBanks, raw_key_of

    # torch.manual_seed seeds the CUDA generators too: fork them as well, or every rank's would restart
    # from ``seed`` (the worker seeded them with seed + rank)
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        torch.manual_seed(seed)
        fresh = {f"navigation.{k}": v for k, v in LatentNavigation(model.cfg).state_dict().items()}
        fresh.update({f"banks.{k}": v for k, v in MotionBanks(model.cfg).state_dict().items()})
    names = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if param_matches(name, prefixes):
                p.copy_(fresh[name])
                names.append(name)
        # a restarted bank's orientation (edtalk.modules.navigation) restarts with its V: the fresh
        # banks' bases, not the new V turned by the old bank's signs
        for name, buffer in model.named_buffers():
            if raw_key_of(name) in names:
                buffer.copy_(fresh[name])
    return names


def apply_freezing(stage: Stage, model: nn.Module) -> list[nn.Parameter]:
    """Set requires_grad (trainable vs frozen) and return the trainable parameters (non-empty).
    Parameters a module marks ``ALWAYS_FROZEN`` stay frozen under a trainable prefix (the paper
    freezes HuBERT's CNN feature encoder and fine-tunes its transformer, Sec. 3.3)."""
    prefixes = trainable_prefixes(stage, model)
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(param_matches(name, prefixes) and not getattr(p, ALWAYS_FROZEN, False))
        if p.requires_grad:
            params.append(p)
    if not params:
        raise ValueError(
            f"stage {stage.name}: no trainable parameters in this model (prefixes {stage.trainable})"
        )
    return params


def set_train_mode(stage: Stage, model: nn.Module) -> None:
    """Trainable modules in train mode, frozen ones in eval mode (frozen BatchNorm stats stay put)."""
    model.eval()
    prefixes = trainable_prefixes(stage, model)
    for name, module in model.named_modules():
        if name and param_matches(name, prefixes):
            module.train()


class StageModule(nn.Module):
    """What the DeepSpeed engine wraps: EDTalk plus the stage's forward (casts inputs to the engine dtype)."""

    def __init__(self, model: nn.Module, stage: Stage, cfg: StageConfig) -> None:
        super().__init__()
        self.model = model
        self.stage = stage
        self.cfg = cfg

    def forward(self, batch: dict) -> dict:
        dtype = next(self.model.parameters()).dtype
        batch = {
            k: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()
        }
        out = self.stage.forward(self.model, batch, self.cfg)
        return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in out.items()}

    def train(self, mode: bool = True) -> StageModule:  # frozen parts stay in eval mode
        super().train(mode)
        if mode:
            set_train_mode(self.stage, self.model)
        return self
