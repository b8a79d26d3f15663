"""``train_loop_per_worker``'s bookkeeping on a stand-in StageWorker and a stand-in ``ray.train``.

No DeepSpeed, no Ray runtime: what the loop logs to TensorBoard and reports to Ray, for losses we
choose. Two ranks run as two processes joined by a gloo group, as Ray Train's CPU workers are.
"""

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest


def loss_of(rank: int, step: int) -> dict[str, float]:
    """The stand-in's loss terms at ``step`` on ``rank``: different on every step and rank."""
    return {"loss": float(step + 100 * rank), "rec": float(-step)}


class FakeWorker:
    """What ``train_loop_per_worker`` uses of a StageWorker; ``load`` resumes at ``start``."""

    def __init__(self, start: int, max_steps: int, log_every: int, checkpoint_every: int, out: str):
        import torch

        self.start = start
        self.stage_cfg = SimpleNamespace(
            name="fake", max_steps=max_steps, log_every=log_every, checkpoint_every=checkpoint_every
        )
        self.train_cfg = SimpleNamespace(zero_stage=0)
        self.run = {"stage_dir": out}
        self.device = torch.device("cpu")

    def __call__(self, config, rank, world, local_rank):  # stands in for the StageWorker class
        self.rank, self.step_done = rank, 0
        return self

    def load(self, folder):
        self.step_done = self.start
        return self.start

    def step(self):
        self.step_done += 1
        return loss_of(self.rank, self.step_done)

    def save(self, folder, step):
        pass

    def full_state(self):
        return {}

    def export(self, path, step, state=None):
        return path


def run_loop(rank, world, port, start, max_steps, log_every, checkpoint_every, out, patch=setattr):
    """Run the real loop on rank ``rank`` of ``world``; writes {"reports", "scalars"} to out/rank<r>.json.

    ``patch`` is monkeypatch.setattr in-process (undone after the test), the builtin in a child.
    """
    import ray.experimental.tqdm_ray
    import ray.train
    import torch
    import torch.distributed as dist
    import torch.utils.tensorboard

    from edtalk import worker as worker_module

    rank, world, port, start, max_steps = int(rank), int(world), int(port), int(start), int(max_steps)
    log_every, checkpoint_every = int(log_every), int(checkpoint_every)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    reports, scalars = [], []

    class Writer:
        def __init__(self, log_dir, purge_step):
            pass

        def add_scalar(self, tag, value, step):
            scalars.append([tag, float(value), int(step)])

        def close(self):
            pass

    class Bar:
        def __init__(self, *a, **k):
            pass

        def update(self, n):
            pass

        def close(self):
            pass

    ckpt = None
    if start:
        ckpt = SimpleNamespace(as_directory=lambda: contextlib.nullcontext(str(out)))
    ctx = SimpleNamespace(
        get_world_rank=lambda: rank,
        get_world_size=lambda: world,
        get_local_rank=lambda: 0,
        get_local_world_size=lambda: world,
    )
    patch(ray.train, "get_context", lambda: ctx)
    patch(ray.train, "get_checkpoint", lambda: ckpt)
    patch(ray.train, "report", lambda metrics, checkpoint=None: reports.append(metrics))
    patch(ray.train, "Checkpoint", SimpleNamespace(from_directory=lambda d: d))
    patch(ray.experimental.tqdm_ray, "tqdm", Bar)
    patch(torch.utils.tensorboard, "SummaryWriter", Writer)
    fake = FakeWorker(start, max_steps, log_every, checkpoint_every, str(out))
    patch(worker_module, "StageWorker", fake)
    threads = torch.get_num_threads()
    try:
        worker_module.train_loop_per_worker({})
    finally:
        torch.set_num_threads(threads)
        if world > 1:
            dist.destroy_process_group()
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({"reports": reports, "scalars": scalars}))


def _scalars(out: Path, rank: int = 0) -> dict[int, float]:
    """{step: the TensorBoard loss} that rank wrote."""
    found = json.loads((out / f"rank{rank}.json").read_text())["scalars"]
    return {step: value for tag, value, step in found if tag == "fake/loss"}


@pytest.mark.parametrize(
    "start, max_steps, expected",
    [
        (0, 12, {10: 5.5, 12: 11.5}),  # a fresh run: windows 1-10, 11-12
        (5, 12, {10: 8.0, 12: 11.5}),  # resumed at 5: the first window is steps 6-10 (was 40 / 10)
        (5, 8, {8: 7.0}),  # resumed at 5, ends at 8: steps 6-8 (was 21 / 8)
    ],
    ids=["fresh", "resumed", "resumed-short"],
)
def test_tensorboard_means_count_the_steps_in_each_window(tmp_path, monkeypatch, start, max_steps, expected):
    """A TensorBoard point is the mean of the steps since the previous point. The count came from
    ``step % log_every``, which assumed windows start at multiples of log_every: after a resume at
    5 the step-10 point was the sum of 5 steps divided by 10."""
    run_loop(0, 1, 0, start, max_steps, 10, 4, tmp_path, patch=monkeypatch.setattr)
    assert _scalars(tmp_path) == expected
    reports = json.loads((tmp_path / "rank0.json").read_text())["reports"]
    # Ray's reports: means since the previous report (every 4 steps and at the end)
    ends = [s for s in range(start + 1, max_steps + 1) if s % 4 == 0 or s == max_steps]
    firsts = [start + 1, *(e + 1 for e in ends[:-1])]
    assert [(r["step"], r["loss"]) for r in reports] == [
        (e, (f + e) / 2) for f, e in zip(firsts, ends, strict=True)
    ]


def test_reported_and_logged_losses_are_means_over_all_ranks(tmp_path):
    """Ray Train keeps rank 0's reported metrics only (the "best" checkpoint, summary.json), and
    rank 0 alone writes TensorBoard: both showed rank 0's half of the global batch."""
    from edtalk.worker_devices import world_of_one_env

    port = world_of_one_env()["MASTER_PORT"]
    here = str(Path(__file__).resolve())
    code = "import runpy, sys; runpy.run_path(sys.argv[1])['run_loop'](*sys.argv[2:])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, here, str(r), "2", port, "0", "4", "2", "2", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0, out[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text())["reports"] for r in (0, 1)]
    # steps 1-2 then 3-4; rank 0's loss is the step, rank 1's is the step + 100
    expected = [(2, 51.5, -1.5), (4, 53.5, -3.5)]
    for reports in ranks:
        assert [(r["step"], r["loss"], r["rec"]) for r in reports] == expected
    assert _scalars(tmp_path) == {2: 51.5, 4: 53.5}
    assert _scalars(tmp_path, rank=1) == {}  # rank 1 logs nothing
