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
    for n in names:
        get_stage(n)  # did-you-mean error for a typo
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"--stages names {', '.join(twice)} more than once")
    ordered = sorted(names, key=STAGE_NAMES.index)
    if ordered != names:
        print(f"[train] --stages {','.join(names)}: training in chain order, {','.join(ordered)}", flush=True)
    return ordered


def unmet_parent(names: list[str], parent: str, out: Path) -> str | None:
    """Why the run cannot start, checked before the frame cache and loss experts are built: a stage
    whose parent checkpoint neither exists nor is trained earlier in this run (``None`` when all are met).
    ``parent`` is ``--parent``, which only the first stage uses."""
    from edtalk.stages import get_stage

    for i, name in enumerate(names):
        if i == 0 and parent:
            if not Path(parent).is_file():
                return missing_parent(name, parent, from_flag=True)
            continue
        up = get_stage(name).parent
        ckpt = out / up / "final.pt" if up else None
        if ckpt is not None and up not in names[:i] and not ckpt.is_file():
            return missing_parent(name, str(ckpt), from_flag=False)
    return None
