"""Which stages a run trains and what each starts from: the stages in chain order
(``stage_names``; the paper's order, ``edtalk.config.STAGE_NAMES``), each one's parent checkpoint
(``unmet_parent``, checked before any work: a stage continues from its parent's
``<out>/<parent>/final.pt``), and each one's StageConfig (``stage_config_for``: the stage's defaults
for the model preset, ``edtalk.stages``, then the command line's overrides).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def stage_config_for(name: str, overrides: dict[str, Any], preset: str = "tiny"):
    """The stage's StageConfig for a model preset (its demo schedule at tiny), then ``overrides``."""
    from edtalk.config import StageConfig
    from edtalk.stages import get_stage

    base = {"name": name, **get_stage(name).config_defaults(preset)}
    weights = {**base.get("loss_weights", {}), **(overrides.get("loss_weights") or {})}
    base.update({k: v for k, v in overrides.items() if v is not None})
    base["loss_weights"] = weights
    return StageConfig.from_dict(base)


def missing_parent(name: str, parent: str, from_flag: bool) -> str:
    """The message for a stage whose parent checkpoint is not there."""
    from edtalk.stages import get_stage

    if from_flag and Path(parent).is_dir():
        return f"--parent {parent}: a folder, not a checkpoint; give its final.pt (stage {name} starts there)"
    if from_flag:
        return f"--parent {parent}: no such checkpoint (stage {name} would start from it)"
    up = get_stage(name).parent
    return (
        f"stage {name} continues from {up}, but {parent} does not exist: train {up} first "
        "(or pass --parent CKPT / --stages all)"
    )


def stage_names(stage: str | None, stages: str | None) -> list[str]:
    """The stages a run trains, in chain order: ``--stage``, or ``--stages`` 'all' / a comma list.
    A list out of order is put in order with a note (a stage ran on a stale parent that a later
    one then overwrote); a stage named twice, an unknown one or none is a ConfigError."""
    from edtalk.config import STAGE_NAMES, ConfigError
    from edtalk.stages import get_stage

    if stage:
        return [stage]
    if stages == "all":
        return list(STAGE_NAMES)
    names = [s.strip() for s in (stages or "").split(",") if s.strip()]
    if not names:
        raise ConfigError(
            f"--stages {stages!r} names no stage: 'all' or a comma list of {', '.join(STAGE_NAMES)}"
        )
    if "all" in names:
        raise ConfigError(f"--stages {stages}: 'all' stands alone (every stage), not in a list")
    for n in names:
        get_stage(n)  # did-you-mean error for a typo
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"--stages names {', '.join(twice)} more than once")
    ordered = sorted(names, key=STAGE_NAMES.index)
    if ordered != names:
        print(f"[train] --stages {','.join(names)}: training in chain order, {','.join(ordered)}", flush=True)
    return ordered


def stage_parent(name: str, first: bool, parent: str, out: Path) -> str:
    """The parent checkpoint stage ``name`` starts from: ``--parent`` (``parent``) for the run's
    ``first`` stage, else its parent stage's ``<out>/<parent stage>/final.pt``; "" for none."""
    from edtalk.stages import get_stage

    up = get_stage(name).parent
    if first and parent:
        return parent
    return str(out / up / "final.pt") if up else ""


def loaded_parents(names: list[str], parent: str, out: Path) -> list[tuple[str, Path, bool]]:
    """(stage, checkpoint, from --parent) for each parent checkpoint the run loads rather than trains:
    ``--parent`` for the first stage, else ``<out>/<parent stage>/final.pt`` of a parent stage this run
    does not train before it."""
    from edtalk.stages import get_stage

    found = []
    for i, name in enumerate(names):
        up = get_stage(name).parent
        if i == 0 and parent:
            found.append((name, Path(parent), True))
        elif up and up not in names[:i]:
            found.append((name, out / up / "final.pt", False))
    return found


def unmet_parent(names: list[str], parent: str, out: Path) -> str | None:
    """Why the run cannot start, checked before the frame cache and loss experts are built: a stage
    whose parent checkpoint neither exists nor is trained earlier in this run (``None`` when all are met).
    ``parent`` is ``--parent``, which only the first stage uses."""
    for name, ckpt, from_flag in loaded_parents(names, parent, out):
        if not ckpt.is_file():
            return missing_parent(name, str(ckpt), from_flag=from_flag)
    return None


def parent_config_problem(theirs: dict[str, Any], ours: dict[str, Any], stages_done: list[str]) -> str | None:
    """Why a parent checkpoint of model config ``theirs`` (trained through ``stages_done``) cannot start
    a stage of model config ``ours``, or None. A chain keeps one model config; the fields that shape
    only the expression predictor (``PREDICTOR_ONLY_FIELDS``: E_T's width, E_S's kind and size) may
    differ until a stage has trained it (audio_expression), since the predictor then starts fresh."""
    from edtalk.config import PREDICTOR_ONLY_FIELDS, changed_fields

    may_differ = PREDICTOR_ONLY_FIELDS if "audio_expression" not in stages_done else ()
    if not changed_fields(theirs, ours, ignore=may_differ):
        return None
    return (
        f"its model config differs from this run's ({'; '.join(changed_fields(theirs, ours))}: parent -> "
        "this run); a chain keeps one model config, so give the --preset, --text-encoder and "
        "--semantic-encoder the parent was trained with"
    )


def parent_config_mismatch(names: list[str], parent: str, out: Path, model_cfg) -> str | None:
    """``parent_config_problem`` of each parent checkpoint the run loads, checked before any work
    (the worker refuses it too, but only once Ray has started)."""
    from edtalk.model import CheckpointError, load_checkpoint

    for name, ckpt, _ in loaded_parents(names, parent, out):
        try:
            loaded = load_checkpoint(ckpt)
        except CheckpointError as err:
            return str(err)
        done = loaded["meta"].get("stages_done", [])
        if problem := parent_config_problem(loaded["config"].to_dict(), model_cfg.to_dict(), done):
            return f"stage {name} starts from {ckpt}: {problem}"
    return None


def stage_model_config(model_cfg, name: str, preset: str):
    """The model config stage ``name`` trains with: ``model_cfg``, except that the stages before
    audio_expression keep the ``preset``'s E_S (``semantic_encoder``). They neither use nor train the
    expression predictor, and HuBERT-large as E_S would add its 316 M parameters to each of their
    workers and checkpoints; audio_expression then starts its predictor fresh from such a parent
    (``parent_config_problem``: E_S's fields are ``PREDICTOR_ONLY_FIELDS``), HuBERT from its
    pretrained weights, just as it would inherit an untrained one from a parent built with HuBERT."""
    from edtalk.config import ModelConfig

    if name == "audio_expression":
        return model_cfg
    return model_cfg.replace(semantic_encoder=ModelConfig.preset(preset).semantic_encoder)
