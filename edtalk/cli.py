"""Small argparse helpers shared by the command-line tools (no torch import: ``--help`` stays fast)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from edtalk.atomic import write_json


def positive_int(text: str) -> int:
    """argparse ``type`` for counts that must be at least 1 (steps, batch sizes, workers, frames)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def mp4_path(text: str) -> str:
    """argparse ``type`` for a video output: the writer always makes an H.264/AAC mp4, so the name says so."""
    if not text.lower().endswith(".mp4"):
        raise argparse.ArgumentTypeError(f"{text!r}: the output is an mp4 video; give a path ending in .mp4")
    return text


def add_device_option(parser: argparse.ArgumentParser, what: str = "the model") -> None:
    """``--device`` as every model-running CLI spells it (read with ``edtalk.driving.resolve_device``)."""
    parser.add_argument(
        "--device",
        default="auto",
        help=f"torch device for {what}: auto (a CUDA GPU when there is one, else the CPU), cpu, cuda, "
        "cuda:N (default auto)",
    )


def report_error(err: object) -> int:
    """Print a user's mistake (bad path, checkpoint, dataset, device) as one ``error:`` line; exit status 2.

    Every command-line tool ends a run it cannot do this way instead of with a traceback.
    """
    print(f"error: {err}", file=sys.stderr)
    return 2


def print_and_save(compute: Callable[[], dict], describe: Callable[[dict], str], out: Path | None) -> int:
    """The end of a diagnostic tool (``eval.probe``, ``eval.inversion``, ``eval.oracle``): run it,
    print its table and, with ``--out``, write the result as JSON.

    A user's mistake (a bad checkpoint, dataset or option: CheckpointError, DataError, ValueError)
    ends the run as one ``error:`` line, exit 2.
    """
    from edtalk.data.errors import DataError
    from edtalk.model import CheckpointError  # loads torch: only once a tool runs, never for --help

    try:
        result = compute()
    except (CheckpointError, DataError, ValueError) as exc:
        return report_error(exc)
    print(describe(result))
    if out:
        write_json(out, result)
        print(f"written: {out}")
    return 0
