"""Typed configuration: ``ModelConfig`` (the EDTalk network and its ablation switches).

Presets: ``ModelConfig.preset("paper")`` (256 px, latent 512, banks 20/6/10, the official widths) and
``ModelConfig.preset("tiny")`` (64 px, small widths, trains on 2 CPU cores in minutes; data at other
sizes is resized to ``image_size`` by the data loaders / inference).

Channel widths follow StyleGAN2: the feature map at resolution ``r`` has
``min(channel_max, channel_base // r)`` channels. With ``channel_base=16384, channel_max=512`` this
gives the official table {4..32: 512, 64: 256, 128: 128, 256: 64}.

Dicts round-trip through ``to_dict``/``from_dict``; ``from_dict`` rejects unknown keys (did-you-mean).
Every constructor checks each value against its field's type (a JSON/YAML/CLI value of the wrong type,
``"10"`` for an int or ``"false"`` for a bool, is a ``ConfigError`` naming the field, not a silent
truthy string or a ``TypeError`` deep inside).
"""

from __future__ import annotations

import difflib
import functools
import math
import types
import typing
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

COMPONENTS = ("lip", "lip_pose", "full")  # Table 3: "only lip" / "lip+pose" / full model
SEMANTIC_ENCODERS = ("mel", "hubert")  # E_S: our trainable mel transformer, or HuBERT (external weights)
TEXT_ENCODERS = ("minilm", "emoberta", "none")  # E_T: shipped MiniLM, EmoBERTa (external weights), none
# L_per (edtalk.perceptual): VGG19 when its weights are installed, else the substitute; VGG19; the substitute
PERCEPTUAL_LOSSES = ("auto", "vgg19", "substitute:pyramid_l1_ssim")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the field and the problem."""


# ModelConfig fields that shape only the expression predictor (E_T's width, E_S's kind and size), which
# audio_expression is the first stage to train: a parent that has not been through it may differ in them
# (its predictor is left out)
PREDICTOR_ONLY_FIELDS = ("text_encoder", "semantic_encoder", "semantic_width", "semantic_layers")


def changed_fields(old: dict[str, Any], new: dict[str, Any], ignore: Iterable[str] = ()) -> list[str]:
    """``key old -> new`` for every key whose value differs between two config dicts (``ignore`` left out)."""
    skip = set(ignore)
    return [
        f"{k} {old.get(k)!r} -> {new.get(k)!r}"
        for k in sorted(set(old) | set(new))
        if k not in skip and old.get(k) != new.get(k)
    ]


def _reject_unknown(kind: str, data: dict[str, Any], known: list[str]) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"unknown {kind} key {key!r}{hint}")


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """The declared type of each field of a config dataclass (its annotations, evaluated)."""
    return typing.get_type_hints(cls)


def _fits(value: Any, expected: Any) -> bool:
    """Whether ``value`` is of the declared field type ``expected``: a bool only for bool (not 0/1), an
    int (not a bool or 2.5) for int, an int or float for float, a tuple (not a str) for tuple[...]."""
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if expected is type(None):
        return value is None
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args, strict=True))
    raise TypeError(f"config field type {expected!r} has no check in edtalk.config._fits")  # a new field


def _describe(expected: Any) -> str:
    """A field type in words, for the error message."""
    words = {bool: "true or false (a bool)", int: "an integer", float: "a number", str: "a string"}
    if expected in words:
        return words[expected]
    if expected is type(None):
        return "null (None)"
    args = typing.get_args(expected)
    if typing.get_origin(expected) in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in args)
    if len(args) == 2 and args[1] is Ellipsis:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return f"a ({', '.join(_describe(a) for a in args)}) pair"


def _as_tuples(value: Any, expected: Any) -> Any:
    """A list (as JSON and YAML give it) as the tuple a ``tuple[...]`` field holds, nested lists too;
    any other value unchanged (a str stays a str, and is then refused)."""
    if typing.get_origin(expected) is not tuple or not isinstance(value, (list, tuple)):
        return value
    args = typing.get_args(expected)
    inner = (args[0],) * len(value) if len(args) == 2 and args[1] is Ellipsis else args
    if len(inner) != len(value):
        return tuple(value)
    return tuple(_as_tuples(v, a) for v, a in zip(value, inner, strict=True))


def _check_types(obj: Any) -> None:
    """Refuse a field value of the wrong type, naming the field, the value and the expected type
    (lists are stored as the tuples a ``tuple[...]`` field holds)."""
    kind = type(obj).__name__
    for name, expected in _field_types(type(obj)).items():
        value = _as_tuples(getattr(obj, name), expected)
        if value is not getattr(obj, name):
            object.__setattr__(obj, name, value)  # frozen dataclass: still being constructed
        if not _fits(value, expected):
            raise ConfigError(
                f"{kind}.{name} must be {_describe(expected)}, got {value!r} ({type(value).__name__})"
            )


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
    semantic_encoder: str = "mel"  # E_S: "mel" (trainable transformer on Wav2Lip mels) or "hubert" (16 kHz)
    semantic_width: int = 256  # width of the "mel" semantics encoder (transformer d_model)
    semantic_layers: int = 2  # transformer layers of the "mel" semantics encoder
    text_encoder: str = "minilm"  # E_T: "minilm" (frozen, 384-d, ships offline), "emoberta", or "none"
    expression_hidden: int = 512  # hidden width of MLP^e_A (audio/text features -> W^e)
    mask_audio_p: float = 0.25  # Eq. 7: probability of masking E_S(a) during training (0.25 <= p < 0.5)
    mask_text_p: float = 0.25  # Eq. 7: probability of masking E_T(T) during training (0 <= p < 0.25)

    def __post_init__(self) -> None:
        _check_types(self)
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
# StageConfig: one stage's schedule and loss weights; TrainConfig: a whole run. Both round-trip
# through to_dict/from_dict.

# The training chain in order (paper Sec. 3.2-3.3): the one list of stage names. Each stage continues
# from the one before it (``parent_stage``); each has one file in edtalk/stages/, which checks at
# import that every name here has one (this module stays torch-free, so the order lives here).
STAGE_NAMES = ("eg_pretrain", "mouth_pose", "expression", "audio_lip", "audio_pose", "audio_expression")
# split names no run trains on: the judges' and the test identities, and 'all', which every reader takes
# as every clip, those included (edtalk.data.held_out.check_unseen also compares the clips themselves)
HELD_OUT_SPLIT_NAMES = ("judge", "test", "all")


def parent_stage(name: str) -> str | None:
    """The stage whose final.pt stage ``name`` continues from: the one before it in STAGE_NAMES."""
    i = STAGE_NAMES.index(name)
    return STAGE_NAMES[i - 1] if i else None


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
        _check_types(self)
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
        if self.loss_weights:
            self._check_loss_terms()
        if self.pose_frames < 2:
            raise ConfigError(
                f"StageConfig.pose_frames must be >= 2 (L_tem needs two frames), got {self.pose_frames}"
            )

    def _check_loss_terms(self) -> None:
        """Every ``loss_weights`` term is one of the stage's (``edtalk.stages``), so that a typo stops
        the run here, not inside the Ray workers."""
        from edtalk.stages import get_stage  # imports torch: only when weights are given

        known = list(get_stage(self.name).weights)
        unknown = [term for term, _ in self.loss_weights if term not in known]
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"StageConfig.loss_weights: unknown loss terms {unknown} for stage {self.name} "
                f"({hint}known: {', '.join(known)})"
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
        weights = data.get("loss_weights", {})
        if isinstance(weights, (list, tuple)) and all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in weights
        ):
            weights = dict(weights)  # (term, weight) pairs, as asdict() gives them
        if not isinstance(weights, dict) or not all(isinstance(term, str) for term in weights):
            raise ConfigError(
                f"StageConfig.loss_weights must be a mapping of loss term to weight, e.g. {{'fea': 0.0}}, "
                f"got {weights!r} ({type(weights).__name__})"
            )
        for term, weight in weights.items():
            if not _fits(weight, float):  # '0' from a YAML quote, or None
                raise ConfigError(
                    f"StageConfig.loss_weights[{term!r}] must be a number, got {weight!r} "
                    f"({type(weight).__name__})"
                )
        data["loss_weights"] = tuple(sorted(weights.items()))
        also_train = data.get("also_train", ())
        if not isinstance(also_train, (list, tuple)):  # a bare 'generator' would become its letters
            raise ConfigError(
                f"StageConfig.also_train must be a list of parameter prefixes, e.g. ['generator'], "
                f"got {also_train!r} ({type(also_train).__name__})"
            )
        data["also_train"] = tuple(also_train)
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """A training run: data, model preset, Ray/DeepSpeed scaling, output and provenance switches."""

    data: str = "synthtalk:data/synthtalk"  # "<reader>:<root>" (edtalk.data.readers)
    split: str = "train"  # identity split to train on (never judge, test or all: HELD_OUT_SPLIT_NAMES)
    preset: str = "tiny"  # ModelConfig preset
    out: str = "runs"  # output root: <out>/<stage>/ holds Ray checkpoints, TensorBoard logs, final.pt
    workers: int = 2  # Ray Train workers (data-parallel ranks)
    use_gpu: bool | None = None  # None: a GPU per worker when the Ray cluster has GPUs (resolve_use_gpu)
    deepspeed: str = "zero0"  # zero0 | zero1 | zero2 | zero3
    bf16: bool = False  # DeepSpeed bf16 mixed precision
    seed: int = 0
    perceptual: str = "auto"  # one of PERCEPTUAL_LOSSES: "auto" is VGG19 if installed, else the substitute
    experts: str = ""  # folder of the loss experts (train split); "" = <out>/experts
    parent: str = ""  # parent stage checkpoint (final.pt); "" = <out>/<parent stage>/final.pt
    resume: bool = False  # continue a stage from its latest Ray checkpoint
    max_failures: int = 0  # times Ray Train restarts a stage's failed workers from its latest checkpoint
    cache: str = ""  # decoded-frame cache root; "" = <out>/cache
    address: str = ""  # Ray cluster address; "" = start a local one on 127.0.0.1
    # synthtalk only: the frames-only stages also train on this many rendered people of no split
    # (edtalk.experts.extra_identities.TRAIN_EXTRA_INDEX_BASE), extra_frames stills per emotion x level;
    # the audio stages of a chain keep to the split
    extra_identities: int = 0
    extra_frames: int = 8

    def __post_init__(self) -> None:
        _check_types(self)
        if self.deepspeed not in ("zero0", "zero1", "zero2", "zero3"):
            raise ConfigError(f"deepspeed must be zero0..zero3, got {self.deepspeed!r}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        if self.max_failures < 0:
            raise ConfigError(f"max_failures must be >= 0, got {self.max_failures}")
        if self.seed < 0:  # numpy's samplers take no negative seed: refused here, not in every worker
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if ":" not in self.data:
            raise ConfigError(
                f"data must be '<reader>:<root>' (e.g. synthtalk:data/synthtalk), got {self.data!r}"
            )
        held_out = self.split.strip().lower()  # 'Judge' reads judge.txt on a case-insensitive disk
        if held_out in HELD_OUT_SPLIT_NAMES:
            holds = {
                "judge": "the judges' identities",
                "test": "the test identities",
                "all": "every clip, the judge and test ones too",
            }[held_out]
            raise ConfigError(
                f"split {self.split!r}: training on it is not allowed, as it holds {holds}; the judges' and "
                "the test identities must stay unseen by training (they score the trained model). Train on "
                "'train', or on a split list that leaves them out"
            )
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
