"""sweeps.placement_groups: a trial that dies while its training workers hold their CPUs no longer
stops the sweep's next trial from starting."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# What both scripts below share: a private instance of 2 CPUs, a trial try that reserves most of them
# through an actor it owns (as its stage's Ray Train controller reserves the workers') and dies, and
# one that asks for as much (as its own stage would) and gives up after 60 s.
PRELUDE = """
import json
import os
import sys

import ray
from ray import tune
from ray.util.placement_group import placement_group

from edtalk.ray_setup import start_ray
from sweeps.placement_groups import FreeOrphanedPlacementGroups
from sweeps.retries import NoteRetries
from sweeps.trial import TRIAL_CPU

start_ray(None, num_cpus=2)

@ray.remote(num_cpus=0)
class Controller:
    def reserve(self):
        self.group = placement_group([{"CPU": 1.5}])
        ray.get(self.group.ready())

def die_holding_cpus():
    controller = Controller.remote()
    ray.get(controller.reserve.remote())
    os._exit(1)

def start_with_cpus():
    ray.get(placement_group([{"CPU": 1.5}]).ready(), timeout=60)
    tune.report({"started": 1})
"""

# Two trials one after the other; the first dies. argv[2]: "free" to run the sweeps' callback.
TWO_TRIALS = PRELUDE + textwrap.dedent(
    """
    def trial(config):
        die_holding_cpus() if config["dies"] else start_with_cpus()

    callbacks = [FreeOrphanedPlacementGroups(every_s=1.0)] if sys.argv[2] == "free" else []
    grid = tune.Tuner(
        tune.with_resources(trial, {"CPU": TRIAL_CPU}),
        param_space={"dies": tune.grid_search([True, False])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=sys.argv[1], callbacks=callbacks, verbose=0),
    ).fit()
    print(json.dumps([r.metrics.get("started") for r in grid]))
    """
)

# One trial that Tune starts again once (``--max-failures 1``): its first try dies (a marker file tells
# the tries apart). argv[1]: the storage folder.
RETRIED_TRIAL = PRELUDE + textwrap.dedent(
    """
    marker = os.path.join(sys.argv[1], "first_try_died")

    def trial(config):
        if not os.path.exists(marker):
            open(marker, "w").close()
            die_holding_cpus()
        start_with_cpus()

    os.makedirs(sys.argv[1], exist_ok=True)
    grid = tune.Tuner(
        tune.with_resources(trial, {"CPU": TRIAL_CPU}),
        param_space={"variant": {"name": "bank_mouth_5"}, "seed": 0},
        run_config=tune.RunConfig(
            storage_path=sys.argv[1],
            callbacks=[FreeOrphanedPlacementGroups(every_s=1.0), NoteRetries()],
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=0,
        ),
    ).fit()
    print(json.dumps([r.metrics.get("started") for r in grid]))
    """
)


def run_script(script: str, *argv: str) -> tuple[list, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.ray
def test_the_next_trial_starts_after_one_died_mid_stage(tmp_path):
    started, err = run_script(TWO_TRIALS, str(tmp_path / "free"), "free")
    assert started == [None, 1], err[-3000:]  # the first died; the second got its CPUs
    assert "freed the resources of 1 training run(s) whose trial died mid-stage" in err


@pytest.mark.ray
def test_a_trial_started_again_gets_the_resources_its_dead_try_held(tmp_path):
    """--max-failures: Tune starts the failed trial again, with a note, and its second try is not
    left waiting for the CPUs the first try's stage held."""
    started, err = run_script(RETRIED_TRIAL, str(tmp_path / "sweep"))
    assert started == [1], err[-3000:]
    assert "freed the resources of 1 training run(s) whose trial died mid-stage" in err
    assert "note: trial bank_mouth_5 seed 0 (" in err and "failure 1 of at most 1, --max-failures" in err


def test_the_sweeps_tuner_runs_the_callback(tmp_path, monkeypatch):
    from ray import tune

    from sweeps import tuner
    from sweeps.bank_size import variants
    from sweeps.cli import build_parser, smoke_defaults
    from sweeps.placement_groups import FreeOrphanedPlacementGroups
    from sweeps.retries import NoteRetries
    from sweeps.worker_bars import DropDeadWorkersBars

    captured = {}
    monkeypatch.setattr(tune, "Tuner", lambda trainable, **kw: captured.update(kw))
    monkeypatch.setattr(tuner, "concurrent_trials", lambda workers, chosen=None, cluster=False: 1)
    args = smoke_defaults(build_parser("x", "y").parse_args(["--root", "d", "--max-failures", "2"]))
    tuner.new_tuner(args, variants({"mouth": [5]}), None, "bank_size", str(tmp_path))
    callbacks = [type(c) for c in captured["run_config"].callbacks]
    assert callbacks == [FreeOrphanedPlacementGroups, DropDeadWorkersBars, NoteRetries]
    assert captured["run_config"].failure_config.max_failures == 2  # --max-failures reaches Tune


def test_a_trial_error_checks_at_once_and_the_loop_every_few_seconds(monkeypatch):
    import edtalk.train_placement_group as groups
    from sweeps.placement_groups import FreeOrphanedPlacementGroups

    calls = []
    monkeypatch.setattr(groups, "free_orphaned_placement_groups", lambda: calls.append(1) or 0)
    callback = FreeOrphanedPlacementGroups(every_s=3600.0)
    callback.on_step_begin(iteration=0, trials=[])  # the first step checks
    callback.on_step_begin(iteration=1, trials=[])  # not due yet
    callback.on_trial_error(iteration=2, trials=[], trial=None)  # due at once
    callback.on_trial_recover(iteration=3, trials=[], trial=None)  # a failed trial started again
    assert len(calls) == 3


def test_a_failing_check_warns_once_and_does_not_stop_the_sweep(monkeypatch, capsys):
    """Tune ends every trial for an exception a callback raises."""
    import pickle

    import edtalk.train_placement_group as groups
    from sweeps.placement_groups import FreeOrphanedPlacementGroups

    def gcs_down():
        raise ConnectionError("GCS not answering")

    monkeypatch.setattr(groups, "free_orphaned_placement_groups", gcs_down)
    callback = FreeOrphanedPlacementGroups(every_s=0.0)
    assert callback.free() == 0 and callback.free() == 0
    assert capsys.readouterr().err.count("could not look for placement groups") == 1
    restored = pickle.loads(pickle.dumps(callback))  # as --resume loads it from tuner.pkl
    assert (restored.every_s, restored._checked_at, restored._failing) == (0.0, None, False)
