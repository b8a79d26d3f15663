"""``python -m benchmarks.stage_step``: seconds per optimiser step of each EDTalk stage, as a ratio to
an eg_pretrain step, in one process (the issue's efficiency figure: what a mouth_pose step costs
against an eg_pretrain step).

Each stage gets one ``edtalk.worker.StageWorker`` (world size 1, gloo on CPU, the DeepSpeed engine of
``--deepspeed``), built on the frame cache and loss experts that ``edtalk.train`` uses, with each
stage's own batch size and losses (at ``tiny`` its demo schedule). The weights stay at
initialisation: a parent checkpoint changes what a step learns, not what it costs. After one warm-up
step each, the stages step in turn for ``--repeats`` rounds and the medians are kept, so every stage
sees the same machine load; the 1-minute load average is printed beside them. The per-stage it/s of
a real run (two Ray workers, one batch each) are in ``runs/<stage>/summary.json``.

    python -m benchmarks.stage_step [--data synthtalk:data/synthtalk] [--preset tiny]
        [--stages S1,S2,... (all six)] [--repeats 20] [--threads 2] [--deepspeed zero0] [--bf16]
        [--batch-size N] [--experts DIR] [--out FILE]

``--preset paper`` is for a GPU, where the result also holds the peak CUDA memory the stages'
tensors held together. On 2 CPU cores (AMD EPYC) a `paper` step at batch 1 took 6.2 s (eg_pretrain)
and 12.7 s (mouth_pose, x2.04) in float32; with ``--bf16`` the same two stages had not finished
three steps each in 15 minutes (this CPU has no bf16 matrix units).
``--smoke`` runs a seconds-long version on a two-clip fixture with loss experts trained for two
steps (tests use it; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import load_average, save_result
from edtalk.cli import model_preset, positive_int, report_error

DEFAULT_EXPERTS = "pretrained:tiny_synthtalk_loss_experts"
REFERENCE = "eg_pretrain"


def build_workers(names: list[str], model_cfg, train_cfg, cache: Path, batch_size: int | None = None) -> dict:
    """One StageWorker per stage name, weights at init, each stage's default schedule (and
    ``batch_size`` for every stage when given)."""
    from edtalk.train_chain import stage_config_for
    from edtalk.worker import StageWorker

    workers = {}
    for name in names:
        stage_cfg = stage_config_for(name, {"batch_size": batch_size}, preset=train_cfg.preset)
        run = {"stage_dir": str(Path(train_cfg.out) / name), "parent": "", "cache": str(cache)}
        config = {
            "model": model_cfg.to_dict(),
            "stage": stage_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "run": run,
        }
        workers[name] = StageWorker(config)
    return workers


def time_steps(workers: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds per ``step()`` of each worker: one warm-up step each, then ``repeats`` rounds in turn."""
    import torch

    def one(worker) -> float:
        t0 = time.perf_counter()
        worker.step()
        if worker.device.type == "cuda":
            torch.cuda.synchronize(worker.device)
        return time.perf_counter() - t0

    for worker in workers.values():
        one(worker)
    seconds: dict[str, list[float]] = {name: [] for name in workers}
    for _ in range(repeats):
        for name, worker in workers.items():
            seconds[name].append(one(worker))
    return seconds


def summarise(seconds: dict[str, list[float]], batch: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per stage: median seconds per step and per sample, and the step's ratio to eg_pretrain's."""
    med = {name: statistics.median(v) for name, v in seconds.items()}
    ref = med.get(REFERENCE)
    return {
        name: {
            "seconds_per_step": s,
            "batch_size": batch[name],
            "seconds_per_sample": s / batch[name],
            **({"step_over_eg_pretrain": s / ref} if ref else {}),
        }
        for name, s in med.items()
    }


def build_parser() -> argparse.ArgumentParser:
    from edtalk.stages import STAGE_NAMES

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stage_step",
        description="Seconds per optimiser step of each EDTalk stage in one process (one StageWorker "
        "each, stepped in turn) and each step's ratio to an eg_pretrain step.",
    )
    parser.add_argument(
        "--data",
        default="synthtalk:data/synthtalk",
        help="<reader>:<root> to train on (synthtalk:data/synthtalk)",
    )
    parser.add_argument("--preset", type=model_preset, default="tiny", help="model preset (tiny)")
    parser.add_argument(
        "--stages", default=",".join(STAGE_NAMES), help="comma-separated stages (default: all six)"
    )
    parser.add_argument("--repeats", type=positive_int, default=20, help="timed steps per stage (20)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=None, help="every stage's batch (default: its own)"
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="torch intra-op threads (2)")
    parser.add_argument(
        "--deepspeed",
        default="zero0",
        choices=["zero0", "zero1", "zero2", "zero3"],
        help="ZeRO stage (zero0)",
    )
    parser.add_argument("--bf16", action="store_true", help="DeepSpeed bf16")
    parser.add_argument(
        "--experts", default=DEFAULT_EXPERTS, help=f"loss-expert folder or shipped set ({DEFAULT_EXPERTS})"
    )
    parser.add_argument(
        "--cache", default="runs/cache", help="frame cache root, shared with edtalk.train (runs/cache)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (tests); figures mean nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.stages.split(",") if n.strip()]
    if not names:  # before: a StopIteration traceback once the fixture and experts were built
        return report_error(f"--stages names no stage ({args.stages!r}); e.g. eg_pretrain,mouth_pose")
    from edtalk.config import ConfigError, ModelConfig, TrainConfig
    from edtalk.data.errors import DataError
    from edtalk.perceptual import auto_perceptual
    from edtalk.pretrained import PretrainedError, resolve
    from edtalk.stages import get_stage
    from edtalk.train_cache import prepare_cache
    from edtalk.train_run import set_env_defaults
    from edtalk.worker_devices import peak_memory, world_of_one_env

    set_env_defaults()
    for key, value in world_of_one_env().items():  # a user's own MASTER_PORT etc. are kept
        os.environ.setdefault(key, value)
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for n in names:
                get_stage(n)  # did-you-mean error for a typo
            model_cfg = ModelConfig.preset(args.preset)
            if args.smoke:
                from edtalk.experts.testing import make_training_fixture

                root, cache, experts = make_training_fixture(tmp, model_cfg.image_size)
                data = f"synthtalk:{root}"
                names, args.repeats = names[:2], 1
            else:
                data, cache, experts = args.data, None, resolve(args.experts, expert_set=True)
            train_cfg = TrainConfig(
                data=data,
                preset=args.preset,
                workers=1,
                deepspeed=args.deepspeed,
                bf16=args.bf16,
                experts=str(experts),
                out=str(Path(tmp) / "runs"),
                cache=str(Path(tmp) / "cache" if args.smoke else args.cache),
                perceptual=auto_perceptual(),  # what auto means here, said once
            )
            cache = cache or prepare_cache(train_cfg, model_cfg)
            workers = build_workers(names, model_cfg, train_cfg, cache, args.batch_size)
        except (ConfigError, DataError, PretrainedError, FileNotFoundError, KeyError, ValueError) as err:
            return report_error(err)
        seconds = time_steps(workers, args.repeats)
        batch = {name: w.stage_cfg.batch_size for name, w in workers.items()}
        first = next(iter(workers.values()))
        device, memory = str(first.device), peak_memory(first.device)  # {} on the CPU
    from edtalk.provenance import machine

    stages = summarise(seconds, batch)
    result = {
        "preset": args.preset,
        "deepspeed": args.deepspeed,
        "bf16": args.bf16,
        "device": device,
        "threads": args.threads,
        "repeats": args.repeats,
        "stages": stages,
        **memory,  # peak_gpu_mem_gib: the most CUDA memory the stages' tensors held together
        "load_average": load_average(),
        "machine": machine(),
        "smoke": args.smoke,
    }
    print(
        f"seconds per optimiser step, {args.preset} preset on {device}, {args.threads} thread(s), "
        f"median of {args.repeats} (load {result['load_average']})"
    )
    for name, s in stages.items():
        ratio = (
            f"   x{s['step_over_eg_pretrain']:.2f} of an eg_pretrain step"
            if "step_over_eg_pretrain" in s
            else ""
        )
        print(f"  {name:<17} {s['seconds_per_step']:.3f} s  (batch {s['batch_size']}){ratio}")
    return save_result(args.out, result)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
