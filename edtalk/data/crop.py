"""Cut raw videos and images to the square 256 px, 25 fps face crops EDTalk trains and drives on
(``edtalk.data.face_crop``: EDTalk's official preprocessing, with dlib's detector).

    python -m edtalk.data.crop image photo.jpg --out identity.png
    python -m edtalk.data.crop video talk.mov --out driver.mp4
    python -m edtalk.data.crop dataset --dataset mead --root raw/MEAD --out data/MEAD
    python -m edtalk.data.crop dataset --dataset hdtf --root raw/HDTF --out data/HDTF
    python -m edtalk.data.crop dataset --dataset folder --root my_videos --out data/mine

``dataset`` writes the layout the readers take (docs/datasets.md): raw MEAD
(``M003/video/front/angry/level_1/001.mp4`` + ``M003/audio/...``) becomes EDTalk's flattened
``MEAD_front/video/M003#angry#level_1#001.mp4`` + ``MEAD_front/audio/<same>.wav``; raw HDTF (one
long video per person, any names, audio in the video) becomes 5-second chunks
``split_5s_video/<video>#<k>.mp4`` + ``split_5s_audio/<video>#<k>.wav`` (k counts from 1, as in the
official README's tree ``RD_Radio1_000#1``, ``#2``, ...; the last, shorter chunk is dropped); a folder
of one's own videos (any names, in subfolders or not) becomes the plain folder the ``folder`` reader
takes, ``<id>.mp4`` + ``<id>.wav`` (id: the file's path below the root less its suffix, folders joined
with '#': ``spk1/take2.mov`` -> ``spk1#take2``; audio: an audio file of the video's stem beside it,
else its own track), its ``lists/`` copied unchanged; two videos of one id are a usage error. Audio
is 16 kHz mono, cut or padded with silence to the frames (a source whose audio and video lengths differ
by more than the dataset doctor allows is noted); a video with no audio track and no audio file is
cropped silent, with no wav (its clips read as clips without audio, which train the frames-only
stages). Clips are cropped in parallel, one process per core; a clip that fails (unreadable, an audio
file or track that cannot be read, no face, a worker process that died) is named and the others go
on; a re-run skips the clips already done with the same settings (``<out>/.crop/``), after removing
the temp files of a killed run, and ``<out>/crop_report.json`` lists every clip's outcome (also after
Ctrl-C). Exit status 0 when every clip was cropped, 1 when some could not be, 2 for a usage error,
130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edtalk.atomic import is_temp_name
from edtalk.cli import (
    name_subcommands,
    out_file_problem,
    positive_float,
    positive_int,
    report_error,
    user_path,
)
from edtalk.data.file_key import file_key
from edtalk.data.pool_worker import worker_pool

try:
    import fcntl
except ImportError:  # Windows: no run can tell whether another is writing, so no leftover is removed
    fcntl = None

DONE_DIR = ".crop"
REPORT = "crop_report.json"
SILENT = "the video has no audio track: the crop is silent"  # the note of a clip cropped without audio
LENGTHS_DIFFER = "audio and video lengths differ"  # starts the note of a clip whose audio was padded or cut


@dataclass(frozen=True)
class CropJob:
    """One source video and where its crops go: ``<video_dir>/<name>.mp4`` and ``<audio_dir>/<name>.wav``
    for the whole clip, or ``<name>#<k>`` per chunk when ``chunk_seconds`` is set."""

    clip_id: str
    video: str
    audio: str | None  # None: the video's own audio track
    video_dir: str
    audio_dir: str | None  # None: audio muxed into the mp4 only
    chunk_seconds: float | None = None
    video_suffix: str = ".mp4"  # ``crop video --out X.MP4`` writes X.MP4, the name it was given


@dataclass
class CropOutcome:
    """What became of one ``CropJob``: the files written, or the problem that stopped it, and notes on
    what was left out (frames without the face, chunks, a jump of the face)."""

    clip_id: str
    video: str
    written: list[str] = field(default_factory=list)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)


def crop_job(job: CropJob) -> CropOutcome:
    """Crop one video (``edtalk.data.face_crop``: detect pass, then cut pass) and write its clips; a bad
    input (or any other failure on this clip) becomes the outcome's ``problem``, never an exception."""
    from edtalk.data.audio import fit_to_frames, write_wav
    from edtalk.data.errors import DataError
    from edtalk.data.face_crop import FPS, cut_crops, plan_crops
    from edtalk.data.video import frame_times, iter_frames, write_video

    outcome = CropOutcome(job.clip_id, job.video)
    try:
        fps, frames = iter_frames(job.video)  # the header first: an unreadable video is named as such
        wav = _audio(job, outcome)
        chunk = int(round(job.chunk_seconds * FPS)) if job.chunk_seconds is not None else None
        plan = plan_crops(frames, fps, chunk, times=frame_times(job.video))  # phones: variable rate
        if chunk and plan.n_frames < chunk:
            raise DataError(
                job.video,
                f"{plan.n_frames} frames at {FPS:g} fps, shorter than one {job.chunk_seconds:g} s chunk "
                f"({chunk} frames)",
            )
        if wav is not None and (note := _length_note(job, len(wav), plan.n_frames)):
            outcome.notes.append(note)
        lost = plan.n_frames // plan.clip_frames - len(plan.boxes)
        if lost:
            across = f", {plan.jumped_clips} of them across a jump of the face" if plan.jumped_clips else ""
            outcome.notes.append(f"{lost} chunk(s) without the followed face were left out{across}")
        if plan.followed < plan.sampled:
            outcome.notes.append(f"face followed in {plan.followed} of {plan.sampled} frames looked at")
        if plan.jumps and not chunk:
            outcome.notes.append(
                f"the face jumped {plan.jumps} time(s) (a scene cut?): cropped to its longest stretch"
            )
        for k, crops in cut_crops(iter_frames(job.video)[1], fps, plan):
            name = f"{job.clip_id}#{k + 1}" if chunk else job.clip_id  # chunks count from 1, as EDTalk's
            audio = None
            if wav is not None:
                audio = fit_to_frames(wav[int(round(k * plan.clip_frames * 16000 / FPS)) :], len(crops), FPS)
            out = write_video(Path(job.video_dir) / f"{name}{job.video_suffix}", crops, FPS, audio=audio)
            outcome.written.append(str(out))
            if job.audio_dir and audio is None:  # a stale wav of the name would pair with the silent crop
                (Path(job.audio_dir) / f"{name}.wav").unlink(missing_ok=True)
            elif job.audio_dir:
                outcome.written.append(str(write_wav(Path(job.audio_dir) / f"{name}.wav", audio)))
        if not outcome.written:
            raise DataError(job.video, f"nothing written: {'; '.join(outcome.notes)}")
    except DataError as err:
        outcome.problem = str(err) if err.path is not None else f"{job.video}: {err.problem}"
    except Exception as err:  # noqa: BLE001 - an unforeseen failure on one clip must not stop thousands
        outcome.problem = f"{job.video}: failed ({type(err).__name__}: {err})"
    return outcome


def _audio(job: CropJob, outcome: CropOutcome):
    """16 kHz samples of the job's audio; None (noted ``SILENT``) for a video without an audio track and
    no audio file, whose crop is then silent (a dataset's: no wav beside it). A given audio file (a
    raw MEAD wav, ``--audio``) and a video's audio track must be readable."""
    from edtalk.data.audio import load_audio
    from edtalk.data.errors import AudioReadError
    from edtalk.data.video import probe_video

    try:
        return load_audio(job.audio or job.video)  # a video's own track from its first frame on
    except AudioReadError:
        if job.audio or probe_video(job.video).has_audio:  # a track that does not decode is no silence
            raise
        outcome.notes.append(SILENT)
        return None


def _length_note(job: CropJob, n_samples: int, n_frames: int) -> str | None:
    """The note of a source whose audio (``n_samples`` at 16 kHz) is longer or shorter than its video
    (``n_frames`` at 25 fps) by more than the dataset doctor allows (``MAX_LENGTH_MISMATCH_S``): the crops'
    audio is cut or padded with silence to their frames, after which the doctor no longer sees it. Only
    the source's two lengths are compared: audio cut with the frames a chunking leaves out is no mismatch."""
    from edtalk.data.audio import SAMPLE_RATE
    from edtalk.data.clip import MAX_LENGTH_MISMATCH_S
    from edtalk.data.face_crop import FPS

    audio_s, video_s = n_samples / SAMPLE_RATE, n_frames / FPS
    if abs(audio_s - video_s) <= MAX_LENGTH_MISMATCH_S:
        return None
    source = job.audio or f"the audio track of {job.video}"
    done = "cut at the video's end" if audio_s > video_s else "padded with silence to the video's length"
    crops = "crops'" if job.chunk_seconds else "crop's"
    return (
        f"{LENGTHS_DIFFER}: {source} is {audio_s:.3f} s, the video {video_s:.3f} s ({n_frames} frames at "
        f"{FPS:g} fps), more than {MAX_LENGTH_MISMATCH_S} s apart: the {crops} audio is {done}"
    )


# --- datasets -----------------------------------------------------------------------------------
def mead_jobs(root: Path, out: Path) -> list[CropJob]:
    """Raw (or already flattened) MEAD front-view clips -> EDTalk's flattened layout under ``out``."""
    from edtalk.data.readers import read_clips

    video_dir, audio_dir = out / "MEAD_front" / "video", out / "MEAD_front" / "audio"
    return [
        CropJob(
            c.id, str(c.video), None if c.audio == c.video else str(c.audio), str(video_dir), str(audio_dir)
        )
        for c in read_clips("mead", root, "all")
    ]


def hdtf_jobs(root: Path, out: Path, chunk_seconds: float) -> list[CropJob]:
    """Every video under ``root`` (HDTF's long per-person videos) -> ``chunk_seconds`` chunks."""
    from edtalk.data.errors import DatasetLayoutError

    out = out.resolve()
    videos = _raw_videos(root, out, "hdtf")
    twice = sorted(stem for stem, n in Counter(v.stem for v in videos).items() if n > 1)
    if twice:
        raise DatasetLayoutError(
            root, f"video names repeat in different folders ({', '.join(twice[:3])}): ids would clash"
        )
    video_dir, audio_dir = out / "split_5s_video", out / "split_5s_audio"
    return [CropJob(v.stem, str(v), None, str(video_dir), str(audio_dir), chunk_seconds) for v in videos]


def folder_jobs(root: Path, out: Path) -> list[CropJob]:
    """Every video under ``root`` (a researcher's own) -> ``out/<id>.mp4`` + ``out/<id>.wav``, the plain
    folder of videos the ``folder`` reader takes. Id: the path below ``root`` less its suffix, folders
    joined with '#' (``spk1/take2.mov`` -> ``spk1#take2``); two videos of one id, or of ids that differ only
    in case, are an error naming both.
    An audio file of the video's stem beside it (``x.wav`` next to ``x.mp4``) is its audio."""
    from edtalk.data.errors import DatasetLayoutError
    from edtalk.data.readers.common import find_audio, name_key

    out = out.resolve()
    by_id: dict[str, Path] = {}
    by_folded: dict[str, str] = {}  # ids that differ in case only share one file on macOS and Windows
    for video in _raw_videos(root, out, "folder"):
        clip_id = name_key("#".join(video.relative_to(root).with_suffix("").parts))  # the reader's NFC
        twin = by_folded.get(clip_id.casefold())
        if twin == clip_id:
            raise DatasetLayoutError(
                video, f"gives clip id {clip_id!r}, as {by_id[twin]} does: rename or move one of the two"
            )
        if twin is not None:
            raise DatasetLayoutError(
                video,
                f"gives clip id {clip_id!r}, {by_id[twin]} gives {twin!r}: ids that differ only in case "
                "overwrite each other's crops on a case-insensitive disk (macOS, Windows): rename one",
            )
        by_id[clip_id] = video
        by_folded[clip_id.casefold()] = clip_id
    jobs = []
    for clip_id, video in by_id.items():
        audio = find_audio([video.stem], [video.parent])
        jobs.append(CropJob(clip_id, str(video), str(audio) if audio else None, str(out), str(out)))
    return jobs


def _raw_videos(root: Path, out: Path, dataset: str) -> list[Path]:
    """The video files under ``root`` (sorted; hidden files and folders skipped, and the crops of an
    ``out`` (resolved) inside ``root``); a missing root or one without videos is an error."""
    from edtalk.data.errors import DatasetLayoutError
    from edtalk.data.readers.common import VIDEO_SUFFIXES

    if not root.is_dir():
        raise DatasetLayoutError(root, f"{dataset} root folder does not exist")
    videos = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in VIDEO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)  # hidden files, folders
        and p.is_file()
        and out not in p.resolve().parents  # when out lies inside root, its crops are not raw videos
    )
    if not videos:
        raise DatasetLayoutError(root, f"no videos ({', '.join(VIDEO_SUFFIXES)}) under this folder")
    return videos


LISTS_STAGE = (".lists.", ".part")  # prefix and suffix of the folder ``copy_lists`` stages its copy in
_LISTS_STAGE_NAME = re.compile(r"\.lists\.[a-z0-9_]{8}\.part")  # mkdtemp's 8 characters between them


def copy_lists(root: Path, out: Path) -> Path | None:
    """Copy ``root/lists`` (a folder's split lists) to ``out/lists``, where the ``folder`` reader looks
    for them, in place of an older copy (a list renamed or removed in the root goes from the copy too);
    the copy, or None when ``root`` has no ``lists/`` folder."""
    import shutil
    import tempfile

    from edtalk.data.errors import DataError

    if not (root / "lists").is_dir():
        return None
    dst = out / "lists"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with _running(out):  # a run alone in ``out`` removes a killed copy's stage (_remove_leftovers)
            stage = Path(tempfile.mkdtemp(dir=out, prefix=LISTS_STAGE[0], suffix=LISTS_STAGE[1]))
            try:
                shutil.copytree(root / "lists", stage / "lists")
                if dst.is_dir() and not dst.is_symlink():
                    shutil.rmtree(dst)
                elif dst.exists() or dst.is_symlink():
                    dst.unlink()
                (stage / "lists").rename(dst)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
    except OSError as err:  # shutil.Error too
        raise DataError(dst, f"cannot copy {root / 'lists'} there ({err})") from None
    return dst


def _done_file(out: Path, clip_id: str) -> Path:
    return out / DONE_DIR / f"{clip_id.replace('/', '%2F')}.json"


def crop_settings(job: CropJob) -> dict:
    """What a clip's crops depend on besides the code: its source files (``file_key``: a raw tree
    moved or copied elsewhere is not cropped again) and the cropping settings. A done record made
    with other settings is not reused."""
    from edtalk.data import face_crop

    sources = [Path(job.video)] + ([Path(job.audio)] if job.audio else [])
    return {
        "sources": [file_key(p) for p in sources],
        "chunk_seconds": job.chunk_seconds,
        "video_suffix": job.video_suffix,
        "crop": [face_crop.GROW, face_crop.SIDE, face_crop.FPS, face_crop.MIN_IOU, face_crop.LOST_AFTER],
        "resampling": face_crop.RESAMPLING,
        "detect": [face_crop.DETECT_EVERY, face_crop.DETECT_LONG_SIDE],
    }


def same_settings(recorded: dict, current: dict) -> bool:
    """Whether a done record's settings are ``current`` (``crop_settings``). Records written before
    sources had their ends' digest ([name, size]) are compared by name and size, so crops already
    made are not all cut again."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sources"), list):
        return False
    older = all(isinstance(s, list) and len(s) == 2 for s in recorded["sources"])
    if older:
        current = {**current, "sources": [s[:2] for s in current["sources"]]}
    return recorded == current


def _read_done(out: Path, job: CropJob) -> dict | None:
    """The job's done record as written, or None when there is none or it is not JSON."""
    try:
        return json.loads(_done_file(out, job.clip_id).read_text())
    except (OSError, ValueError):
        return None


def _finished(record: dict | None, job: CropJob) -> CropOutcome | None:
    """The outcome of ``job`` from its done record, when the record was made with the job's settings and
    every file it lists is still there; else None (the clip is cropped again)."""
    try:
        outcome = CropOutcome(**record["outcome"])
        settings = record["settings"]
    except (KeyError, TypeError):  # no record, or not one of this layout
        return None
    if not same_settings(settings, crop_settings(job)) or not all(Path(w).is_file() for w in outcome.written):
        return None
    return outcome


def _forget(out: Path, job: CropJob, record: dict | None) -> None:
    """Remove a stale done record and the files it lists (chunks of an older chunk length would
    otherwise stay beside the new ones)."""
    try:
        written = record["outcome"]["written"]
    except (KeyError, TypeError):
        written = []
    for w in written:
        Path(w).unlink(missing_ok=True)
    _done_file(out, job.clip_id).unlink(missing_ok=True)


def crop_dataset(
    jobs: list[CropJob], out: Path, workers: int, progress: bool = True, crop: Callable = crop_job
) -> list[CropOutcome]:
    """Run ``jobs`` (those without a current done record), ``workers`` processes at a time; each clip's
    outcome is recorded as it finishes, so an interrupted run resumes where it stopped. ``crop`` is
    the function run on each job (``crop_job``; a module-level function, sent to the workers). Temp
    files a killed run left are removed first (``_remove_leftovers``, when no other run crops into ``out``).
    On Ctrl-C the stopped workers' temp files are removed too, the report is still written (the clips not
    cropped listed as interrupted), and ``KeyboardInterrupt`` raised again."""
    from edtalk.atomic import write_json

    outcomes: dict[str, CropOutcome] = {}
    with _running(out) as when_alone:
        when_alone(lambda: _remove_leftovers(out, jobs))
        try:
            _crop_jobs(jobs, out, workers, progress, crop, outcomes)
        except KeyboardInterrupt:
            when_alone(lambda: _remove_leftovers(out, jobs))  # the temp files of the workers just stopped
            for job in jobs:
                if job.clip_id in outcomes:
                    continue
                done = _finished(_read_done(out, job), job)  # interrupted before its record was read
                problem = f"{job.video}: not cropped: the run was interrupted (the same command crops it)"
                outcomes[job.clip_id] = done or CropOutcome(job.clip_id, job.video, problem=problem)
            write_json(out / REPORT, [asdict(outcomes[j.clip_id]) for j in jobs], indent=1)
            raise
    ordered = [outcomes[j.clip_id] for j in jobs]
    write_json(out / REPORT, [asdict(o) for o in ordered], indent=1)
    return ordered


def _crop_jobs(
    jobs: list[CropJob],
    out: Path,
    workers: int,
    progress: bool,
    crop: Callable,
    outcomes: dict[str, CropOutcome],
) -> None:
    """``crop_dataset``'s work: each job's outcome into ``outcomes`` as it is known (from its done
    record, or written to it as the clip finishes)."""
    from tqdm import tqdm

    from edtalk.atomic import write_json

    todo = []
    for job in jobs:
        record = _read_done(out, job)
        outcome = _finished(record, job)
        if outcome is not None:
            outcomes[job.clip_id] = outcome
        else:
            _forget(out, job, record)
            todo.append(job)
    if todo:
        print(
            f"[crop] {len(todo)} of {len(jobs)} clips to crop ({len(jobs) - len(todo)} done before)",
            flush=True,
        )
    with tqdm(total=len(todo), desc="cropping", unit="clip", disable=not progress) as bar:

        def record(job: CropJob, outcome: CropOutcome) -> None:
            if outcome.problem is None:  # a failed clip is tried again by the next run
                write_json(
                    _done_file(out, job.clip_id),
                    {"outcome": asdict(outcome), "settings": crop_settings(job)},
                    indent=1,
                )
                for note in outcome.notes:
                    if note.startswith(LENGTHS_DIFFER):  # the doctor cannot see it in the crops
                        print(f"[crop] note: {note}", file=sys.stderr, flush=True)
            else:
                print(f"[crop] {outcome.problem}", file=sys.stderr, flush=True)
            outcomes[job.clip_id] = outcome
            bar.update(1)

        if workers > 1 and len(todo) > 1:
            _in_processes(todo, workers, crop, record)
        else:
            for job in todo:
                record(job, crop(job))


_LOCK = ".lock"  # in ``<out>/.crop``: the file ``_running`` locks


@contextmanager
def _running(out: Path) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Hold a shared ``flock`` on ``<out>/.crop/.lock`` while cropping into ``out``, which every run
    into ``out`` does; yields ``when_alone(work)``, which runs ``work`` under an exclusive lock when no
    other run holds one (a run starting meanwhile waits for it), else skips it. Without ``fcntl``
    (Windows) or where the file system refuses locks, whether another run is writing cannot be told:
    ``work`` is always skipped."""
    fd = None
    if fcntl is not None:
        try:
            (out / DONE_DIR).mkdir(parents=True, exist_ok=True)
            fd = os.open(out / DONE_DIR / _LOCK, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            if fd is not None:
                os.close(fd)
            fd = None

    def when_alone(work: Callable[[], None]) -> None:
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a failed change may drop the shared lock
        except OSError:  # another run holds it
            fcntl.flock(fd, fcntl.LOCK_SH)
            return
        try:
            work()
        finally:
            fcntl.flock(fd, fcntl.LOCK_SH)

    try:
        yield when_alone
    finally:
        if fd is not None:
            os.close(fd)


def _remove_leftovers(out: Path, jobs: list[CropJob]) -> None:
    """Remove the temp files (``edtalk.atomic.is_temp_name``) that a crop run killed
    while writing (SIGKILL, a power loss, a worker stopped on Ctrl-C) left in ``out``, ``<out>/.crop``
    and the jobs' crop folders. Called only by a run that holds ``_running``'s lock alone: every other
    run into ``out`` has ended, so none of these files is still being written (but by a worker orphaned
    by a killed run, finishing its clip: its write then fails, unseen). A run that is not alone removes
    none (the next run alone does); an age threshold would keep a killed run's files until they aged, or
    take a slow writer's. Other files, hidden or not, are left alone. ``copy_lists``' staging folders
    in ``out`` (``.lists.XXXXXXXX.part``) go too."""
    import shutil

    for stage in out.glob(f"{LISTS_STAGE[0]}*{LISTS_STAGE[1]}"):
        if _LISTS_STAGE_NAME.fullmatch(stage.name) and stage.is_dir() and not stage.is_symlink():
            shutil.rmtree(stage, ignore_errors=True)
    folders = {out, out / DONE_DIR} | {Path(d) for j in jobs for d in (j.video_dir, j.audio_dir) if d}
    for folder in folders:
        try:
            entries = list(folder.iterdir())
        except OSError:  # not made yet
            continue
        for path in entries:
            if is_temp_name(path.name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)


def _in_processes(todo: list[CropJob], workers: int, crop: Callable, record: Callable) -> None:
    """``record(job, crop(job))`` for every job, ``workers`` spawned processes at a time, in the order
    they finish. A worker process that dies (killed for memory, a crash in a native library) breaks
    the pool: the clips it was running are cropped again one at a time in a fresh process, and one
    that kills its process again is recorded as failed; the rest go on in a new pool."""
    from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = list(reversed(todo))
    while queue:
        suspects: list[CropJob] = []
        # a clip takes minutes: on Ctrl-C the running ones are stopped, not waited for (the temp file
        # each was writing goes with the next run's _remove_leftovers)
        with worker_pool(workers) as pool:
            running: dict = {}
            while queue or running:
                broken = False
                while queue and len(running) < workers and not broken:  # no more in flight than workers
                    job = queue.pop()
                    try:
                        running[pool.submit(crop, job)] = job
                    except BrokenProcessPool:  # it broke since the last wait: the job goes back
                        queue.append(job)
                        broken = True
                finished, _ = wait(running, return_when=ALL_COMPLETED if broken else FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    try:
                        record(job, future.result())
                    except BrokenProcessPool:
                        suspects.append(job)
                if broken or suspects:
                    suspects += running.values()  # broken with the pool, whichever died
                    break
        for job in suspects:
            record(job, _alone(job, crop))


def _alone(job: CropJob, crop: Callable) -> CropOutcome:
    """``crop(job)`` in a process of its own: the outcome, or a failure when the process dies."""
    from concurrent.futures.process import BrokenProcessPool

    with worker_pool(1) as pool:
        try:
            return pool.submit(crop, job).result()
        except BrokenProcessPool:
            problem = "its cropping process died (killed, e.g. out of memory, or crashed in a native library)"
            return CropOutcome(job.clip_id, job.video, problem=f"{job.video}: {problem}")


# --- CLI ------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edtalk.data.crop",
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        epilog="Each clip's face box is followed through it, grown by 20 % on every side and made square "
        "(edtalk.data.face_crop); a re-run of `dataset` skips the clips already cropped.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    image = sub.add_parser("image", help="one image -> a 256 px face crop (png/jpg by --out's suffix)")
    image.add_argument("input", type=user_path, help="the image (png, jpg, ...)")
    image.add_argument("--out", type=user_path, required=True, help="the crop's path (png or jpg)")
    video = sub.add_parser("video", help="one video -> a 256 px, 25 fps face-crop mp4 with its audio")
    video.add_argument("input", type=user_path, help="the video (any container PyAV reads)")
    video.add_argument("--out", type=user_path, required=True, help="output .mp4")
    video.add_argument("--audio", type=user_path, help="audio file (default: the video's own audio track)")
    data = sub.add_parser(
        "dataset",
        help="a raw MEAD or HDTF tree, or a folder of videos -> the layout its reader takes",
        description="Crop a raw MEAD or HDTF tree, or a folder of one's own videos, to the layout its reader "
        "takes: MEAD_front/video|audio (MEAD), split_5s_video|audio 5-second chunks (HDTF) or <id>.mp4 + "
        "<id>.wav (folder: every video under --root, in subfolders too; id: its path less the suffix, "
        "folders joined with '#'; audio: a file of the video's stem beside it, else its own track; "
        "lists/ copied unchanged), 256 px, 25 fps, 16 kHz mono (a video with no audio track and no audio "
        "file: silent, with no wav). Clips are cropped in parallel; a re-run skips clips done with the same "
        "settings and tries failed ones again; <out>/crop_report.json lists every clip's outcome. Exit "
        "status 0 when every clip was cropped, 1 when some could not be, 2 for a usage error, 130 on Ctrl-C.",
    )
    data.add_argument(
        "--dataset", required=True, choices=("mead", "hdtf", "folder"), help="the raw tree's layout"
    )
    data.add_argument("--root", type=user_path, required=True, help="the raw dataset's (or videos') folder")
    data.add_argument(
        "--out", type=user_path, required=True, help="folder for the cropped dataset (--root of training)"
    )
    data.add_argument(
        "--chunk-seconds", type=positive_float, default=5.0, help="hdtf: chunk length (default 5)"
    )
    data.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="processes (default: one per core)"
    )
    data.add_argument("--quiet", action="store_true", help="no progress bar")
    name_subcommands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from edtalk.data.errors import DataError

    try:
        if args.command == "image":
            return _image(args)
        if args.command == "video":
            return _video(args)
        return _dataset(args)
    except DataError as err:
        return report_error(err)
    except KeyboardInterrupt:  # a second Ctrl-C while the report is written still gives a traceback
        if args.command == "dataset":
            done = f"the clips cropped so far are kept in {args.out}; the same command resumes from them"
        else:
            done = f"nothing written to {args.out}"
        print(f"\ninterrupted: {done}", file=sys.stderr)
        return 130  # the shell's code for a run stopped by Ctrl-C


def _image(args: argparse.Namespace) -> int:
    from PIL import Image

    from edtalk.atomic import atomic_path
    from edtalk.data.face_crop import crop_image
    from edtalk.data.image import read_rgb_image
    from edtalk.data.readers.common import IMAGE_SUFFIXES

    if args.out.suffix.lower() not in IMAGE_SUFFIXES:
        return report_error(f"--out {args.out}: give an image path ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if problem := out_file_problem(args.out):
        return report_error(problem)
    image = read_rgb_image(args.input, note=lambda message: print(f"note: {message}", file=sys.stderr))
    crop = crop_image(image, args.input)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out, suffix=f".tmp{args.out.suffix}") as tmp:
        Image.fromarray(crop).save(tmp)
    print(f"[crop] {args.out}")
    return 0


def _video(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".mp4":
        return report_error(f"--out {args.out}: give an .mp4 path")
    audio = str(args.audio) if args.audio else None
    job = CropJob(args.out.stem, str(args.input), audio, str(args.out.parent), None, None, args.out.suffix)
    outcome = crop_job(job)
    if outcome.problem:
        return report_error(outcome.problem)
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"[crop] {args.out}")
    return 0


def _lengths_differ(outcome: CropOutcome) -> bool:
    return any(n.startswith(LENGTHS_DIFFER) for n in outcome.notes)


def _jobs(args: argparse.Namespace) -> list[CropJob]:
    """The crop jobs of ``crop dataset``'s ``--dataset``."""
    if args.dataset == "mead":
        return mead_jobs(args.root, args.out)
    if args.dataset == "hdtf":
        return hdtf_jobs(args.root, args.out, args.chunk_seconds)
    return folder_jobs(args.root, args.out)


def _dataset(args: argparse.Namespace) -> int:
    if args.out.resolve() == args.root.resolve():
        return report_error("--out must differ from --root (the crops would mix with the raw videos)")
    from edtalk.data.face_crop import FPS

    if args.dataset == "hdtf" and round(args.chunk_seconds * FPS) < 1:
        return report_error(f"--chunk-seconds {args.chunk_seconds:g}: shorter than one frame at {FPS:g} fps")
    jobs = _jobs(args)
    if args.dataset == "folder" and (lists := copy_lists(args.root, args.out)):
        print(f"[crop] split lists copied to {lists} (their ids must be the crops' ids)")
    outcomes = crop_dataset(jobs, args.out, args.workers, progress=not args.quiet)
    failed = [o for o in outcomes if o.problem]
    written = sum(w.endswith(".mp4") for o in outcomes for w in o.written)
    summary = (
        f"{len(jobs) - len(failed)} of {len(jobs)} source clips cropped into {written} clips under {args.out}"
    )
    if failed:
        summary += f"; {len(failed)} could not be (see {args.out / REPORT})"
    silent = [o.clip_id for o in outcomes if SILENT in o.notes and not o.problem]
    if silent:
        summary += (
            f"; {len(silent)} without audio (first: {', '.join(silent[:3])}), cropped silent with no wav: "
            "the frames-only stages train on them, the audio stages leave them out"
        )
    differ = [o.clip_id for o in outcomes if _lengths_differ(o) and not o.problem]
    if differ:
        summary += (
            f"; {len(differ)} whose audio and video lengths differ (first: {', '.join(differ[:3])}), their "
            "audio padded with silence or cut to the frames (see the report)"
        )
    noted = [
        o
        for o in outcomes
        if any(n != SILENT and not n.startswith(LENGTHS_DIFFER) for n in o.notes) and not o.problem
    ]
    if noted:
        summary += f"; {len(noted)} with notes (face lost in some frames, chunks left out: see the report)"
    print(f"[crop] {summary}")
    print(f"[crop] train on it with --data {args.dataset}:{args.out}, score with --root {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
