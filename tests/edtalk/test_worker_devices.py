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
