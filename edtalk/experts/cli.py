"""The ``train`` command of the two synthtalk experts: its flags and ``TrainSettings`` (torch is imported
by the training itself, in ``edtalk.experts.train``, so ``--help`` answers at once).

    python -m edtalk.experts train --data data/synthtalk --split judge --out runs/judges
    python -m edtalk.experts train --data data/synthtalk --split train --out runs/experts

``--split`` picks the identity split (``train``: training-loss experts; ``judge``: evaluation
judges); the split guard refuses clips whose identities belong to another split, and ``test`` is
never trainable.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from edtalk.cli import (
    name_subcommands,
    non_negative_int,
    positive_float,
    positive_int,
    report_error,
    unwritable,
)
from edtalk.experts.names import EXPERT_NAMES, LOSS_EXPERT_STEPS


@dataclass(frozen=True)
class TrainSettings:
    face_steps: int = LOSS_EXPERT_STEPS["face_analyser"]  # optimiser steps of the face analyser
    sync_steps: int = LOSS_EXPERT_STEPS["sync_net"]  # optimiser steps of the sync net
    batch_size: int = 64  # frames per face-analyser step
    sync_clips: int = 4  # clips per sync-net step (all their lip windows)
    lr: float = 2e-3  # peak learning rate of the face analyser (one-cycle schedule, AdamW)
    sync_lr: float = 1e-3  # peak learning rate of the sync net (2e-3 collapsed its embeddings)
    seed: int = 0
    max_clips: int | None = None  # use at most this many clips of the split (smoke runs)
    progress: bool = True
    mixup: float = 0.5  # share of aligned faces mixed with another face (``mix_faces``)
    parallel: bool = True  # train the sync net in a second process (one core each) beside the face analyser
    # the face analyser also trains on stills of this many rendered people of no split
    # (``edtalk.experts.extra_identities``): a judge's from the judges' range, a training-loss
    # expert's from the training range (``edtalk.train --extra-identities``'s people)
    extra_identities: int = 0
    extra_frames_per_clip: int = 4  # stills per emotion x level of each extra person
    # From this face-analyser step on it runs on twice the threads (the sync net beside it has finished by
    # then and is waited for), at a fixed step so that the result does not depend on timing: 5.4 -> 8.3
    # steps/s on an idle 2-core machine. The sync net's 600 steps take ~140 s, ~700 face-analyser steps.
    face_more_threads_step: int = 700


def add_train_arguments(
    parser: argparse.ArgumentParser, extra_identities: int = 0, face_steps: int | None = None
) -> None:
    """The training flags; ``extra_identities`` and ``face_steps`` set their flags' defaults."""
    d = TrainSettings()
    face_steps = face_steps or d.face_steps
    parser.add_argument("--data", required=True, type=Path, help="synthtalk root (e.g. data/synthtalk)")
    parser.add_argument(
        "--face-steps", type=positive_int, default=face_steps, help=f"face analyser steps ({face_steps})"
    )
    parser.add_argument(
        "--sync-steps", type=positive_int, default=d.sync_steps, help=f"sync net steps ({d.sync_steps})"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=d.batch_size, help=f"frames per face step ({d.batch_size})"
    )
    parser.add_argument(
        "--lr", type=positive_float, default=d.lr, help=f"peak learning rate, face analyser ({d.lr:g})"
    )
    parser.add_argument(
        "--sync-lr",
        type=positive_float,
        default=d.sync_lr,
        help=f"peak learning rate, sync net ({d.sync_lr:g})",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=d.seed, help=f"seed of the run, >= 0 ({d.seed})"
    )
    parser.add_argument(
        "--max-clips", type=positive_int, default=None, help="use at most N clips (smoke runs)"
    )
    parser.add_argument(
        "--extra-identities",
        type=non_negative_int,
        default=extra_identities,
        help="the face analyser also trains on stills of N rendered people that belong to no split "
        f"(more faces than the split's few, so expression is not read from face shape; {extra_identities})",
    )
    parser.add_argument(
        "--extra-frames-per-clip",
        type=positive_int,
        default=d.extra_frames_per_clip,
        help=f"stills per emotion x level of each extra person ({d.extra_frames_per_clip})",
    )
    parser.add_argument("--only", choices=tuple(EXPERT_NAMES), default=None, help="train only one expert")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="train the two experts one after the other in this process (default: sync net in a "
        "second process, one core each)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads (1: small convs thrash with 2 threads on shared cores)",
    )


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    """The flags' ``TrainSettings``; sets torch's CPU threads to ``--threads``."""
    import torch

    torch.set_num_threads(args.threads)
    return TrainSettings(
        face_steps=args.face_steps,
        sync_steps=args.sync_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        sync_lr=args.sync_lr,
        seed=args.seed,
        max_clips=args.max_clips,
        progress=not args.no_progress,
        parallel=not args.sequential,
        extra_identities=args.extra_identities,
        extra_frames_per_clip=args.extra_frames_per_clip,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edtalk.experts",
        description="Train the synthtalk expert networks (face analyser + sync net) on one identity split.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train both experts on --split and save them to --out")
    add_train_arguments(p)
    p.add_argument(
        "--split",
        required=True,
        choices=("train", "judge"),
        help="identity split: train = training-loss experts, judge = evaluation judges",
    )
    p.add_argument(
        "--out", required=True, type=Path, help="output folder (safetensors files + manifest.json)"
    )
    name_subcommands(sub)
    args = parser.parse_args(argv)
    if problem := unwritable(args.out / "manifest.json"):  # before the training, not after it
        return report_error(f"--out {args.out}: cannot write the experts here ({problem})")
    from edtalk.data.errors import DataError
    from edtalk.experts.data import SplitLeakError
    from edtalk.experts.train import train_experts

    only = (args.only,) if args.only else tuple(EXPERT_NAMES)
    try:
        paths = train_experts(args.data, args.split, args.out, settings_from_args(args), only)
    except (DataError, SplitLeakError, FileNotFoundError) as err:  # a missing dataset: one line
        return report_error(err)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from edtalk.cli import run_main

    run_main(main)
