"""The Ray actors that run chunks of clips (``eval.chunk_runner.WorkerPool``): one per GPU, each holding
its GPU and its process (so what it loaded) for its life, and kept across the calls of a
``keep_workers()`` block. Ray is started with two logical GPUs, which Ray books as it would real ones
(it sets CUDA_VISIBLE_DEVICES per actor); the work itself never touches CUDA."""

import os
from types import SimpleNamespace

import pytest

from eval.chunk_runner import keep_workers, run_chunks


def where_it_ran(chunk):
    return {"chunk": chunk, "pid": os.getpid(), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}


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
def test_each_gpu_worker_keeps_its_process_and_its_gpu(ray_with_two_gpus):
    """A GPU task got a new process per chunk (Ray's max_calls=1 for GPU tasks), so each chunk loaded
    the checkpoint and every metric network again; an actor per GPU keeps them."""
    args = ray_with_two_gpus
    chunks = [[f"c{i}"] for i in range(6)]
    with keep_workers():
        first = list(run_chunks(where_it_ran, chunks, args, "t"))
        second = list(run_chunks(where_it_ran, chunks, args, "t"))  # the next phase or method
    assert sorted(o["chunk"][0] for o in first) == [c[0] for c in chunks]
    gpu_of = {}
    for o in first + second:
        assert gpu_of.setdefault(o["pid"], o["gpu"]) == o["gpu"], "a process changed GPU"
    assert len(gpu_of) == 2, f"6 chunks ran in {len(gpu_of)} processes, not one per GPU"
    assert sorted(gpu_of.values()) == ["0", "1"]
    assert {o["pid"] for o in second} <= {o["pid"] for o in first}


@pytest.mark.ray
def test_a_dead_gpu_worker_is_replaced_and_its_chunk_tried_once_more(ray_with_two_gpus):
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


@pytest.mark.ray
def test_a_chunk_error_stops_the_run_and_the_busy_workers(ray_with_two_gpus):
    args = ray_with_two_gpus

    def fails_on_x(chunk):
        if chunk == ["x"]:
            raise ValueError("chunk x is bad")
        return where_it_ran(chunk)

    with pytest.raises(ValueError, match="chunk x is bad"):
        list(run_chunks(fails_on_x, [["x"], ["y"], ["z"]], args, "t"))
    # no actor is left holding a GPU (a chunk of an actor still starting would have waited on it
    # forever; now the free one takes them all): a new call gets both
    gpus = {o["gpu"] for o in run_chunks(where_it_ran, [[i] for i in range(8)], args, "t")}
    assert gpus == {"0", "1"}
