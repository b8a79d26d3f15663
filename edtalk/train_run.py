"""Running one EDTalk stage on Ray Train + DeepSpeed (``run_stage``), with the environment the training
command line needs (``set_env_defaults``) and the choice of GPU or CPU workers (``resolve_use_gpu``).

Each stage is one ``ray.train.torch.TorchTrainer`` (``ScalingConfig(num_workers=N, use_gpu=auto)``,
``RunConfig(storage_path=<out>, name=<stage>)``). Its workers run
``edtalk.worker.train_loop_per_worker(config)``: rebuild the typed configs from the dict, load the
parent stage's ``final.pt``, freeze everything but the stage's modules (``edtalk.stages``), wrap the
stage module in a DeepSpeed engine (``deepspeed.initialize`` with the config dict of
``edtalk.engine_setup``: ZeRO 0-3, optional bf16; on CPU the gloo backend and ``torch_adam``; on GPU
the same code runs NCCL/CUDA), and train for ``max_steps``.

The discriminator D (adversarial stages) is a plain ``torch.optim.Adam`` beside the engine whose
gradients are all-reduced (averaged) over the workers by hand (``edtalk.worker_devices``): it is small,
needs no sharding, and keeping it out of the engine keeps the engine's ZeRO partitioning to the stage's
trainable modules.

Every ``checkpoint_every`` steps and at the end, each worker writes its DeepSpeed shard and rank 0
the trainer state (step, D and its optimiser, configs) into a checkpoint folder reported with
``ray.train.report(metrics, checkpoint=...)``; Ray keeps the best (lowest ``loss``) and the latest
(``CheckpointConfig(num_to_keep=2)``), which a rerun with ``--resume`` continues from
(``edtalk.train_resume``). Without ``--resume`` a stage starts fresh (its old folder is cleared).
When a stage finishes, rank 0 exports the full model so far as ``<out>/<stage>/final.pt``
(``edtalk.model.save_checkpoint``), with the run config (model, stage, train), parent path, git hash,
library versions, the discriminator and, from the expression stage on, the per-emotion mean W^e
("emotion_weights", ``edtalk.emotion_table``, used by ``infer --emotion``); the driver writes
``<out>/<stage>/summary.json``.

TensorBoard scalars go to ``<out>/<stage>/tensorboard`` (rank 0); rank 0 shows a progress bar on
the driver (``ray.experimental.tqdm_ray``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

from edtalk.cli import ctrl_c_kept
from edtalk.provenance import code_state
from edtalk.ray_setup import in_private_instance
from edtalk.train_chain import missing_parent
from edtalk.train_failures import (
    WorkerDied,
    dead_worker_ranks,
    dead_workers_text,
    drop_bars_of_gone_workers,
    drop_worker_bars,
    worker_group_starts,
)
from edtalk.train_resume import (
    delete_earlier_run,
    note_resume,
    parent_weights,
    recorded_parent,
    registered_checkpoints,
    resume_check,
    trained_from_another_parent,
)
from edtalk.weights import sha256_of
from edtalk.worker import train_loop_per_worker

ENV_DEFAULTS = {
    "RAY_AUTH_MODE": "disabled",
    "DS_ACCELERATOR": "cpu",
    "DS_BUILD_OPS": "0",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_TRAIN_V2_ENABLED": "1",
    # Ray Train's controller polls its workers every 2 s, so a finished stage waited 1-4 s to end: 0.5 s
    # (a light remote call per worker) ends each stage about 2 s sooner, results unchanged
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5",
    # Ray Train V2 sends a worker's print() both to its stdout and through a logger that writes there
    # too: each line reached the driver twice, and so did each tqdm_ray bar state, which brought a
    # closed bar back as a second one that stayed, redrawn after every later line (a log file grew by
    # thousands of lines). Off, a worker's prints reach the driver once (Ray Train's own INFO lines
    # and the worker logs are unchanged)
    "RAY_TRAIN_ENABLE_PRINT_PATCH": "0",
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
    """Environment the CLI needs (kept if the user set it). DS_ACCELERATOR=cpu only without CUDA;
    Ray Train V2 always (``require_ray_train_v2``)."""
    for key, value in ENV_DEFAULTS.items():
        if key == "DS_ACCELERATOR":
            import torch

            if torch.cuda.is_available():
                continue
        os.environ.setdefault(key, value)
    require_ray_train_v2()


def require_ray_train_v2() -> None:
    """Turn Ray Train V2 back on, with a note, where the environment turned it off (another project's
    setting): the stages use V2's API (its controller, ``FailureConfig``, ``LoggingConfig``), and V1
    failed with an ImportError from the middle of the run. Ray reads the variable once, when
    ``ray.train`` is first imported: before that here, and in the Ray workers (``worker_env``)."""
    value = os.environ.get("RAY_TRAIN_V2_ENABLED", "1")
    if value.lower() in ("1", "true"):  # what Ray counts as on
        return
    os.environ["RAY_TRAIN_V2_ENABLED"] = "1"
    print(
        f"note: RAY_TRAIN_V2_ENABLED={value} ignored: EDTalk-Bench trains with Ray Train V2 (set to 1 for "
        "this run and its Ray workers)",
        file=sys.stderr,
    )


def worker_env() -> dict[str, str]:
    """The environment of every Ray process of a run, as this process has it (``set_env_defaults`` or
    the user's own values): passed to ``start_ray``, since a cluster's workers do not inherit it.
    Without DS_ACCELERATOR, which each training worker sets for its own device
    (``edtalk.engine_setup.match_deepspeed_accelerator``): sent to a GPU cluster, "cpu" would put
    DeepSpeed's CPU accelerator on the GPU workers."""
    return {key: os.environ[key] for key in ENV_DEFAULTS if key != "DS_ACCELERATOR" and key in os.environ}


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


def trained_on(stage_name: str, train_cfg) -> dict:
    """This stage's entry of a checkpoint's ``trained_on`` (``edtalk.data.held_out.training_record``):
    the data root resolved here, on the driver (Ray workers run in another folder)."""
    from edtalk.train_cache import parse_data

    reader, root = parse_data(train_cfg.data)
    return {"stage": stage_name, "data": f"{reader}:{root.resolve()}", "split": train_cfg.split}


class TrainingInterrupted(Exception):
    """Ctrl-C during a stage: Ray aborted the run; its registered checkpoints stay for --resume."""


def _fit(trainer):
    """``trainer.fit()``; a bad-input error of a worker (``DataError``: a dataset, cache or file
    problem) is raised again on the driver as itself, which ``edtalk.train.main`` prints as one error line."""
    from ray.train import WorkerGroupError

    from edtalk.data.errors import DataError

    try:
        with ctrl_c_kept():  # Ray Train leaves its handler, which after the fit aborts a finished run
            return trainer.fit()
    except (KeyboardInterrupt, SystemExit) as err:  # Ray's SIGINT handler aborts the run, then exits
        raise TrainingInterrupted() from err
    except WorkerGroupError as err:
        failures = getattr(err, "worker_failures", {}) or {}
        data_errors = [e for e in failures.values() if isinstance(e, DataError)]
        if data_errors:
            raise data_errors[0] from None
        if dead := dead_worker_ranks(failures):
            raise WorkerDied(dead) from None
        raise


def stage_run_config(out: Path, name: str, max_failures: int = 0):
    """The ``RunConfig`` of a stage's TorchTrainer, in ``<out>/<name>``: Ray keeps the best and the latest
    checkpoint, and restarts failed workers from the latest up to ``max_failures`` times
    (``--max-failures``; their loop resumes from ``ray.train.get_checkpoint()``). In a private local Ray
    instance (``edtalk.ray_setup``) this process's trainers start no PlacementGroupCleaner, and the
    console leaves out Ray Train's INFO lines (resources asked for, each rank's place, each rank's
    checkpoint: nine or more per stage, some arriving during the next stage; its session's log files
    keep them). On a cluster both stay: there the INFO lines also carry the worker group's start,
    retried every 60 s while the cluster lacks the workers."""
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig

    private = in_private_instance()
    if private:
        from edtalk.train_placement_group import leave_out_placement_group_cleaner

        leave_out_placement_group_cleaner()
    return RunConfig(
        storage_path=str(out),
        name=name,
        checkpoint_config=CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute=CHECKPOINT_METRIC, checkpoint_score_order="min"
        ),
        logging_config=LoggingConfig(log_level="WARNING" if private else "INFO"),
        failure_config=FailureConfig(max_failures=max_failures),
    )


def last_checkpoint(stage_dir: Path) -> str:
    """ "its last checkpoint is step N" (or that there is none) for a stage that stopped."""
    step = registered_checkpoints(stage_dir).latest_step
    return f"its last checkpoint is step {step}" if step is not None else "it saved no checkpoint yet"


def run_stage(stage_cfg, train_cfg, model_cfg, cache: Path) -> Path:
    """Train one stage as a Ray TorchTrainer; returns the path of its final.pt."""
    from ray.train import ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from edtalk.perceptual import perceptual_label
    from edtalk.stages import get_stage

    stage = get_stage(stage_cfg.name)
    out = Path(train_cfg.out).resolve()
    stage_dir = out / stage.name
    if (
        train_cfg.resume
        and not train_cfg.parent
        and not stage.parent
        and (earlier := recorded_parent(stage_dir))
    ):
        # a first stage started from --parent: resumed without it, its export lost the parent's meta
        print(
            f"[train] {stage.name}: --resume goes on from the parent its run started from, {earlier}",
            flush=True,
        )
        train_cfg = replace(train_cfg, parent=earlier)
    parent = train_cfg.parent or (str(out / stage.parent / "final.pt") if stage.parent else "")
    if parent and not Path(parent).is_file():
        raise FileNotFoundError(missing_parent(stage.name, parent, from_flag=bool(train_cfg.parent)))
    weights = parent_weights(parent)  # a path alone: retrained since?
    if stage_dir.exists() and not train_cfg.resume:
        delete_earlier_run(stage.name, stage_dir, "--resume keeps and continues it")
    elif stage_dir.exists() and (
        why := trained_from_another_parent(stage_dir, parent, finished=False, weights=weights)
    ):
        # its checkpoints hold the old parent's weights: continuing them would ignore the new one
        delete_earlier_run(stage.name, stage_dir, why)
        train_cfg = replace(train_cfg, resume=False)
    stage_dir.mkdir(parents=True, exist_ok=True)
    # the step a --resume run continues from (None: it starts at 0)
    resumed_at = note_resume(stage.name, stage_dir, stage_cfg.max_steps) if train_cfg.resume else None
    trains = resumed_at is None or resumed_at < stage_cfg.max_steps  # else final.pt is only written again
    use_gpu = resolve_use_gpu(train_cfg)
    run = {
        "stage_dir": str(stage_dir),
        "parent": str(Path(parent).resolve()) if parent else "",
        "parent_sha256": sha256_of(Path(parent)) if parent else "",  # the file (each save differs)
        "parent_weights": weights or "",  # its weights (edtalk.model.state_digest): --resume compares them
        "cache": str(cache),
        "git": code_state(),  # "+dirty": trained by code that differs from the commit
        "versions": {k: str(v) for k, v in library_versions().items()},
        "model_config": model_cfg.to_dict(),
        "stage_config": stage_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "trained_on": trained_on(stage.name, train_cfg),
        "perceptual": perceptual_label(train_cfg.perceptual) if stage.adversarial else None,
        "use_gpu": use_gpu,  # what Ray books each worker: a worker booked none must not take a GPU
        "run_token": uuid.uuid4().hex,  # this call's: a worker group started again is a restart
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
        run_config=stage_run_config(out, stage.name, train_cfg.max_failures),
    )
    t0 = time.time()
    try:
        result = _fit(trainer)
    except TrainingInterrupted:
        drop_worker_bars()
        raise TrainingInterrupted(
            f"{stage.name} interrupted; {last_checkpoint(stage_dir)}: run the same command with --resume "
            "to continue"
        ) from None
    except WorkerDied as err:
        drop_worker_bars()
        retried = f" after {train_cfg.max_failures} restart(s)" if train_cfg.max_failures else ""
        raise WorkerDied(
            err.ranks,
            f"{stage.name}: {dead_workers_text(err.ranks)}{retried}: its process ended (killed, out of "
            f"memory, a crash, or its node lost); {last_checkpoint(stage_dir)}: run the same command with "
            "--resume to continue",
        ) from None
    except BaseException:  # a worker's own error (DataError...): the command ends with its line
        drop_worker_bars()
        raise
    restarts = max(0, worker_group_starts(stage_dir, run["run_token"]) - 1)  # by Ray Train, this call
    if restarts:
        drop_bars_of_gone_workers()
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
        "trained_steps": stage_cfg.max_steps - (resumed_at or 0) if trains else 0,
        "metrics": result.metrics,
        "checkpoint": str(result.checkpoint.path) if result.checkpoint else None,  # the latest
        "final": str(final),
        "parent": run["parent"],
        "git": run["git"],
        "machine": worked_on,
        # --max-failures: the metrics (it/s, resumed_from) are the last worker group's, from its checkpoint
        "worker_restarts": restarts,
    }
    (stage_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    metrics = result.metrics or {}
    memory = (
        f", peak GPU memory {metrics['peak_gpu_mem_gib']:.2f} GiB" if "peak_gpu_mem_gib" in metrics else ""
    )
    if not trains:  # its metrics are the checkpoint's: no rate of this call to report
        print(
            f"[train] {stage.name}: final.pt written again from step {resumed_at} in {summary['seconds']} s, "
            f"no step trained; final {final}",
            flush=True,
        )
        return final
    restarted = f" (the workers restarted {restarts}x; it/s since the last start)" if restarts else ""
    print(
        f"[train] {stage.name}: done in {summary['seconds']} s{restarted}, "
        f"it/s {metrics.get('it_per_s', float('nan')):.2f}{memory} "
        f"on {describe_machine(worked_on) or 'an unrecorded machine'}, final {final}",
        flush=True,
    )
    return final
