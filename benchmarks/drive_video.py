"""``python -m benchmarks.drive_video``: EDTalk-V self-reconstruction with one pass of E per driving
video, as a ratio against the per-factor encoding it replaced, in one process.

Both sides call ``edtalk.driving.drive_video`` with the same model on the same clip, which drives mouth,
pose and expression of its own first frame (``eval.proof``'s self-reconstruction, ``eval.run``'s
``edtalk_v``). ``ours`` passes the one clip for all three factors, so drive_video encodes it once;
``reference`` passes equal copies, so each factor's video is encoded apart, as drive_video did for
every call before. The two outputs must be identical (checked). The sides alternate (each first in
every other round, ``benchmarks.alternate``), ``--repeats`` times after a warm-up, and the medians
are kept; the 1-minute load average is printed beside them.

    python -m benchmarks.drive_video [--ckpt edtalk/pretrained/tiny_synthtalk_eg.pt]
                                     [--data data/synthtalk] [--repeats 5] [--threads 1] [--out FILE]

Without a test split in ``--data`` the clip is ``--frames`` (100) seeded random frames.
``--smoke`` runs a seconds-long version on a random tiny model (tests use it; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from benchmarks import alternate, load_average, save_result
from edtalk.cli import positive_int, report_error
from edtalk.provenance import machine

DEFAULT_CKPT = "edtalk/pretrained/tiny_synthtalk_eg.pt"


def load_clip(data: Path | None, n_frames: int, size: int = 128) -> tuple[str, np.ndarray]:
    """(name, uint8 frames): the first synthtalk test clip under ``data``, else seeded random frames."""
    if data is not None and (Path(data) / "splits" / "test.txt").is_file():
        from edtalk.data.readers import read_clips
        from edtalk.data.video import read_video

        clip = read_clips("synthtalk", data, split="test")[0]
        return clip.id, read_video(clip.video).frames[:n_frames]
    frames = np.random.default_rng(0).integers(0, 255, (n_frames, size, size, 3), dtype=np.uint8)
    return f"{n_frames} random frames", frames


def time_sides(model, frames: np.ndarray, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each side, alternating; asserts both draw the same frames."""
    from edtalk.driving import drive_video

    def ours():
        return drive_video(model, frames[0], frames, frames, frames)

    def reference():
        return drive_video(model, frames[0], frames, frames.copy(), frames.copy())

    if not np.array_equal(ours(), reference()):  # also the warm-up
        raise AssertionError("one pass of E changed the drawn frames")
    return alternate({"ours": ours, "reference": reference}, repeats)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.drive_video",
        description="Self-reconstruction with one pass of E per driving video vs one pass per factor "
        "(the same drive_video, same model and clip, alternating): seconds and their ratio.",
    )
    parser.add_argument("--ckpt", default=DEFAULT_CKPT, help=f"EDTalk checkpoint ({DEFAULT_CKPT})")
    parser.add_argument("--data", type=Path, default=Path("data/synthtalk"), help="synthtalk root")
    parser.add_argument("--frames", type=positive_int, default=100, help="frames of the clip (100)")
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed runs per side (5)")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch intra-op threads (1)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (tests); figures mean nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.smoke:
        from edtalk.config import ModelConfig
        from edtalk.model import EDTalk

        torch.manual_seed(0)
        model, ckpt = EDTalk(ModelConfig.preset("tiny")).eval(), "random tiny model (smoke)"
        name, frames = load_clip(None, 6, size=64)
        args.repeats = 1
    else:
        from edtalk.data.errors import DataError
        from edtalk.model import CheckpointError, build_from_checkpoint

        try:  # a missing or broken checkpoint or dataset: one error line, not a traceback
            model, _ = build_from_checkpoint(args.ckpt)
            name, frames = load_clip(args.data, args.frames)
        except (CheckpointError, DataError, FileNotFoundError) as err:
            return report_error(err)
        ckpt = args.ckpt
    seconds = time_sides(model, frames, args.repeats)
    med = {side: statistics.median(v) for side, v in seconds.items()}
    result = {
        "ckpt": str(ckpt),
        "clip": name,
        "frames": len(frames),
        "threads": args.threads,
        "repeats": args.repeats,
        "seconds_median": med,
        "reference_over_ours": med["reference"] / med["ours"],
        "load_average": load_average(),
        "machine": machine(),
        "smoke": args.smoke,
    }
    print(
        f"self-reconstruction of {name} ({len(frames)} frames, {args.threads} thread(s)): one pass of E "
        f"{med['ours']:.3f} s, one per factor {med['reference']:.3f} s "
        f"-> x{result['reference_over_ours']:.2f} (load {result['load_average']})"
    )
    return save_result(args.out, result)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
