"""What the Ray Tune sweeps share: the CLI, the trial function and the export to results files.

A *variant* is a named change of the model config and the stages' loss weights, plus the stages it
must retrain from a parent run (the checkpoints of the other stages are reused):

    Variant(name="bank_mouth_10", model={"n_mouth": 10, "n_expression": 10},
            stages=("mouth_pose", "expression"))

``trial(config)`` is the Tune function trainable. For one variant it
1. trains each affected stage with edtalk.train's trainer builder
   (``edtalk.train.run_stage``: a Ray Train V2 ``TorchTrainer`` whose workers run DeepSpeed),
   the first from the parent's checkpoint, the next from the previous one; audio-driven
   (``--driving audio``, the paper's mode for Tables 3 and 6) also every later stage through
   ``audio_lip``, the stage EDTalk-A draws the mouth with;
2. scores the trained model on ``--split`` with ``eval.run`` (in-process) in the sweep's one driving
   mode (``edtalk_a`` or ``edtalk_v``, recorded as ``"driving"`` in the results file), so that every
   row of a sweep is comparable: the test split by default, as the paper's Tables 3 and 6 report
   their ablations on the test set; a sweep that *chooses* a setting should score a held-out split
   instead (``--split`` naming one on a dataset that has it);
3. reports the metrics to Tune (``ray.tune.report``), with the results file's path in the trial folder.

Everything a trial writes (the nested trainers' runs, the results files) lies in its folder in
``--storage`` (written there directly for a folder, which a cluster's nodes all mount; uploaded
for object storage), never only in the node's /tmp/ray. After ``Tuner.fit()``, ``export_results``
reads each trial's results file from there and writes it to
``<out>/<dataset>/edtalk_<variant>/<protocol>.json`` with ``"sweep": {"name", "param", "value",
"seed"}``, the schema ``python -m eval.report`` reads (Tables 3 and 6).

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
RESULTS = "results"  # the results folder in a trial's folder
# --driving -> the eval.run method: EDTalk-A (mouth from the clip's audio, pose and expression from the
# GT clip; paper Tables 1, 3 and 6) or EDTalk-V (every factor from the GT clip; paper Table 5)
DRIVING_METHODS = {"audio": "edtalk_a", "video": "edtalk_v"}
AUDIO_MOUTH_STAGE = "audio_lip"  # the stage whose audio encoder and MLP^m_A EDTalk-A draws the mouth with
ASHA_METRIC = "psnr"  # what --scheduler asha ranks trials by (higher is better)


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
    stages: tuple[str, ...]  # stages the change affects, in order, retrained from the parent run
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # ModelConfig overrides
    loss_weights: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # stage -> term -> w
    # parent tensors (name prefixes) that start from the trial's seeded initialisation whatever their
    # shape, so that every point of a sweep starts alike (bank_size: the resized bank and its heads)
    fresh: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variant:
        d = dict(d)
        d["stages"] = tuple(d["stages"])
        d["fresh"] = tuple(d.get("fresh", ()))
        return cls(**d)

    def audio_only(self) -> bool:
        """The change is a loss weight of the audio stages only (L^m_rec, L^m_sync): video-driven
        scoring would not see it."""
        from edtalk.config import STAGE_NAMES

        audio = STAGE_NAMES[STAGE_NAMES.index(AUDIO_MOUTH_STAGE) :]
        return not self.model and bool(self.loss_weights) and set(self.loss_weights) <= set(audio)

    def trained_stages(self, driving: str) -> tuple[str, ...]:
        """The stages a trial trains: the variant's own; audio-driven also every later stage through
        ``audio_lip`` (each final.pt holds the whole model so far), less the expression stage of a
        model without an expression bank (only lip, lip+pose)."""
        from edtalk.config import STAGE_NAMES, ModelConfig

        if driving == "video":
            return self.stages
        first = STAGE_NAMES.index(self.stages[0])
        last = max(STAGE_NAMES.index(s) for s in (*self.stages, AUDIO_MOUTH_STAGE))
        banks = ModelConfig.preset("tiny", **self.model).bank_names  # the components, whatever the preset
        skipped = () if "expression" in banks else ("expression",)
        return tuple(s for s in STAGE_NAMES[first : last + 1] if s in self.stages or s not in skipped)


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


def build_parser(prog: str, description: str, smoke: str = "a few sweep points") -> argparse.ArgumentParser:
    """The options every sweep shares; ``smoke``: what --smoke-test keeps of the sweep's points."""
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
        help=f"Tune scheduler. asha ranks trials by {ASHA_METRIC} (which --metrics must then score); each "
        "trial reports once, when it is scored at its end, so ASHA stops no trial early here",
    )
    p.add_argument(
        "--num-samples",
        type=positive_int,
        default=1,
        help="trials per grid point, with seeds 0..N-1 (training and fresh initialisation); each is "
        "exported as its own method, edtalk_<variant>_seed<k> when N > 1",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="resume the sweep from --storage/--name (a new sweep starts, with a note, when there is none)",
    )
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help=f"tiny preset, {smoke}, 2 steps per stage, 2 clips (2 CPU cores)",
    )
    p.add_argument(
        "--driving",
        choices=tuple(DRIVING_METHODS),
        default="audio",
        help="how every trial is scored: audio (edtalk_a: mouth from the clip's audio, pose and expression "
        "from the GT clip; the paper's mode for Tables 3 and 6; also trains the stages through audio_lip) "
        "or video (edtalk_v: every factor from the GT clip; isolates the decoupling stages)",
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
        "ablation tables; to choose a setting, score a held-out split of a dataset that has one)",
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
    p.add_argument(
        "--max-concurrent-trials",
        type=positive_int,
        default=None,
        help="trials at once (default: what the cluster holds when the sweep starts, its GPUs, else "
        "CPUs, over --workers; an autoscaling cluster that starts without GPU workers needs this set)",
    )
    p.add_argument("--protocol", default="synthtalk", help="scoring protocol (eval.protocols)")
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric ids to score (default: every metric of the protocol whose weight "
        "files are on the trial's node; the others are skipped with a log line)",
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


# Stage whose final.pt a stage continues from (edtalk.config.STAGE_NAMES: the chain is linear).
def _previous_stage(stage: str) -> str | None:
    from edtalk.config import parent_stage

    return parent_stage(stage)


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


def graft_parent(
    parent_ckpt: Path,
    model_overrides: dict[str, Any],
    dest: Path,
    fresh_prefixes: tuple[str, ...] = (),
    seed: int = 0,
) -> tuple[Path, list[str]]:
    """A parent checkpoint for a changed model config: every tensor whose name and shape still match
    is copied, the rest (e.g. a resized bank and its head) and those under ``fresh_prefixes`` keep the
    initialisation of a model seeded with ``seed``. Returns (checkpoint path, names of re-initialised
    tensors); a checkpoint with nothing to change passes through."""
    import torch

    from edtalk.model import EDTalk, load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(parent_ckpt)
    cfg = ckpt["config"].replace(**model_overrides)
    if cfg == ckpt["config"] and not fresh_prefixes:
        return parent_ckpt, []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = EDTalk(cfg).state_dict()
    kept = {
        k: v
        for k, v in ckpt["state_dict"].items()
        if k in state and state[k].shape == v.shape and not k.startswith(fresh_prefixes)
    }
    fresh = sorted(set(state) - set(kept))
    state.update(kept)
    meta = {k: v for k, v in ckpt["meta"].items() if k != "provenance"}
    meta.update(grafted_from=str(parent_ckpt), reinitialised=fresh)
    return save_checkpoint(dest, state, cfg, extra=meta), fresh


def train_variant(
    variant: Variant, cfg: dict[str, Any], trial_dir: Path
) -> tuple[dict[str, str], list[dict]]:
    """Train the trial's stages (``Variant.trained_stages`` for ``cfg["driving"]``) in order with
    edtalk.train's TorchTrainer builder (``run_stage``) into ``<trial_dir>/runs``: the first from the
    (grafted) parent checkpoint, each next one from the previous, all seeded with ``cfg["seed"]``.
    Returns {stage: final.pt} and per-stage timing records."""
    from edtalk import train as edtrain
    from edtalk.config import TrainConfig
    from edtalk.model import load_checkpoint

    parent = Path(cfg["parent"])
    out = trial_dir / "runs"
    stages = variant.trained_stages(cfg["driving"])
    seed = cfg.get("seed", 0)
    first, _ = graft_parent(
        parent_checkpoint(parent, stages[0]), variant.model, out / "parent" / "final.pt", variant.fresh, seed
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
        seed=seed,
    )
    cache = edtrain.prepare_cache(train_cfg, model_cfg)
    done: dict[str, str] = {}
    records = []
    for stage in stages:
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
        previous = list(done.values())[-1] if done else str(first)  # audio_lip may follow mouth_pose
        stage_train_cfg = dataclasses.replace(train_cfg, parent=previous)
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
    from edtalk.weights import installed

    try:
        return installed(name)
    except KeyError:  # a weight name nobody registered
        return False


def scorable_metrics(protocol_name: str) -> list[str]:
    """The protocol's implemented metrics whose weight files are on this machine (e.g. the
    synthtalk judges once ``python -m eval.zoo train`` has run); the others are skipped."""
    from edtalk.weights import WEIGHTS
    from eval.protocols import get_protocol

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


def score_variant(cfg: dict[str, Any], checkpoints: dict[str, str], trial_dir: Path) -> Path:
    """Score the trained model (the last stage's final.pt holds the whole model) on ``--split``'s
    clips (``cfg["split"]``) with eval.run, in this process (``--workers 0``), driven as
    ``cfg["driving"]`` says; returns the results file under ``<trial_dir>/results``."""
    from eval import run as evrun
    from eval.results import results_path

    method = DRIVING_METHODS[cfg["driving"]]
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
        list(checkpoints.values())[-1],
        "--protocol",
        cfg["protocol"],
        "--workers",
        "0",
        "--out",
        str(trial_dir / RESULTS),
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


def parent_chain(args: argparse.Namespace, variants: list[Variant]) -> tuple[list[str], list[str]]:
    """(the parent stages the trials start from, those the parent run lacks): the stages before each
    variant's first stage; nothing is missing when ``--parent`` is a checkpoint file."""
    from edtalk.config import STAGE_NAMES

    parent = Path(args.parent)
    chain_end = max(STAGE_NAMES.index(v.stages[0]) for v in variants)
    needed_chain = list(STAGE_NAMES[:chain_end])
    missing = [] if parent.is_file() else [s for s in needed_chain if not (parent / s / "final.pt").is_file()]
    return needed_chain, missing


def check_parent(args: argparse.Namespace, variants: list[Variant]) -> None:
    """Before Ray starts: a parent run without a stage the trials start from is an error naming the
    file and the command that makes it (--smoke-test trains a missing chain instead), and so is a
    parent model of another size than --preset's (its trials would train the parent's model with
    the other preset's schedule and build a frame cache of the other size)."""
    needed_chain, missing = parent_chain(args, variants)
    parent = Path(args.parent)
    if missing and not args.smoke_test:
        raise FileNotFoundError(
            f"{parent / missing[0] / 'final.pt'}: the parent run lacks stage(s) {missing}; train them "
            f"with `python -m edtalk.train --stages {','.join(needed_chain)} --out {parent}` or pass --parent"
        )
    if not missing:
        check_parent_preset(parent_checkpoint(parent, min(variants, key=_first_stage_index).stages[0]), args)


def _first_stage_index(variant: Variant) -> int:
    from edtalk.config import STAGE_NAMES

    return STAGE_NAMES.index(variant.stages[0])


def check_parent_preset(ckpt: Path, args: argparse.Namespace) -> None:
    """The parent checkpoint's model has --preset's image size and latent width."""
    from edtalk.config import ModelConfig
    from edtalk.model import load_checkpoint
    from eval.run_checks import UsageError

    have, want = load_checkpoint(ckpt)["config"], ModelConfig.preset(args.preset)
    if (have.image_size, have.latent_dim) != (want.image_size, want.latent_dim):
        raise UsageError(
            f"{ckpt}: the parent model is {have.image_size} px with latent {have.latent_dim}, but --preset "
            f"{args.preset} is {want.image_size} px with latent {want.latent_dim}: pass the --preset it was "
            "trained with, or a parent run of this preset"
        )


def prepare_parent(args: argparse.Namespace, variants: list[Variant]) -> None:
    """Make sure the parent run has what every trial starts from (``check_parent`` has run): the
    checkpoints of the stages before each variant's first stage, the loss experts its trained stages
    need and the frame cache. With --smoke-test a missing parent chain is trained here first (a few
    steps per stage)."""
    from edtalk import train as edtrain
    from edtalk.config import ModelConfig, TrainConfig
    from edtalk.stages import get_stage

    parent = Path(args.parent)
    needed_chain, missing = parent_chain(args, variants)
    stages = {s for v in variants for s in v.trained_stages(args.driving)}
    experts = sorted({e for s in stages for e in get_stage(s).experts})
    if missing:
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
    """Tune function trainable: train the variant's stages, score, report metrics to Tune.

    Works in the trial's folder in --storage when that is a folder (every node of a cluster mounts
    it), else in the node's trial folder and uploads the results folder to the object storage; the
    results file is reported by its path in the trial folder (``export_results`` reads it there)."""
    from ray import tune

    from sweeps.storage import local_path, trial_folder, upload

    set_env_defaults()
    ensure_repo_on_path()
    variant = Variant.from_dict(config["variant"])
    fs, folder = trial_folder()
    work = local_path(fs, folder) or Path(tune.get_context().get_trial_dir())
    checkpoints, records = train_variant(variant, config, work)
    results_file = score_variant(config, checkpoints, work)
    if local_path(fs, folder) is None:
        upload(work / RESULTS, fs, f"{folder}/{RESULTS}")
    data = json.loads(results_file.read_text())
    metrics = {k: v["value"] for k, v in data["metrics"].items() if isinstance(v.get("value"), int | float)}
    report = {"results_file": results_file.relative_to(work).as_posix(), "training": json.dumps(records)}
    tune.report({**metrics, **report, "done": True})


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
    """ASHA on the reported metric, or FIFO. A trial reports once, at its end (its score), so ASHA
    ranks finished trials and stops none early."""
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
        "driving": args.driving,
        "steps": args.steps,
        "workers": args.workers,
        "protocol": args.protocol,
        "max_clips": args.max_clips,
        "metrics": args.metrics,
    }


def concurrent_trials(workers: int, chosen: int | None = None, cluster: bool = False) -> int:
    """Trials at once: ``chosen`` (--max-concurrent-trials), else those that fit the cluster now,
    each nested TorchTrainer needing ``workers`` GPUs (or CPUs). On a ``cluster`` (--address) the
    count is printed: an autoscaling cluster that has not started its GPU workers yet holds one."""
    import ray

    if chosen is not None:
        return chosen
    res = ray.cluster_resources()
    if res.get("GPU", 0) >= 1:
        fits = max(1, int(res["GPU"] // max(1, workers)))
    else:
        fits = max(1, int(res.get("CPU", 1) // (max(1, workers) + TRIAL_CPU)))
    if cluster:
        print(
            f"note: the cluster holds {int(res.get('GPU', 0))} GPUs and {int(res.get('CPU', 0))} CPUs now: "
            f"{fits} trial(s) at once; on a cluster that grows, set --max-concurrent-trials",
            file=sys.stderr,
        )
    return fits


def check_trial_fits(args: argparse.Namespace) -> None:
    """One trial's nested TorchTrainer fits the cluster (``edtalk.ray_setup.check_workers_fit``):
    on a private local instance Ray would wait for its workers forever."""
    import ray

    from edtalk.ray_setup import check_workers_fit

    on_gpus = ray.cluster_resources().get("GPU", 0) >= 1  # what the trials' TrainConfig(use_gpu=auto) picks
    cluster = bool(args.address or os.environ.get("RAY_ADDRESS"))
    check_workers_fit(args.workers, on_gpus, cluster=cluster, trial_cpu=TRIAL_CPU)


def trainable_with_resources():
    """``trial`` as Tune runs it: reserving almost nothing itself (its nested TorchTrainer asks for
    the workers)."""
    from ray import tune

    return tune.with_resources(trial, {"CPU": TRIAL_CPU})


def export_results(result_grid, sweep_name: str, out: str | Path) -> tuple[list[Path], list[str]]:
    """Write each finished trial's results file, read from its trial folder in --storage (Tune's
    ``result.path`` on ``result.filesystem``), as ``<out>/<dataset>/<method>/<protocol>.json`` with
    the ``sweep`` key, the ``driving`` mode and the training timings in provenance.training. The
    method is ``edtalk_<variant>``, with ``_seed<k>`` when the sweep ran several seeds.
    Returns (files written, one line per trial that could not be exported); the others still are."""
    done = [r for r in result_grid if r.error is None and r.metrics and "results_file" in r.metrics]
    several_seeds = len({r.config.get("seed", 0) for r in done}) > 1
    written, errors = [], []
    for result in done:
        try:
            written.append(_export_trial(result, sweep_name, Path(out), several_seeds))
        except (OSError, ValueError, KeyError) as e:  # a missing or unreadable file: the others go on
            errors.append(f"{result.path}: not exported: {e}")
    return written, errors


def _export_trial(result, sweep_name: str, out: Path, several_seeds: bool) -> Path:
    """One trial's results file (and its per-clip rows) under ``out``; returns the file written."""
    from sweeps.storage import read_bytes

    variant = Variant.from_dict(result.config["variant"])
    seed = result.config.get("seed", 0)
    src = f"{result.path}/{result.metrics['results_file']}"
    raw = read_bytes(result.filesystem, src)
    if raw is None:
        raise FileNotFoundError(f"no results file {src} in the trial's folder")
    data = json.loads(raw)
    method = f"edtalk_{variant.name}" + (f"_seed{seed}" if several_seeds else "")
    data["method"] = method
    data["driving"] = result.config["driving"]
    data["sweep"] = {"name": sweep_name, "param": variant.param, "value": variant.value, "seed": seed}
    data.setdefault("provenance", {})["training"] = json.loads(result.metrics.get("training", "[]"))
    data["provenance"]["sweep_variant"] = variant.to_dict()
    name = src.rsplit("/", 1)[-1]
    dest = out / data["dataset"] / method / name
    write_text(dest, json.dumps(data, indent=2) + "\n")
    clips_name = name.removesuffix(".json") + ".clips.jsonl"
    clips = read_bytes(result.filesystem, f"{src.rsplit('/', 1)[0]}/{clips_name}")
    if clips is not None:
        write_bytes(dest.with_name(clips_name), clips)
    return dest


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before Ray starts, what every trial would only fail on after training: an unknown
    preset, dataset reader, protocol or metric, a missing dataset root, an empty train or scoring
    split, a Ray address nothing answers at, and (with --metrics) a weight file those metrics need."""
    from edtalk.config import ModelConfig
    from edtalk.data.readers import read_clips
    from eval.protocols import get_protocol
    from eval.run_checks import UsageError, check_address, check_weights, select_metrics

    ModelConfig.preset(args.preset)
    check_address(args.address or os.environ.get("RAY_ADDRESS"))
    for split in dict.fromkeys(("train", args.split)):
        if not read_clips(args.dataset, args.root, split):
            raise UsageError(f"{args.root}: {args.dataset} split {split!r} has no clips")
    protocol = get_protocol(args.protocol)
    ids = protocol.available()[0]
    if args.metrics:
        ids, _ = select_metrics(protocol, args.metrics)
        check_weights(protocol, protocol.build(ids), allow_unverified=False)
    if args.scheduler == "asha" and ASHA_METRIC not in ids:
        raise UsageError(
            f"--scheduler asha ranks trials by {ASHA_METRIC}, which the scored metrics ({', '.join(ids)}) "
            f"leave out: add {ASHA_METRIC} to --metrics, or use --scheduler fifo"
        )


def check_driving(variants: list[Variant], driving: str) -> None:
    """Video-driven scoring never uses the audio stages: refuse variants that change only those."""
    from eval.run_checks import UsageError

    unused = [v.name for v in variants if driving == "video" and v.audio_only()]
    if unused:
        raise UsageError(
            f"--driving video scores the GT clip's mouth, so {', '.join(unused)} (a change of the audio "
            "stages only) would score as their parent; leave them out or use --driving audio"
        )


def run_sweep(args: argparse.Namespace, variants: list[Variant], sweep_name: str) -> int:
    """Run one sweep: a grid over ``variants`` on Ray Tune, then export and summarise its results.

    Checks the inputs (``check_inputs``, ``check_driving``, ``check_parent``), starts (or joins) Ray,
    trains the shared parent checkpoint once (``prepare_parent``), then fits the Tuner, or restores it
    with ``--resume`` so finished trials are not run again. Exit status 1 when any trial failed or could
    not be exported (the others' results are still exported), 2 with one ``error:`` line for a mistake
    in the inputs or a parent run that lacks a stage.
    """
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.ray_setup import WorkerFitError
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError
    from eval.run_checks import UsageError

    try:
        check_inputs(args)
        check_driving(variants, args.driving)
        check_parent(args, variants)
        return fit_sweep(args, variants, sweep_name)
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
    from eval.run_checks import UsageError
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


def resume_plan(args: argparse.Namespace, path: str, settings: dict[str, Any]) -> bool:
    """Whether this run restores the sweep at ``path`` (--resume and Tune can restore it, with the
    settings it was started with), with a note on stderr when it starts a new sweep over or instead
    of one (as ``edtalk.train --resume`` says when there is nothing to resume)."""
    from ray import tune

    restorable = tune.Tuner.can_restore(path)
    if args.resume and restorable:
        check_resume(path, settings)
    elif args.resume:
        print(
            f"note: --resume: no sweep to restore at {path}; starting a new one (check --storage and --name "
            "if you meant an earlier sweep)",
            file=sys.stderr,
        )
    elif restorable:
        print(
            f"note: {path} holds an earlier sweep; this run starts a new one there, and a later --resume "
            "continues the new one (--resume continues the earlier one; --name NEW keeps it apart)",
            file=sys.stderr,
        )
    return args.resume and restorable


def new_tuner(args: argparse.Namespace, variants: list[Variant], trainable, name: str, storage: str):
    """The grid: every variant with seeds 0..--num-samples-1 (a grid axis, so each repeat trains with
    its own seed), on Tune with the chosen scheduler, kept in ``<storage>/<name>``."""
    from ray import tune

    return tune.Tuner(
        trainable,
        param_space={
            **trial_config(args),
            "variant": tune.grid_search([v.to_dict() for v in variants]),
            "seed": tune.grid_search(list(range(args.num_samples))),
        },
        tune_config=tune.TuneConfig(
            max_concurrent_trials=concurrent_trials(
                args.workers, args.max_concurrent_trials, bool(args.address or os.environ.get("RAY_ADDRESS"))
            ),
            scheduler=scheduler(args.scheduler, ASHA_METRIC, "max"),
        ),
        run_config=tune.RunConfig(name=name, storage_path=storage),
    )


def fit_sweep(args: argparse.Namespace, variants: list[Variant], sweep_name: str) -> int:
    """Start (or, with --resume, continue) the Tune experiment of ``variants``, then export each
    finished trial's results file; the exit code."""
    from ray import tune

    from sweeps.storage import joined, save_text, storage_root

    storage, name = storage_root(args.storage), args.name or sweep_name
    path = joined(storage, name)
    settings = sweep_settings(args, variants)
    resuming = resume_plan(args, path, settings)
    init_ray(args.address)
    check_trial_fits(args)
    prepare_parent(args, variants)
    trainable = trainable_with_resources()
    start = time.perf_counter()
    if resuming:
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        tuner = new_tuner(args, variants, trainable, name, storage)
        save_text(joined(path, SETTINGS_FILE), json.dumps(settings, indent=1, sort_keys=True) + "\n")
    grid = tuner.fit()
    written, export_errors = export_results(grid, sweep_name, args.out)
    errors = [r.error for r in grid if r.error is not None]
    print(
        f"{sweep_name}: {len(grid)} trials, {len(errors)} failed, {len(written)} results files "
        f"in {time.perf_counter() - start:.1f} s"
    )
    for p in written:
        print(f"  wrote {p}")
    for e in [*errors, *export_errors]:
        print(f"  trial error: {e}", file=sys.stderr)
    return 1 if errors or export_errors else 0
