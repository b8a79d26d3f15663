"""Small argparse helpers shared by the command-line tools (no torch import: ``--help`` stays fast)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse ``type`` for counts that must be at least 1 (steps, batch sizes, workers, frames)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n
