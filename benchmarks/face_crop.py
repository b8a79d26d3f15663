"""``python -m benchmarks.face_crop``: the detection pass of ``edtalk.data.face_crop`` on raw HD frames
with detection on frames scaled to ``DETECT_LONG_SIDE`` (as shipped) against detection at full size,
as a ratio, in the same run. Both sides must find the same face (their squares within 3 % of a side).

The clip is a synthtalk face pasted into a grey 1920x1080 canvas (MEAD's raw size), drifting.

    python -m benchmarks.face_crop [--frames 50] [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks import load_average, save_result
from edtalk.cli import positive_int

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
    import edtalk.data.face_crop as face_crop

    shipped = face_crop.DETECT_LONG_SIDE
    face_crop.DETECT_LONG_SIDE = long_side
    try:
        t0 = time.perf_counter()
        plan = face_crop.plan_crops(iter(frames), 25.0)
        return time.perf_counter() - t0, plan
    finally:
        face_crop.DETECT_LONG_SIDE = shipped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.face_crop", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--frames", type=positive_int, default=50, help="frames of the raw clip (50: 10 detections)"
    )
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    args = p.parse_args(argv)
    from edtalk.data.face_crop import DETECT_LONG_SIDE

    frames = raw_clip(args.frames)
    full_s, full = _plan(frames, max(CANVAS))
    scaled_s, scaled = _plan(frames, DETECT_LONG_SIDE)
    side = full.boxes[0][2] - full.boxes[0][0]
    drift = max(abs(a - b) for a, b in zip(full.boxes[0], scaled.boxes[0], strict=True)) / side
    assert drift < 0.03, f"the two sides found different squares ({full.boxes[0]} vs {scaled.boxes[0]})"
    result = {
        "frames": args.frames,
        "detections": scaled.sampled,
        "canvas": list(CANVAS),
        "detect_long_side": DETECT_LONG_SIDE,
        "full_size_s": round(full_s, 2),
        "scaled_s": round(scaled_s, 2),
        "speedup": round(full_s / scaled_s, 2),
        "square_difference_of_side": round(drift, 4),
        "load_average": load_average(),
    }
    sizes = f"full size {full_s:.2f} s, scaled to {DETECT_LONG_SIDE} px {scaled_s:.2f} s"
    print(
        f"detection pass, {args.frames} frames of {CANVAS[1]}x{CANVAS[0]}: {sizes}, x{full_s / scaled_s:.2f} "
        f"(squares differ by {drift:.1%} of a side)"
    )
    return save_result(args.out, result)


if __name__ == "__main__":
    raise SystemExit(main())
