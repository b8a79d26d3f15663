"""What the Ray Tune sweeps share: the CLI, the trial function and the export to results files.

A *variant* is a named change of the model config and the stages' loss weights, plus the stages it
must retrain from a parent run (the checkpoints of the other stages are reused):

    Variant(name="bank_mouth_10", model={"n_mouth": 10, "n_expression": 10},
            stages=("mouth_pose", "expression"))

``trial(config)`` is the Tune function trainable. For one variant it
1. trains each affected stage with the training engineer's trainer builder
   (``edtalk.train.build_trainer``: a Ray Train V2 ``TorchTrainer`` whose workers run DeepSpeed),
   the first from the parent's checkpoint, the next from the previous one;
2. scores the trained model on a validation split with ``eval.run`` (in-process);
3. reports the metrics to Tune (``ray.tune.report``), with the results file path.

After ``Tuner.fit()``, ``export_results`` copies each trial's results file to
``<out>/<dataset>/edtalk_<variant>/<protocol>.json`` with ``"sweep": {"name", "param", "value"}``,
the schema ``python -m eval.report`` reads (Tables 3 and 6).

The search space is a literal next to the Tuner in each sweep script (bank_size.py, ablations.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

# Environment every Ray process of a sweep needs (the Makefile exports the same).
RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "DS_ACCELERATOR": "cpu",
    "DS_BUILD_OPS": "0",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_TRAIN_V2_ENABLED": "1",
}


def ensure_repo_on_path() -> None:
    """``python sweeps/bank_size.py`` puts sweeps/ (not the repo) on sys.path; fix that, and pass it
    to Ray workers through PYTHONPATH (``ray job submit --working-dir .`` does the same)."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *parts])


@dataclasses.dataclass(frozen=True)
class Variant:
    """One sweep point: model-config overrides, loss-weight overrides per stage, stages to retrain."""

    name: str  # method name suffix: results go to edtalk_<name>
    param: str  # the swept axis ("mouth", "expression", "variant")
    value: Any  # its value (10, "wo_bank")
    stages: tuple[str, ...]  # stages retrained, in order, from the parent run
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # ModelConfig overrides
    loss_weights: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # stage -> term -> w
    driven: str = "video"  # "video" (edtalk_v: scored from the GT driving video) | "audio" (edtalk_a)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variant:
        d = dict(d)
        d["stages"] = tuple(d["stages"])
        return cls(**d)


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--dataset", default="synthtalk", help="dataset reader (edtalk.data.readers)")
    p.add_argument("--root", default="data/synthtalk", help="dataset root folder")
    p.add_argument("--preset", default="tiny", help="ModelConfig preset (tiny for CPU, paper for GPUs)")
    p.add_argument(
        "--scheduler",
        choices=("asha", "fifo"),
        default="fifo",
        help="Tune scheduler; ASHA stops weak trials early on the reported metric",
    )
    p.add_argument("--num-samples", type=int, default=1, help="repeats of every grid point (seeds)")
    p.add_argument("--resume", action="store_true", help="resume the sweep from --storage/--name")
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help="tiny preset, 2 values per axis, a few steps, a handful of clips (2 CPU cores)",
    )
    p.add_argument(
        "--parent",
        default="runs",
        help="parent run: a folder with <stage>/final.pt per stage (or one final.pt)",
    )
    p.add_argument("--out", default="results", help="results folder for the exported results files")
    p.add_argument("--storage", default="ray_results", help="Tune experiment storage folder")
    p.add_argument("--name", default=None, help="experiment name (default: the sweep's name)")
    p.add_argument("--split", default="test", help="split scored after training (validation clips)")
    p.add_argument("--max-clips", type=int, default=None, help="clips scored per trial")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps per retrained stage")
    p.add_argument("--workers", type=int, default=1, help="Ray Train workers per trial")
    p.add_argument("--protocol", default="synthtalk", help="scoring protocol (eval.protocols)")
    p.add_argument("--address", default=None, help="Ray address (default: auto / local 127.0.0.1)")
    return p


def smoke_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """--smoke-test: tiny everything, unless a flag says otherwise."""
    if args.smoke_test:
        args.preset = "tiny"
        args.steps = args.steps or 2
        args.max_clips = args.max_clips or 2
    args.steps = args.steps or 200
    return args


# ----------------------------------------------------------------------------------------------
# The trial
# ----------------------------------------------------------------------------------------------


def _stage_parent(parent: Path, stage: str, upstream: dict[str, str]) -> str:
    """Checkpoint a stage starts from: the one just trained upstream in this trial, else the parent
    run's own checkpoint for the stage before it."""
    from edtalk.config import STAGE_NAMES

    before = STAGE_NAMES[STAGE_NAMES.index(stage) - 1] if STAGE_NAMES.index(stage) else None
    if before in upstream:
        return upstream[before]
    if parent.is_file():
        return str(parent)
    ckpt = parent / before / "final.pt" if before else None
    if ckpt is None or not ckpt.is_file():
        raise FileNotFoundError(
            f"{ckpt}: the parent run has no checkpoint for stage {before!r}, needed to retrain {stage!r}; "
            f"train it first (python -m edtalk.train --stage {before}) or pass --parent"
        )
    return str(ckpt)


def train_variant(
    variant: Variant, cfg: dict[str, Any], trial_dir: Path
) -> tuple[dict[str, str], list[dict]]:
    """Train the variant's stages in order; returns {stage: final checkpoint} and timing records."""
    from edtalk import train as edtrain

    parent = Path(cfg["parent"])
    done: dict[str, str] = {}
    records = []
    for stage in variant.stages:
        start = time.perf_counter()
        final = edtrain.train_stage_for_sweep(
            stage=stage,
            data=f"{cfg['dataset']}:{cfg['root']}",
            preset=cfg["preset"],
            model_overrides=variant.model,
            loss_weights=variant.loss_weights.get(stage, {}),
            parent=_stage_parent(parent, stage, done),
            out=str(trial_dir / "runs"),
            max_steps=cfg["steps"],
            workers=cfg["workers"],
        )
        done[stage] = str(final)
        records.append(
            {"stage": stage, "wall_s": round(time.perf_counter() - start, 3), "steps": cfg["steps"]}
        )
    return done, records


def score_variant(
    variant: Variant, cfg: dict[str, Any], checkpoints: dict[str, str], trial_dir: Path
) -> Path:
    """Score the trained model on the validation clips with eval.run (in-process); returns the
    results file it wrote."""
    from eval import run as evrun

    method = "edtalk_a" if variant.driven == "audio" else "edtalk_v"
    return evrun.run_for_sweep(
        dataset=cfg["dataset"],
        root=cfg["root"],
        split=cfg["split"],
        method=method,
        checkpoints=checkpoints,
        parent=cfg["parent"],
        protocol=cfg["protocol"],
        max_clips=cfg["max_clips"],
        results_dir=str(trial_dir / "results"),
    )


def trial(config: dict[str, Any]) -> None:
    """Tune function trainable: train the variant's stages, score, report metrics to Tune."""
    from ray import tune

    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    ensure_repo_on_path()
    variant = Variant.from_dict(config["variant"])
    trial_dir = Path(tune.get_context().get_trial_dir())
    checkpoints, records = train_variant(variant, config, trial_dir)
    results_file = score_variant(variant, config, checkpoints, trial_dir)
    data = json.loads(Path(results_file).read_text())
    metrics = {k: v["value"] for k, v in data["metrics"].items() if isinstance(v.get("value"), int | float)}
    tune.report({**metrics, "results_file": str(results_file), "training": json.dumps(records), "done": True})


# ----------------------------------------------------------------------------------------------
# Tune wiring shared by the scripts
# ----------------------------------------------------------------------------------------------


def init_ray(address: str | None) -> None:
    import ray

    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    ensure_repo_on_path()
    if ray.is_initialized():
        return
    runtime_env = {"env_vars": {**RAY_ENV, "PYTHONPATH": str(REPO_ROOT)}}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address or os.environ["RAY_ADDRESS"], runtime_env=runtime_env)
    else:
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, runtime_env=runtime_env)


def scheduler(name: str, metric: str, mode: str):
    """ASHA (early stopping on the reported metric) or FIFO."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if name == "asha":
        return ASHAScheduler(metric=metric, mode=mode, grace_period=1)
    return FIFOScheduler()


def trial_config(args: argparse.Namespace) -> dict[str, Any]:
    """The fixed part of every trial's config (the swept part is the ``variant`` key)."""
    root = Path(args.root)
    parent = Path(args.parent)
    return {
        "dataset": args.dataset,
        "root": str(root if root.is_absolute() else Path.cwd() / root),
        "preset": args.preset,
        "parent": str(parent if parent.is_absolute() else Path.cwd() / parent),
        "split": args.split,
        "steps": args.steps,
        "workers": args.workers,
        "protocol": args.protocol,
        "max_clips": args.max_clips,
    }


def trainable_with_resources(workers: int):
    """The trial reserves almost nothing itself; its nested TorchTrainer asks for its workers."""
    from ray import tune

    return tune.with_resources(trial, {"CPU": 0.1})


def export_results(result_grid, sweep_name: str, out: str | Path) -> list[Path]:
    """Write each finished trial's results file as ``<out>/<dataset>/edtalk_<variant>/<protocol>.json``
    with the ``sweep`` key (and its training timings in provenance.training)."""
    written = []
    for result in result_grid:
        if result.error is not None or not result.metrics or "results_file" not in result.metrics:
            continue
        variant = Variant.from_dict(result.config["variant"])
        src = Path(result.metrics["results_file"])
        data = json.loads(src.read_text())
        method = f"edtalk_{variant.name}"
        data["method"] = method
        data["sweep"] = {"name": sweep_name, "param": variant.param, "value": variant.value}
        data.setdefault("provenance", {})["training"] = json.loads(result.metrics.get("training", "[]"))
        data["provenance"]["sweep_variant"] = variant.to_dict()
        dest = Path(out) / data["dataset"] / method / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(dest)
        clips = src.with_name(src.name.removesuffix(".json") + ".clips.jsonl")
        if clips.is_file():
            ctmp = dest.with_name(f".{clips.name}.tmp")
            ctmp.write_bytes(clips.read_bytes())
            ctmp.replace(dest.with_name(clips.name))
        written.append(dest)
    return written


def run_tuner(tuner_factory, args: argparse.Namespace, sweep_name: str):
    """Fit (or resume) the Tuner the script built, export results, print a summary."""
    from ray import tune

    path = Path(args.storage).resolve() / (args.name or sweep_name)
    start = time.perf_counter()
    if args.resume and tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(
            str(path), trainable=trainable_with_resources(args.workers), resume_errored=True
        )
    else:
        tuner = tuner_factory()
    grid = tuner.fit()
    written = export_results(grid, sweep_name, args.out)
    errors = [r.error for r in grid if r.error is not None]
    print(
        f"{sweep_name}: {len(grid)} trials, {len(errors)} failed, {len(written)} results files "
        f"in {time.perf_counter() - start:.1f} s"
    )
    for p in written:
        print(f"  wrote {p}")
    for e in errors:
        print(f"  trial error: {e}", file=sys.stderr)
    return 1 if errors else 0
