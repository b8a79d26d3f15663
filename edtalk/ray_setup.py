"""Ray setup shared by training, sweeps and scoring: starting Ray, the ``--address`` check, and what a
private local instance leaves out of Ray Train.

``start_ray`` is the one place Ray starts: it joins a cluster at an address, or starts a private
local instance (``address="local"``: never a cluster that happens to run on this machine, which
``ray.init()`` without an address would join) on 127.0.0.1 without the dashboard. Training, the
sweeps and scoring join ``cluster_address(--address)``: the flag, else ``$RAY_ADDRESS``, which ``ray
job submit`` sets for its entrypoint (``eval.run --workers 0`` scores in its own process).

``check_cluster_address``: ``ray.init(address="host:port")`` with nothing (or the wrong service)
there retries the GCS connection for minutes without a word beyond Ray's log lines, so a mistyped
address is probed first (one connection: does a gRPC server answer an HTTP/2 preface?) and refused
with a message that says what to give.

``check_workers_fit``: a TorchTrainer whose ``--workers`` need more CPUs (or GPUs) than the cluster
has never starts: Ray Train times out waiting for the worker group every 60 s and tries again, with
a traceback each time, forever. A private local instance cannot grow, so that is an error before any
work; a cluster may (autoscaling), so there it is a warning.

A private local instance leaves out two helpers Ray Train starts per stage, each a Ray actor (a
process start, on a 2-core machine a second of CPU beside the workers' own start) whose job does
not arise on one machine that ends with its driver: the ``PreemptionWatcher`` (for nodes an
autoscaler drains; ``RAY_TRAIN_ENABLE_PREEMPTION_WATCHER=0`` in ``local_runtime_env``, which also
silences the core worker's "has constructor arguments in the object store" error line it caused),
and the detached ``PlacementGroupCleaner`` (``edtalk.train_placement_group``), which frees the
placement group of a controller that died abruptly (a sweep trial's, while the sweep goes on). It
cannot do that here: it asks Ray's State API, which the dashboard serves, and a private instance
runs without one, so every query failed (its warnings were silenced by a worker hook until now); a
sweep's driver does that job instead (``sweeps.placement_groups``).
Asking with no address, it also guessed the cluster from the machine's processes: beside another
Ray on the machine (a second run, a scoring run, a ``ray start`` cluster) it raised "Found multiple
active Ray instances" in a traceback per stage, or asked the other cluster, found no controller
there and quit, with nine lines of warnings (had it found the controller dead after registering the
placement group, it would have freed a live run's). A stage's console there also leaves out Ray
Train's INFO lines (``edtalk.train_run.stage_run_config``). ``in_private_instance`` tells the process
that builds a TorchTrainer (the driver, or a sweep's trial actor) which kind of Ray it is in: the
environment variable ``EDTALK_PRIVATE_RAY`` that ``start_ray`` sets in the driver and
``local_runtime_env`` in every worker. A cluster reached with ``--address`` keeps both helpers.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from edtalk.cli import bar_interval_for_workers

PRIVATE_INSTANCE_ENV = "EDTALK_PRIVATE_RAY"  # "1" in a private local instance's driver and workers


def local_runtime_env(env_vars: Mapping[str, str] | None = None) -> dict:
    """The ``runtime_env`` for ``ray.init`` of a private local instance: ``env_vars`` plus the
    private-instance marker and Ray Train's preemption watcher off (see the module doc)."""
    return {
        "env_vars": {
            PRIVATE_INSTANCE_ENV: "1",
            "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
            **(env_vars or {}),
        }
    }


def in_private_instance() -> bool:
    """Whether this process runs in (or drives) a private local Ray instance of ``start_ray``."""
    return os.environ.get(PRIVATE_INSTANCE_ENV) == "1"


JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # the job config `ray job submit` gives its entrypoint


def job_env_keys() -> set[str]:
    """The environment variables a submitted job's own runtime env sets (``ray job submit
    --runtime-env-json '{"env_vars": ...}'``): ``ray.init`` refuses a runtime env that sets one of
    them again, even to the same value ("Failed to merge the Job's runtime env"), so ``start_ray``
    leaves them to the job's."""
    try:
        config = json.loads(os.environ.get(JOB_CONFIG_ENV) or "{}")
        return set((config.get("runtime_env") or {}).get("env_vars") or {})
    except (ValueError, AttributeError):
        return set()


def cluster_address(address: str | None) -> str | None:
    """The Ray cluster a training run, sweep or scoring run joins: ``address`` (``--address``), else
    ``$RAY_ADDRESS`` (``ray job submit`` sets it for its entrypoint); None: a private local instance."""
    return address or os.environ.get("RAY_ADDRESS") or None


def start_ray(
    address: str | None,
    *,
    num_cpus: int | None = None,
    env_vars: Mapping[str, str] | None = None,
    log_to_driver: bool = True,
    quiet: bool = False,
) -> None:
    """Start Ray in this process unless it runs: join the cluster at ``address``, or (None) start a
    private local instance of ``num_cpus`` CPUs (None: the machine's; ``local_runtime_env``).
    ``env_vars``: the environment of the Ray workers; ``quiet``: without Ray's INFO lines ("Started a
    local Ray instance"), for a command's ``--quiet``."""
    import ray

    if ray.is_initialized():
        return
    level = logging.WARNING if quiet else logging.INFO  # ray.init's default is INFO
    if bars := bar_interval_for_workers():  # the bars' pace for a log file (edtalk.cli) on every node
        env_vars = {**bars, **(env_vars or {})}
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        if address:
            os.environ.pop(PRIVATE_INSTANCE_ENV, None)  # inherited from a driver that started one
            taken = job_env_keys()
            env_vars = {k: v for k, v in (env_vars or {}).items() if k not in taken}
            runtime_env = {"env_vars": env_vars} if env_vars else None
            ray.init(
                address=address, runtime_env=runtime_env, log_to_driver=log_to_driver, logging_level=level
            )
        else:
            ray.init(
                address="local",  # a private instance, even where another cluster runs on this machine
                _node_ip_address="127.0.0.1",
                num_cpus=num_cpus,
                include_dashboard=False,
                runtime_env=local_runtime_env(env_vars),
                log_to_driver=log_to_driver,
                logging_level=level,
            )
            os.environ[PRIVATE_INSTANCE_ENV] = "1"
    finally:  # ray.init sets its own SIGTERM handler first (a command's: edtalk.cli.sigterm_as_ctrl_c)
        if callable(on_sigterm) and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)


CLIENT_PORT = 10001  # Ray Client's default: `ray://host`
ADDRESS_HELP = (
    "give `auto` on a node of the cluster, the GCS address `ray start --head` printed (host:6379), "
    "or ray://host:10001 (Ray Client)"
)


class ClusterAddressError(ValueError):
    """A ``--address`` that no Ray cluster answers at, or the dashboard's URL given for it."""


def check_cluster_address(address: str, timeout_s: float = 5.0) -> None:
    """Refuse an ``--address`` nothing listens at (one TCP connect, at most ``timeout_s``).

    ``auto`` and ``local`` are left to Ray (it answers those at once); ``http(s)://host:8265`` is
    the dashboard, which ``ray job submit --address`` takes but ``ray.init`` does not."""
    if address in ("auto", "local"):
        return
    if address.startswith(("http://", "https://")):
        raise ClusterAddressError(
            f"--address {address}: that is the dashboard (job submission) URL, which `ray job submit "
            f"--address` takes; a run joins the cluster by another address: {ADDRESS_HELP}"
        )
    client = address.startswith("ray://")
    try:
        parts = urlsplit(address if client else f"//{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not (port or client):  # Ray itself refuses a GCS address without its port
        raise ClusterAddressError(f"--address {address!r}: not host:port; {ADDRESS_HELP}")
    port = port or CLIENT_PORT
    try:
        speaks_grpc = _answers_http2(host, port, timeout_s)
    except OSError as err:
        why = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ClusterAddressError(
            f"--address {address}: no Ray cluster answers at {host}:{port} ({why}); is its head running "
            f"(`ray start --head`)? {ADDRESS_HELP[0].upper()}{ADDRESS_HELP[1:]}"
        ) from None
    if not speaks_grpc:
        raise ClusterAddressError(
            f"--address {address}: something answers at {host}:{port}, but not Ray's GCS or Ray Client "
            f"(they speak gRPC; is this the dashboard's port?); {ADDRESS_HELP}"
        )


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + empty SETTINGS
HTTP2_SETTINGS = 4  # frame type, the 4th byte of a frame header


def _answers_http2(host: str, port: int, timeout_s: float) -> bool:
    """Whether ``host:port`` answers an HTTP/2 client preface with a SETTINGS frame, as the gRPC
    servers of Ray's GCS and Ray Client do; raises OSError when nothing accepts the connection."""
    with socket.create_connection((host, port), timeout=timeout_s) as conn:
        conn.settimeout(timeout_s)
        try:
            conn.sendall(HTTP2_PREFACE)
            head = b""
            while len(head) < 4:
                chunk = conn.recv(4 - len(head))
                if not chunk:
                    break
                head += chunk
        except OSError:  # a reset or silence after accepting: not a gRPC server
            return False
    return len(head) == 4 and head[3] == HTTP2_SETTINGS


class WorkerFitError(ValueError):
    """``--workers`` asks a private local Ray instance for more CPUs (or GPUs) than it has."""


def worker_shortfall(
    workers: int, use_gpu: bool, resources: Mapping[str, float], trial_cpu: float = 0.0
) -> str | None:
    """Why ``workers`` Ray Train workers cannot all start on ``resources`` (``ray.cluster_resources()``
    or ``local_resources()``), or None. Ray Train's defaults: one CPU per worker, or one GPU (and no
    CPU) per worker with ``use_gpu``; ``trial_cpu`` is what a Tune trial's own process holds."""
    kind = "GPU" if use_gpu else "CPU"
    need = workers + (0.0 if use_gpu else trial_cpu)
    have = float(resources.get(kind, 0.0))
    if need <= have + 1e-9:
        return None
    extra = f" plus {trial_cpu:g} for the trial itself" if trial_cpu and not use_gpu else ""
    kinds = kind if need == 1 else f"{kind}s"
    return f"--workers {workers} needs {need:g} {kinds} (one per worker{extra}), and Ray has {have:g}"


def local_resources() -> dict[str, float]:
    """The CPUs and GPUs a private local ``ray.init()`` on this machine will have (Ray's own count:
    cgroup quota and CPU affinity included)."""
    import ray._private.utils
    import torch

    return {"CPU": float(ray._private.utils.get_num_cpus()), "GPU": float(torch.cuda.device_count())}


def check_workers_fit(
    workers: int,
    use_gpu: bool,
    *,
    cluster: bool,
    resources: Mapping[str, float] | None = None,
    trial_cpu: float = 0.0,
) -> None:
    """Stop (local: ``WorkerFitError``) or warn (``cluster``: it may grow) when ``workers`` cannot start.
    ``resources``: the connected cluster's when None."""
    if resources is None:
        import ray

        resources = ray.cluster_resources()
    problem = worker_shortfall(workers, use_gpu, resources, trial_cpu)
    if problem is None:
        return
    if not cluster:
        fit = int(resources.get("GPU" if use_gpu else "CPU", 0) - (0 if use_gpu else trial_cpu) + 1e-9)
        advice = f"--workers {fit}" if fit >= 1 else "--device cpu" if use_gpu else "a larger machine"
        raise WorkerFitError(
            f"{problem} on this machine, so training would wait for them forever; use {advice}, or join a "
            "larger cluster with --address"
        )
    print(
        f"warning: {problem} now; Ray Train waits (and retries every 60 s) until the cluster grows "
        "to fit them: stop the run (Ctrl-C) if it will not",
        file=sys.stderr,
        flush=True,
    )
