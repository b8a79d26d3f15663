"""A data tool's pool worker (crop, synthtalk) leaves Ctrl-C to its parent and ends when the parent is
killed outright: a crop worker went on with its clip, then waited, after a kill -9 of the tool."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from edtalk.data.pool_worker import start_pool_worker

pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=start_pool_worker)
ignores = pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
print(pool.submit(os.getpid).result(), ignores, flush=True)
pool.submit(time.sleep, 120)  # a long clip
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited and not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_pool_worker_ignores_ctrl_c_and_ends_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        pid, ignores_ctrl_c = parent.stdout.readline().split()
        worker = int(pid)
        assert ignores_ctrl_c == "True" and _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the worker outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)
