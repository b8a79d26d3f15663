"""edtalk.ray_setup: starting Ray, what a private local instance leaves out of Ray Train, the
--address check and the --workers fit check."""

import importlib
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from edtalk.ray_setup import (
    PRIVATE_INSTANCE_ENV,
    ClusterAddressError,
    WorkerFitError,
    check_cluster_address,
    check_workers_fit,
    in_private_instance,
    local_runtime_env,
    worker_shortfall,
)

REPO = Path(__file__).resolve().parents[2]


def test_a_private_instances_workers_are_marked_and_run_no_preemption_watcher():
    env = local_runtime_env({"DS_ACCELERATOR": "cpu"})
    assert env == {
        "env_vars": {
            PRIVATE_INSTANCE_ENV: "1",
            "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
            "DS_ACCELERATOR": "cpu",
        }
    }
    assert set(local_runtime_env()) == {"env_vars"}  # no worker hook to import in every process


def test_trainers_of_a_private_instance_build_no_placement_group_cleaner(monkeypatch):
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
    from ray.train.v2.api import data_parallel_trainer

    from edtalk.train_placement_group import NoPlacementGroupCleaner, leave_out_placement_group_cleaner

    # restored after the test: a Ray upgrade that renames it fails here
    monkeypatch.setattr(data_parallel_trainer, "PlacementGroupCleanerCallback", PlacementGroupCleanerCallback)

    def kinds():
        trainer = TorchTrainer(lambda: None, scaling_config=ScalingConfig(num_workers=1))
        return [
            type(c)
            for c in trainer._create_default_callbacks()
            if isinstance(c, PlacementGroupCleanerCallback)
        ]

    assert kinds() == [PlacementGroupCleanerCallback]
    leave_out_placement_group_cleaner()
    assert kinds() == [NoPlacementGroupCleaner]
    quiet = NoPlacementGroupCleaner()
    quiet.after_controller_start(None)  # no actor, no Ray call
    quiet.after_worker_group_start(None)
    assert quiet._cleaner is None


# A TorchTrainer fit set up as a stage's (edtalk.train_run.stage_run_config, the worker's first call) in
# a private instance started as edtalk.train starts it, beside another Ray on the machine; its worker
# prints one line and reports once.
FIT_BESIDE_ANOTHER_RAY = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    import ray
    from ray.train import ScalingConfig

    from edtalk.train_run import set_env_defaults, stage_run_config, worker_env

    set_env_defaults()
    from edtalk.ray_setup import start_ray

    start_ray(None, num_cpus=1, env_vars=worker_env())
    from ray.train.torch import TorchTrainer

    def loop(config):
        from edtalk.worker import quiet_ray_train_reports

        quiet_ray_train_reports()
        print("one line from the worker", flush=True)
        ray.train.report({"loss": 1.0})

    run_config = stage_run_config(Path(sys.argv[1]), "fit")
    TorchTrainer(loop, scaling_config=ScalingConfig(num_workers=1), run_config=run_config).fit()
    time.sleep(2)  # worker lines reach the driver a moment after the fit (Ray's log monitor)
    ray.shutdown()
    """
)


@pytest.mark.ray
def test_a_stage_beside_another_ray_prints_each_worker_line_once_and_no_cleaner_traceback(tmp_path):
    """Ray Train sent each print of a worker to the driver twice (its print patch tees to stdout and a
    logger), which also brought closed progress bars back; its PlacementGroupCleaner guessed the
    cluster from the machine's processes and, beside another Ray, raised "Found multiple active Ray
    instances" in a traceback per stage; its PreemptionWatcher logged a core-worker error line; its
    INFO lines (nine or more per stage) went to the console."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "RAY_ADDRESS" and not k.startswith(("RAY_TRAIN", "EDTALK"))
    }
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import ray, sys; ray.init(address='local', num_cpus=1, include_dashboard=False);"
            " print('up', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "up"
        proc = subprocess.run(
            [sys.executable, "-c", FIT_BESIDE_ANOTHER_RAY, str(tmp_path)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        other.communicate("", timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert out.count("one line from the worker") == 1, out[-3000:]
    for noise in (
        "PlacementGroupCleaner",
        "multiple active Ray instances",
        "PreemptionWatcher",
        "Traceback",
        "Started training worker group",  # Ray Train's INFO lines
        "Reporting training result",
    ):
        assert noise not in out, out[-3000:]


def test_a_cluster_stage_keeps_ray_trains_info_lines_and_its_cleaner(monkeypatch, tmp_path):
    """A private instance's stage leaves out the INFO lines; on a cluster they also show a worker group
    waiting for the cluster to grow (retried every 60 s at INFO), so they stay there."""
    from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
    from ray.train.v2.api import data_parallel_trainer

    from edtalk.train_run import stage_run_config

    monkeypatch.setattr(data_parallel_trainer, "PlacementGroupCleanerCallback", PlacementGroupCleanerCallback)
    monkeypatch.delenv(PRIVATE_INSTANCE_ENV, raising=False)
    assert stage_run_config(tmp_path, "eg_pretrain").logging_config.log_level == "INFO"
    assert data_parallel_trainer.PlacementGroupCleanerCallback is PlacementGroupCleanerCallback
    monkeypatch.setenv(PRIVATE_INSTANCE_ENV, "1")
    assert stage_run_config(tmp_path, "eg_pretrain").logging_config.log_level == "WARNING"
    assert data_parallel_trainer.PlacementGroupCleanerCallback is not PlacementGroupCleanerCallback


def test_a_submitted_jobs_own_env_vars_are_left_to_it(monkeypatch):
    """`ray job submit --runtime-env-json '{"env_vars": {"HF_HUB_OFFLINE": "0"}}'`: ray.init refused
    the run's environment, which sets HF_HUB_OFFLINE too ("Failed to merge the Job's runtime env")."""
    import json

    import ray
    from ray.runtime_env.runtime_env import _merge_runtime_env

    from edtalk.ray_setup import JOB_CONFIG_ENV, start_ray

    job = {"env_vars": {"HF_HUB_OFFLINE": "0", "RAY_JOB_STOP_WAIT_TIME_S": "30"}}
    monkeypatch.setenv(JOB_CONFIG_ENV, json.dumps({"runtime_env": job}))
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    start_ray("head:6379", env_vars={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    merged = _merge_runtime_env(job, calls[-1]["runtime_env"])  # what ray.init does with the two
    assert merged is not None
    assert merged["env_vars"] == {
        **job["env_vars"],
        "TOKENIZERS_PARALLELISM": "false",
    }  # the job's value wins


def test_start_ray_marks_a_private_instance_and_unmarks_a_joined_cluster(monkeypatch):
    import ray

    from edtalk.ray_setup import start_ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: None)
    monkeypatch.delenv(PRIVATE_INSTANCE_ENV, raising=False)
    start_ray(None)
    assert in_private_instance()
    start_ray("head:6379")  # a driver that inherited the mark (a sweep's parent run) joins a cluster
    assert not in_private_instance() and PRIVATE_INSTANCE_ENV not in os.environ


# -- check_cluster_address: a wrong --address is refused in seconds, not retried for minutes --------


def _serve_once(reply: bytes):
    """A local TCP server that answers its first connection with ``reply``; returns (port, thread)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        with server, server.accept()[0] as conn:
            conn.recv(64)
            conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return port, thread


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def test_an_address_nothing_listens_at_is_refused():
    port = _closed_port()
    with pytest.raises(
        ClusterAddressError, match=rf"no Ray cluster answers at 127\.0\.0\.1:{port}.*ray start --head"
    ):
        check_cluster_address(f"127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(ClusterAddressError, match=rf"127\.0\.0\.1:{port} "):
        check_cluster_address(f"ray://127.0.0.1:{port}", timeout_s=2)


def test_a_server_that_is_not_grpc_is_refused_and_a_grpc_one_accepted():
    port, thread = _serve_once(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # the dashboard's kind of answer
    with pytest.raises(ClusterAddressError, match="not Ray's GCS or Ray Client"):
        check_cluster_address(f"127.0.0.1:{port}", timeout_s=2)
    thread.join(5)
    settings_frame = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # what a gRPC server sends first
    port, thread = _serve_once(settings_frame)
    check_cluster_address(f"127.0.0.1:{port}", timeout_s=2)
    thread.join(5)


@pytest.mark.parametrize(
    "address, message",
    [
        ("http://127.0.0.1:8265", "dashboard .job submission. URL"),
        (":6379", "not host:port"),
        ("head:port", "not host:port"),
        ("head", "not host:port"),
    ],
)
def test_addresses_that_are_not_a_ray_address(address, message):
    with pytest.raises(ClusterAddressError, match=message):
        check_cluster_address(address, timeout_s=2)


def test_auto_and_local_are_left_to_ray():
    check_cluster_address("auto")
    check_cluster_address("local")


@pytest.mark.parametrize(
    "module, argv",
    [
        ("edtalk.train", ["--stage", "eg_pretrain", "--data", "synthtalk:nowhere"]),
        ("eval.run", ["--dataset", "synthtalk", "--root", "nowhere", "--method", "static"]),
        ("sweeps.bank_size", ["--smoke-test", "--root", "nowhere"]),
    ],
)
def test_training_scoring_and_sweeps_check_the_address_before_any_work(module, argv, tmp_path, capsys):
    """Before: `--address 127.0.0.1:1` left each of them waiting on Ray's GCS retries (over 5 min)."""
    import ray

    port = _closed_port()
    cli = importlib.import_module(module)
    assert cli.main([*argv, "--out", str(tmp_path / "out"), "--address", f"127.0.0.1:{port}"]) == 2
    assert f"error: --address 127.0.0.1:{port}: no Ray cluster answers" in capsys.readouterr().err
    assert not ray.is_initialized() and not (tmp_path / "out").exists()


# -- check_workers_fit: more workers than Ray has left a TorchTrainer retrying its start forever ------


def test_each_worker_needs_a_cpu_or_with_gpus_a_gpu():
    assert worker_shortfall(2, False, {"CPU": 2.0}) is None
    assert (
        worker_shortfall(3, False, {"CPU": 2.0}) == "--workers 3 needs 3 CPUs (one per worker), and Ray has 2"
    )
    assert worker_shortfall(2, False, {"CPU": 2.0}, trial_cpu=0.1) == (
        "--workers 2 needs 2.1 CPUs (one per worker plus 0.1 for the trial itself), and Ray has 2"
    )
    assert worker_shortfall(4, True, {"CPU": 1.0, "GPU": 4.0}) is None  # a GPU worker holds no CPU
    assert worker_shortfall(2, True, {"CPU": 64.0, "GPU": 1.0}) == (
        "--workers 2 needs 2 GPUs (one per worker), and Ray has 1"
    )
    assert (
        worker_shortfall(1, True, {"CPU": 64.0}) == "--workers 1 needs 1 GPU (one per worker), and Ray has 0"
    )


def test_a_local_instance_refuses_what_it_cannot_fit_and_a_cluster_warns(capsys):
    with pytest.raises(WorkerFitError, match=r"3 CPUs .* on this machine, .* forever; use --workers 2,"):
        check_workers_fit(3, False, cluster=False, resources={"CPU": 2.0})
    with pytest.raises(WorkerFitError, match="use --workers 1,"):
        check_workers_fit(2, False, cluster=False, resources={"CPU": 2.0}, trial_cpu=0.1)
    with pytest.raises(WorkerFitError, match="needs 1 GPU .* forever; use --device cpu, or join"):
        check_workers_fit(1, True, cluster=False, resources={"CPU": 2.0, "GPU": 0.0})
    with pytest.raises(WorkerFitError, match="forever; use a larger machine, or join"):
        check_workers_fit(1, False, cluster=False, resources={"CPU": 1.0}, trial_cpu=0.1)
    check_workers_fit(2, False, cluster=False, resources={"CPU": 2.0})
    assert capsys.readouterr().err == ""
    check_workers_fit(3, False, cluster=True, resources={"CPU": 2.0})  # an autoscaler may add nodes
    assert "warning: --workers 3 needs 3 CPUs (one per worker), and Ray has 2 now" in capsys.readouterr().err


def test_training_with_more_workers_than_cores_stops_before_any_work(monkeypatch, tmp_path, capsys):
    """Before: `--workers 4` on 2 cores built the cache, started Ray, then Ray Train timed out waiting
    for its worker group every 60 s and retried, with a traceback each time, until killed."""
    import ray

    from edtalk import train

    def no_work(*a, **k):
        raise AssertionError("the run did work before refusing --workers")

    monkeypatch.setattr(train, "local_resources", lambda: {"CPU": 2.0, "GPU": 0.0})
    monkeypatch.setattr(train, "prepare_cache", no_work)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = ["--stage", "eg_pretrain", "--data", "synthtalk:nowhere", "--out", str(tmp_path / "out")]
    assert train.main([*argv, "--workers", "4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --workers 4 needs 4 CPUs (one per worker), and Ray has 2 on this machine")
    assert "use --workers 2" in err
    assert not ray.is_initialized()


def test_training_under_ray_job_submit_joins_the_cluster_in_ray_address(monkeypatch, tmp_path, capsys):
    """`ray job submit -- python -m edtalk.train ...` sets RAY_ADDRESS: the run is the cluster's, so
    its address is checked (here: nothing answers) and the local machine's size refuses nothing
    (before, the 2-core head node refused --workers 4 that the cluster could hold)."""
    from edtalk import train

    def no_work(*a, **k):
        raise AssertionError("the run did work before checking the address")

    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setattr(train, "local_resources", lambda: {"CPU": 2.0, "GPU": 0.0})
    monkeypatch.setattr(train, "prepare_cache", no_work)
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    argv = ["--stage", "eg_pretrain", "--data", "synthtalk:nowhere", "--out", str(tmp_path / "out")]
    assert train.main([*argv, "--workers", "4"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "needs 4 CPUs" not in err


def test_cluster_address_is_the_flag_then_ray_address_then_a_local_instance(monkeypatch):
    from edtalk.ray_setup import cluster_address

    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert cluster_address("other:6379") == "other:6379"
    assert cluster_address("") == cluster_address(None) == "head:6379"
    monkeypatch.delenv("RAY_ADDRESS")
    assert cluster_address("") is None


def test_start_ray_joins_an_address_or_starts_a_private_local_instance(monkeypatch):
    """The one place Ray starts: a local instance is always a new private one (``address="local"``;
    ``ray.init()`` without an address joins a cluster left running on the machine), on 127.0.0.1,
    without the dashboard, with the cleaner hook and the workers' environment."""
    import ray

    from edtalk.ray_setup import start_ray

    calls = []
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    start_ray(None, num_cpus=2, env_vars={"OMP_NUM_THREADS": "1"})
    start_ray("head:6379", num_cpus=2, env_vars={"OMP_NUM_THREADS": "1"}, log_to_driver=False)
    local, joined = calls
    assert local["address"] == "local" and local["_node_ip_address"] == "127.0.0.1"
    assert local["num_cpus"] == 2 and local["include_dashboard"] is False and local["log_to_driver"]
    assert local["runtime_env"] == local_runtime_env({"OMP_NUM_THREADS": "1"})
    assert joined == {
        "address": "head:6379",
        "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}},
        "log_to_driver": False,
        "logging_level": logging.INFO,
    }  # a cluster's size is its own: no num_cpus, and no local-only settings
    assert local["logging_level"] == logging.INFO  # Ray's default: its "Started a local Ray" line
    start_ray(None, num_cpus=2, quiet=True)  # a command's --quiet: Ray's INFO lines too (eval.run printed it)
    assert calls[-1]["logging_level"] == logging.WARNING
    from edtalk import cli

    monkeypatch.setenv("TQDM_MININTERVAL", "45")  # the user's (or a Ray job's runtime env): theirs already
    start_ray("head:6379")
    assert calls[-1]["runtime_env"] is None  # sent again, Ray would refuse to merge it with a job's
    monkeypatch.delenv("TQDM_MININTERVAL")
    monkeypatch.setattr(cli, "_BARS_SLOWED_HERE", False)
    cli.slow_bars_for_logs()  # run_main's, for a log file: every node's bars
    monkeypatch.setenv("TQDM_MININTERVAL", "30")  # restored after the test
    start_ray("head:6379", env_vars={"A": "1"})
    assert calls[-1]["runtime_env"] == {"env_vars": {"TQDM_MININTERVAL": "30", "A": "1"}}
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    start_ray(None)
    assert len(calls) == 5  # a running Ray is kept


def test_a_sweep_whose_trial_cannot_fit_stops_before_training_the_parent(monkeypatch, tmp_path, capsys):
    """A trial holds 0.1 CPU besides its TorchTrainer's workers: --workers 2 on 2 cores never started."""
    import ray

    from sweeps import checks, parent_run, tuner

    def no_work(*a, **k):
        raise AssertionError("the sweep did work before refusing --workers")

    monkeypatch.setattr(checks, "check_inputs", lambda args: setattr(args, "protocol", "synthtalk"))
    monkeypatch.setattr(tuner, "init_ray", lambda address: None)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(parent_run, "prepare_parent", no_work)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = ["--smoke-test", "--root", "nowhere", "--workers", "2", "--storage", str(tmp_path / "tune")]
    assert importlib.import_module("sweeps.bank_size").main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "error: --workers 2 needs 2.1 CPUs (one per worker plus 0.1 for the trial itself)" in (
        capsys.readouterr().err
    )


def test_sigterm_stops_a_ray_command_as_ctrl_c_does(sigterm_after_first_line):
    """ray.init replaced the command's SIGTERM handler with Ray's, which ended the driver at once
    (exit 15, or a C stack trace and 134): a scheduler's stop was a crash, with no "interrupted" line."""
    prelude = """
        import time
        import ray
        from edtalk.ray_setup import start_ray
        start_ray(None, num_cpus=1, quiet=True)
    """
    body = """
        print('started', flush=True)
        ray.get(ray.remote(lambda: time.sleep(120)).remote())
    """
    first, status, rest = sigterm_after_first_line(body, prelude)
    assert first == "started\n" and status == 130 and "interrupted" in rest
