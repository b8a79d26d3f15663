r"""Distributed training of the EDTalk stages on Ray Train + DeepSpeed.

    python -m edtalk.train --stage mouth_pose --preset tiny --data synthtalk:data/synthtalk \
        --workers 2 --out runs/
    python -m edtalk.train --stages all --workers 2 --out runs/          # the whole chain, in order

Each stage is one ``ray.train.torch.TorchTrainer`` (``ScalingConfig(num_workers=N, use_gpu=auto)``,
``RunConfig(storage_path=<out>, name=<stage>)``). Its workers run
``edtalk.worker.train_loop_per_worker(config)``: rebuild the typed configs from the dict, load the
parent stage's ``final.pt``, freeze everything but the stage's modules (``edtalk.stages``), wrap the
stage module in a DeepSpeed engine (``deepspeed.initialize`` with a config dict: ZeRO 0-3, optional
bf16; on CPU the gloo backend and ``torch_adam``; on GPU the same code runs NCCL/CUDA), and train for
``max_steps``.

The discriminator D (adversarial stages) is a plain ``torch.optim.Adam`` beside the engine whose
gradients are all-reduced (averaged) over the workers by hand: it is small, needs no sharding, and
keeping it out of the engine keeps the engine's ZeRO partitioning to the stage's trainable modules.

Every ``checkpoint_every`` steps and at the end, each worker writes its DeepSpeed shard and rank 0
the trainer state (step, D and its optimiser, configs) into a checkpoint folder reported with
``ray.train.report(metrics, checkpoint=...)``; Ray keeps the best (lowest ``loss``) and the latest
(``CheckpointConfig(num_to_keep=2)``). A rerun with ``--resume`` continues from the latest one (Ray
Train V2 restores it for a run with the same storage path and name). Without ``--resume`` a stage
starts fresh (its old folder is cleared). When a stage finishes, rank 0 exports the full model so
far as ``<out>/<stage>/final.pt`` (``edtalk.model.save_checkpoint``), with the run config (model,
stage, train), parent path, git hash, library versions, the discriminator and, from the expression
stage on, the per-emotion mean W^e ("emotion_weights", used by ``infer --emotion``).

TensorBoard scalars go to ``<out>/<stage>/tensorboard`` (rank 0); rank 0 shows a progress bar on
the driver (``ray.experimental.tqdm_ray``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from edtalk.cli import model_preset, non_negative_int, positive_float, positive_int, report_error, term_weight
from edtalk.provenance import code_state
from edtalk.ray_setup import local_runtime_env
from edtalk.weights import sha256_of
from edtalk.worker import EXPERT_FILES, train_loop_per_worker

ENV_DEFAULTS = {
    "RAY_AUTH_MODE": "disabled",
    "DS_ACCELERATOR": "cpu",
    "DS_BUILD_OPS": "0",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_TRAIN_V2_ENABLED": "1",
}
CHECKPOINT_METRIC = "loss"


def resolve_use_gpu(train_cfg) -> bool:
    """``TrainConfig.use_gpu``, or when it is None (auto): whether the Ray cluster has GPUs.

    Asked of the cluster, not of this process: a driver or Tune trial on a CPU-only head node (or
    one that Ray gave no GPU) must still place its workers on the cluster's GPUs.
    """
    if train_cfg.use_gpu is not None:
        return bool(train_cfg.use_gpu)
    import ray

    if ray.is_initialized():
        return ray.cluster_resources().get("GPU", 0) > 0
    import torch

    return torch.cuda.is_available()


def set_env_defaults() -> None:
    """Environment the CLI needs (kept if the user set it). DS_ACCELERATOR=cpu only without CUDA."""
    for key, value in ENV_DEFAULTS.items():
        if key == "DS_ACCELERATOR":
            import torch

            if torch.cuda.is_available():
                continue
        os.environ.setdefault(key, value)


# --- provenance ------------------------------------------------------------------------------------
def library_versions() -> dict[str, str]:
    """Versions of Python and the training libraries (imported here, so each reports its own
    ``__version__``), for the checkpoint's metadata."""
    import deepspeed  # noqa: F401
    import numpy  # noqa: F401
    import ray  # noqa: F401
    import torch  # noqa: F401

    from edtalk.provenance import library_versions as versions_of

    return versions_of(("torch", "ray", "deepspeed", "numpy"))


# face, sync steps of loss experts trained when missing: enough to carry a signal (150 / 40 did not)
EXPERT_STEPS = (2000, 600)


def self_reconstruction_check(
    final_pt: str | Path,
    cache_path: str | Path,
    n_clips: int = 8,
    frames_per_clip: int = 8,
    device: str = "auto",
) -> dict[str, float]:
    """Training sanity check (not a benchmark metric): video-driven self-reconstruction of training
    clips — source = each clip's first frame, every sampled frame drives mouth, pose and expression —
    against the static baseline that repeats the source frame. Mean L1 in [-1, 1] units; a model
    that reconstructs has ``model_l1 < static_l1``. Runs in the driver, on its GPU when it has one
    ("auto"; at ``paper`` size the CPU takes minutes)."""
    import numpy as np
    import torch

    from edtalk.data.training import load_frame_cache, to_tensor
    from edtalk.driving import load_generator, model_device

    model, _ = load_generator(final_pt, device)
    dev = model_device(model)
    cache = load_frame_cache(cache_path)
    clips = np.linspace(0, cache.n_clips - 1, min(n_clips, cache.n_clips)).round().astype(int)
    model_err, static_err = [], []
    with torch.no_grad():
        for c in clips:
            first, length = int(cache.start[c]), int(cache.length[c])
            idx = first + np.linspace(1, length - 1, frames_per_clip).round().astype(int)
            real = to_tensor(cache.frames[idx]).to(dev)
            source = to_tensor(cache.frames[first : first + 1]).to(dev)
            names = model.cfg.bank_names
            fake = model(
                source, real, real if "pose" in names else None, real if "expression" in names else None
            )
            model_err.append((fake - real).abs().mean().item())
            static_err.append((source - real).abs().mean().item())
    return {
        "model_l1": float(np.mean(model_err)),
        "static_l1": float(np.mean(static_err)),
        "n_clips": len(clips),
        "frames_per_clip": frames_per_clip,
    }


# --- the driver ----------------------------------------------------------------------------------
def parse_data(spec: str) -> tuple[str, Path]:
    reader, _, root = spec.partition(":")
    return reader, Path(root).expanduser()


def prepare_cache(train_cfg, model_cfg, with_extras: bool = False) -> Path:
    """Decode the training split once (driver side) into the shared frame cache; ``with_extras``
    appends ``train_cfg.extra_identities`` rendered people (for the frames-only stages)."""
    from edtalk.data.training import build_frame_cache, training_clips

    reader, root = parse_data(train_cfg.data)
    clips = training_clips(reader, root, train_cfg.split)  # none of the judge or test clips
    n, k = train_cfg.extra_identities, train_cfg.extra_frames
    if not (n and with_extras):
        return build_frame_cache(clips, model_cfg.image_size, train_cfg.cache).resolve()
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE, render_extra_clips

    def extra() -> list:
        return render_extra_clips(root, n, k, progress=True, index_base=TRAIN_EXTRA_INDEX_BASE)

    tag = f"synthtalk-training-extra:{n}x{k}"
    return build_frame_cache(
        clips, model_cfg.image_size, train_cfg.cache, extra=extra, extra_tag=tag
    ).resolve()


def ensure_experts(
    train_cfg, needed: set[str], face_steps: int, sync_steps: int, source: str | None = None
) -> None:
    """Make the loss experts ``needed`` present in ``train_cfg.experts``: copied from ``source`` (a
    shipped set, ``edtalk.pretrained``) when given, else trained on the TRAIN split (never the judge
    split) if their files are missing. Then each is checked against the synthtalk set trained on:
    experts left in ``--out`` by a run on another synthtalk set (another preset's train people are
    this set's judge or test people) or a copy that is not ``source``'s are refused, not reused."""
    missing = {k for k in needed if not (Path(train_cfg.experts) / EXPERT_FILES[k]).is_file()}
    if missing:
        _get_experts(train_cfg, missing, face_steps, sync_steps, source)
    from edtalk.experts.data import check_fits_dataset
    from edtalk.experts.store import TRAIN_LOSS_EXPERTS, read_metadata, same_file_as_source

    reader, root = parse_data(train_cfg.data)
    for kind in sorted(needed):
        path = Path(train_cfg.experts) / EXPERT_FILES[kind]
        if source and not same_file_as_source(path, source):
            raise ValueError(
                f"{path}: not the file of --experts {source} (an earlier run left another one in "
                f"{train_cfg.experts}); remove it to take {source}'s, or leave out --experts to use it"
            )
        if reader == "synthtalk":
            how = f"Remove {path} (a rerun trains it on this set's train split), or {TRAIN_LOSS_EXPERTS}."
            check_fits_dataset(path, read_metadata(path), root, how)


def _get_experts(train_cfg, missing: set[str], face_steps: int, sync_steps: int, source: str | None):
    """Copy the ``missing`` loss experts from ``source``, or train them on the train split."""
    if source:
        from edtalk.experts.store import copy_experts

        print(f"[train] loss experts {sorted(missing)} from {source} -> {train_cfg.experts}", flush=True)
        copy_experts(source, train_cfg.experts, [EXPERT_FILES[k] for k in sorted(missing)])
        return
    from edtalk.experts.train import TrainSettings, train_experts

    reader, root = parse_data(train_cfg.data)
    if reader != "synthtalk":
        raise FileNotFoundError(
            f"loss experts {sorted(missing)} not found in {train_cfg.experts}; they can only be trained on "
            f"synthtalk (got data {train_cfg.data!r}); pass --experts DIR with "
            f"{', '.join(EXPERT_FILES[k] for k in sorted(missing))}"
        )
    settings = TrainSettings(face_steps=face_steps, sync_steps=sync_steps)
    print(
        f"[train] training loss experts {sorted(missing)} on the train split -> {train_cfg.experts}",
        flush=True,
    )
    train_experts(root, "train", train_cfg.experts, settings, only=tuple(sorted(missing)))


def stage_config_for(name: str, overrides: dict[str, Any], preset: str = "tiny"):
    """The stage's StageConfig for a model preset (its demo schedule at tiny), then ``overrides``."""
    from edtalk.config import StageConfig
    from edtalk.stages import get_stage

    base = {"name": name, **get_stage(name).config_defaults(preset)}
    weights = {**base.get("loss_weights", {}), **(overrides.get("loss_weights") or {})}
    base.update({k: v for k, v in overrides.items() if v is not None})
    base["loss_weights"] = weights
    return StageConfig.from_dict(base)


def _missing_parent(name: str, parent: str, from_flag: bool) -> str:
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
                return _missing_parent(name, parent, from_flag=True)
            continue
        up = get_stage(name).parent
        ckpt = out / up / "final.pt" if up else None
        if ckpt is not None and up not in names[:i] and not ckpt.is_file():
            return _missing_parent(name, str(ckpt), from_flag=False)
    return None


# settings a resumed run may change without a word: how long it runs and how often it logs/saves
_RESUME_FREE = {"max_steps", "checkpoint_every", "log_every", "resume", "out", "cache", "experts", "address"}


def _changed(old: dict, new: dict) -> list[str]:
    """``key old -> new`` for every key whose value differs (keys in _RESUME_FREE left out)."""
    return [
        f"{k} {old.get(k)!r} -> {new.get(k)!r}"
        for k in sorted(set(old) | set(new))
        if k not in _RESUME_FREE and old.get(k) != new.get(k)
    ]


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
    load. Cheap: ``main`` asks it of every stage of a --resume run before the frame cache and the
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


class TrainingInterrupted(Exception):
    """Ctrl-C during a stage: Ray aborted the run; its registered checkpoints stay for --resume."""


def _fit(trainer):
    """``trainer.fit()``; a bad-input error of a worker (``DataError``: a dataset, cache or file
    problem) is raised again on the driver as itself, which ``main`` prints as one error line."""
    from ray.train import WorkerGroupError

    from edtalk.data.errors import DataError

    try:
        return trainer.fit()
    except (KeyboardInterrupt, SystemExit) as err:  # Ray's SIGINT handler aborts the run, then exits
        raise TrainingInterrupted() from err
    except WorkerGroupError as err:
        failures = getattr(err, "worker_failures", {}) or {}
        data_errors = [e for e in failures.values() if isinstance(e, DataError)]
        if data_errors:
            raise data_errors[0] from None
        raise


def run_stage(stage_cfg, train_cfg, model_cfg, cache: Path) -> Path:
    """Train one stage as a Ray TorchTrainer; returns the path of its final.pt."""
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from edtalk.stages import get_stage

    stage = get_stage(stage_cfg.name)
    out = Path(train_cfg.out).resolve()
    stage_dir = out / stage.name
    parent = train_cfg.parent or (str(out / stage.parent / "final.pt") if stage.parent else "")
    if parent and not Path(parent).is_file():
        raise FileNotFoundError(_missing_parent(stage.name, parent, from_flag=bool(train_cfg.parent)))
    if stage_dir.exists() and not train_cfg.resume:
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    if train_cfg.resume:
        _note_resume(stage.name, stage_dir, stage_cfg.max_steps)
    use_gpu = resolve_use_gpu(train_cfg)
    run = {
        "stage_dir": str(stage_dir),
        "parent": str(Path(parent).resolve()) if parent else "",
        "parent_sha256": sha256_of(Path(parent)) if parent else "",  # a path alone: retrained since?
        "cache": str(cache),
        "git": code_state(),  # "+dirty": trained by code that differs from the commit
        "versions": {k: str(v) for k, v in library_versions().items()},
        "model_config": model_cfg.to_dict(),
        "stage_config": stage_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "perceptual": _perceptual_label(train_cfg.perceptual) if stage.adversarial else None,
        "use_gpu": use_gpu,  # what Ray books each worker: a worker booked none must not take a GPU
    }
    if train_cfg.resume and (changes := resume_check(stage_dir, run)):
        print(f"[train] {stage.name}: resuming with changed settings: {'; '.join(changes)}", flush=True)
    train_cfg = replace(train_cfg, perceptual=run["perceptual"] or train_cfg.perceptual)
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "model": model_cfg.to_dict(),
            "stage": stage_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "run": run,
        },
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=train_cfg.workers, use_gpu=use_gpu),
        run_config=RunConfig(
            storage_path=str(out),
            name=stage.name,
            checkpoint_config=CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=CHECKPOINT_METRIC, checkpoint_score_order="min"
            ),
        ),
    )
    t0 = time.time()
    try:
        result = _fit(trainer)
    except TrainingInterrupted:
        step = registered_checkpoints(stage_dir).latest_step
        where = f"its last checkpoint is step {step}" if step is not None else "it saved no checkpoint yet"
        raise TrainingInterrupted(
            f"{stage.name} interrupted; {where}: run the same command with --resume to continue"
        ) from None
    final = stage_dir / "final.pt"
    if result.error is not None:
        raise RuntimeError(f"stage {stage.name} failed: {result.error}")
    if not final.is_file():
        raise RuntimeError(f"stage {stage.name} finished without writing {final}")
    from edtalk.model import load_checkpoint
    from edtalk.provenance import describe_machine

    # the machine of the rank-0 worker, which wrote final.pt: the one the it/s were measured on
    worked_on = load_checkpoint(final)["meta"].get("provenance", {}).get("machine")
    summary = {
        "stage": stage.name,
        "seconds": round(time.time() - t0, 1),
        "metrics": result.metrics,
        "checkpoint": str(result.checkpoint.path) if result.checkpoint else None,  # the latest
        "final": str(final),
        "parent": run["parent"],
        "git": run["git"],
        "machine": worked_on,
    }
    (stage_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    metrics = result.metrics or {}
    memory = (
        f", peak GPU memory {metrics['peak_gpu_mem_gib']:.2f} GiB" if "peak_gpu_mem_gib" in metrics else ""
    )
    print(
        f"[train] {stage.name}: done in {summary['seconds']} s, "
        f"it/s {metrics.get('it_per_s', float('nan')):.2f}{memory} "
        f"on {describe_machine(worked_on) or 'an unrecorded machine'}, final {final}",
        flush=True,
    )
    return final


def _note_resume(stage: str, stage_dir: Path, max_steps: int) -> None:
    """Say where a --resume run of ``stage`` starts: from scratch (nothing to resume: a typo in --out
    would otherwise restart a long run silently), or past --max-steps (only final.pt is written again);
    folders Ray never registered are removed."""
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


def _perceptual_label(name: str) -> str:
    from edtalk.perceptual import build_perceptual

    return build_perceptual(name).label


def parse_max_steps(value: str) -> dict[str, int]:
    """``--max-steps``: "N" -> {"*": N} (every stage); "STAGE=N,..." -> {STAGE: N, ...}."""
    from edtalk.stages import get_stage

    if "=" not in value:
        return {"*": positive_int(value)}
    steps = {}
    for item in value.split(","):
        name, _, n = item.strip().partition("=")
        try:
            get_stage(name)
        except KeyError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        steps[name] = positive_int(n)
    return steps


def expert_steps(value: str) -> tuple[int, int]:
    """``--expert-steps FACE,SYNC``: two step counts, each at least 1."""
    face, sep, sync = value.partition(",")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r}: expected FACE,SYNC step counts, e.g. 2000,600")
    return positive_int(face), positive_int(sync)


def build_parser() -> argparse.ArgumentParser:
    from edtalk.ablations import loss_ablation_ids
    from edtalk.config import STAGE_NAMES

    p = argparse.ArgumentParser(
        prog="python -m edtalk.train",
        description="Train EDTalk's stages on Ray Train + DeepSpeed (one TorchTrainer per stage). Each "
        "stage continues from its parent's <out>/<parent>/final.pt and writes <out>/<stage>/final.pt.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", choices=STAGE_NAMES, help="train one stage")
    which.add_argument(
        "--stages", help="'all' (the chain in order) or a comma list, e.g. mouth_pose,expression"
    )
    p.add_argument(
        "--preset",
        type=model_preset,
        default="tiny",
        help="model preset: tiny (CPU) or paper (GPU) (default tiny)",
    )
    p.add_argument(
        "--data",
        default="synthtalk:data/synthtalk",
        help="<reader>:<root> (default synthtalk:data/synthtalk)",
    )
    p.add_argument(
        "--split",
        default="train",
        help="identity split to train on (default train); the evaluation splits (test, judge, all) are "
        "refused, so that the judges and the test identities stay unseen",
    )
    p.add_argument("--workers", type=positive_int, default=2, help="Ray Train workers (default 2)")
    p.add_argument(
        "--out",
        default="runs",
        help="output root (default runs/): <out>/<stage>/ holds a stage's checkpoints, final.pt, "
        "summary.json and TensorBoard logs; without --resume a stage's folder is deleted and trained afresh",
    )
    p.add_argument(
        "--deepspeed",
        default="zero0",
        choices=("zero0", "zero1", "zero2", "zero3"),
        help="DeepSpeed ZeRO stage (default zero0)",
    )
    p.add_argument("--bf16", action="store_true", help="bf16 mixed precision (DeepSpeed)")
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "gpu", "cpu"),
        help="where the workers run: one GPU each, CPU, or auto = GPUs when the Ray cluster has any "
        "(default auto)",
    )
    p.add_argument(
        "--max-steps",
        type=parse_max_steps,
        default={},
        help="steps of every stage (N), or of some stages (STAGE=N[,STAGE=N...], e.g. eg_pretrain=300); "
        "stages not named keep their default (at tiny: the demo schedule)",
    )
    p.add_argument("--batch-size", type=positive_int, help="samples per worker per step (default: per stage)")
    p.add_argument(
        "--lr", type=positive_float, help="learning rate of the trainable modules (default: per stage)"
    )
    p.add_argument(
        "--also-train",
        action="append",
        default=[],
        metavar="PREFIX",
        help="also train the EDTalk parameters under PREFIX in the named stage(s), e.g. 'generator' to "
        "fine-tune the decoder in the expression stage (the official authors' advice); repeatable",
    )
    p.add_argument(
        "--eg-expression-bank",
        action="store_true",
        help="eg_pretrain: the expression head and bank join the mouth and pose ones as LIA's motion bank "
        "(36 directions instead of 26), so that G learns to draw along the directions the expression "
        "stage later steers",
    )
    p.add_argument(
        "--fresh-mouth-pose-banks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mouth_pose: start MLN, PLN, B^m and B^p from a fresh initialisation, as the official trainer "
        "starts new banks after LIA's stage 1 (default: on at paper, off at tiny, where the demo's "
        "300 steps cannot re-learn the mouth; see edtalk.stages)",
    )
    p.add_argument(
        "--beta1",
        type=float,
        help="Adam beta1 of the trainable modules (default: 0 as in the official trainers; the tiny "
        "preset's demo schedules, every stage's but audio_expression's, use 0.9: edtalk.stages)",
    )
    p.add_argument("--checkpoint-every", type=positive_int, help="steps between Ray checkpoints (default 50)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint Ray registered (a changed model, ZeRO stage, bf16 or, "
        "under ZeRO >= 1, worker count is refused; a changed lr or batch size is announced); in a chain, "
        "skip stages whose final.pt exists",
    )
    p.add_argument(
        "--parent",
        default="",
        help="checkpoint the first stage starts from: a final.pt, or pretrained:NAME for a shipped "
        "stage-1 init (python -m edtalk.pretrained list; the demo uses pretrained:tiny_synthtalk_eg)",
    )
    p.add_argument(
        "--loss-weight",
        action="append",
        type=term_weight,
        default=[],
        metavar="TERM=W",
        help="override a loss weight in every named stage that has the term, e.g. fea=0 (W >= 0; "
        "repeatable; the terms of each stage: edtalk.stages)",
    )
    p.add_argument(
        "--ablation",
        action="append",
        default=[],
        choices=loss_ablation_ids(),
        help="Table 3 loss ablations by their results id, e.g. wo_l_fea (set the row's loss terms' weights "
        "to 0 in their stages; edtalk.ablations)",
    )
    p.add_argument("--perceptual", default="auto", help="vgg19 | substitute:pyramid_l1_ssim | auto (default)")
    p.add_argument(
        "--experts",
        default="",
        help="loss-expert folder (default <out>/experts; trained if missing), or pretrained:NAME for a "
        "shipped set, copied into <out>/experts (the demo uses pretrained:tiny_synthtalk_loss_experts)",
    )
    p.add_argument(
        "--expert-steps",
        type=expert_steps,
        default=EXPERT_STEPS,
        help="face,sync expert steps when they must be trained (2000,600: about 7 minutes on 2 cores; "
        "far fewer leave experts that carry no signal: 150 face steps read every clip as one emotion)",
    )
    p.add_argument(
        "--extra-identities",
        type=non_negative_int,
        default=0,
        help="synthtalk only: the frames-only stages (eg_pretrain, mouth_pose, expression) also train on "
        "N rendered people of no split (still frames of every emotion x level, no audio; a range of "
        "identities apart from the judges' extras); the audio stages keep to the split (make "
        "pretrain uses it for stage 1, make demo for the whole chain)",
    )
    p.add_argument(
        "--extra-frames",
        type=positive_int,
        default=8,
        help="stills per emotion x level of each extra person (8)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the samplers and initialisation (rank r adds r; default 0)",
    )
    p.add_argument("--address", default="", help="Ray cluster address (default: a local Ray on 127.0.0.1)")
    return p


def cli_overrides(args: argparse.Namespace, stage: str, weight_overrides: dict) -> dict[str, Any]:
    """The StageConfig fields the command line sets for ``stage`` (None: the stage's default)."""
    return {
        "max_steps": args.max_steps.get(stage, args.max_steps.get("*")),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "beta1": args.beta1,
        "checkpoint_every": args.checkpoint_every,
        "loss_weights": weight_overrides.get(stage, {}),
        "also_train": tuple(args.also_train) or None,
        "eg_expression_bank": args.eg_expression_bank or None,
        "fresh_mouth_pose_banks": args.fresh_mouth_pose_banks,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # first, so --help and usage errors need no torch import
    set_env_defaults()
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.ray_setup import ClusterAddressError, WorkerFitError
    from edtalk.registry import UnknownNameError

    try:
        return _train(args)
    except TrainingInterrupted as err:
        print(f"[train] {err}", file=sys.stderr, flush=True)
        return 130  # the shell's code for a run stopped by Ctrl-C
    except (
        ConfigError,
        DataError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        UnknownNameError,
        ClusterAddressError,
        WorkerFitError,
    ) as err:
        return report_error(err)  # a bad value, stage or loss name, dataset, file, Ray address or --workers


def _train(args: argparse.Namespace) -> int:
    """The run ``main`` parsed: checks, frame cache, loss experts, then one TorchTrainer per stage."""
    from edtalk.ablations import ABLATIONS
    from edtalk.config import STAGE_NAMES, ModelConfig, TrainConfig
    from edtalk.stages import get_stage

    names = stage_names(args.stage, args.stages)
    if unused := sorted(set(args.max_steps) - {"*", *names}):
        return report_error(f"--max-steps names {', '.join(unused)}, which this run does not train")
    if args.extra_identities and not any(get_stage(n).frames_only for n in names):
        return report_error(
            "--extra-identities adds still frames without audio, which only the frames-only "
            f"stages ({', '.join(n for n in STAGE_NAMES if get_stage(n).frames_only)}) train on; "
            f"{','.join(names)} are audio stages"
        )
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        return report_error(f"--out {args.out}: a file, not a folder (the runs' output root)")
    from edtalk.pretrained import PREFIX, PretrainedError, resolve

    try:
        parent = resolve(args.parent)
    except (PretrainedError, KeyError) as err:
        return report_error(f"--parent {args.parent}: {err}")
    expert_source = None  # a shipped expert set is copied into <out>/experts, which the run then uses
    try:
        if args.experts.startswith(PREFIX):
            expert_source, args.experts = resolve(args.experts, expert_set=True), ""
    except (PretrainedError, KeyError) as err:
        return report_error(f"--experts {args.experts}: {err}")
    if problem := unmet_parent(names, parent, out):
        return report_error(problem)
    train_cfg = TrainConfig(
        data=args.data,
        split=args.split,
        preset=args.preset,
        out=str(out),
        workers=args.workers,
        deepspeed=args.deepspeed,
        bf16=args.bf16,
        use_gpu={"auto": None, "gpu": True, "cpu": False}[args.device],
        seed=args.seed,
        perceptual=args.perceptual,
        experts=str(Path(args.experts).resolve()) if args.experts else str(out / "experts"),
        parent=parent,
        resume=args.resume,
        cache=str(out / "cache"),
        address=args.address,
        extra_identities=args.extra_identities,
        extra_frames=args.extra_frames,
    )
    model_cfg = ModelConfig.preset(args.preset)
    weight_overrides: dict[str, dict[str, float]] = {}
    for term, weight in args.loss_weight:
        having = [n for n in names if term in get_stage(n).weights]
        if not having:
            known = "; ".join(f"{n}: {', '.join(get_stage(n).weights)}" for n in names)
            return report_error(
                f"--loss-weight {term}={weight:g}: no stage of this run has a loss term {term!r} ({known})"
            )
        for n in having:
            weight_overrides.setdefault(n, {})[term] = weight
    for ablation in args.ablation:
        for stage_name, terms in ABLATIONS[ablation].loss_weights.items():
            weight_overrides.setdefault(stage_name, {}).update(terms)
    # every stage's config before any work, so a bad value stops the run here, not after the cache
    stage_cfgs = {
        n: stage_config_for(n, preset=args.preset, overrides=cli_overrides(args, n, weight_overrides))
        for n in names
    }
    if args.resume:  # a checkpoint the model or ZeRO stage cannot load stops the run before any work
        for n in names:
            if not (len(names) > 1 and (out / n / "final.pt").is_file()):  # a finished stage is skipped
                check_resumable(out / n, model_cfg.to_dict(), train_cfg.to_dict())
    if args.perceptual != "auto":
        from edtalk.perceptual import PERCEPTUAL

        PERCEPTUAL.get(args.perceptual.removeprefix("substitute:"))  # a typo stops the run here
    import ray

    from edtalk.ray_setup import check_cluster_address, check_workers_fit, local_resources

    if args.address:
        check_cluster_address(args.address)  # Ray would retry a wrong one for minutes
    elif not ray.is_initialized():  # the private instance Ray starts below: its size is known now
        check_workers_fit(
            args.workers, resolve_use_gpu(train_cfg), cluster=False, resources=local_resources()
        )
    if args.also_train:
        from edtalk.model import EDTalk
        from edtalk.stages import with_also_train

        try:
            with_also_train(get_stage(names[0]), tuple(args.also_train), EDTalk(model_cfg))
        except ValueError as err:
            return report_error(f"--also-train: {err}")

    t0 = time.time()
    cache = prepare_cache(train_cfg, model_cfg)  # the split alone: audio stages, the final check
    extras_cache = None  # the split plus the rendered people, built on first use
    needed = {e for n in names for e in get_stage(n).experts}
    face_steps, sync_steps = args.expert_steps
    ensure_experts(train_cfg, needed, face_steps, sync_steps, source=expert_source)
    if not ray.is_initialized():
        if args.address:
            ray.init(address=args.address)
            check_workers_fit(args.workers, resolve_use_gpu(train_cfg), cluster=True)  # it may grow
        else:
            ray.init(
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                log_to_driver=True,
                runtime_env=local_runtime_env(),
            )
    finals = {}
    for i, n in enumerate(names):
        final = out / n / "final.pt"
        if args.resume and len(names) > 1 and final.is_file():
            print(f"[train] {n}: {final} exists, skipping (--resume)", flush=True)
            continue
        stage_cfg = stage_cfgs[n]
        cfg_i = train_cfg if i == 0 else replace(train_cfg, parent="")  # --parent applies to the first stage
        cache_i = cache
        if train_cfg.extra_identities and get_stage(n).frames_only:
            extras_cache = extras_cache or prepare_cache(train_cfg, model_cfg, with_extras=True)
            cache_i = extras_cache
        elif train_cfg.extra_identities:  # an audio stage: the run config says it saw no extras
            cfg_i = replace(cfg_i, extra_identities=0)
        finals[n] = run_stage(stage_cfg, cfg_i, model_cfg, cache_i)
    last = out / names[-1] / "final.pt"
    check = self_reconstruction_check(last, cache)
    (out / names[-1] / "self_reconstruction.json").write_text(json.dumps(check, indent=1))
    print(f"[train] {', '.join(names)} finished in {time.time() - t0:.1f} s; final: {last}", flush=True)
    print(
        f"[train] self-reconstruction on {check['n_clips']} training clips: L1 {check['model_l1']:.4f} "
        f"vs static source frame {check['static_l1']:.4f} "
        f"({'reconstructs' if check['model_l1'] < check['static_l1'] else 'NOT better than static'})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
