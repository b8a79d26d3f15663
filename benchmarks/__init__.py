"""Throughput benchmarks (``make bench``), each a ratio against a reference run in the same process."""

from __future__ import annotations

import os
from pathlib import Path


def load_average() -> float:
    """The 1-minute load average, printed beside every timing: a busy machine explains an odd ratio."""
    return round(os.getloadavg()[0], 2)


def save_result(out: Path | None, result: dict) -> int:
    """Write a benchmark's result JSON when ``--out`` was given; the exit status of its main."""
    if out:
        from edtalk.atomic import write_json

        write_json(out, result, indent=2)
        print(f"written: {out}")
    return 0
