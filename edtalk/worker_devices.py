"""A training worker's devices and ranks: the GPU it trains on (or none, when Ray booked none), the
shared folder it must see, a world of one process outside Ray, means and gradient all-reduces over
the ranks, and its peak GPU memory.

Heavy imports (torch, ray) are inside functions, so the driver imports this module without them.
"""

from __future__ import annotations

import os
from pathlib import Path


def world_of_one_env() -> dict[str, str]:
    """The variables torch.distributed reads to start a world of one process on this machine (a free
    loopback port): what a StageWorker outside Ray (tests, benchmarks.stage_step) needs set."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
    }


def mean_over_ranks(values: dict[str, float], world: int, device) -> dict[str, float]:
    """Each value's mean over the ranks: the loss of the global batch, not rank 0's share of it.

    Collective: every rank calls it at the same step with the same keys (the stage's loss terms).
    Ray Train keeps the first worker's reported metrics only, and ranks checkpoints by them. The
    ranks' batches are the same size, so the mean of their means is the global batch mean. (gloo
    has no ReduceOp.AVG: a sum, then / world.)
    """
    import torch
    import torch.distributed as dist

    if world <= 1:
        return dict(values)
    keys = sorted(values)
    total = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return {k: v / world for k, v in zip(keys, total.tolist(), strict=True)}


def broadcast_buffers_from_rank0(module, world: int) -> list[str]:
    """Give every rank rank 0's buffers (all but boolean flags, which no rank draws); returns their names.

    Collective. DeepSpeed broadcasts rank 0's parameters at ``initialize``, never buffers, and each rank
    builds its model from its own seed (seed + rank): buffers drawn at initialisation would differ
    between ranks that start without a parent, and so would what they compute: the banks' orientation
    (``edtalk.modules.navigation``: the bases) and the pose flow's LU permutation and signs. Buffers
    loaded from a parent or equal by construction are unchanged by it."""
    import torch
    import torch.distributed as dist

    shared = {name: buffer for name, buffer in module.named_buffers() if buffer.dtype != torch.bool}
    if world > 1:
        for buffer in shared.values():
            dist.broadcast(buffer, src=0)
    return list(shared)


def all_reduce_grads(module, world: int) -> None:
    import torch.distributed as dist

    if world <= 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def hide_gpus_unless_booked(run: dict) -> None:
    """A worker Ray booked no GPU for (``--device cpu``, or auto on a cluster that showed none when
    the stage started) must not train on one: Ray leaves every GPU visible to such a worker, and
    ``cuda:<local rank>`` would be a GPU Ray never reserved, another trial's, or none at all.
    Before CUDA is first touched in this process."""
    if run.get("use_gpu") is False:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""


def check_shared_folder(cache: str) -> None:
    """The driver builds the frame cache under ``--out`` and the workers read it (and write their
    checkpoints there): on a cluster ``--out`` must be a folder every node sees."""
    if not Path(cache).exists():
        import socket

        node = socket.gethostname()
        raise FileNotFoundError(
            f"{cache}: the frame cache the driver built is not on this worker's node ({node}); "
            "on a cluster --out must be a folder every node shares (e.g. NFS; docs/cluster.md)"
        )


def worker_gpu(local_rank: int):
    """This worker's GPU: the one Ray Train assigned (``ray.train.torch.get_device``) under Ray,
    ``cuda:<local rank>`` when used directly (tests)."""
    import torch

    try:
        from ray.train.torch import get_device

        return get_device()
    except (ImportError, RuntimeError, ValueError, AttributeError):
        return torch.device("cuda", local_rank)


def peak_memory(device) -> dict[str, float]:
    """{"peak_gpu_mem_gib": the most CUDA memory this worker's tensors held so far} on a GPU; {} on CPU."""
    import torch

    if getattr(device, "type", str(device)) != "cuda":
        return {}
    return {"peak_gpu_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30}
