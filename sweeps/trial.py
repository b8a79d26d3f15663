"""One trial of a sweep: ``trial(config)``, the Tune function trainable, and what it runs.

For one variant (``sweeps.variant``) a trial
1. trains each affected stage with the training CLI's trainer builder
   (``edtalk.train_run.run_stage``: a Ray Train V2 ``TorchTrainer`` whose workers run DeepSpeed),
   the first from the parent's checkpoint, the next from the previous one; audio-driven
   (``--driving audio``, the paper's mode for Tables 3 and 6) also every later stage through
   ``audio_lip``, the stage EDTalk-A draws the mouth with; a trial restarted after an interruption
   keeps the stages it finished (``finished_stage``) and resumes the one it was training;
2. scores the trained model on ``--split`` with ``eval.run`` (in-process) in the sweep's one driving
   mode (``edtalk_a`` or ``edtalk_v``, recorded as ``"driving"`` in the results file), so that every
   row of a sweep is comparable: the test split by default, as the paper's Tables 3 and 6 report
   their ablations on the test set; a sweep that *chooses* a setting should score a held-out split
   instead (``--split`` naming one on a dataset that has it);
3. reports the metrics to Tune (``ray.tune.report``), with the results file's path in the trial folder.

Everything a trial writes (the nested trainers' runs, the results files) lies in its folder in
``--storage`` (written there directly for a folder, which a cluster's nodes all mount; uploaded
for object storage), never only in the node's /tmp/ray; ``sweeps.export`` reads it from there.

Tune pickles ``trial`` by reference (``sweeps.trial.trial``): trial processes import this module
through the ``PYTHONPATH`` that ``sweeps.tuner.init_ray`` gives Ray's workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from edtalk.train_run import set_env_defaults
from sweeps.bootstrap import ensure_repo_on_path
from sweeps.parent_run import graft_parent, parent_checkpoint
from sweeps.variant import DRIVING_METHODS, Variant

TRIAL_CPU = 0.1  # what a trial's own process reserves; its nested TorchTrainer asks for its workers
RESULTS = "results"  # the results folder in a trial's folder


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


def train_variant(
    variant: Variant, cfg: dict[str, Any], trial_dir: Path
) -> tuple[dict[str, str], list[dict]]:
    """Train the trial's stages (``Variant.trained_stages`` for ``cfg["driving"]``) in order with
    the training CLI's TorchTrainer builder (``run_stage``) into ``<trial_dir>/runs``: the first from the
    (grafted) parent checkpoint, each next one from the previous, all seeded with ``cfg["seed"]``.
    Returns {stage: final.pt} and per-stage timing records."""
    from edtalk.config import TrainConfig
    from edtalk.model import load_checkpoint
    from edtalk.train_cache import prepare_cache
    from edtalk.train_chain import stage_config_for
    from edtalk.train_run import run_stage

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
    cache = prepare_cache(train_cfg, model_cfg)
    done: dict[str, str] = {}
    records = []
    for stage in stages:
        previous = list(done.values())[-1] if done else str(first)  # audio_lip may follow mouth_pose
        if (finished := finished_stage(out / stage, previous)) is not None:
            done[stage], record = finished
            records.append({"stage": stage, "steps": cfg["steps"], **record})
            continue
        stage_cfg = stage_config_for(
            stage,
            preset=cfg["preset"],
            overrides=variant.stage_overrides(stage, cfg["steps"]),  # what check_variants checked
        )
        start = time.perf_counter()
        # a stage folder an interrupted attempt left: continue from its last registered checkpoint
        stage_train_cfg = dataclasses.replace(train_cfg, parent=previous, resume=(out / stage).is_dir())
        final = run_stage(stage_cfg, stage_train_cfg, model_cfg, cache)
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


def finished_stage(stage_dir: Path, parent: str) -> tuple[str, dict] | None:
    """A stage an earlier attempt at this trial finished (its final.pt and summary.json written) from
    the weights now at ``parent``: its final.pt and timing record, so that a trial restarted by
    ``--resume`` (Tune's ``resume_errored``) trains only what it had not finished. None otherwise; a
    stage trained from other parent weights (the parent run retrained since) is deleted, said in a
    line, to be trained anew."""
    from edtalk.train_resume import delete_earlier_run, trained_from_another_parent

    final, summary_file = stage_dir / "final.pt", stage_dir / "summary.json"
    if not (final.is_file() and summary_file.is_file()):
        return None
    if why := trained_from_another_parent(stage_dir, parent, finished=True):
        delete_earlier_run(stage_dir.name, stage_dir, why)
        return None
    try:
        summary = json.loads(summary_file.read_text())
    except (OSError, ValueError):
        return None  # a summary cut off by a kill: the stage is exported again
    print(f"[sweep] {stage_dir.name}: finished by an earlier attempt at this trial ({final})", flush=True)
    return str(final), {"wall_s": summary.get("seconds"), "machine": summary.get("machine"), "reused": True}


def _weight_present(name: str) -> bool:
    from edtalk.weights import installed

    try:
        return installed(name)
    except KeyError:  # a weight name nobody registered
        return False


def scorable_metrics(protocol_name: str) -> list[str]:
    """The protocol's implemented metrics whose weight files are on this machine (e.g. the
    synthtalk judges once ``python -m eval.zoo install`` or ``train`` has run); the others are skipped.
    Only a trial of a sweep started before the driver chose the metrics for every trial
    (``checks.metrics_to_score``; its saved search space has none) asks its own node."""
    ok, skipped = split_metrics(protocol_name)
    if skipped:
        print(f"[sweep] metrics skipped on this machine: {'; '.join(skipped)}", flush=True)
    return ok


def split_metrics(protocol_name: str) -> tuple[list[str], list[str]]:
    """(the protocol's metrics that can be scored on this machine, one ``id (why not)`` per other)."""
    from edtalk.weight_catalogue import WEIGHTS
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
        missing = [w for w in dict.fromkeys((*metric.weights_needed(), *named)) if not _weight_present(w)]
        (skipped.append(f"{metric_id} (no {', '.join(missing)})") if missing else ok.append(metric_id))
    return ok, skipped


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
        "--device",
        "cpu",  # as before eval.run's default became auto: a trial's GPU may be another trial's training
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
    path = results_path(args.out, cfg["dataset"], method, cfg["protocol"], cfg["split"])
    if code not in (0, 1) or not path.is_file():
        raise RuntimeError(f"eval.run exited {code} without writing {path}")
    return path


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


def trainable_with_resources():
    """``trial`` as Tune runs it: reserving almost nothing itself (its nested TorchTrainer asks for
    the workers)."""
    from ray import tune

    return tune.with_resources(trial, {"CPU": TRIAL_CPU})
