"""Running chunks of clips: on Ray actors (a private local Ray, or a cluster with ``--address``), one
per CPU or per GPU (``WorkerPool``), or in this process (``--workers 0``), with a progress bar;
``run_chunks`` yields each chunk's result as it completes. Inside ``keep_workers()`` the actors, and
the networks they loaded, serve every ``run_chunks`` call of the block.

Ray workers import this module (``ChunkWorker`` and ``_run_in`` are shipped by reference): keep its
top-level imports light; Ray and tqdm are imported inside the functions."""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import os
import sys
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
        start_ray(
            args.address or None, num_cpus=max(args.workers, 1), env_vars=_worker_env(args), quiet=args.quiet
        )
        if not args.quiet:
            print(f"Ray started in {time.perf_counter() - t0:.1f} s")
    if args.device.startswith("cuda") and ray.cluster_resources().get("GPU", 0) < 1:
        where = f"the Ray cluster at {args.address}" if args.address else "the local Ray"
        raise UsageError(
            f"--device {args.device}: {where} has no GPU, so no worker could start (use --device cpu)"
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
    in this process (``--workers 0``) or on Ray actors (``WorkerPool``; tqdm over ``ray.wait``
    completions). A chunk whose Ray worker died (killed for memory, a crash in native code) is tried
    once more on a new one; when it dies again, ``lost(chunk, reason)`` stands for its result (its
    clips' failures) and the other chunks go on. An exception raised by ``fn`` itself stops the run;
    so does a caller that stops iterating (the chunks still running are stopped with their actors)."""
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
        use_gpu = args.device.startswith("cuda")
        kept = _KEPT_POOLS is not None
        pools = _KEPT_POOLS if kept else {}
        for gpu, other in pools.items():
            if gpu != use_gpu:
                other.close()  # its idle actors hold CPUs this pool's actors may need
        if use_gpu not in pools:
            pools[use_gpu] = WorkerPool(ray, use_gpu, grows=bool(args.address))
        pool = pools[use_gpu]
        try:
            for chunk, out in _run_on_actors(pool, fn, chunks, extra, lost, say=_stderr_line(bar)):
                bar.update(len(chunk))
                yield out
        finally:
            if not kept:
                pool.close()


def _stderr_line(bar: Any) -> Callable[[str], None]:
    """Print a line to stderr above the progress bar."""

    def say(text: str) -> None:
        bar.write(text, file=sys.stderr)

    return say


class ChunkWorker:
    """A Ray actor that runs chunks (``_run_in``) for its pool's life, so its process keeps what the
    first chunk loaded (the per-process caches: ``eval.backbones.get_backbone``,
    ``baselines.edtalk_methods.EDTalkMethod.generator``)."""

    def ready(self) -> None:
        """Answers once the actor's process has started."""

    def run(self, cwd: str, fn: Callable, chunk: list, *extra: Any) -> Any:
        return _run_in(cwd, fn, chunk, *extra)


class WorkerPool:
    """The Ray actors that run chunks: on a private local Ray one per CPU, or one per GPU with a CUDA
    ``--device``; on a cluster up to one per chunk (``slots``). Each books its CPU or GPU for its life.
    Ray tasks ran the chunks before, but a GPU task gets a new process each time (Ray's ``max_calls=1``
    for GPU tasks), so every chunk of 8 clips loaded the checkpoint and every metric network again;
    reusing task processes would not do either, since a process keeps the GPU it first initialised
    CUDA on while Ray books its next task another. Kept across the ``run_chunks`` calls inside
    ``keep_workers()`` (generation then scoring, and several methods); else closed at the end of
    each call."""

    def __init__(self, ray: Any, use_gpu: bool, grows: bool = False) -> None:
        self.ray = ray
        self.use_gpu = use_gpu
        self.grows = grows  # a cluster reached with --address, which an autoscaler may grow
        self.idle: list = []
        resources = {"num_cpus": 1, "num_gpus": 1} if use_gpu else {"num_cpus": 1}
        self.actor_class = ray.remote(**resources)(ChunkWorker)

    def slots(self, wanted: int) -> int:
        """How many actors a run of ``wanted`` chunks asks for. A private local Ray: its CPUs
        (``--workers``), or its GPUs with a CUDA device, no more than its CPUs (each actor books one).
        A cluster (``grows``): one per chunk, as Ray tasks asked for, so that an autoscaler adds nodes
        for them (a head node of no CPUs, nodes started on demand). Actors the cluster has no room for
        wait to start without holding a chunk, and are stopped when the chunks are done."""
        if self.grows:
            return max(1, wanted)
        resources = self.ray.cluster_resources()
        cpus = int(resources.get("CPU", 0))
        room = min(int(resources.get("GPU", 0)), cpus) if self.use_gpu else cpus
        return max(1, min(wanted, room))

    def take(self, n: int) -> list:
        """``n`` actors: idle ones first, then new ones."""
        taken, self.idle = self.idle[:n], self.idle[n:]
        return taken + [self.new_actor() for _ in range(n - len(taken))]

    def new_actor(self) -> Any:
        return self.actor_class.remote()

    def give_back(self, actor: Any) -> None:
        self.idle.append(actor)

    def kill(self, actor: Any) -> None:
        """Stop an actor (a chunk it still runs stops with it); ``ray.kill`` of one already dead is a
        no-op. Not once Ray has shut down: ``ray.kill`` would start a new Ray to look the actor up."""
        if not self.ray.is_initialized():
            return
        try:
            self.ray.kill(actor, no_restart=True)
        except self.ray.exceptions.ActorHandleNotFoundError:
            pass  # a handle of an earlier Ray session: nothing of it runs in this one

    def close(self) -> None:
        """Stop the idle actors (the busy ones are stopped by ``_run_on_actors``)."""
        for actor in self.idle:
            self.kill(actor)
        self.idle = []


_KEPT_POOLS: dict[bool, WorkerPool] | None = None  # the pools of an open keep_workers() block


@contextlib.contextmanager
def keep_workers() -> Iterator[None]:
    """Inside the block, ``run_chunks`` calls share their Ray actors (one pool for the CPU, one for
    CUDA), so each actor loads a checkpoint or metric network once for the whole block; they are
    stopped when it ends."""
    global _KEPT_POOLS
    if _KEPT_POOLS is not None:  # nested: the outer block keeps them
        yield
        return
    _KEPT_POOLS = {}
    try:
        yield
    finally:
        pools, _KEPT_POOLS = _KEPT_POOLS, None
        for pool in pools.values():
            pool.close()


MAX_TRIES = 2  # a chunk whose worker died is tried once more on a new one (as Ray's max_retries=1)
WAIT_NOTE_S = 60.0  # with clips waiting and none running, a note after this long (then at doubling waits)


class WorkersDidNotStart(RuntimeError):
    """Ray could not start the actors that run chunks (a broken worker environment, say)."""


def _waiting_note(n_starting: int, waited: float) -> str:
    """What a call that has waited ``waited`` seconds for any of ``n_starting`` actors says: Ray waits
    on a worker process that dies as it starts (a broken environment) as it waits on nodes a cluster
    is adding, so a timeout could not tell them apart; the note names both."""
    return (
        f"note: no Ray worker has started for {waited:.0f} s ({n_starting} asked for, no clip running). "
        "A cluster may be adding nodes; otherwise a worker may be dying as it starts: Ray then prints "
        "'(raylet) ... probably it crashed during start' with its error, and keeps its logs (worker-*.err "
        "in /tmp/ray/session_latest/logs of the node). Ctrl-C stops the call; a rerun resumes it."
    )


def _remote_cause(err: Any) -> BaseException:
    """The exception a chunk raised on its actor, as itself (its message alone, which ``eval.run``
    prints as one ``error:`` line), chained to Ray's error, which carries the remote traceback."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        cause.__cause__ = err
        return cause
    return err.as_instanceof_cause()


def one_line(err: BaseException) -> str:
    """``Type: the first line of its message``."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def _run_on_actors(
    pool: WorkerPool,
    fn: Callable,
    chunks: list[list],
    extra: tuple,
    lost: Callable | None,
    say: Callable[[str], None] = print,
) -> Iterator[tuple[list, Any]]:
    """Yield (chunk, result) as the pool's actors finish them. An actor gets a chunk once it has
    started and the next one as it becomes free, so no chunk waits on an actor the cluster has no room
    for while others are free. An actor that dies is replaced (``run_chunks`` says what becomes of its
    chunk); a chunk's exception is raised here; on any exit the actors still busy or starting are
    stopped, the others returned to the pool."""
    ray = pool.ray
    shared = [ray.put(x) for x in extra]
    cwd = os.getcwd()
    todo = collections.deque(range(len(chunks)))
    tries: collections.Counter = collections.Counter()
    running: dict[Any, tuple[Any, int]] = {}  # a chunk's call -> (actor, chunk index)
    starting: dict[Any, Any] = {}  # an actor's ready() call -> actor
    failed_starts = 0

    def add_actor(actor: Any) -> None:
        starting[actor.ready.remote()] = actor

    def start_next(actor: Any) -> None:
        if not todo:
            pool.give_back(actor)
            return
        i = todo.popleft()
        tries[i] += 1
        running[actor.run.remote(cwd, fn, chunks[i], *shared)] = (actor, i)

    n_actors = pool.slots(len(chunks))
    for actor in pool.take(n_actors):
        add_actor(actor)
    since = time.monotonic()  # the last time an actor started or a chunk ended
    note_at = since + WAIT_NOTE_S
    try:
        while running or (todo and starting):
            timeout = None if running else max(0.0, note_at - time.monotonic())
            done, _ = ray.wait([*running, *starting], num_returns=1, timeout=timeout)
            now = time.monotonic()
            if not done:  # every actor still starting, for a while now: say so, then wait twice as long
                say(_waiting_note(len(starting), now - since))
                note_at = now + (now - since)
                continue
            since, note_at = now, now + WAIT_NOTE_S
            if done[0] in starting:
                actor = starting.pop(done[0])
                try:
                    ray.get(done[0])
                except ray.exceptions.RayError as e:  # its process did not start
                    pool.kill(actor)
                    failed_starts += 1
                    if failed_starts > len(chunks) + n_actors:
                        raise WorkersDidNotStart(
                            f"Ray could not start a worker for the clips ({failed_starts} tries): "
                            f"{one_line(e)}"
                        ) from None
                    add_actor(pool.new_actor())
                    continue
                start_next(actor)
                continue
            actor, i = running.pop(done[0])
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayTaskError as e:  # fn raised: the actor lives on
                pool.give_back(actor)
                raise _remote_cause(e)  # noqa: B904 - chained to Ray's error by _remote_cause
            except ray.exceptions.RayError as e:  # the actor's process or its node died
                pool.kill(actor)
                if tries[i] < MAX_TRIES:  # tried once more, first, on a new actor
                    say(
                        f"note: a Ray worker died while running {len(chunks[i])} clip(s) ({one_line(e)}); "
                        "trying them once more on a new one"
                    )
                    todo.appendleft(i)
                    add_actor(pool.new_actor())
                    continue
                if lost is None:
                    raise
                if todo:
                    add_actor(pool.new_actor())
                out = lost(chunks[i], f"lost: the Ray worker running it died ({one_line(e)})")
            else:
                start_next(actor)
            yield chunks[i], out
    finally:  # an error, Ctrl-C, or the caller stopping early (a chunk's fatal error)
        for actor, _ in running.values():
            pool.kill(actor)
        for actor in starting.values():
            pool.kill(actor)


def _run_in(cwd: str, fn: Callable, chunk: list, *extra: Any) -> Any:
    """A chunk's work on a Ray actor: ``fn(chunk, *extra)`` from the driver's working folder, so that
    relative paths (``--root data/synthtalk``, ``--out``, ``--ckpt``) mean on a cluster's workers what
    they mean to the driver wherever the folder is shared; a worker without it keeps its own folder."""
    if os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    return fn(chunk, *extra)


def split_into_chunks(items: list, args: argparse.Namespace) -> list[list]:
    """``items`` in chunks of ``--chunk`` (default: one per clip in this process; on Ray about 4
    chunks per worker, at most 8 clips each)."""
    if not items:
        return []
    if args.chunk:
        size = args.chunk
    elif args.workers == 0 and not args.address:
        size = 1  # in-process: a row per clip reaches the cache as soon as it is scored
    else:
        size = min(8, max(1, math.ceil(len(items) / (4 * max(args.workers, 1)))))
    return [items[i : i + size] for i in range(0, len(items), size)]
