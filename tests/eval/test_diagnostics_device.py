"""The model diagnostics (eval.probe, eval.inversion, eval.oracle, eval.capacity) take ``--device`` like
eval.proof and edtalk.infer: the default is auto, and a CUDA device on a machine without one is a
one-line refusal that names the device, not a silent CPU run or a traceback."""

import importlib
import re

import pytest
import torch

from edtalk.config import ModelConfig
from edtalk.model import EDTalk, save_checkpoint

TOOLS = ("eval.probe", "eval.inversion", "eval.oracle", "eval.capacity")


def _args(tool: str, ckpt, data) -> list[str]:
    if tool == "eval.capacity":  # trains its own model: no checkpoint
        return ["--data", str(data), "--no-judge"]
    return ["--ckpt", str(ckpt), "--data", str(data)]


@pytest.mark.parametrize("tool", TOOLS)
def test_the_cli_hands_the_device_to_run(monkeypatch, tmp_path, tool):
    module = importlib.import_module(tool)
    seen = {}

    class Stop(Exception):
        pass

    def fake_run(*args, **kwargs):
        seen["device"] = kwargs.get("device")
        raise Stop

    monkeypatch.setattr(module, "run", fake_run)
    (tmp_path / "c.pt").write_bytes(b"")  # a file to hash (eval.probe stamps its inputs first)
    with pytest.raises(Stop):
        module.main([*_args(tool, tmp_path / "c.pt", tmp_path), "--device", "cpu"])
    assert seen == {"device": "cpu"}
    if tool != "eval.capacity":  # capacity resolves auto itself before run (its judge needs the device)
        with pytest.raises(Stop):
            module.main(_args(tool, tmp_path / "c.pt", tmp_path))
        assert seen == {"device": "auto"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
@pytest.mark.parametrize("tool", TOOLS)
def test_a_cuda_device_without_a_gpu_is_refused_in_one_line(tmp_path, tool, capsys):
    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    module = importlib.import_module(tool)
    assert module.main([*_args(tool, ckpt, tmp_path), "--device", "cuda:0"]) == 2
    err = capsys.readouterr().err
    assert (
        re.match(r"error: --device cuda:0: this machine has no CUDA GPU", err) and len(err.splitlines()) == 1
    )
