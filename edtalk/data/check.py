"""Dataset doctor: decode every clip of a dataset split and report, per file, what is wrong.

    python -m edtalk.data.check --dataset mead --root data/MEAD --split test
    python -m edtalk.data.check --dataset folder --gt GT_DIR --pred PRED_DIR
    python -m edtalk.data.check --dataset synthtalk --root data/synthtalk --split test --method folder:DIR

Checks: unreadable / truncated / missing video, no video stream, fps other than 25, non-square
frames, frames under 64 px a side (``MIN_IMAGE_SIDE``, what inference takes), missing / unreadable /
zero-length audio, audio sample rate other than 16 kHz, audio and video lengths differing by more
than 0.1 s, (folder, or ``--method folder:DIR``: the videos of a method's output folder matched to the
split's clips as ``eval.run --method folder:DIR`` matches them, name_map and ``%23`` names included)
missing or undecodable generated videos, and (synthtalk) a listed clip whose
sidecar JSON is missing or malformed, or whose per-frame ground truth (factors, landmarks) is
missing or has another frame count than its video.
Exit code 0 when every clip is clean, 1 when anything is wrong with a clip, 2 (an ``error:`` line, as
``eval.run`` and ``edtalk.train`` print it) when the dataset cannot be read: a missing root, an
unknown split, another layout.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import track
from rich.table import Table

from edtalk.atomic import write_json
from edtalk.cli import out_file_problem, positive_int, report_error
from edtalk.data.audio import audio_info
from edtalk.data.clip import MAX_LENGTH_MISMATCH_S, MIN_FRAMES, Clip
from edtalk.data.errors import AudioReadError, DataError, VideoReadError
from edtalk.data.readers import READERS, pair_folders, read_clips
from edtalk.data.readers.synthtalk import load_sidecar, sidecar_frames_problem
from edtalk.data.video import VideoInfo, verify_video
from edtalk.driving_inputs import MIN_IMAGE_SIDE  # light: numpy and the readers' suffix lists

EXPECTED_FPS = 25.0
EXPECTED_SAMPLE_RATE = 16000
# after a problem of a clip's audio when the reader found no audio file: a wav missing from the audio
# folder would otherwise read as a problem of the mp4
OWN_TRACK = " (no audio file found for this clip: this is the video's own audio track)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file of one clip; ``kind`` is a short stable code."""

    clip: str
    path: str
    kind: str  # e.g. video_truncated, fps, sample_rate, audio_missing, length_mismatch, too_small, sidecar
    detail: str


def _video_error_kind(err: VideoReadError, prefix: str) -> str:
    """Short code for a read error, from the fixed first words of ``read_video``'s messages."""
    problem = err.problem.lower()
    if problem.startswith("missing"):
        return f"{prefix}_missing"
    if problem.startswith("unreadable"):
        return f"{prefix}_unreadable"
    if "no video stream" in problem:
        return f"{prefix}_no_stream"
    if "truncated" in problem:
        return f"{prefix}_truncated"
    return f"{prefix}_unreadable"


def _audio_error_kind(err: AudioReadError) -> str:
    problem = err.problem.lower()
    if problem.startswith("missing"):
        return "audio_missing"
    if "no audio stream" in problem:
        return "audio_missing"
    if "zero-length" in problem:
        return "audio_empty"
    return "audio_unreadable"


def _check_video(clip: Clip, path: Path, prefix: str, out: list[Problem]) -> VideoInfo | None:
    try:
        info = verify_video(path)
    except VideoReadError as err:
        out.append(Problem(clip.id, str(path), _video_error_kind(err, prefix), err.problem))
        return None
    if info.n_frames < MIN_FRAMES:
        out.append(
            Problem(
                clip.id,
                str(path),
                "too_short",
                f"{info.n_frames} frames: the sync metrics need at least {MIN_FRAMES} (eval.run fails it)",
            )
        )
    if abs(info.fps - EXPECTED_FPS) > 1e-3:
        out.append(Problem(clip.id, str(path), "fps", f"{info.fps:g} fps (expected {EXPECTED_FPS:g})"))
    height, width = info.size
    if height != width:
        out.append(
            Problem(clip.id, str(path), "not_square", f"frames are {width}x{height} (W x H), not square")
        )
    if min(height, width) < MIN_IMAGE_SIDE:
        detail = f"frames are {width}x{height} (W x H): under the {MIN_IMAGE_SIDE} px a side inference needs"
        out.append(Problem(clip.id, str(path), "too_small", detail))
    return info


def _check_sidecar(clip: Clip, video: VideoInfo | None, out: list[Problem]) -> None:
    """A synthtalk sidecar without its per-frame ground truth, or with another frame count than the
    video (the disentangle metrics would compare the frames they share and say nothing)."""
    try:
        sidecar = load_sidecar(Path(clip.sidecar))
    except DataError as err:
        out.append(Problem(clip.id, str(clip.sidecar), "metadata", err.problem))
        return
    problem = sidecar_frames_problem(sidecar, video.n_frames if video is not None else None)
    if problem is not None:
        out.append(Problem(clip.id, str(clip.sidecar), "sidecar", problem))


def _check_audio(clip: Clip, video: VideoInfo | None, out: list[Problem]) -> None:
    if clip.audio is None:
        out.append(Problem(clip.id, str(clip.video), "audio_missing", "the clip has no audio file"))
        return
    path = Path(clip.audio)
    own_track = OWN_TRACK if path == Path(clip.video) else ""
    if own_track and not path.exists():  # the video is missing: reported once, as video_missing
        return
    try:
        info = audio_info(path)
    except AudioReadError as err:
        detail = err.problem
        if own_track and "no audio stream" in detail:
            detail = (
                "no audio file found for this clip, and the video has no audio track (the sync metrics and "
                "the audio training stages need audio; the frames-only stages train on it)"
            )
        out.append(Problem(clip.id, str(path), _audio_error_kind(err), detail))
        return
    if info.n_samples == 0:
        out.append(Problem(clip.id, str(path), "audio_empty", f"zero-length audio: no samples{own_track}"))
        return
    if info.sample_rate != EXPECTED_SAMPLE_RATE:
        detail = f"sample rate {info.sample_rate} Hz (expected {EXPECTED_SAMPLE_RATE}){own_track}"
        out.append(Problem(clip.id, str(path), "sample_rate", detail))
    if video is not None and video.fps > 0:
        gap = abs(video.duration - info.duration)
        if gap > MAX_LENGTH_MISMATCH_S:
            detail = (
                f"audio {info.duration:.3f} s vs video {video.duration:.3f} s "
                f"({video.n_frames} frames): differ by {gap:.3f} s > {MAX_LENGTH_MISMATCH_S} s{own_track}"
            )
            out.append(Problem(clip.id, str(path), "length_mismatch", detail))


def _check_prediction(clip: Clip, gt: VideoInfo | None, out: list[Problem]) -> None:
    pred = clip.extra.get("pred")
    if pred is None:
        folder = clip.extra.get("pred_folder")
        detail = (
            "no generated video with this stem"
            if folder is None
            else f"no video for this clip in {folder} (name it {clip.id}.mp4, or map its file name to the "
            "clip id in the folder's provenance.json name_map)"
        )
        out.append(Problem(clip.id, str(clip.video), "pred_missing", detail))
        return
    info = _check_video(clip, Path(pred), "pred", out)
    if info is not None and gt is not None and info.n_frames != gt.n_frames:
        detail = f"{info.n_frames} frames, ground truth has {gt.n_frames}"
        out.append(Problem(clip.id, str(pred), "pred_length", detail))


def check_clip(clip: Clip) -> list[Problem]:
    """Every problem of one clip (metadata, video, audio, the sidecar's per-frame ground truth, and the
    generated video when ``extra`` has ``pred``)."""
    problems: list[Problem] = []
    if clip.problem is not None:  # listed, but the reader could not read its metadata (a bad sidecar)
        where = clip.problem.path or clip.video
        problems.append(Problem(clip.id, str(where), "metadata", clip.problem.problem))
    try:
        video = _check_video(clip, Path(clip.video), "video", problems)
        _check_audio(clip, video, problems)
        if clip.sidecar is not None and clip.problem is None:
            _check_sidecar(clip, video, problems)
        if "pred" in clip.extra:
            _check_prediction(clip, video, problems)
    except Exception as err:  # noqa: BLE001 - the doctor reports anything a bad file triggers, per file
        problems.append(Problem(clip.id, str(clip.video), "unexpected", f"{type(err).__name__}: {err}"))
    return problems


def check_clips(clips: Sequence[Clip], console: Console | None = None) -> list[Problem]:
    """Check all clips with a progress bar; returns every problem found."""
    console = console or Console()
    problems: list[Problem] = []
    for clip in track(clips, description="checking clips", console=console, transient=True):
        problems.extend(check_clip(clip))
    return problems


def _print_report(console: Console, clips: Sequence[Clip], problems: list[Problem]) -> None:
    if problems:
        details = Table(title="Problems per file", show_lines=False)
        for column in ("clip", "file", "problem", "detail"):
            details.add_column(column, overflow="fold")
        for p in problems:
            details.add_row(escape(p.clip), escape(p.path), p.kind, escape(p.detail))
        console.print(details)
    summary = Table(title="Summary")
    summary.add_column("check")
    summary.add_column("files", justify="right")
    summary.add_row("clips checked", str(len(clips)))
    summary.add_row("clips with problems", str(len({p.clip for p in problems})))
    for kind, count in sorted(Counter(p.kind for p in problems).items()):
        summary.add_row(kind, str(count))
    console.print(summary)
    verdict = (
        "[green]all clips OK[/green]" if not problems else f"[red]{len(problems)} problem(s) found[/red]"
    )
    console.print(verdict)
    for hint in _hints(clips, problems):
        console.print(hint, highlight=False)


def _hints(clips: Sequence[Clip], problems: list[Problem]) -> list[str]:
    """How to fix frames that are not square 25 fps crops: crop ground truth, resample predictions (a
    method's generated videos keep their size: only their frame rate is theirs to fix)."""
    preds = {str(Path(c.extra["pred"])) for c in clips if c.extra.get("pred") is not None}
    hints = []
    if any(p.kind in ("not_square", "fps") and p.path not in preds for p in problems):
        hints.append(
            "frames that are not square face crops at 25 fps (raw MEAD, HDTF or your own videos?): "
            "`python -m edtalk.data.crop dataset --dataset mead|hdtf|folder --root RAW --out CROPPED` makes "
            "them (docs/datasets.md)"
        )
    if any(p.kind == "fps" and p.path in preds for p in problems):
        hints.append(
            f"generated videos not at the GT's {EXPECTED_FPS:g} fps: resample them (frame i of each must "
            f"show the same instant), e.g. `ffmpeg -i PRED.mp4 -vf fps={EXPECTED_FPS:g} -c:a copy OUT.mp4`"
        )
    return hints


def _write_json(path: Path, clips: Sequence[Clip], problems: list[Problem]) -> None:
    payload = {"clips": len(clips), "problems": [asdict(p) for p in problems]}
    write_json(path, payload, indent=2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edtalk.data.check",
        description=__doc__.split("\n\n")[0],
        epilog="Expected trees for every dataset: docs/datasets.md. Exit code 1 if a clip has problems, 2 "
        "if the dataset cannot be read (missing root, unknown split, another layout).",
    )
    parser.add_argument("--dataset", required=True, choices=READERS.names(), help="registered reader name")
    parser.add_argument("--root", type=Path, help="dataset root folder (not needed with --gt/--pred)")
    parser.add_argument("--split", default="test", help="split to check (default: test)")
    parser.add_argument("--gt", type=Path, help="folder of ground-truth videos (--dataset folder)")
    parser.add_argument(
        "--pred", type=Path, help="folder of generated videos, paired by stem (--dataset folder)"
    )
    parser.add_argument(
        "--method",
        help="folder:DIR: also check a method's output videos in DIR, each matched to a clip of the split as "
        "eval.run --method folder:DIR matches it (provenance.json's name_map, %%23 names, SadTalker's and "
        "EAT's names)",
    )
    parser.add_argument("--limit", type=positive_int, default=None, help="check only the first N clips")
    parser.add_argument("--json", type=Path, default=None, help="also write the problems to this JSON file")
    return parser


def _resolve_clips(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Clip]:
    if args.method is not None and (args.gt is not None or not args.method.startswith("folder:")):
        parser.error("--method takes folder:DIR, with --dataset and --root (not --gt/--pred)")
    if args.gt is not None:
        if args.dataset != "folder":
            parser.error("--gt/--pred are for --dataset folder")
        return pair_folders(args.gt, args.pred, args.split)
    if args.pred is not None:
        parser.error("--pred needs --gt")
    if args.root is None:
        parser.error("--root is required (or --gt [--pred] with --dataset folder)")
    return read_clips(args.dataset, args.root, args.split)


def with_method_videos(folder: str, clips: list[Clip], split: list[Clip]) -> list[Clip]:
    """``clips`` with ``extra["pred"]``: the video of ``folder`` that ``eval.run --method folder:DIR``
    scores for each (``baselines.adapters.FolderOfVideos``, matched against the whole ``split``), None
    when there is none. The stem pairing of ``--gt``/``--pred`` called the videos of a name_map or of
    ``%23`` names missing, and every clip of other splits in the GT folder too."""
    from baselines.adapters import FolderOfVideos  # the suite's matching: imported only in this mode

    method = FolderOfVideos(folder)
    method.prepare(clips, split=split)
    return [
        replace(c, extra={**c.extra, "pred": method.prediction_path(c, Path()), "pred_folder": folder})
        for c in clips
    ]


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Run the doctor; returns the exit code (0 clean, 1 clips with problems, 2 a dataset it cannot read)."""
    parser = _parser()
    args = parser.parse_args(argv)
    console = console or Console()
    if problem := out_file_problem(args.json, "--json"):  # before the checks, not after them
        return report_error(problem)
    try:
        clips = _resolve_clips(args, parser)
    except DataError as err:  # a usage error, as eval.run and edtalk.train report it
        return report_error(err)
    split = clips
    if args.limit is not None:
        clips = clips[: args.limit]
    if args.method is not None:
        try:
            clips = with_method_videos(args.method.removeprefix("folder:"), clips, split)
        except (DataError, ValueError) as err:
            return report_error(err)
    console.print(f"checking {len(clips)} {args.dataset} clips (split {args.split})")
    problems = check_clips(clips, console)
    _print_report(console, clips, problems)
    if args.json is not None:
        _write_json(args.json, clips, problems)
    return 1 if problems else 0


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
