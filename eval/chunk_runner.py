"""Running chunks of clips: as Ray tasks (a private local Ray, or a cluster with ``--address``) or
in this process (``--workers 0``), with a progress bar; ``run_chunks`` yields each chunk's result as
it completes.

Ray workers import this module (``_run_in`` is shipped by reference): keep its top-level imports
light; Ray and tqdm are imported inside the functions."""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eval.run_checks import UsageError


def _worker_env(args: argparse.Namespace) -> dict[str, str]:
    """Environment variables of the Ray workers: one thread each, and the driver's weights folder,
    verification setting, offline mode and PYTHONPATH (so they import this checkout)."""
    env = {"RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    for k in ("EDTALK_BENCH_WEIGHTS", "EDTALK_BENCH_ALLOW_UNVERIFIED", "HF_HUB_OFFLINE", "PYTHONPATH"):
        if os.environ.get(k):
            env[k] = os.environ[k]
    if env.get("EDTALK_BENCH_WEIGHTS"):  # the driver's folder, wherever a worker starts
        env["EDTALK_BENCH_WEIGHTS"] = str(Path(env["EDTALK_BENCH_WEIGHTS"]).expanduser().resolve())
    if args.allow_unverified_weights:
        env["EDTALK_BENCH_ALLOW_UNVERIFIED"] = "1"
    return env


def _init_ray(args: argparse.Namespace):
    """Start Ray (a private local Ray of ``--workers`` CPUs, or join ``--address``) unless it runs
    already; refuses a CUDA ``--device`` where Ray has no GPU. Returns the ``ray`` module."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if not ray.is_initialized():
        from edtalk.ray_setup import start_ray

        t0 = time.perf_counter()
        start_ray(args.address or None, num_cpus=max(args.workers, 1), env_vars=_worker_env(args))
        if not args.quiet:
            print(f"Ray started in {time.perf_counter() - t0:.1f} s")
    if args.device.startswith("cuda") and ray.cluster_resources().get("GPU", 0) < 1:
        where = f"the Ray cluster at {args.address}" if args.address else "the local Ray"
        raise UsageError(
            f"--device {args.device}: {where} has no GPU, so no task could start (use --device cpu)"
        )
    return ray


def run_chunks(
    fn: Callable,
    chunks: list[list],
    args: argparse.Namespace,
    desc: str,
    extra: tuple = (),
    lost: Callable[[list, str], dict] | None = None,
) -> Iterator[dict]:
    """Yield ``fn(chunk, *extra)`` for each chunk as it completes, with a clips/s progress bar:
    in this process (``--workers 0``) or as Ray tasks (tqdm over ``ray.wait`` completions). A task
    whose Ray worker died (killed for memory, a crash in native code) is tried once more; when it
    dies again, ``lost(chunk, reason)`` stands for its result (its clips' failures) and the other
    tasks go on. An exception raised by ``fn`` itself stops the run; so does a caller that stops
    iterating (the tasks still pending are cancelled)."""
    from tqdm import tqdm

    total = sum(len(c) for c in chunks)
    if total == 0:
        return  # nothing to do: do not start Ray
    with tqdm(
        total=total, unit="clip", desc=desc, disable=args.quiet or total == 0, dynamic_ncols=True
    ) as bar:
        if args.workers == 0 and not args.address:
            for chunk in chunks:
                out = fn(chunk, *extra)
                bar.update(len(chunk))
                yield out
            return
        ray = _init_ray(args)
        opts = {"num_cpus": 1, "max_retries": 1}  # retries follow a dead worker, not an exception
        if args.device.startswith("cuda"):
            opts["num_gpus"] = 1
        remote = ray.remote(**opts)(_run_in)
        shared = [ray.put(x) for x in extra]
        cwd = os.getcwd()
        pending = {remote.remote(cwd, fn, chunk, *shared): chunk for chunk in chunks}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                chunk = pending.pop(done[0])
                try:
                    out = ray.get(done[0])
                except ray.exceptions.RayTaskError as e:
                    raise e.as_instanceof_cause() from None
                except ray.exceptions.RayError as e:  # the worker process or its node died
                    if lost is None:
                        raise
                    first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
                    out = lost(
                        chunk, f"lost: the Ray worker running it died ({type(e).__name__}: {first_line})"
                    )
                bar.update(len(chunk))
                yield out
        finally:  # an error here, or the caller stopping early (a chunk's fatal error): cancel the rest
            for ref in pending:
                ray.cancel(ref, force=True)


def _run_in(cwd: str, fn: Callable, chunk: list, *extra: Any) -> Any:
    """A Ray task: ``fn(chunk, *extra)`` from the driver's working folder, so that relative paths
    (``--root data/synthtalk``, ``--out``, ``--ckpt``) mean on a cluster's workers what they mean to
    the driver wherever the folder is shared; a worker without it keeps its own folder."""
    if os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    return fn(chunk, *extra)


def split_into_chunks(items: list, args: argparse.Namespace) -> list[list]:
    """``items`` in chunks of ``--chunk`` (default: one per clip in this process; on Ray about 4
    tasks per worker, at most 8 clips each)."""
    if not items:
        return []
    if args.chunk:
        size = args.chunk
    elif args.workers == 0 and not args.address:
        size = 1  # in-process: a row per clip reaches the cache as soon as it is scored
    else:
        size = min(8, max(1, math.ceil(len(items) / (4 * max(args.workers, 1)))))
    return [items[i : i + size] for i in range(0, len(items), size)]
