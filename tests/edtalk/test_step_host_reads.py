"""How often our code reads a tensor's value back to the host in one training step (``float()``,
``bool()``, ``int()``, ``.item()``, ``.tolist()``): on a GPU each read waits for every kernel queued
before it. Counted on the CPU, where the same calls are made. Reads made inside torch are left out:
torch's Adam reads its per-parameter step counters, which stay on the CPU on a GPU too."""

import traceback

import pytest
import torch

from edtalk.config import STAGE_NAMES

READS = ("__float__", "__bool__", "__int__", "item", "tolist")


class HostReads:
    """Counts the calls of ``READS`` on torch tensors made outside torch while active, by caller."""

    def __init__(self, monkeypatch):
        self.callers: list[str] = []
        for name in READS:
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _original=original, **kwargs):
                caller = traceback.extract_stack(limit=2)[0]
                if "/torch/" not in caller.filename:
                    self.callers.append(f"{caller.filename}:{caller.lineno}")
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)


@pytest.mark.parametrize("stage", [*STAGE_NAMES, "eg_pretrain+adv"])
def test_a_training_step_reads_its_losses_back_once(
    training_fixture, single_process_group, monkeypatch, stage
):
    """The loss and each loss term were read with a float() each (N + 1 waits a step, N of them after
    the optimiser step was queued), and the pose flow's ActNorm layers read their ``initialized`` flag
    on every call; now the loss and its terms come back in one read (the finite check needs it before
    the step), and D's loss, where a stage trains D, in one more."""
    from edtalk.config import TrainConfig
    from edtalk.train_chain import stage_config_for
    from edtalk.worker import StageWorker

    fx = training_fixture
    out = fx["root"] / f"reads_{stage}"
    train_cfg = TrainConfig(
        data=f"synthtalk:{fx['data']}", workers=1, out=str(out), experts=str(fx["root"] / "experts")
    )
    run = {"stage_dir": str(out), "parent": "", "cache": str(fx["cache"])}
    stage, adversarial = stage.removesuffix("+adv"), stage.endswith("+adv")  # +adv: with D (L_adv)
    weights = {"adv": 0.1} if adversarial else {}
    stage_cfg = stage_config_for(stage, {"max_steps": 2, "batch_size": 2, "loss_weights": weights})
    worker = StageWorker(
        {
            "model": fx["model"].to_dict(),
            "stage": stage_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "run": run,
        }
    )
    worker.step()  # the first step initialises ActNorm from the data
    reads = HostReads(monkeypatch)
    terms = worker.step()
    monkeypatch.undo()
    assert (worker.disc is not None) == adversarial
    assert len(reads.callers) == 1 + adversarial, (stage, sorted(terms), reads.callers)
