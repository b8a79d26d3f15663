"""What a stage does when its workers fail: a worker whose process died, named in one line
(``WorkerDied``), a restart by Ray Train (``--max-failures``) told apart from a first start, and the
progress bars dead workers leave on the driver.

A killed worker (``kill -9``, the kernel's OOM killer, a native crash, a lost node) or one Ray's
memory monitor ended reaches the driver as a ``WorkerGroupError`` whose rank failed Ray Train's
health check; the other ranks then fail too (their collective's peer is gone), a consequence.

A worker's ``ray.experimental.tqdm_ray`` bar is drawn by the driver's bar manager and closed when the
worker closes it: a worker that died never does, and Ray's patched ``print`` redrew its last state
after every later line, to the end of the command (the error or "interrupted" line, the next
stages' lines after a restart). The bar manager is Ray's private API (Ray is pinned).
"""

from __future__ import annotations

from pathlib import Path

LOG_MONITOR_LAG_S = 2.0  # how long workers' last lines take to reach the driver (Ray's log monitor)
STARTED_FILE = "worker_group_starts"  # in the stage folder: "<run token> <worker groups started>"


class WorkerDied(Exception):
    """A training worker's process ended mid-stage more often than ``--max-failures`` lets Ray Train
    restart the workers; the stage's registered checkpoints stay for --resume. ``ranks``: {rank:
    why, in Ray's words}."""

    def __init__(self, ranks: dict[int, str], message: str = ""):
        self.ranks = ranks
        super().__init__(message or dead_workers_text(ranks))

    def __reduce__(self):  # raised in a sweep's trial actor, it travels to the driver pickled
        return (type(self), (self.ranks, str(self)))


def dead_workers_text(ranks: dict[int, str]) -> str:
    """ "training worker rank 1 died (Ray: ...)" for each dead rank."""
    return "; ".join(f"training worker rank {r} died (Ray: {why})" for r, why in sorted(ranks.items()))


def dead_worker_ranks(failures: dict) -> dict[int, str]:
    """The ranks of a ``WorkerGroupError`` whose process died rather than raised: Ray Train's health
    check found the actor gone (``WorkerHealthCheckFailedError`` around a ``RayActorError``, or an
    ``OutOfMemoryError`` when Ray's memory monitor ended it). A rank's own error is left to Ray."""
    from ray.exceptions import OutOfMemoryError, RayActorError
    from ray.train.v2._internal.exceptions import WorkerHealthCheckFailedError

    dead = {}
    for rank, error in failures.items():
        cause = getattr(error, "health_check_failure", None)
        if not isinstance(error, WorkerHealthCheckFailedError) or not isinstance(
            cause, RayActorError | OutOfMemoryError
        ):
            continue
        if isinstance(cause, OutOfMemoryError):
            dead[int(rank)] = "ended by Ray's memory monitor: its node ran out of memory"
            continue
        text = str(getattr(cause, "error_msg", "") or cause).strip()
        dead[int(rank)] = text.splitlines()[0] if text else type(cause).__name__
    return dead


def worker_group_starts(stage_dir: Path, run_token: str) -> int:
    """How many worker groups the ``edtalk.train`` call of ``run_token`` has started for this stage
    (2 or more: Ray Train restarted them); 0 when none recorded one."""
    try:
        token, _, count = (stage_dir / STARTED_FILE).read_text().partition(" ")
        return int(count) if token == run_token else 0
    except (OSError, ValueError):
        return 0


def is_restart(stage_dir: Path, run_token: str) -> bool:
    """Whether this worker group is a restart by Ray Train within one ``edtalk.train`` call (its
    ``run_token``) rather than the call's first start; records this start. Rank 0 only."""
    starts = worker_group_starts(stage_dir, run_token) + 1
    (stage_dir / STARTED_FILE).write_text(f"{run_token} {starts}")
    return starts > 1


def _bar_manager():
    """The driver's tqdm_ray bar manager; None where no worker bar was drawn (a sweep's trial actor)
    or where Ray no longer has one by that name."""
    from ray.experimental import tqdm_ray

    return getattr(tqdm_ray, "_manager", None)


def drop_worker_bars() -> None:
    """Take down every bar on this driver and ignore any state still on its way: for a stage that
    stopped early (a worker died, Ctrl-C, a worker's error), after which the command ends."""
    manager = _bar_manager()
    if manager is None:
        return
    with manager.lock:
        manager.process_state_update = lambda state: None
        for group in manager.bar_groups.values():
            _close_bars(group)


def drop_bars_of_gone_workers() -> None:
    """After a stage that finished after a restart (``worker_group_starts`` > 1), or on a sweep's
    driver after a trial failed (``sweeps.worker_bars``): take down the bars of this machine's worker
    processes that are gone (the first attempts' rank 0) and ignore their late states. A worker on
    another node is left (its process cannot be looked up from here). Not after a stage without a
    restart: its workers end as ``fit()`` returns, and a bar's last state may still be on its way."""
    import psutil

    manager = _bar_manager()
    if manager is None:
        return
    with manager.lock:
        gone = set()  # the closed bars, by uuid: a later process that reuses a pid keeps its own bars
        for (ip, pid), group in manager.bar_groups.items():
            if ip != manager.ip or not group.bars_by_uuid:
                continue
            try:
                alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                gone.update(group.bars_by_uuid)
                _close_bars(group)
        if gone:
            update = manager.process_state_update

            def skip_gone(state, update=update, gone=frozenset(gone)):
                if state.get("uuid") not in gone:
                    update(state)

            manager.process_state_update = skip_gone
            if callable(offsets := getattr(manager, "_update_offsets", None)):
                offsets()  # the bars left move up into the freed lines


def _close_bars(group) -> None:
    for bar in group.bars_by_uuid.values():
        bar.bar.leave = False  # cleared, not left as a last line
        bar.bar.close()
    group.bars_by_uuid.clear()
