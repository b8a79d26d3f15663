"""``python -m benchmarks.frame_cache``: building the training frame cache of clips without landmark
sidecars (as MEAD or HDTF, where dlib finds the landmarks) in N decoding processes, as a ratio to
one process, in the same run; and the same for clips read with their sidecars (decoding only).

Both sides build the same cache (checked: identical arrays) from synthtalk's train split with the
sidecars hidden (``--clips`` of them) or kept; ``decode_workers`` picks N from this.

    python -m benchmarks.frame_cache [--data data/synthtalk] [--clips 64] [--workers 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks import load_average, save_result
from edtalk.cli import positive_int


def _build(clips: list, workers: int, root: Path) -> tuple[float, Path]:
    import edtalk.data.training as training

    chosen = training.decode_workers
    training.decode_workers = lambda n_clips, detect: workers
    try:
        t0 = time.perf_counter()
        path = training.build_frame_cache(clips, 64, root, progress=False)
        return time.perf_counter() - t0, path
    finally:
        training.decode_workers = chosen


def _same(a: Path, b: Path) -> bool:
    import numpy as np

    return all(
        np.array_equal(np.load(a / f), np.load(b / f), equal_nan=True)
        for f in ("frames.npy", "landmarks.npy")
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.frame_cache", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/synthtalk", help="synthtalk root (default: data/synthtalk)")
    p.add_argument("--clips", type=positive_int, default=64, help="train clips with landmarks detected (64)")
    p.add_argument("--workers", type=positive_int, default=2, help="decoding processes against one (2)")
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    args = p.parse_args(argv)
    from edtalk.data.readers import read_clips

    clips = read_clips("synthtalk", args.data, "train")
    cases = {"dlib": [dataclasses.replace(c, sidecar=None) for c in clips[: args.clips]], "sidecar": clips}
    result = {"workers": args.workers, "load_average": load_average(), "cases": {}}
    for name, case in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            one, path_one = _build(case, 1, Path(tmp) / "one")
            many, path_many = _build(case, args.workers, Path(tmp) / "many")
            assert _same(path_one, path_many), "the two sides built different caches"
        result["cases"][name] = {
            "clips": len(case),
            "one_s": round(one, 2),
            "many_s": round(many, 2),
            "speedup": round(one / many, 2),
        }
        timing = f"1 process {one:6.1f} s, {args.workers} processes {many:6.1f} s, x{one / many:.2f}"
        print(f"{name:8s} {len(case):4d} clips: {timing}")
    print(f"load average {result['load_average']}")
    return save_result(args.out, result)


if __name__ == "__main__":
    raise SystemExit(main())
