"""``--resume``: which checkpoint a resumed stage restarts from, and whether it can.

A rerun with ``--resume`` continues from the latest checkpoint Ray registered: Ray Train V2 restores
it for a run with the same storage path and name, as its snapshot in the stage folder
(``RAY_SNAPSHOT``) records it, not the newest folder on disk. Before any work (``edtalk.train``),
``check_resumable`` refuses a checkpoint that the model or the DeepSpeed engine could not load
(another model config, ZeRO stage, precision or, under ZeRO >= 1, worker count). When the stage
starts (``edtalk.train_run.run_stage``), ``note_resume`` removes the folders Ray never registered and
says where the run starts, and ``resume_check`` lists the other settings that changed (lr, batch
size, loss weights...), which are printed so that a changed run is never resumed silently.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from edtalk.config import changed_fields

# settings a resumed run may change without a word: how long it runs, how often it logs/saves, how
# often its workers are restarted, where it reads and writes
_RESUME_FREE = {
    "max_steps",
    "checkpoint_every",
    "log_every",
    "resume",
    "max_failures",
    "out",
    "cache",
    "experts",
    "address",
}


def _changed(old: dict, new: dict) -> list[str]:
    """``key old -> new`` for every key whose value differs (keys in _RESUME_FREE left out)."""
    return changed_fields(old, new, ignore=_RESUME_FREE)


def resume_check(stage_dir: Path, run: dict) -> list[str]:
    """Compare a ``--resume`` run with the configs its latest checkpoint was written under.

    Raises ConfigError where ``check_resumable`` does; returns the other changed settings (lr, batch
    size, loss weights, workers...), which the caller prints so that a changed run is never resumed
    silently.
    """
    old = _latest_run(stage_dir)
    if old is None:
        return []
    run = json.loads(json.dumps(run, default=str))  # compare as saved (tuples become lists)
    _refuse_unloadable(old, run["model_config"], run["train_config"])
    return _changed(old.get("stage_config", {}), run["stage_config"]) + _changed(
        old.get("train_config", {}), run["train_config"]
    )


RAY_SNAPSHOT = "checkpoint_manager_snapshot.json"  # Ray Train's record of the checkpoints it registered


def _read_json(path: Path, what: str) -> Any:
    """``path``'s JSON; a truncated or unreadable file is a ConfigError naming it (a kill mid-write)."""
    from edtalk.config import ConfigError

    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(
            f"--resume: {path} ({what}) cannot be read ({err}); drop --resume to train the stage afresh"
        ) from None


class RayCheckpoints(NamedTuple):
    """What Ray's snapshot of a stage says (``registered_checkpoints``)."""

    latest: Path | None  # the checkpoint a resumed run restores
    registered: list[Path]  # every checkpoint Ray registered
    latest_step: int | None  # the step of ``latest`` (its reported metrics)


def registered_checkpoints(stage_dir: Path) -> RayCheckpoints:
    """The stage's checkpoints as Ray's snapshot records them: not the newest folder on disk, which may
    be one written as the run was stopped and never registered (Ray restores only the registered
    latest). Empty without a snapshot."""
    snapshot = stage_dir / RAY_SNAPSHOT
    if not snapshot.is_file():
        return RayCheckpoints(None, [], None)
    data = _read_json(snapshot, "Ray's checkpoint record")
    names = [r.get("checkpoint_dir_name") for r in data.get("checkpoint_results") or []]
    latest = data.get("latest_checkpoint_result") or {}
    name, step = latest.get("checkpoint_dir_name"), (latest.get("metrics") or {}).get("step")
    return RayCheckpoints(
        stage_dir / name if name else None,
        [stage_dir / n for n in names if n],
        int(step) if name and isinstance(step, int | float) else None,
    )


def _latest_run(stage_dir: Path) -> dict | None:
    """The run config of the checkpoint a resumed run restores (None without one), with ``_dir``."""
    latest = registered_checkpoints(stage_dir).latest
    if latest is None:
        return None
    return _read_json(latest / "run.json", "the checkpoint's run record") | {"_dir": str(latest)}


def drop_unregistered_checkpoints(stage_dir: Path) -> list[Path]:
    """Remove the stage's checkpoint folders Ray never registered (written while a run was stopped):
    a resumed run never restores them, and they would fill the disk. Returns them."""
    latest, registered, _ = registered_checkpoints(stage_dir)
    if latest is None:  # no record of Ray's (or an empty one): nothing is known to be stale
        return []
    keep = {p.name for p in registered} | {latest.name}
    stale = [p for p in sorted(stage_dir.glob("checkpoint_*")) if p.is_dir() and p.name not in keep]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def check_resumable(stage_dir: Path, model_config: dict, train_config: dict) -> None:
    """Raise ConfigError when the stage's latest checkpoint was written with another model config,
    ZeRO stage, precision, or (ZeRO >= 1) number of workers: its weights or optimizer shards would not
    load. Cheap: ``edtalk.train.main`` asks it of every stage of a --resume run before the frame cache and the
    experts are built."""
    old = _latest_run(stage_dir)
    if old is not None:
        _refuse_unloadable(old, model_config, train_config)


def _refuse_unloadable(old: dict, model_config: dict, train_config: dict) -> None:
    """``check_resumable`` against the run record ``old`` of the checkpoint a resume restores."""
    from edtalk.config import ConfigError, ModelConfig

    new_model, new_train = json.loads(json.dumps([model_config, train_config], default=str))
    # through ModelConfig: a field added since the checkpoint was written reads as its default
    saved_model = json.loads(json.dumps(ModelConfig.from_dict(old.get("model_config", {})).to_dict()))
    model = _changed(saved_model, new_model)
    old_train = old.get("train_config", {})
    # DeepSpeed's saved state fits only the ZeRO stage, precision and (ZeRO >= 1: optimizer shards
    # per rank) data-parallel size it was written with; each failed inside the workers before
    fixed = ["deepspeed", "bf16"] + (
        ["workers"] if str(old_train.get("deepspeed", "zero0")) != "zero0" else []
    )
    engine = [c for c in _changed(old_train, new_train) if c.split(" ", 1)[0] in fixed]
    if model or engine:
        what = "model config" if model else "DeepSpeed setting (ZeRO stage, bf16, or workers under ZeRO >= 1)"
        raise ConfigError(
            f"--resume: {old['_dir']} was written with another {what} ({'; '.join(model + engine)}); "
            "resume with the same settings, or drop --resume to train the stage afresh"
        )


def note_resume(stage: str, stage_dir: Path, max_steps: int) -> int | None:
    """Say where a --resume run of ``stage`` starts: its latest registered checkpoint's step, from
    scratch (nothing to resume: a typo in --out would otherwise restart a long run silently), or past
    --max-steps (only final.pt is written again); folders Ray never registered are removed. Returns
    that step (None: from scratch)."""
    for p in drop_unregistered_checkpoints(stage_dir):
        print(f"[train] {stage}: removed {p.name}, a checkpoint Ray never registered (the run was stopped)")
    step = registered_checkpoints(stage_dir).latest_step
    if step is None:
        print(
            f"[train] {stage}: --resume, but {stage_dir} holds no checkpoint: training from step 0",
            flush=True,
        )
    elif step >= max_steps:
        print(
            f"[train] {stage}: --resume from step {step}, at or past --max-steps {max_steps}: no training, "
            "final.pt is written again from that checkpoint (raise --max-steps to train on)",
            flush=True,
        )
    else:
        print(f"[train] {stage}: --resume from step {step} of {max_steps}", flush=True)
    return step


def delete_earlier_run(stage: str, stage_dir: Path, why: str) -> None:
    """Delete ``stage_dir`` before ``stage`` is trained anew, saying what earlier run it held (its
    final.pt, its last registered checkpoint) and ``why``: a run without --resume, or a stage whose
    parent this call trained again."""
    from edtalk.config import ConfigError

    finished = (stage_dir / "final.pt").is_file()
    try:
        step = registered_checkpoints(stage_dir).latest_step
    except ConfigError:  # an unreadable record: nothing --resume could continue either
        step = None
    if finished or step is not None:
        held = ", ".join(
            (["a finished run (final.pt)"] if finished else [])
            + ([f"checkpoints to step {step}"] if step else [])
        )
        print(
            f"[train] {stage}: deleting the earlier run in {stage_dir} ({held}) to train it anew ({why})",
            flush=True,
        )
    shutil.rmtree(stage_dir)


def recorded_parent(stage_dir: Path) -> str:
    """The parent checkpoint the run in ``stage_dir`` was started with, as its latest registered
    checkpoint records it; "" for none, or when that file is gone."""
    latest = _latest_run(stage_dir) or {}
    parent = latest.get("parent") or ""
    return parent if isinstance(parent, str) and parent and Path(parent).is_file() else ""


def parent_weights(parent: str) -> str | None:
    """What names the weights of the parent checkpoint at ``parent``: its ``weights_identity`` when it
    was made from another checkpoint by a fixed recipe (a sweep's graft: the recipe's inputs, which a
    machine whose random draws differ in the last bits does not change), else the digest of its state
    dict (``edtalk.model.state_digest``); "" for no parent, None when it cannot be read (the run's
    other checks name it)."""
    from edtalk.model import CheckpointError, load_checkpoint, state_digest

    if not parent:
        return ""
    unreadable = (CheckpointError, AttributeError, KeyError, TypeError, RuntimeError)  # not tensors, say
    try:
        loaded = load_checkpoint(parent)
        return loaded["meta"].get("weights_identity") or state_digest(loaded["state_dict"])
    except unreadable:
        return None


def trained_from_another_parent(
    stage_dir: Path, parent: str, *, finished: bool, weights: str | None = None
) -> str | None:
    """Why ``--resume`` must not keep the earlier run in ``stage_dir``: its record names parent weights
    other than those of the checkpoint now at ``parent`` (``weights``, ``parent_weights``, read here
    unless the caller has it), so its own weights grew from the old parent's (a parent retrained by an
    earlier call). ``finished``: judge the run's final.pt, which a chain's --resume skips; else the
    checkpoint a resume restores. None when the weights are the same, the call names no parent (a
    first stage without --parent), or nothing readable records them (the other checks name an
    unreadable file)."""
    from edtalk.config import ConfigError
    from edtalk.model import CheckpointError, load_checkpoint

    if not parent:
        return None
    try:
        if finished:
            record = load_checkpoint(stage_dir / "final.pt")["meta"].get("run") or {}
        else:
            record = _latest_run(stage_dir) or {}
    except (CheckpointError, ConfigError, KeyError):
        return None
    recorded = record.get("parent_weights")
    if not isinstance(recorded, str):  # a run recorded before parent weights were: nothing to compare
        return None
    now = weights if weights is not None else parent_weights(parent)
    if now is None or recorded == now:
        return None
    return f"it was trained from other parent weights than those now in {parent}"
