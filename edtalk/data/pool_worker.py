"""What a worker process of the suite's pools does as it starts (``edtalk.data.crop``, the frame
cache's decoders, the synthtalk generator, the extra training identities, the loss experts' sync-net
child): leave Ctrl-C to its parent, which stops the pool (no traceback from every worker), and end
when its parent is gone. A parent killed outright (``kill -9``, out of memory) cannot stop its pool,
and a worker in the middle of a clip (minutes for a crop) went on with it, then waited for work that
never came. ``worker_pool`` is such a pool for a ``concurrent.futures`` caller."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PARENT_POLL_S = 1.0  # how often a worker looks for its parent


def start_pool_worker() -> None:
    """A pool's ``initializer``: ignore SIGINT, and exit (status 1) once the parent process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def exit_with_parent() -> None:
        while os.getppid() == parent:  # an orphan is handed to another process (init, a subreaper)
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True).start()


def stop_workers(pool) -> None:
    """Terminate a ``ProcessPoolExecutor``'s processes (on Ctrl-C: its running jobs are not waited for,
    which exiting would do): ``terminate_workers`` (Python 3.14), else each of its processes."""
    stop = getattr(pool, "terminate_workers", None)
    if stop is not None:
        stop()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # before 3.14: not public
        process.terminate()


@contextmanager
def worker_pool(workers: int, stop_on: tuple[type[BaseException], ...] = (KeyboardInterrupt,)) -> Iterator:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned ``start_pool_worker`` processes. On leaving, the
    jobs not started are cancelled; on ``stop_on`` (Ctrl-C; a generator's caller stopping it early is
    ``GeneratorExit``) the running ones are stopped, not waited for."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_pool_worker
    )
    try:
        yield pool
    except stop_on:
        stop_workers(pool)
        raise
    finally:
        pool.shutdown(cancel_futures=True)
