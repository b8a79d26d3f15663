"""What a Ray Train worker trains on: the device Ray booked for it, not whatever it can see."""

import os

import pytest

from edtalk.worker_devices import check_shared_folder, hide_gpus_unless_booked


def test_a_worker_booked_no_gpu_sees_none(monkeypatch):
    """Before: workers picked cuda:<local rank> whenever CUDA was visible, and Ray leaves every GPU
    visible to a worker it booked none for (--device cpu on a GPU box, or auto on a cluster whose
    GPU nodes were not up yet): GPUs Ray never reserved, gloo under ZeRO, invalid ordinals."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    hide_gpus_unless_booked({"use_gpu": True})
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    hide_gpus_unless_booked({})  # a run dict from before the field: unchanged
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    hide_gpus_unless_booked({"use_gpu": False})
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""


def test_a_frame_cache_missing_on_a_workers_node_says_out_must_be_shared(tmp_path):
    check_shared_folder(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="on a cluster --out must be a folder every node shares"):
        check_shared_folder(str(tmp_path / "frames.cache"))


BROADCAST_RANK = """
import os, sys, torch, torch.distributed as dist
from edtalk.config import ModelConfig
from edtalk.model import EDTalk
from edtalk.worker_devices import broadcast_buffers_from_rank0
rank = int(os.environ["RANK"])
dist.init_process_group("gloo", rank=rank, world_size=2)
torch.manual_seed(rank)  # each rank builds its model from its own seed, as StageWorker does
model = EDTalk(ModelConfig.preset("tiny"))
drawn = ("banks.orientation.mouth", "pose_flow.steps.0.1.perm", "pose_flow.steps.0.1.sign_s")
buffers = dict(model.named_buffers())
before = [buffers[k].flatten().tolist() for k in drawn]
names = broadcast_buffers_from_rank0(model, 2)
after = [buffers[k].flatten().tolist() for k in drawn]
print(repr((names, before, after)))
dist.destroy_process_group()
"""


def test_every_rank_takes_rank_0s_bank_orientation():
    """DeepSpeed broadcasts rank 0's parameters, never buffers: ranks that started without a parent kept
    their own orientation (drawn from their own seed's V) and drew different bases from one V (a review
    ran two DeepSpeed ranks: 19 of 36 columns differed), and their own pose-flow LU permutation."""
    import ast
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BROADCAST_RANK],
            env={**env, "RANK": str(r)},
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    outs = [ast.literal_eval(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    (names, before0, after0), (_, before1, after1) = outs
    assert {"banks.orientation.mouth", "pose_flow.steps.0.1.perm", "pose_flow.steps.0.1.sign_s"} <= set(names)
    assert all(b0 != b1 for b0, b1 in zip(before0, before1, strict=True))  # the seeds drew them apart
    assert after0 == after1 == before0
