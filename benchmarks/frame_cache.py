"""``python -m benchmarks.frame_cache``: building the training frame cache of clips without landmark
sidecars (as MEAD or HDTF, where dlib finds the landmarks) in N decoding processes, as a ratio to
one process, in the same run; and the same for clips read with their sidecars (decoding only).

Both cases take the first ``--clips`` clips of synthtalk's train split, with their sidecars hidden
(dlib) or kept (sidecar); ``decode_workers`` picks N from this. Before any timing the clips' files are
read once (page cache), dlib's models are loaded and each side builds the cache of two clips
(warm-up); then the two sides alternate (``benchmarks.alternate``), ``--repeats`` times,
each build into a fresh folder (no cache reuse), and the medians are kept. Every build must hold the
same cache as the first (checked: frames, landmarks, mel windows and meta.json); the 1-minute load
average and the machine are recorded beside them. The N processes are spawned afresh for every build
(as ``build_frame_cache`` does), so on a busy machine their start (torch, dlib) can outweigh the
parallel decoding: at load 3.4-4.6 on 2 shared cores, 32 clips, 2 processes were x0.55 with dlib.

    python -m benchmarks.frame_cache [--data data/synthtalk] [--clips 64] [--workers 2] [--repeats 3]
                                     [--out FILE]

``--smoke`` runs a short version on a two-clip synthtalk generated in a temporary folder, without
the warm-up builds (tests use it; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import tempfile
from pathlib import Path

from benchmarks import alternate, load_average, save_result
from edtalk.cli import positive_int, report_error
from edtalk.provenance import machine

CACHE_SIZE = 64
SIDES = ("one", "many")


def _build(clips: list, workers: int, root: Path) -> Path:
    """``build_frame_cache`` of ``clips`` into ``root`` with ``workers`` decoding processes."""
    import edtalk.data.training as training

    chosen = training.decode_workers
    training.decode_workers = lambda n_clips, detect: workers
    try:
        return training.build_frame_cache(clips, CACHE_SIZE, root, progress=False)
    finally:
        training.decode_workers = chosen


def same_cache(a: Path, b: Path) -> bool:
    """Whether two cache folders hold the same frames, landmarks, mel windows, waveform rows and meta.json."""
    import numpy as np

    arrays = all(
        np.array_equal(np.load(a / f, mmap_mode="r"), np.load(b / f, mmap_mode="r"), equal_nan=True)
        for f in ("frames.npy", "landmarks.npy", "mels.npy", "wavs.npy")
    )
    return arrays and json.loads((a / "meta.json").read_text()) == json.loads((b / "meta.json").read_text())


def _warm(clips: list, workers: int, root: Path, builds: bool = True) -> None:
    """Read the clips' files once (a cold page cache would slow the first side only), load dlib's
    models in this process and (``builds``) build the cache of two clips on each side."""
    from edtalk.data.face_landmarks import face_detector, shape_predictor

    for clip in clips:
        for path in (clip.video, clip.audio, clip.sidecar):
            if path is not None and Path(path).is_file():
                Path(path).read_bytes()
    if any(c.sidecar is None for c in clips):
        face_detector(), shape_predictor()
    if builds:
        for side, n in zip(SIDES, (1, workers), strict=True):
            _build(clips[:2], n, root / f"warm-{side}")


def time_case(
    clips: list, workers: int, repeats: int, root: Path, warm_builds: bool = True
) -> dict[str, list[float]]:
    """Seconds of each side's build of ``clips`` (1 and ``workers`` processes), alternating after a
    warm-up, each into a fresh folder under ``root``; asserts that every build made the same cache."""
    _warm(clips, workers, root, warm_builds)
    count = itertools.count()
    sides = {
        side: lambda n=n, side=side: _build(clips, n, root / f"{side}-{next(count)}")
        for side, n in zip(SIDES, (1, workers), strict=True)
    }
    seconds, paths = alternate(sides, repeats)
    first = paths["one"][0]
    for path in paths["one"][1:] + paths["many"]:
        if not same_cache(first, path):
            raise AssertionError(f"the two sides built different caches ({first} vs {path})")
    return seconds


def smoke_dataset(root: Path) -> Path:
    """A synthtalk of two 64 px train clips (and one judge and test person) under ``root``."""
    from edtalk.data.synthtalk.generate import generate
    from edtalk.data.synthtalk.presets import Preset

    preset = Preset("smoke", 64, (1, 1, 1), 1, 1.0, 1.2, emotions=("happy",), levels=(1, 3))
    generate(root, preset, workers=1, progress=False)
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.frame_cache", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/synthtalk", help="synthtalk root (default: data/synthtalk)")
    p.add_argument("--clips", type=positive_int, default=64, help="train clips in each case (64)")
    p.add_argument("--workers", type=positive_int, default=2, help="decoding processes against one (2)")
    p.add_argument(
        "--repeats", type=positive_int, default=3, help="timed builds per side and case (3; median)"
    )
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    p.add_argument("--smoke", action="store_true", help="short run (tests); figures mean nothing")
    args = p.parse_args(argv)
    from edtalk.data.errors import DataError
    from edtalk.data.readers import read_clips

    with tempfile.TemporaryDirectory() as tmp:
        data = smoke_dataset(Path(tmp) / "synthtalk") if args.smoke else Path(args.data)
        if args.smoke:
            args.repeats = 1
        try:
            clips = read_clips("synthtalk", data, "train")[: args.clips]
        except (DataError, FileNotFoundError) as err:
            return report_error(err)
        cases = {"dlib": [dataclasses.replace(c, sidecar=None) for c in clips], "sidecar": clips}
        result = {
            "data": "smoke (generated)" if args.smoke else str(data),
            "workers": args.workers,
            "repeats": args.repeats,
            "cache_size": CACHE_SIZE,
            "cases": {},
        }
        load_before = load_average()
        for name, case in cases.items():
            seconds = time_case(case, args.workers, args.repeats, Path(tmp) / name, not args.smoke)
            one, many = (statistics.median(seconds[side]) for side in SIDES)
            result["cases"][name] = {
                "clips": len(case),
                "one_s": round(one, 2),
                "many_s": round(many, 2),
                "speedup": round(one / many, 2),
                "seconds_all": {side: [round(s, 2) for s in v] for side, v in seconds.items()},
                "identical": True,  # checked by time_case
            }
            timing = f"1 process {one:6.1f} s, {args.workers} processes {many:6.1f} s, x{one / many:.2f}"
            print(f"{name:8s} {len(case):4d} clips, median of {args.repeats}: {timing}")
    result.update(load_average=[load_before, load_average()], machine=machine(), smoke=args.smoke)
    print(f"load average {load_before} at start, {result['load_average'][1]} at end")
    return save_result(args.out, result)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
