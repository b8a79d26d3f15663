"""Ray Train runs of the training CLI: 2 workers for a few steps, resume after kill -9 of the driver,
and a training worker killed mid-stage (an error naming it, then --max-failures restarting it).

All start a local Ray runtime and take minutes on 2 shared CPU cores: marked ``ray`` and ``slow``.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    from edtalk.experts.testing import make_fixture_dataset

    return make_fixture_dataset(tmp_path_factory.mktemp("ray") / "data", n_clips=2, n_frames=25, size=64)


def _cli(data, out, *extra):
    return [
        sys.executable,
        "-m",
        "edtalk.train",
        "--data",
        f"synthtalk:{data}",
        "--out",
        str(out),
        "--workers",
        "2",
        "--batch-size",
        "2",
        *extra,
    ]


def _env():
    env = dict(os.environ)
    env.update(
        RAY_AUTH_MODE="disabled", DS_ACCELERATOR="cpu", RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(REPO)
    )
    return env


def test_ray_torchtrainer_two_workers(fixture_data, tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.run(
        _cli(
            fixture_data,
            out,
            "--stages",
            "eg_pretrain,mouth_pose",
            "--max-steps",
            "3",
            "--checkpoint-every",
            "2",
            "--deepspeed",
            "zero2",
        ),
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # edtalk.ray_setup: a private instance starts no cleaner, whose State-API queries all failed here
    assert "Failed to query Ray Train Controller" not in proc.stdout + proc.stderr
    for stage in ("eg_pretrain", "mouth_pose"):
        summary = json.loads((out / stage / "summary.json").read_text())
        assert summary["metrics"]["step"] == 3
        assert summary["machine"]["cpus"] >= 1  # the worker's machine, read back from final.pt
        assert (out / stage / "final.pt").is_file()
        assert len([p for p in (out / stage).glob("checkpoint_*") if p.is_dir()]) <= 2  # best + latest
        assert list((out / stage / "tensorboard").glob("events.out.tfevents.*"))
        run = json.loads(next((out / stage).glob("checkpoint_*/run.json")).read_text())
        assert run["git"] and run["versions"]["ray"] and run["model_config"]["image_size"] == 64
    run = json.loads(next((out / "mouth_pose").glob("checkpoint_*/run.json")).read_text())
    assert run["parent"] == str(out / "eg_pretrain" / "final.pt")


def test_resume_after_kill_9(fixture_data, tmp_path):
    out = tmp_path / "runs"
    args = _cli(fixture_data, out, "--stage", "eg_pretrain", "--max-steps", "12", "--checkpoint-every", "1")
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(
        args, cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.time() + 600
        while time.time() < deadline and not list(
            (out / "eg_pretrain").glob("checkpoint_*/trainer_state.pt")
        ):
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(1)
        time.sleep(2)  # let it get further than the first checkpoint
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "eg_pretrain" / "final.pt").exists(), "the run finished before it could be killed"
    time.sleep(8)  # the killed driver's Ray processes notice and exit
    second = subprocess.run(
        args + ["--resume"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=900
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    summary = json.loads((out / "eg_pretrain" / "summary.json").read_text())
    assert summary["metrics"]["resumed_from"] > 0
    assert summary["metrics"]["step"] == 12
    assert (out / "eg_pretrain" / "final.pt").is_file()


def _kill_a_training_worker(proc, stage_dir: Path, log: Path, after_step: int) -> None:
    """``kill -9`` one of ``proc``'s Ray Train workers once the stage registered a checkpoint past
    ``after_step`` (as the OOM killer or a crash ends one)."""
    import psutil

    from edtalk.config import ConfigError
    from edtalk.train_resume import registered_checkpoints

    def latest_step() -> int:
        try:
            step = registered_checkpoints(stage_dir).latest_step
        except ConfigError:  # Ray's record caught mid-write
            return -1
        return -1 if step is None else step

    deadline = time.time() + 600
    while time.time() < deadline and latest_step() <= after_step:
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.5)

    def is_training_worker(p) -> bool:
        try:
            return "RayTrainWorker" in " ".join(p.cmdline())
        except psutil.Error:  # a Ray process that just ended (a zombie until reaped)
            return False

    workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if is_training_worker(p)]
    assert workers, log.read_text()[-3000:]
    workers[-1].kill()


def _train_killing_a_worker(args: list[str], stage_dir: Path, log: Path, after_step: int) -> tuple[int, str]:
    """Run the training command ``args``, kill one of its workers past ``after_step``, let it end:
    its exit status and output."""
    with open(log, "w") as f:
        proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=f, stderr=subprocess.STDOUT)
        try:
            _kill_a_training_worker(proc, stage_dir, log, after_step)
            proc.wait(timeout=600)
        finally:
            proc.kill()
    return proc.returncode, log.read_text()


def test_a_worker_killed_mid_stage_is_named_then_restarted_with_max_failures(fixture_data, tmp_path):
    """A worker's death ended the command with Ray's WorkerGroupError traceback and no word of
    --resume; Ray Train's FailureConfig was never set, so nothing could restart it."""
    out = tmp_path / "runs"
    args = _cli(fixture_data, out, "--stage", "eg_pretrain", "--max-steps", "40", "--checkpoint-every", "2")
    status, text = _train_killing_a_worker(args, out / "eg_pretrain", tmp_path / "first.log", after_step=0)
    assert status == 1, text[-3000:]
    last = [line for line in text.splitlines() if line.strip()][-1]
    assert "[train] error: eg_pretrain: training worker rank" in last, text[-3000:]
    assert "its last checkpoint is step" in last and "--resume" in last
    assert "--max-failures N has Ray Train restart the workers itself" in last
    assert not (out / "eg_pretrain" / "final.pt").exists()

    again = [*args, "--resume", "--max-failures", "1"]
    status, text = _train_killing_a_worker(again, out / "eg_pretrain", tmp_path / "second.log", after_step=20)
    assert status == 0, text[-3000:]
    assert "eg_pretrain: Ray Train restarted the workers, from step" in text, text[-3000:]
    after = re.split(r"[\r\n]", text.split("[train] eg_pretrain: done in", 1)[1])
    assert not [line for line in after if "%|" in line], text[-3000:]  # the first attempt's bar is gone
    summary = json.loads((out / "eg_pretrain" / "summary.json").read_text())
    assert summary["metrics"]["step"] == 40 and summary["worker_restarts"] == 1
    assert "(the workers restarted 1x; it/s since the last start)" in text
