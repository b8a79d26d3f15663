"""What the Ray Tune sweeps share: the CLI, the trial function and the export to results files.

A *variant* is a named change of the model config and the stages' loss weights, plus the stages it
must retrain from a parent run (the checkpoints of the other stages are reused):

    Variant(name="bank_mouth_10", model={"n_mouth": 10, "n_expression": 10},
            stages=("mouth_pose", "expression"))

``trial(config)`` is the Tune function trainable. For one variant it
1. trains each affected stage with the training engineer's trainer builder
   (``edtalk.train.run_stage``: a Ray Train V2 ``TorchTrainer`` whose workers run DeepSpeed),
   the first from the parent's checkpoint, the next from the previous one;
2. scores the trained model on ``--split`` with ``eval.run`` (in-process): the test split by
   default, as the paper's Tables 3 and 6 report their ablations on the test set; a sweep that
   *chooses* a setting should score a held-out split instead (``--split val`` on a dataset with one);
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

# edtalk.train's top level is stdlib only: importable before the venv check
from edtalk.atomic import write_bytes, write_text
from edtalk.cli import model_preset, positive_int, report_error
from edtalk.ray_setup import local_runtime_env
from edtalk.train import ENV_DEFAULTS, set_env_defaults

REPO_ROOT = Path(__file__).resolve().parents[1]
TRIAL_CPU = 0.1  # what a trial's own process reserves; its nested TorchTrainer asks for its workers


# Environment every Ray process of a sweep needs: the training CLI's, less DS_ACCELERATOR, which each
# training worker sets for its own device (edtalk.worker.match_deepspeed_accelerator); sent to a GPU
# cluster, "cpu" would put DeepSpeed's CPU accelerator on the GPU workers.
RAY_ENV = {key: value for key, value in ENV_DEFAULTS.items() if key != "DS_ACCELERATOR"}


def ensure_project_python() -> None:
    """Re-run this script with the project's venv Python when started by another interpreter.

    ``ray job submit -- python sweeps/bank_size.py`` runs whatever ``python`` is first on the PATH
    of the Ray node (often not the venv); if that one cannot import Ray and ``<repo>/.venv`` exists,
    exec the same command line with ``<repo>/.venv/bin/python`` instead."""
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    if Path(sys.prefix).resolve() == (REPO_ROOT / ".venv").resolve() or not venv_python.is_file():
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        os.execv(str(venv_python), [str(venv_python), *sys.argv])


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


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" only where there is a value to show and the help does not already
    say what the default is (argparse would print "(default: None)" after "(default: all)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=_DefaultsHelp)
    p.add_argument("--dataset", default="synthtalk", help="dataset reader (edtalk.data.readers)")
    p.add_argument("--root", default="data/synthtalk", help="dataset root folder")
    p.add_argument(
        "--preset",
        type=model_preset,
        default=None,
        help="ModelConfig preset: tiny for CPU, paper for GPUs (default tiny, also with --smoke-test)",
    )
    p.add_argument(
        "--scheduler",
        choices=("asha", "fifo"),
        default="fifo",
        help="Tune scheduler; ASHA stops weak trials early on the reported metric",
    )
    p.add_argument("--num-samples", type=positive_int, default=1, help="repeats of every grid point (seeds)")
    p.add_argument("--resume", action="store_true", help="resume the sweep from --storage/--name")
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help="tiny preset, 2 values per axis, a few steps, a handful of clips (2 CPU cores)",
    )
    p.add_argument(
        "--parent",
        default=None,
        help="parent run: a folder with <stage>/final.pt per stage, experts/ and cache/ (as "
        "`python -m edtalk.train --out` writes); default runs/, or runs/sweep_smoke_parent with "
        "--smoke-test (trained there first if missing)",
    )
    p.add_argument("--out", default="results", help="results folder for the exported results files")
    p.add_argument(
        "--storage",
        default="ray_results",
        help="where Tune keeps the experiment: a folder (default ray_results), on a multi-node cluster one "
        "every node mounts at the same path, or object storage (s3://bucket/ray_results, gs://...)",
    )
    p.add_argument("--name", default=None, help="experiment name (default: the sweep's name)")
    p.add_argument(
        "--split",
        default="test",
        help="split each trial is scored on after training (default: test, the split of the paper's "
        "ablation tables; score a held-out split such as val to choose a setting)",
    )
    p.add_argument(
        "--max-clips",
        type=positive_int,
        default=None,
        help="clips scored per trial (default: all; 2 with --smoke-test)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="optimizer steps per retrained stage (default: 200; 2 with --smoke-test)",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="Ray Train workers per trial")
    p.add_argument("--protocol", default="synthtalk", help="scoring protocol (eval.protocols)")
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric ids to score (default: every metric of the protocol)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster address (default: $RAY_ADDRESS, which `ray job submit` sets, else a local Ray)",
    )
    return p


def smoke_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """--smoke-test: tiny everything, unless a flag says otherwise."""
    args.preset = args.preset or "tiny"
    if args.smoke_test:
        args.steps = args.steps or 2
        args.max_clips = args.max_clips or 2
        args.parent = args.parent or "runs/sweep_smoke_parent"
    args.parent = str(Path(args.parent or "runs").expanduser().resolve())  # '~/..' expands on the node
    args.root = str(Path(args.root).expanduser().resolve())
    args.out = str(Path(args.out).expanduser().resolve())
    args.steps = args.steps or 200
    return args


# ----------------------------------------------------------------------------------------------
# The trial
# ----------------------------------------------------------------------------------------------


# Stage whose final.pt a stage continues from (edtalk.stages: the chain is linear).
def _previous_stage(stage: str) -> str | None:
    from edtalk.config import STAGE_NAMES

    i = STAGE_NAMES.index(stage)
    return STAGE_NAMES[i - 1] if i else None


def parent_checkpoint(parent: Path, stage: str) -> Path:
    """The parent run's checkpoint that ``stage`` starts from: ``<parent>/<previous stage>/final.pt``
    (or ``parent`` itself when it is a file)."""
    if parent.is_file():
        return parent
    before = _previous_stage(stage)
    ckpt = parent / str(before) / "final.pt"
    if before is None or not ckpt.is_file():
        raise FileNotFoundError(
            f"{ckpt}: the parent run has no checkpoint for stage {before!r}, needed to retrain {stage!r}; "
            f"train it first (python -m edtalk.train --stages all --out {parent}) or pass --parent"
        )
    return ckpt


def graft_parent(parent_ckpt: Path, model_overrides: dict[str, Any], dest: Path) -> tuple[Path, list[str]]:
    """A parent checkpoint for a changed model config: every tensor whose name and shape still match
    is copied, the rest (e.g. a resized bank and its head) keep their fresh initialisation.
    Returns (checkpoint path, names of re-initialised tensors); unchanged configs pass through."""
    import torch

    from edtalk.model import EDTalk, load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(parent_ckpt)
    cfg = ckpt["config"].replace(**model_overrides)
    if cfg == ckpt["config"]:
        return parent_ckpt, []
    torch.manual_seed(0)
    state = EDTalk(cfg).state_dict()
    kept = {k: v for k, v in ckpt["state_dict"].items() if k in state and state[k].shape == v.shape}
    fresh = sorted(set(state) - set(kept))
    state.update(kept)
    meta = {k: v for k, v in ckpt["meta"].items() if k != "provenance"}
    meta.update(grafted_from=str(parent_ckpt), reinitialised=fresh)
    return save_checkpoint(dest, state, cfg, extra=meta), fresh


def train_variant(
    variant: Variant, cfg: dict[str, Any], trial_dir: Path
) -> tuple[dict[str, str], list[dict]]:
    """Train the variant's stages in order with edtalk.train's TorchTrainer builder (``run_stage``):
    the first from the (grafted) parent checkpoint, each next one from the previous. Returns
    {stage: final.pt} and per-stage timing records."""
    from edtalk import train as edtrain
    from edtalk.config import TrainConfig
    from edtalk.model import load_checkpoint

    parent = Path(cfg["parent"])
    out = trial_dir / "runs"
    first, _ = graft_parent(
        parent_checkpoint(parent, variant.stages[0]), variant.model, out / "parent" / "final.pt"
    )
    model_cfg = load_checkpoint(first)["config"]
    parent_dir = parent if parent.is_dir() else parent.parent.parent
    train_cfg = TrainConfig(
        data=f"{cfg['dataset']}:{cfg['root']}",
        split="train",
        preset=cfg["preset"],
        out=str(out),
        workers=cfg["workers"],
        parent=str(first),
        cache=str(parent_dir / "cache"),
        experts=str(parent_dir / "experts"),
    )
    cache = edtrain.prepare_cache(train_cfg, model_cfg)
    done: dict[str, str] = {}
    records = []
    for i, stage in enumerate(variant.stages):
        stage_cfg = edtrain.stage_config_for(
            stage,
            preset=cfg["preset"],
            overrides={
                "max_steps": cfg["steps"],
                "checkpoint_every": cfg["steps"],
                "loss_weights": variant.loss_weights.get(stage, {}),
            },
        )
        start = time.perf_counter()
        stage_train_cfg = train_cfg if i == 0 else dataclasses.replace(train_cfg, parent="")
        final = edtrain.run_stage(stage_cfg, stage_train_cfg, model_cfg, cache)
        done[stage] = str(final)
        summary = json.loads((final.parent / "summary.json").read_text())
        records.append(
            {
                "stage": stage,
                "wall_s": round(time.perf_counter() - start, 3),
                "steps": cfg["steps"],
                "machine": summary.get("machine"),  # where the steps ran (edtalk.provenance.machine)
            }
        )
    return done, records


def _weight_present(name: str) -> bool:
    from edtalk.weights import target_path

    try:
        return target_path(name).is_file()
    except KeyError:  # a weight name nobody registered
        return False


def scorable_metrics(protocol_name: str) -> list[str]:
    """The protocol's implemented metrics whose weight files are on this machine (e.g. the
    synthtalk judges once ``python -m eval.zoo train`` has run); the others are skipped."""
    from edtalk.experts.store import register_weight_entries
    from edtalk.weights import WEIGHTS
    from eval.protocols import get_protocol

    register_weight_entries()  # the synthtalk judges join the weights registry
    protocol = get_protocol(protocol_name)
    ok, skipped = [], []
    for metric_id in protocol.available()[0]:
        try:
            metric = protocol.build([metric_id])[metric_id]
        except (TypeError, KeyError, ValueError) as e:  # a metric this checkout cannot build yet
            skipped.append(f"{metric_id} ({e})")
            continue
        named = [v for v in protocol.spec(metric_id).kwargs.values() if isinstance(v, str) and v in WEIGHTS]
        missing = [w for w in (*metric.weights_needed(), *named) if not _weight_present(w)]
        (skipped.append(f"{metric_id} (no {', '.join(missing)})") if missing else ok.append(metric_id))
    if skipped:
        print(f"[sweep] metrics skipped on this machine: {'; '.join(skipped)}", flush=True)
    return ok


def score_variant(
    variant: Variant, cfg: dict[str, Any], checkpoints: dict[str, str], trial_dir: Path
) -> Path:
    """Score the trained model (the last stage's final.pt holds the whole model) on ``--split``'s
    clips (``cfg["split"]``) with eval.run, in this process (``--workers 0``); returns the results file."""
    from eval import run as evrun
    from eval.results import results_path

    method = "edtalk_a" if variant.driven == "audio" else "edtalk_v"
    argv = [
        "--dataset",
        cfg["dataset"],
        "--root",
        cfg["root"],
        "--split",
        cfg["split"],
        "--method",
        method,
        "--ckpt",
        checkpoints[variant.stages[-1]],
        "--protocol",
        cfg["protocol"],
        "--workers",
        "0",
        "--out",
        str(trial_dir / "results"),
        "--allow-failures",
        "--quiet",
    ]
    argv += ["--metrics", cfg.get("metrics") or ",".join(scorable_metrics(cfg["protocol"]))]
    if cfg.get("max_clips"):
        argv += ["--limit", str(cfg["max_clips"])]
    args = evrun.build_parser().parse_args(argv)
    code = evrun.run(args)
    path = results_path(args.out, cfg["dataset"], method, cfg["protocol"])
    if code not in (0, 1) or not path.is_file():
        raise RuntimeError(f"eval.run exited {code} without writing {path}")
    return path


def prepare_parent(args: argparse.Namespace, variants: list[Variant]) -> None:
    """Make sure the parent run has what every trial starts from: the checkpoints of the stages
    before each variant's first stage, the loss experts its stages need and the frame cache.
    With --smoke-test a missing parent chain is trained here first (a few steps per stage);
    otherwise a missing checkpoint is an error naming the file and the command that makes it."""
    from edtalk import train as edtrain
    from edtalk.config import STAGE_NAMES, ModelConfig, TrainConfig
    from edtalk.stages import get_stage

    parent = Path(args.parent)
    chain_end = max(STAGE_NAMES.index(v.stages[0]) for v in variants)
    needed_chain = list(STAGE_NAMES[:chain_end])
    missing = [s for s in needed_chain if not (parent / s / "final.pt").is_file()]
    experts = sorted({e for v in variants for s in v.stages for e in get_stage(s).experts})
    if missing and not parent.is_file():
        if not args.smoke_test:
            raise FileNotFoundError(
                f"{parent / missing[0] / 'final.pt'}: the parent run lacks stage(s) {missing}; train them "
                f"with `python -m edtalk.train --stages {','.join(needed_chain)} --out {parent}`"
                " or pass --parent"
            )
        print(f"[sweep] smoke test: training the parent chain {needed_chain} into {parent}", flush=True)
        code = edtrain.main([
            "--stages", ",".join(needed_chain), "--resume", "--max-steps", str(args.steps),
            "--checkpoint-every", str(args.steps), "--expert-steps", "20,20", "--preset", args.preset,
            "--data", f"{args.dataset}:{args.root}", "--out", str(parent), "--workers", str(args.workers),
        ])  # fmt: skip
        if code:
            raise RuntimeError(f"training the parent chain failed (exit {code})")
    if parent.is_dir():
        train_cfg = TrainConfig(data=f"{args.dataset}:{args.root}", preset=args.preset, out=str(parent),
                                experts=str(parent / "experts"), cache=str(parent / "cache"))  # fmt: skip
        if experts:
            steps = (20, 20) if args.smoke_test else edtrain.EXPERT_STEPS
            edtrain.ensure_experts(train_cfg, set(experts), *steps)
        edtrain.prepare_cache(train_cfg, ModelConfig.preset(args.preset))


def trial(config: dict[str, Any]) -> None:
    """Tune function trainable: train the variant's stages, score, report metrics to Tune."""
    from ray import tune

    set_env_defaults()
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

    set_env_defaults()
    ensure_repo_on_path()
    if ray.is_initialized():
        return
    runtime_env = {"env_vars": {**RAY_ENV, "PYTHONPATH": str(REPO_ROOT)}}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address or os.environ["RAY_ADDRESS"], runtime_env=runtime_env)
    else:
        local_env = local_runtime_env(runtime_env["env_vars"])  # + quiet placement-group cleaner
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, runtime_env=local_env)


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
        "metrics": args.metrics,
    }


def concurrent_trials(workers: int) -> int:
    """Trials that fit at once: each nested TorchTrainer needs ``workers`` GPUs (or CPUs)."""
    import ray

    res = ray.cluster_resources()
    if res.get("GPU", 0) >= 1:
        return max(1, int(res["GPU"] // max(1, workers)))
    return max(1, int(res.get("CPU", 1) // (max(1, workers) + TRIAL_CPU)))


def check_trial_fits(args: argparse.Namespace) -> None:
    """One trial's nested TorchTrainer fits the cluster (``edtalk.ray_setup.check_workers_fit``):
    on a private local instance Ray would wait for its workers forever."""
    import ray

    from edtalk.ray_setup import check_workers_fit

    on_gpus = ray.cluster_resources().get("GPU", 0) >= 1  # what the trials' TrainConfig(use_gpu=auto) picks
    cluster = bool(args.address or os.environ.get("RAY_ADDRESS"))
    check_workers_fit(args.workers, on_gpus, cluster=cluster, trial_cpu=TRIAL_CPU)


def trainable_with_resources(workers: int):
    """The trial reserves almost nothing itself; its nested TorchTrainer asks for its workers."""
    from ray import tune

    return tune.with_resources(trial, {"CPU": TRIAL_CPU})


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
        write_text(dest, json.dumps(data, indent=2) + "\n")
        clips = src.with_name(src.name.removesuffix(".json") + ".clips.jsonl")
        if clips.is_file():
            write_bytes(dest.with_name(clips.name), clips.read_bytes())
        written.append(dest)
    return written


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before Ray starts, what every trial would only fail on after training: an unknown
    preset, dataset reader, protocol or metric, a missing dataset root, an empty train or scoring
    split, a Ray address nothing answers at, and (with --metrics) a weight file those metrics need."""
    from edtalk.config import ModelConfig
    from edtalk.data.readers import read_clips
    from edtalk.experts.store import register_weight_entries
    from eval.protocols import get_protocol
    from eval.run import UsageError, check_address, check_weights, select_metrics

    ModelConfig.preset(args.preset)
    check_address(args.address or os.environ.get("RAY_ADDRESS"))
    for split in dict.fromkeys(("train", args.split)):
        if not read_clips(args.dataset, args.root, split):
            raise UsageError(f"{args.root}: {args.dataset} split {split!r} has no clips")
    protocol = get_protocol(args.protocol)
    if args.metrics:
        register_weight_entries()  # the synthtalk judges join the weights registry
        ids, _ = select_metrics(protocol, args.metrics)
        check_weights(protocol, protocol.build(ids), allow_unverified=False)


def run_sweep(args: argparse.Namespace, variants: list[Variant], sweep_name: str) -> int:
    """Run one sweep: a grid over ``variants`` on Ray Tune, then export and summarise its results.

    Checks the inputs (``check_inputs``), starts (or joins) Ray, trains the shared parent checkpoint
    once (``prepare_parent``), then fits the Tuner, or restores it with ``--resume`` so finished
    trials are not run again. Exit status 1 when any trial failed (the others' results are still
    exported), 2 with one ``error:`` line for a mistake in the inputs or a parent run that lacks a stage.
    """
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.ray_setup import WorkerFitError
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError
    from eval.run import UsageError

    try:
        check_inputs(args)
        return _fit(args, variants, sweep_name)
    except (
        ConfigError,
        DataError,
        UnknownNameError,
        UsageError,
        MissingWeightsError,
        WeightsMismatchError,
        FileNotFoundError,  # prepare_parent: the parent run lacks a stage (names the file and command)
        WorkerFitError,  # --workers more than this machine's private Ray instance has
    ) as e:
        return report_error(e)


SETTINGS_FILE = "edtalk_sweep.json"  # beside Tune's experiment state: what the sweep was started with


def sweep_settings(args: argparse.Namespace, variants: list[Variant]) -> dict[str, Any]:
    """What a resumed sweep keeps from its first start (Tune restores the saved search space)."""
    return {
        **trial_config(args),
        "variants": [v.name for v in variants],
        "num_samples": args.num_samples,
        "scheduler": args.scheduler,
    }


def check_resume(path: str, settings: dict[str, Any]) -> None:
    """--resume continues a sweep with the settings it was started with (Tune restores its saved
    search space and ignores new flags); refuse, naming each one, when the command line differs.
    ``path``: the experiment's folder or URI (``sweeps.storage``)."""
    from eval.run import UsageError
    from sweeps.storage import joined, read_text

    saved_text = read_text(joined(path, SETTINGS_FILE))
    if saved_text is None:  # started before this check existed: nothing to compare
        return
    saved = json.loads(saved_text)
    changed = [f"{k} {saved.get(k)!r} -> {settings.get(k)!r}" for k in sorted({*saved, *settings})
               if saved.get(k) != settings.get(k)]  # fmt: skip
    if changed:
        raise UsageError(
            f"{path}: --resume continues the sweep with the settings it was started with, and these "
            f"differ: {'; '.join(changed)}. Rerun with the original settings, or start another sweep "
            "(--name NEW, without --resume)"
        )


def _fit(args: argparse.Namespace, variants: list[Variant], sweep_name: str) -> int:
    from ray import tune

    from sweeps.storage import joined, save_text, storage_root

    storage, name = storage_root(args.storage), args.name or sweep_name
    path = joined(storage, name)
    restorable = tune.Tuner.can_restore(path)
    resuming = args.resume and restorable
    settings = sweep_settings(args, variants)
    if resuming:
        check_resume(path, settings)
    elif restorable:
        print(
            f"note: {path} holds an earlier sweep; this run starts a new one there, and a later --resume "
            "continues the new one (--resume continues the earlier one; --name NEW keeps it apart)",
            file=sys.stderr,
        )
    init_ray(args.address)
    check_trial_fits(args)
    prepare_parent(args, variants)
    trainable = trainable_with_resources(args.workers)
    start = time.perf_counter()
    if resuming:
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={**trial_config(args), "variant": tune.grid_search([v.to_dict() for v in variants])},
            tune_config=tune.TuneConfig(
                num_samples=args.num_samples,
                max_concurrent_trials=concurrent_trials(args.workers),
                scheduler=scheduler(args.scheduler, "psnr", "max"),
            ),
            run_config=tune.RunConfig(name=name, storage_path=storage),
        )
        save_text(joined(path, SETTINGS_FILE), json.dumps(settings, indent=1, sort_keys=True) + "\n")
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
