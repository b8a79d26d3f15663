"""Throughput benchmarks (``make bench``), each a ratio against a reference run in the same process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def alternate(sides: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, list[float]], dict]:
    """(seconds of every call of each side, what each side's calls returned): ``repeats`` rounds, the
    sides called in their order in even rounds and reversed in odd ones, so neither always runs first
    (after the other has warmed a cache, or on a machine whose load is rising). Warm up before."""
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    outputs: dict[str, list] = {name: [] for name in sides}
    for r in range(repeats):
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            t0 = time.perf_counter()
            out = sides[name]()
            seconds[name].append(time.perf_counter() - t0)
            outputs[name].append(out)
    return seconds, outputs
