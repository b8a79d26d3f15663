"""Typed configuration: ``ModelConfig`` (the EDTalk network and its ablation switches).

Presets: ``ModelConfig.preset("paper")`` (256 px, latent 512, banks 20/6/10, the official widths) and
``ModelConfig.preset("tiny")`` (64 px, small widths, trains on 2 CPU cores in minutes; data at other
sizes is resized to ``image_size`` by the data loaders / inference).

Channel widths follow StyleGAN2: the feature map at resolution ``r`` has
``min(channel_max, channel_base // r)`` channels. With ``channel_base=16384, channel_max=512`` this
gives the official table {4..32: 512, 64: 256, 128: 128, 256: 64}.

Dicts round-trip through ``to_dict``/``from_dict``; ``from_dict`` rejects unknown keys (did-you-mean).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

COMPONENTS = ("lip", "lip_pose", "full")  # Table 3: "only lip" / "lip+pose" / full model
SEMANTIC_ENCODERS = ("mel", "hubert")  # E_S: our trainable mel transformer, or HuBERT (external weights)
TEXT_ENCODERS = ("minilm", "emoberta", "none")  # E_T: shipped MiniLM, EmoBERTa (external weights), none


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the field and the problem."""


def _reject_unknown(kind: str, data: dict[str, Any], known: list[str]) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"unknown {kind} key {key!r}{hint}")


@dataclass(frozen=True)
class ModelConfig:
    """Every architectural choice of EDTalk, including the model-side ablation switches of Table 3."""

    image_size: int = 256  # input/output resolution H = W (power of two, >= 16); images in [-1, 1]
    latent_dim: int = 512  # D: size of f^{*->r}, of each base b^*_i and of the generator's style vector
    channel_base: int = 16384  # feature channels at resolution r are min(channel_max, channel_base // r)
    channel_max: int = 512  # cap on feature channels (E, G, EEM and D share the width table)
    n_mouth: int = 20  # |B^m|: number of mouth bases (Km)
    n_pose: int = 6  # |B^p|: number of pose bases (Kp)
    n_expression: int = 10  # |B^e|: number of expression bases (Ke)
    trunk_layers: int = 4  # shared linear trunk before the three navigation heads (official: 4 x D->D)
    head_layers: int = 2  # D->D linear layers in each head before its D->K output layer (official: 2)
    orthogonal: bool = True  # QR re-parameterisation of [B^m|B^p|B^e]; False = "w/o Orthogonal" (free bases)
    use_bank: bool = True  # False = "w/o Bank": heads output D-dim latent offsets directly (bases = identity)
    use_eem: bool = True  # False = "w/o EEM": no AdaIN modulation of the identity skips f^{id}
    components: str = "full"  # "lip" (only lip), "lip_pose" (lip+pose), "full" (lip+pose+expression)
    eem_hidden: int = 128  # hidden width of the AdaIN MLP inside each EEM block (official: 128)
    audio_width: int = 32  # Wav2Lip audio encoder base width (32 -> 512-d f^a); feature dim = 16 * width
    flow_steps: int = 8  # K flow steps of the pose normalizing flow phi_p (actnorm, 1x1 conv, coupling)
    flow_hidden: int = 256  # width of the transformer inside each coupling layer
    flow_heads: int = 4  # attention heads of that transformer
    flow_layers: int = 1  # transformer encoder layers per coupling
    flow_lu: bool = True  # invertible 1x1 "conv" as an LU decomposition (False: plain matrix + slogdet)
    semantic_encoder: str = "mel"  # E_S: "mel" (trainable transformer on Wav2Lip mels) or "hubert"
    semantic_width: int = 256  # width of the "mel" semantics encoder (transformer d_model)
    semantic_layers: int = 2  # transformer layers of the "mel" semantics encoder
    text_encoder: str = "minilm"  # E_T: "minilm" (frozen, 384-d, ships offline), "emoberta", or "none"
    expression_hidden: int = 512  # hidden width of MLP^e_A (audio/text features -> W^e)
    mask_audio_p: float = 0.25  # Eq. 7: probability of masking E_S(a) during training (0.25 <= p < 0.5)
    mask_text_p: float = 0.25  # Eq. 7: probability of masking E_T(T) during training (0 <= p < 0.25)

    def __post_init__(self) -> None:
        size = self.image_size
        if size < 16 or size & (size - 1):
            raise ConfigError(f"image_size must be a power of two >= 16, got {size}")
        if self.components not in COMPONENTS:
            raise ConfigError(f"components must be one of {COMPONENTS}, got {self.components!r}")
        if self.semantic_encoder not in SEMANTIC_ENCODERS:
            raise ConfigError(
                f"semantic_encoder must be one of {SEMANTIC_ENCODERS}, got {self.semantic_encoder!r}"
            )
        if self.text_encoder not in TEXT_ENCODERS:
            raise ConfigError(f"text_encoder must be one of {TEXT_ENCODERS}, got {self.text_encoder!r}")
        for name in ("n_mouth", "n_pose", "n_expression", "latent_dim", "audio_width", "flow_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_pose < 2:
            raise ConfigError(f"n_pose must be >= 2 (the pose flow splits W^p in halves), got {self.n_pose}")
        if self.use_bank and self.orthogonal and self.n_bases_total > self.latent_dim:
            raise ConfigError(
                f"orthogonal banks need n_mouth + n_pose + n_expression <= latent_dim, got "
                f"{self.n_bases_total} > {self.latent_dim}"
            )
        if self.flow_hidden % self.flow_heads:
            raise ConfigError(
                f"flow_hidden ({self.flow_hidden}) must be divisible by flow_heads ({self.flow_heads})"
            )
        if not 0.0 <= self.mask_audio_p + self.mask_text_p <= 1.0:
            raise ConfigError("mask_audio_p + mask_text_p must lie in [0, 1]")

    # --- derived facts -------------------------------------------------------------------------
    @property
    def bank_names(self) -> tuple[str, ...]:
        """The motion components present: ("mouth",), ("mouth", "pose") or all three."""
        return {"lip": ("mouth",), "lip_pose": ("mouth", "pose"), "full": ("mouth", "pose", "expression")}[
            self.components
        ]

    @property
    def n_bases_total(self) -> int:
        return sum(self.bank_size(name) for name in self.bank_names) if self.use_bank else 0

    def bank_size(self, name: str) -> int:
        """Number of bases K of one bank ("mouth", "pose", "expression")."""
        return {"mouth": self.n_mouth, "pose": self.n_pose, "expression": self.n_expression}[name]

    def n_weights(self, name: str) -> int:
        """Size of the weight vector W^* predicted for a component (K, or D when ``use_bank`` is off)."""
        return self.bank_size(name) if self.use_bank else self.latent_dim

    def channels(self, resolution: int) -> int:
        """Feature channels at a spatial resolution (StyleGAN2 width table)."""
        return min(self.channel_max, self.channel_base // resolution)

    @property
    def has_eem(self) -> bool:
        return self.use_eem and "expression" in self.bank_names

    @property
    def audio_feature_dim(self) -> int:
        """Size of f^a, the output of the Wav2Lip-style audio encoder E_a."""
        return 16 * self.audio_width

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named preset ("paper", "tiny"), optionally with fields overridden."""
        if name not in MODEL_PRESETS:
            close = difflib.get_close_matches(name, list(MODEL_PRESETS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown model preset {name!r}{hint} (known: {', '.join(MODEL_PRESETS)})")
        return cls.from_dict({**MODEL_PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> ModelConfig:
        _reject_unknown("ModelConfig", changes, [f.name for f in fields(self)])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        _reject_unknown("ModelConfig", data, [f.name for f in fields(cls)])
        return cls(**data)


MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # Official EDTalk widths at 256 px (parameter counts within 2% of the official modules).
    "paper": {},
    # CPU demo/test model: 64 px (synthtalk's 128 px frames are resized to 64), widths <= 64,
    # latent 128 so that bank-size sweeps up to 40 bases per bank still fit orthogonally.
    "tiny": {
        "image_size": 64,
        "latent_dim": 128,
        "channel_base": 1024,
        "channel_max": 64,
        "trunk_layers": 2,
        "head_layers": 1,
        "eem_hidden": 32,
        "audio_width": 8,
        "flow_steps": 2,
        "flow_hidden": 32,
        "flow_heads": 2,
        "semantic_width": 32,
        "semantic_layers": 1,
        "expression_hidden": 64,
    },
}


# --- training configuration ---
# (owned by the training engineer; appended after ModelConfig. StageConfig: one stage's schedule and
# loss weights; TrainConfig: a whole run. Both round-trip through to_dict/from_dict.)

STAGE_NAMES = ("eg_pretrain", "mouth_pose", "expression", "audio_lip", "audio_pose", "audio_expression")


@dataclass(frozen=True)
class StageConfig:
    """One training stage (paper Sec. 3.2-3.3): schedule, batch, loss weights, sample shapes."""

    name: str  # one of STAGE_NAMES
    max_steps: int = 100  # optimiser steps of this stage (per worker; each worker sees its own batch)
    batch_size: int = 4  # samples per worker per step
    lr: float = 2e-3  # Adam learning rate of the trainable modules (paper: 2e-3)
    d_lr: float = 2e-3  # Adam learning rate of the discriminator (adversarial stages only)
    beta1: float = 0.0  # Adam beta1 of the trainable modules (official LIA/EDTalk: 0; beta2 stays 0.99^(4/5))
    loss_weights: tuple[tuple[str, float], ...] = ()  # (term, weight); terms not listed use the stage default
    window: int = 5  # K: frames averaged into the expression feature f^{r->e} (expression, audio_expression)
    n_frames: int = 5  # T: consecutive frames per audio sample (audio_lip needs >= 5 for SyncNet)
    pose_frames: int = 10  # N: frames per pose sequence of the normalizing flow (audio_pose)
    checkpoint_every: int = 50  # report a Ray checkpoint every this many steps (and at the end)
    log_every: int = 10  # TensorBoard scalars every this many steps
    # parameter prefixes of EDTalk trained beside the stage's own, e.g. ("generator",): the official
    # advice (EDTalk issue #11) to fine-tune the decoder after ELN/EEM have learned
    also_train: tuple[str, ...] = ()
    # eg_pretrain: LIA's one motion bank is the mouth and pose banks (26 directions); True adds the
    # expression bank (36), so that G also learns to draw along the directions ELN later steers
    eg_expression_bank: bool = False
    # mouth_pose: MLN, PLN, B^m and B^p start from a fresh (seeded) initialisation instead of stage 1's,
    # as the official trainer starts new banks after LIA's stage 1 (paper preset default; see
    # edtalk.stages for the tiny measurement)
    fresh_mouth_pose_banks: bool = False

    def __post_init__(self) -> None:
        if self.name not in STAGE_NAMES:
            close = difflib.get_close_matches(self.name, STAGE_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown stage {self.name!r}{hint} (known: {', '.join(STAGE_NAMES)})")
        for key in ("max_steps", "batch_size", "window", "n_frames", "checkpoint_every", "log_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"StageConfig.{key} must be >= 1, got {getattr(self, key)}")
        if not 0.0 <= self.beta1 < 1.0:
            raise ConfigError(f"StageConfig.beta1 must be in [0, 1), got {self.beta1}")
        for key in ("lr", "d_lr"):
            if not math.isfinite(getattr(self, key)) or getattr(self, key) <= 0:
                raise ConfigError(
                    f"StageConfig.{key} must be a finite number above 0, got {getattr(self, key)}"
                )
        for term, weight in self.loss_weights:
            if not math.isfinite(weight) or weight < 0:
                raise ConfigError(
                    f"StageConfig.loss_weights[{term!r}] must be a finite number >= 0, got {weight}"
                )
        if self.pose_frames < 2:
            raise ConfigError(
                f"StageConfig.pose_frames must be >= 2 (L_tem needs two frames), got {self.pose_frames}"
            )

    def weight(self, term: str, default: float) -> float:
        return dict(self.loss_weights).get(term, default)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["loss_weights"] = dict(self.loss_weights)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageConfig:
        _reject_unknown("StageConfig", data, [f.name for f in fields(cls)])
        data = dict(data)
        data["loss_weights"] = tuple(sorted(dict(data.get("loss_weights", {})).items()))
        data["also_train"] = tuple(data.get("also_train", ()))
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """A training run: data, model preset, Ray/DeepSpeed scaling, output and provenance switches."""

    data: str = "synthtalk:data/synthtalk"  # "<reader>:<root>" (edtalk.data.readers)
    split: str = "train"  # identity split to train on (never judge/test)
    preset: str = "tiny"  # ModelConfig preset
    out: str = "runs"  # output root: <out>/<stage>/ holds Ray checkpoints, TensorBoard logs, final.pt
    workers: int = 2  # Ray Train workers (data-parallel ranks)
    use_gpu: bool | None = None  # None: use a GPU per worker when CUDA is available
    deepspeed: str = "zero0"  # zero0 | zero1 | zero2 | zero3
    bf16: bool = False  # DeepSpeed bf16 mixed precision
    seed: int = 0
    perceptual: str = "auto"  # "vgg19", "substitute:pyramid_l1_ssim", or "auto" (VGG19 if installed)
    experts: str = ""  # folder of the loss experts (train split); "" = <out>/experts
    parent: str = ""  # parent stage checkpoint (final.pt); "" = <out>/<parent stage>/final.pt
    resume: bool = False  # continue a stage from its latest Ray checkpoint
    cache: str = ""  # decoded-frame cache root; "" = <out>/cache
    address: str = ""  # Ray cluster address; "" = start a local one on 127.0.0.1
    # synthtalk only: the frames-only stages also train on this many rendered people of no split
    # (edtalk.experts.extra_identities.TRAIN_EXTRA_INDEX_BASE), extra_frames stills per emotion x level;
    # the audio stages of a chain keep to the split
    extra_identities: int = 0
    extra_frames: int = 8

    def __post_init__(self) -> None:
        if self.deepspeed not in ("zero0", "zero1", "zero2", "zero3"):
            raise ConfigError(f"deepspeed must be zero0..zero3, got {self.deepspeed!r}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        if ":" not in self.data:
            raise ConfigError(
                f"data must be '<reader>:<root>' (e.g. synthtalk:data/synthtalk), got {self.data!r}"
            )
        if self.split in ("judge", "test"):
            raise ConfigError(f"training on the {self.split!r} split is not allowed (judges/test identities)")
        if self.extra_identities < 0 or self.extra_frames < 1:
            raise ConfigError(
                f"extra_identities must be >= 0 and extra_frames >= 1, got {self.extra_identities}, "
                f"{self.extra_frames}"
            )
        if self.extra_identities and not self.data.startswith("synthtalk:"):
            raise ConfigError(
                f"extra_identities renders synthtalk people; it needs synthtalk data, got {self.data!r}"
            )

    @property
    def zero_stage(self) -> int:
        return int(self.deepspeed[-1])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        _reject_unknown("TrainConfig", data, [f.name for f in fields(cls)])
        return cls(**data)
