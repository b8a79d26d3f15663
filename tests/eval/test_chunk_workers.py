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
    pids = tmp_path / "pids"
    pids.mkdir()

    def fails_on_x(chunk):
        if chunk == ["x"]:
            deadline = time.time() + 60
            while not any(pids.iterdir()) and time.time() < deadline:  # y runs on the other worker
                time.sleep(0.05)
            raise ValueError("chunk x is bad")
        (pids / str(os.getpid())).touch()
        time.sleep(300)  # a chunk whose worker is not stopped runs on (a dropped handle waits for it)
        return where_it_ran(chunk)

    with pytest.raises(ValueError) as raised:
        list(run_chunks(fails_on_x, [["x"], ["y"], ["z"]], args, "t"))
    # the chunk's own error, its message alone (eval.run prints it as one line; it was Ray's header
    # and the remote traceback in ANSI colours), chained to Ray's error, which has the traceback
    assert type(raised.value) is ValueError and str(raised.value) == "chunk x is bad"
    assert isinstance(raised.value.__cause__, ray.exceptions.RayTaskError)
    (busy,) = [int(p.name) for p in pids.iterdir()]
    assert eventually(lambda: not alive(busy)), "the worker still running y was not stopped"
    assert eventually(lambda: ray.available_resources().get("GPU", 0) == 2), "a GPU is still held"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def eventually(condition, within: float = 60) -> bool:
    """Whether ``condition()`` holds within ``within`` seconds (Ray stops actors and frees their
    resources asynchronously)."""
    deadline = time.time() + within
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.ray
def test_the_kept_workers_are_stopped_when_the_block_ends_and_a_cpu_pool_gets_their_cpus(
    ray_with_two_gpus,
):
    """Inside one keep_workers() block a CUDA pool's idle actors hold both CPUs; a CPU pool asked for
    next closes them first (else its actors would never start). At the block's end every actor stops."""
    import threading

    import ray

    args = ray_with_two_gpus
    cpu_args = SimpleNamespace(**{**vars(args), "device": "cpu"})
    outs = []
    with keep_workers():
        outs += run_chunks(where_it_ran, [["g0"], ["g1"]], args, "t")
        done = threading.Thread(target=lambda: outs.extend(run_chunks(where_it_ran, [["c0"]], cpu_args, "t")))
        done.start()
        done.join(timeout=120)
        assert not done.is_alive(), "the CPU pool's actor never started"
    assert [o["gpu"] for o in outs if o["chunk"] == ["c0"]] in ([None], [""])
    assert eventually(lambda: ray.available_resources().get("CPU", 0) == 2), "a kept actor still runs"
    assert eventually(lambda: ray.available_resources().get("GPU", 0) == 2)


class StopWaiting(Exception):
    pass


@pytest.mark.ray
def test_a_call_whose_workers_never_start_says_so_and_waits_on(ray_with_two_gpus, monkeypatch):
    """A worker process that dies as it starts (a broken environment) leaves its actor starting for
    ever, as does a cluster still adding nodes: the call waited in silence. It now says so after
    WAIT_NOTE_S, then after twice as long; stopped, it stops the actors it was waiting for."""
    import ray

    import eval.chunk_runner as chunk_runner

    monkeypatch.setattr(chunk_runner, "WAIT_NOTE_S", 0.5)
    pool = chunk_runner.WorkerPool(ray, use_gpu=False)
    pool.actor_class = ray.remote(num_cpus=1, resources={"a_node_nobody_has": 1})(chunk_runner.ChunkWorker)
    notes, killed = [], []
    kill = pool.kill
    monkeypatch.setattr(pool, "kill", lambda actor: (killed.append(actor), kill(actor)))

    def say(text):
        notes.append(text)
        if len(notes) == 2:
            raise StopWaiting  # as Ctrl-C would

    with pytest.raises(StopWaiting):
        list(chunk_runner._run_on_actors(pool, where_it_ran, [["c0"], ["c1"]], (), None, say=say))
    assert all("no Ray worker has started" in n and "2 asked for" in n for n in notes), notes
    assert "crashed during start" in notes[0] and "worker-*.err" in notes[0]
    assert len(killed) == 2, "the actors it waited for were not stopped"


@pytest.mark.ray
def test_no_waiting_note_while_chunks_run(ray_with_two_gpus, monkeypatch):
    """Chunks that run longer than WAIT_NOTE_S are no reason for the note."""
    import eval.chunk_runner as chunk_runner

    args = SimpleNamespace(**{**vars(ray_with_two_gpus), "device": "cpu"})
    notes = []
    monkeypatch.setattr(chunk_runner, "_stderr_line", lambda bar: notes.append)
    with keep_workers():
        list(run_chunks(where_it_ran, [["c0"], ["c1"]], args, "t"))  # the actors start
        monkeypatch.setattr(chunk_runner, "WAIT_NOTE_S", 0.5)
        outs = list(run_chunks(slowly_where_it_ran, [["c0"], ["c1"], ["c2"]], args, "t"))
    assert len(outs) == 3
    assert notes == []


def slowly_where_it_ran(chunk):
    time.sleep(1.5)
    return where_it_ran(chunk)


def test_a_pool_asks_for_no_more_gpu_workers_than_cpus_and_on_a_cluster_one_per_chunk():
    """A GPU actor books a CPU too: on a private Ray of 2 CPUs and 4 GPUs, 4 actors could not all start.
    On a cluster (--address), whose autoscaler adds nodes for what is asked, a pool asks for one actor
    per chunk, as Ray tasks did (it asked for 1: a head node with no CPUs ran the call on one CPU)."""
    from eval.chunk_runner import WorkerPool

    fake_ray = SimpleNamespace(
        remote=lambda **_: lambda cls: cls, cluster_resources=lambda: {"CPU": 2.0, "GPU": 4.0}
    )
    assert WorkerPool(fake_ray, use_gpu=True).slots(8) == 2
    assert WorkerPool(fake_ray, use_gpu=False).slots(8) == 2
    assert WorkerPool(fake_ray, use_gpu=False).slots(1) == 1
    head_only = SimpleNamespace(remote=fake_ray.remote, cluster_resources=lambda: {"memory": 1e9})
    assert WorkerPool(head_only, use_gpu=False, grows=True).slots(8) == 8
    assert WorkerPool(head_only, use_gpu=False).slots(8) == 1
