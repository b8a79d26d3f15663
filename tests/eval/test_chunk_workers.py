"""The Ray actors that run chunks of clips (``eval.chunk_runner.WorkerPool``): one per GPU, each holding
its GPU and its process (so what it loaded) for its life, and kept across the calls of a
``keep_workers()`` block. Ray is started with two logical GPUs, which Ray books as it would real ones
(it sets CUDA_VISIBLE_DEVICES per actor); the work itself never touches CUDA."""

import os
import time
from types import SimpleNamespace

import pytest

from eval.chunk_runner import keep_workers, run_chunks


def where_it_ran(chunk):
    return {"chunk": chunk, "pid": os.getpid(), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}


def after_both_workers_started(folder: str):
    """``where_it_ran``, once two processes have run a chunk (each writes its pid to ``folder`` and
    waits, at most a minute, for a second one): chunks take no time, so one worker that started first
    could otherwise run them all before the other is up."""

    def run(chunk):
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, str(os.getpid())), "w").close()
        deadline = time.time() + 60
        while len(os.listdir(folder)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        return where_it_ran(chunk)

    return run


@pytest.fixture(scope="module")
def ray_with_two_gpus():
    import ray

    from edtalk.ray_setup import local_runtime_env
    from eval.chunk_runner import _worker_env

    args = SimpleNamespace(quiet=True, workers=2, address=None, device="cuda", allow_unverified_weights=False)
    ray.init(
        address="local",
        _node_ip_address="127.0.0.1",
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        runtime_env=local_runtime_env(_worker_env(args)),
    )
    try:
        yield args
    finally:
        ray.shutdown()


@pytest.mark.ray
def test_each_gpu_worker_keeps_its_process_and_its_gpu(ray_with_two_gpus, tmp_path):
    """A GPU task got a new process per chunk (Ray's max_calls=1 for GPU tasks), so each chunk loaded
    the checkpoint and every metric network again; an actor per GPU keeps them."""
    args = ray_with_two_gpus
    chunks = [[f"c{i}"] for i in range(6)]
    work = after_both_workers_started(str(tmp_path / "pids"))
    with keep_workers():
        first = list(run_chunks(work, chunks, args, "t"))
        second = list(run_chunks(work, chunks, args, "t"))  # the next phase or method
    assert sorted(o["chunk"][0] for o in first) == [c[0] for c in chunks]
    gpu_of = {}
    for o in first + second:
        assert gpu_of.setdefault(o["pid"], o["gpu"]) == o["gpu"], "a process changed GPU"
    assert len(gpu_of) == 2, f"6 chunks ran in {len(gpu_of)} processes, not one per GPU"
    assert sorted(gpu_of.values()) == ["0", "1"]
    assert {o["pid"] for o in second} <= {o["pid"] for o in first}


@pytest.mark.ray
def test_a_dead_gpu_worker_is_replaced_and_its_chunk_tried_once_more(ray_with_two_gpus, capsys):
    args = ray_with_two_gpus
    marker = f"/tmp/chunk_workers_{os.getpid()}_died_once"

    def dies_once_on_b(chunk):
        if chunk == ["b"] and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(9)
        if chunk == ["bad"]:
            os._exit(9)
        return where_it_ran(chunk)

    try:
        outs = list(
            run_chunks(
                dies_once_on_b,
                [["a"], ["b"], ["bad"], ["c"]],
                args,
                "t",
                lost=lambda c, why: {"lost": c, "why": why},
            )
        )
    finally:
        if os.path.exists(marker):
            os.remove(marker)
    assert sorted(o["chunk"][0] for o in outs if "chunk" in o) == ["a", "b", "c"]
    (lost,) = [o for o in outs if "lost" in o]
    assert lost["lost"] == ["bad"] and lost["why"].startswith("lost: the Ray worker running it died (")
    assert all(o["gpu"] in ("0", "1") for o in outs if "chunk" in o)
    # said, not only in Ray's raylet paragraph: b and bad died once each, then were tried again
    notes = [line for line in capsys.readouterr().err.splitlines() if "trying them once more" in line]
    assert len(notes) == 2 and notes[0].startswith("note: a Ray worker died while running 1 clip(s) (")


@pytest.mark.ray
def test_a_chunk_error_stops_the_run_and_the_busy_workers(ray_with_two_gpus, tmp_path):
    import ray

    args = ray_with_two_gpus
    finished = tmp_path / "finished"

    def fails_on_x(chunk):
        if chunk == ["x"]:
            time.sleep(0.5)  # y has started on the other worker
            raise ValueError("chunk x is bad")
        time.sleep(4)
        finished.mkdir(exist_ok=True)  # a chunk whose worker was not stopped gets here
        return where_it_ran(chunk)

    with pytest.raises(ValueError) as raised:
        list(run_chunks(fails_on_x, [["x"], ["y"], ["z"]], args, "t"))
    # the chunk's own error, its message alone (eval.run prints it as one line; it was Ray's header
    # and the remote traceback in ANSI colours), chained to Ray's error, which has the traceback
    assert type(raised.value) is ValueError and str(raised.value) == "chunk x is bad"
    assert isinstance(raised.value.__cause__, ray.exceptions.RayTaskError)
    # y's worker was stopped mid-chunk (a dropped actor handle alone lets its chunk run to the end)
    time.sleep(6)
    assert not finished.exists()
    # no actor is left holding a GPU: both are free again (Ray releases a killed actor's soon after)
    deadline = time.time() + 60
    while ray.available_resources().get("GPU", 0) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("GPU", 0) == 2
