"""The six EDTalk training stages (paper Sec. 3.2-3.3, Appendix 6.3) as one registry.

Each ``Stage`` says which parameters train (name prefixes of ``EDTalk``; everything else is frozen:
``requires_grad=False`` and eval mode, so frozen BatchNorms keep their statistics), its loss terms
with default weights, the sampler that feeds it, and two functions:

- ``forward(model, batch, cfg) -> outputs``: everything that touches EDTalk's parameters. It runs
  inside the DeepSpeed engine (``StageModule``), so ZeRO sees every parameter use.
- ``losses(outputs, batch, nets) -> {term: unweighted value}``: the paper's terms (``edtalk.losses``)
  on those outputs, with the frozen loss networks ``nets`` (perceptual Φ, discriminator D, the
  synthtalk face expert for L_mot, the sync expert for L^m_sync).

One file per stage, in chain order (``edtalk.config.STAGE_NAMES``; each continues from the one
before it, its ``parent``):

- ``eg_pretrain``: E (+ shared trunk), G, MLN/PLN + banks as LIA's motion bank, D. rec 1, per 1, adv 1.
- ``mouth_pose``: MLN, PLN, B^m, B^p (E, trunk, G frozen), D. rec 1, per 1, adv 1, self 1, fea 1.
- ``expression``: ELN, B^e, EEM (all above frozen), D. rec 1, per 1, adv 1, mot 10, mc 1.
- ``audio_lip``: E_a, MLP^m_A. m_fea 1, m_rec 1, m_sync 1.
- ``audio_pose``: phi_p (normalizing flow). mle 1, p_rec 1, tem 1.
- ``audio_expression``: E_S, MLP^e_A (E_T frozen, outside the state dict). exp 1.

Design choices the paper leaves open are documented in the stage's file. Shared pieces:
``selection`` (which parameters train, ``StageModule``), ``shared`` (helpers of several stages).
The Table 3 loss ablations are ``edtalk.ablations``.

How to add a stage: write its sampler (``edtalk.data.sampler.StageSampler``), then one file here
with its forward and losses and one ``STAGES.add``, and put its name in ``edtalk.config.STAGE_NAMES``
(the chain order; importing this package checks that every name there has a file and vice versa).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from edtalk.config import STAGE_NAMES, StageConfig, parent_stage
from edtalk.registry import Registry, import_modules_of
from edtalk.stages.selection import (
    StageModule,
    apply_freezing,
    configured_stage,
    param_matches,
    set_train_mode,
    start_fresh,
    trainable_prefixes,
    with_also_train,
)

STAGES: Registry = Registry("training stage")


@dataclass
class LossNetworks:
    """Frozen networks the loss terms call. Missing ones make their terms raise a clear error. The loss
    experts are named by their kind (``Stage.experts``; ``edtalk.experts``): the face analyser (L_mot)
    and the sync net (L^m_sync)."""

    perceptual: nn.Module | None = None
    discriminator: Callable[[torch.Tensor], torch.Tensor] | None = None
    face_analyser: nn.Module | None = None
    sync_net: nn.Module | None = None

    def need(self, name: str):
        net = getattr(self, name)
        if net is None:
            raise RuntimeError(f"this loss needs the {name.replace('_', ' ')}, which was not loaded")
        return net


@dataclass(frozen=True)
class Stage:
    """One training stage of the paper: the disentanglement stages of Sec. 3.2 (eg_pretrain,
    mouth_pose, expression) or the audio-to-motion stages of Sec. 3.3 (audio_lip, audio_pose,
    audio_expression); what trains, on which batches, with which losses."""

    name: str
    trainable: tuple[str, ...]  # parameter-name prefixes of EDTalk that train
    weights: dict[str, float]  # default loss weights (term -> weight)
    adversarial: bool  # trains a discriminator D beside the model
    experts: tuple[str, ...]  # loss experts it needs, by kind: "face_analyser", "sync_net"
    sample: Callable  # (StageSampler, StageConfig) -> batch
    forward: Callable  # (EDTalk, batch, StageConfig) -> outputs
    losses: Callable  # (outputs, batch, LossNetworks) -> {term: tensor}
    # StageConfig defaults: the paper's learning rates; batch and steps are a short smoke schedule (the
    # paper, App. 6.3, trains e.g. mouth_pose at batch 4 for ~4k and audio_lip for 30k iterations: set
    # --batch-size / --max-steps for a full run); the losses' weights are in ``weights``
    defaults: dict = field(default_factory=dict)
    demo: dict = field(default_factory=dict)  # overrides of ``defaults`` for the tiny CPU demo preset
    fake_real: Callable | None = None  # (outputs, batch) -> (fake, real) images for D
    # learns from frames alone (no mel windows, no transcripts), so the rendered still people of
    # ``edtalk.train --extra-identities`` can join its cache; the audio stages set it False
    frames_only: bool = True
    # (StageConfig, EDTalk) -> parameter prefixes this configuration trains beyond ``trainable``
    # (eg_pretrain: ELN and B^e with ``eg_expression_bank``); see ``selection.configured_stage``
    extra_trainable: Callable | None = None
    # (StageConfig) -> prefixes (under ``navigation.`` / ``banks.``) that start from a seeded fresh
    # initialisation instead of the parent's (mouth_pose: ``fresh_mouth_pose_banks``); ``start_fresh``
    fresh_prefixes: Callable | None = None
    # one no-grad forward in train mode before DeepSpeed wraps the model, so that data-initialised
    # layers (the flow's ActNorm, audio_pose) start from rank 0's batch statistics
    data_init: bool = False
    # (trained EDTalk, FrameCache) -> extra checkpoint meta written with the stage's final.pt
    # (expression: the per-emotion mean W^e table, meta["emotion_weights"])
    on_export: Callable | None = None

    @property
    def parent(self) -> str | None:
        """The stage whose final.pt this one continues from (the one before it in STAGE_NAMES)."""
        return parent_stage(self.name)

    def config_defaults(self, preset: str) -> dict:
        """StageConfig fields of this stage for a model preset: ``defaults``, plus ``demo`` for tiny."""
        out = dict(self.defaults)
        if preset == "tiny":
            out.update(self.demo)
        return out

    def trains_discriminator(self, cfg: StageConfig) -> bool:
        """D exists only for adversarial stages whose L_adv weight is non-zero."""
        return self.adversarial and cfg.weight("adv", self.weights.get("adv", 0.0)) != 0.0

    def loss_weights(self, cfg: StageConfig) -> dict[str, float]:
        """The weight of each loss term in this run: ``cfg.loss_weights`` over ``weights``."""
        unknown = set(dict(cfg.loss_weights)) - set(self.weights)
        if unknown:
            raise ValueError(
                f"stage {self.name}: unknown loss terms {sorted(unknown)}; known {sorted(self.weights)}"
            )
        return {term: cfg.weight(term, w) for term, w in self.weights.items()}


def get_stage(name: str) -> Stage:
    """The registered stage ``name`` (an unknown name raises with a did-you-mean)."""
    return STAGES.get(name)


def _check_chain() -> None:
    """Every stage of the chain order has a definition, and every definition is in the chain."""
    problems = []
    if undefined := [n for n in STAGE_NAMES if n not in STAGES]:
        problems.append(f"{undefined} are in edtalk.config.STAGE_NAMES but have no file in edtalk/stages/")
    if unordered := [n for n in STAGES.names() if n not in STAGE_NAMES]:
        problems.append(f"{unordered} are registered but not in edtalk.config.STAGE_NAMES (the chain order)")
    if problems:
        raise RuntimeError("edtalk.stages: " + "; ".join(problems))


import_modules_of(__name__)  # each stage's file registers it
_check_chain()

__all__ = [
    "STAGES",
    "STAGE_NAMES",
    "LossNetworks",
    "Stage",
    "StageModule",
    "apply_freezing",
    "configured_stage",
    "get_stage",
    "param_matches",
    "set_train_mode",
    "start_fresh",
    "trainable_prefixes",
    "with_also_train",
]
