"""``python -m benchmarks.face_crop``: the detection pass of ``edtalk.data.face_crop`` on raw HD frames
with detection on frames scaled to ``DETECT_LONG_SIDE`` (as shipped) against detection at full size,
as a ratio, in the same run. Both sides must find the same face (their squares within 3 % of a side).

The clip is a synthtalk face pasted into a grey 1920x1080 canvas (MEAD's raw size), drifting. dlib's
detector is built and each side warmed up on the first frames before any timing; then the sides
alternate (``alternate``), ``--repeats`` times, and the medians are kept; the 1-minute load average
and the machine are recorded beside them. On 2 shared cores at load 3-4 medians of 5 gave x6.5 to
x8.5 from run to run, medians of 15 x7.3 to x7.8 (a run takes about 30 s).

    python -m benchmarks.face_crop [--frames 50] [--repeats 15] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from benchmarks import alternate, load_average, save_result
from edtalk.cli import positive_int
from edtalk.provenance import machine

CANVAS = (1080, 1920)
FACE = 560


def raw_clip(n_frames: int) -> np.ndarray:
    """(T, 1080, 1920, 3) uint8: a rendered face of FACE px, moving 2 px a frame."""
    import cv2

    from edtalk.data.synthtalk import render_frame, sample_identity
    from edtalk.data.synthtalk.expression import neutral_expression

    identity = sample_identity(np.random.default_rng(0))
    pose = dict(yaw=0.0, pitch=0.0, roll=0.0, tx=0.0, ty=0.0, scale=1.0, mouth_width=0.0, mouth_round=0.0)
    frames = np.full((n_frames, *CANVAS, 3), 80, np.uint8)
    for t in range(n_frames):
        face = render_frame(identity, {**pose, "mouth_open": (t % 8) / 8}, neutral_expression(), 256)[0]
        x = 600 + 2 * t
        frames[t, 250 : 250 + FACE, x : x + FACE] = cv2.resize(
            face, (FACE, FACE), interpolation=cv2.INTER_CUBIC
        )
    return frames


def _plan(frames: np.ndarray, long_side: int):
    """``plan_crops`` of ``frames`` with detection on frames scaled to ``long_side`` px."""
    import edtalk.data.face_crop as face_crop

    shipped = face_crop.DETECT_LONG_SIDE
    face_crop.DETECT_LONG_SIDE = long_side
    try:
        return face_crop.plan_crops(iter(frames), 25.0)
    finally:
        face_crop.DETECT_LONG_SIDE = shipped


def time_sides(frames: np.ndarray, repeats: int) -> tuple[dict[str, list[float]], float, int]:
    """(seconds of each side's detection pass, alternating after a warm-up; the largest difference of
    their squares as a share of a side; frames the detector looked at), asserting that every pass
    found the same square."""
    from edtalk.data.face_crop import DETECT_EVERY, DETECT_LONG_SIDE
    from edtalk.data.face_landmarks import face_detector

    sides = {"full_size": max(CANVAS), "scaled": DETECT_LONG_SIDE}
    face_detector()  # built once per process (lru_cache): not part of either side
    for long_side in sides.values():  # warm-up: first calls of cv2, the detector, the allocator
        _plan(frames[:DETECT_EVERY], long_side)
    seconds, plans = alternate({name: lambda s=s: _plan(frames, s) for name, s in sides.items()}, repeats)
    full = plans["full_size"][0].boxes[0]
    side = full[2] - full[0]
    drift = max(abs(a - b) for plan in plans["scaled"] for a, b in zip(full, plan.boxes[0], strict=True))
    assert drift / side < 0.03, (
        f"the two sides found different squares ({full} vs {plans['scaled'][0].boxes[0]})"
    )
    return seconds, drift / side, plans["scaled"][0].sampled


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.face_crop", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--frames", type=positive_int, default=50, help="frames of the raw clip (50: 10 detections)"
    )
    p.add_argument(
        "--repeats", type=positive_int, default=15, help="timed runs per side (15: ~1.5 s each; median)"
    )
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    args = p.parse_args(argv)
    from edtalk.data.face_crop import DETECT_LONG_SIDE

    frames = raw_clip(args.frames)
    seconds, drift, detections = time_sides(frames, args.repeats)
    med = {name: statistics.median(v) for name, v in seconds.items()}
    full_s, scaled_s = med["full_size"], med["scaled"]
    result = {
        "frames": args.frames,
        "detections": detections,
        "canvas": list(CANVAS),
        "detect_long_side": DETECT_LONG_SIDE,
        "repeats": args.repeats,
        "full_size_s": round(full_s, 3),
        "scaled_s": round(scaled_s, 3),
        "speedup": round(full_s / scaled_s, 2),
        "seconds_all": {name: [round(s, 3) for s in v] for name, v in seconds.items()},
        "square_difference_of_side": round(drift, 4),
        "load_average": load_average(),
        "machine": machine(),
    }
    sizes = f"full size {full_s:.2f} s, scaled to {DETECT_LONG_SIDE} px {scaled_s:.3f} s"
    clip = f"{args.frames} frames of {CANVAS[1]}x{CANVAS[0]}"
    print(
        f"detection pass, {clip}, median of {args.repeats}: {sizes}, "
        f"x{full_s / scaled_s:.2f} (squares differ by {drift:.1%} of a side; load {result['load_average']})"
    )
    return save_result(args.out, result)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
