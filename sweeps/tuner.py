"""Running a sweep on Ray Tune: ``run_sweep`` checks the inputs and the parent run before Ray starts,
then ``fit_sweep`` starts (or joins) Ray, prepares the parent run, fits the grid of variants (a new
Tuner, or the saved one restored with ``--resume``) and exports the results.

Each sweep script (bank_size.py, ablations.py) builds its variants, the search space, and calls ``run_sweep``.
The checks and the parent run's preparation are called through their modules (``checks.check_inputs``,
``parent_run.prepare_parent``), so that a test patches them there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from edtalk.cli import ctrl_c_kept, report_error
from edtalk.ray_setup import cluster_address, start_ray
from edtalk.train_run import require_ray_train_v2, set_env_defaults, worker_env
from sweeps import checks, parent_run
from sweeps.bootstrap import REPO_ROOT, ensure_repo_on_path
from sweeps.cli import ASHA_METRIC
from sweeps.export import export_results, finished, trial_name
from sweeps.resume import SETTINGS_FILE, resume_plan, sweep_settings
from sweeps.trial import TRIAL_CPU, trainable_with_resources, trial_config
from sweeps.variant import Variant


def run_sweep(args: argparse.Namespace, variants: list[Variant], sweep_name: str) -> int:
    """Run one sweep: a grid over ``variants`` on Ray Tune, then export and summarise its results.

    Checks the inputs (``check_inputs``, ``check_driving``, ``check_variants``, ``check_parent``,
    ``check_folders``),
    starts (or joins) Ray, trains the shared parent checkpoint once (``prepare_parent``), then fits the
    Tuner, or restores it with ``--resume`` so finished trials are not run again. Exit status 1 when
    any trial failed or could not be exported (the others' results are still exported; each named), 2
    with one ``error:`` line for a mistake in the inputs or a parent run that lacks a stage.
    """
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.ray_setup import WorkerFitError
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError
    from eval.run_checks import UsageError

    require_ray_train_v2()  # before the first import of ray.train (Tune's): the parent run trains here
    args.address = cluster_address(args.address)  # --address, else $RAY_ADDRESS (``ray job submit``)
    try:
        checks.check_inputs(args)
        checks.check_driving(variants, args.driving)
        checks.check_variants(variants, args)
        parent_run.check_parent(args, variants)
        checks.check_folders(args)
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
    except KeyboardInterrupt:  # outside the trials (Tune stops those itself): the parent run, the export
        print(
            "\ninterrupted: run the same command to go on (the parent run's finished stages and the trials "
            "that ended are kept; add --resume once the trials have started)",
            file=sys.stderr,
            flush=True,
        )
        return 130


def init_ray(address: str | None) -> None:
    """Join the cluster at ``address`` (``run_sweep`` resolves it once: --address, else $RAY_ADDRESS),
    or start a private local instance; Ray's workers get the repository on their path."""
    set_env_defaults()
    ensure_repo_on_path()
    start_ray(address, env_vars={**worker_env(), "PYTHONPATH": str(REPO_ROOT)})


def scheduler(name: str, metric: str, mode: str):
    """ASHA on the reported metric, or FIFO. A trial reports once, at its end (its score), so ASHA
    ranks finished trials and stops none early."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if name == "asha":
        return ASHAScheduler(metric=metric, mode=mode, grace_period=1)
    return FIFOScheduler()


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
    check_workers_fit(args.workers, on_gpus, cluster=args.address is not None, trial_cpu=TRIAL_CPU)


def new_tuner(
    args: argparse.Namespace,
    variants: list[Variant],
    trainable,
    name: str,
    storage: str,
    metrics: str | None = None,
):
    """The grid: every variant with seeds 0..--num-samples-1 (a grid axis, so each repeat trains with
    its own seed), on Tune with the chosen scheduler, kept in ``<storage>/<name>``. ``metrics``: what
    every trial scores when --metrics is not given (``metrics_to_score``); Tune keeps it in the saved
    search space, so a resumed sweep scores the same."""
    from ray import tune

    from sweeps.placement_groups import FreeOrphanedPlacementGroups
    from sweeps.retries import NoteRetries
    from sweeps.worker_bars import DropDeadWorkersBars

    return tune.Tuner(
        trainable,
        param_space={
            **trial_config(args),
            "metrics": args.metrics or metrics,
            "variant": tune.grid_search([v.to_dict() for v in variants]),
            "seed": tune.grid_search(list(range(args.num_samples))),
        },
        tune_config=tune.TuneConfig(
            max_concurrent_trials=concurrent_trials(
                args.workers, args.max_concurrent_trials, args.address is not None
            ),
            scheduler=scheduler(args.scheduler, ASHA_METRIC, "max"),
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            # free what a trial that failed mid-stage leaves: the placement group its stage held
            # (sweeps.placement_groups), its dead workers' bars (sweeps.worker_bars); say when Tune
            # starts a failed trial again (sweeps.retries)
            callbacks=[FreeOrphanedPlacementGroups(), DropDeadWorkersBars(), NoteRetries()],
            # a failed trial starts again: its finished stages kept, its stage resumed (sweeps.trial)
            failure_config=tune.FailureConfig(max_failures=args.max_failures),
        ),
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
    # after every check (a note never comes before an error); a resumed sweep scores what its start
    # chose, kept in Tune's saved search space
    if getattr(args, "protocol_note", None):  # set by checks.check_inputs
        print(f"note: {args.protocol_note}", file=sys.stderr)
    metrics = None if args.metrics or resuming else checks.metrics_to_score(args.protocol)
    checks.note_perceptual(variants, args.driving)
    parent_run.prepare_parent(args, variants)
    trainable = trainable_with_resources()
    start = time.perf_counter()
    if resuming:
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        tuner = new_tuner(args, variants, trainable, name, storage, metrics)
        save_text(joined(path, SETTINGS_FILE), json.dumps(settings, indent=1, sort_keys=True) + "\n")
    quiet_tensorboard_hparams_note()
    with ctrl_c_kept():  # Tune leaves its handler, bound to the finished sweep
        grid = tuner.fit()
    written, export_errors = export_results(grid, sweep_name, args.out)
    errors = [f"{trial_name(r)}: {r.error}" for r in grid if r.error is not None]
    print(
        f"{sweep_name}: {len(grid)} trials, {len(errors)} failed, {len(written)} results files "
        f"in {time.perf_counter() - start:.1f} s"
    )
    for p in written:
        print(f"  wrote {p}")
    for e in [*errors, *export_errors]:
        print(f"  trial error: {e}", file=sys.stderr)
    expected = len(variants) * args.num_samples
    if stopped := unfinished_trials(grid, expected):
        print(
            f"interrupted: {stopped} of {expected} trials did not finish; run the same command with "
            "--resume to finish them (without it, a new sweep starts over this one)",
            file=sys.stderr,
        )
        return 130
    return 1 if errors or export_errors else 0


def quiet_tensorboard_hparams_note() -> None:
    """Tune's TensorBoard logger said at INFO, once per trial, that it left the variant's tuples (its
    stages, its fresh modules) out of the hparams it logs (TensorBoard takes scalars only); they stay
    in each trial's params.json and the results files. WARNING for that logger in the sweep's driver."""
    import logging

    logging.getLogger("ray.tune.logger.tensorboardx").setLevel(logging.WARNING)


def unfinished_trials(grid, expected: int) -> int:
    """How many of the sweep's ``expected`` trials neither finished (a results file) nor failed: Tune
    stops the experiment on Ctrl-C and ``fit()`` returns as if it were done, with the trials it had
    not finished (or not started) left out or without a result."""
    ended = sum(1 for r in grid if r.error is not None or finished(r))
    return max(0, expected - ended)
