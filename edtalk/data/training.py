"""The training frame cache: every clip of a split decoded once for the six EDTalk stages.

``build_frame_cache`` decodes the clips (frames resized to the model's image size, landmarks rescaled,
Wav2Lip mel windows per frame, each frame's 1/25 s of 16 kHz audio; ``edtalk.data.cache_decode``) into
a folder of ``.npy`` arrays that every Ray worker memory-maps (``load_frame_cache``). Training clips
come from ``edtalk.data.held_out.training_clips``, which leaves out the judge and test splits; the
cache refuses synthtalk clips of those splits once more; ``edtalk.data.sampler.StageSampler``
draws each stage's batches from it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edtalk.cli import amount_of_bytes
from edtalk.data.audio import SAMPLES_PER_FRAME
from edtalk.data.cache_decode import NO_AUDIO, decode_clips, decode_workers, not_a_face_crop, resized
from edtalk.data.cache_sources import changed_clips, source_stamps
from edtalk.data.clip import EMOTIONS, MAX_LENGTH_MISMATCH_S, Clip
from edtalk.data.errors import DataError, DatasetLayoutError
from edtalk.data.held_out import check_unseen
from edtalk.data.npy_rows import NpyRowWriter

if TYPE_CHECKING:
    from edtalk.data.video import VideoInfo

CACHE_VERSION = 3
# what each version added (a cache of an older version is decoded again, with a note naming it)
VERSION_CHANGES = {
    2: "each frame's 16 kHz audio for HuBERT's E_S",
    3: "clips whose audio is too short for their video kept out of the audio stages",
}


@dataclass(frozen=True)
class FrameCache:
    """Decoded frames of a split, flat over clips; clip c owns rows start[c] : start[c] + length[c]."""

    frames: np.ndarray  # uint8 (N, H, W, 3)
    landmarks: np.ndarray  # float32 (N, 68, 2) in pixels of the cached size (NaN when unknown)
    mels: np.ndarray  # float16 (N, 80, 16): the Wav2Lip window of each frame
    start: np.ndarray  # int64 (C,)
    length: np.ndarray  # int64 (C,)
    identity: np.ndarray  # int64 (C,) index into identities
    emotion: np.ndarray  # int64 (C,) index into EMOTIONS (-1 unknown)
    clip_ids: list[str]
    identities: list[str]
    transcripts: list[str]
    skipped: tuple[tuple[str, str], ...] = ()  # (clip id, reason): unreadable clips left out
    # int16 (N, SAMPLES_PER_FRAME): each frame's 1/25 s of 16 kHz audio as 16-bit PCM (cache_decode.wav_rows),
    # zero for frames past the audio's end; None in a cache built before CACHE_VERSION 2
    wavs: np.ndarray | None = None
    # ids of the clips without audio (no audio file, no audio track; the rendered extra people): zero
    # mel windows and waveform rows; the frames-only stages train on them, the audio stages do not
    no_audio: tuple[str, ...] = ()
    # (clip id, why) of the no_audio clips whose audio is there but too short for their video
    # (``cache_decode._clip_audio``): listed apart, so a note does not call them silent
    short_audio: tuple[tuple[str, str], ...] = ()

    @property
    def n_clips(self) -> int:
        return len(self.clip_ids)

    @property
    def has_landmarks(self) -> bool:
        return not np.isnan(self.landmarks[:1]).any()


def landmark_source(clips: list[Clip]) -> str:
    """Where the cache's 68-point landmarks come from: every clip's sidecar (synthtalk), or dlib's
    detector on the frames (real datasets; ``edtalk.data.face_landmarks.track_landmarks``)."""
    return "sidecar" if all(c.sidecar is not None for c in clips) else DETECTED


DETECTED = "dlib68"


def cache_key(clips: list[Clip], size: int, extra_tag: str = "") -> str:
    ids = "\n".join(sorted(c.id for c in clips))
    extra = f"|{extra_tag}" if extra_tag else ""
    detected = f"|{DETECTED}" if landmark_source(clips) == DETECTED else ""  # sidecar keys as before
    return hashlib.sha1(f"v{CACHE_VERSION}|{size}|{ids}{extra}{detected}".encode()).hexdigest()[:12]


def _caches_holding(
    clips: list[Clip], size: int, cache_root: Path, stamps: dict[str, list]
) -> list[tuple[Path, dict]]:
    """(folder, meta) of every cache in ``cache_root``, of any version, whose clips start with exactly
    ``clips`` at this size and landmark source (the split's plain cache, or one with extra people
    appended), decoded from the files now on disk (``stamps``, ``cache_sources``)."""
    ids = [c.id for c in clips]
    source = landmark_source(clips)
    found = []
    for meta_path in sorted(cache_root.glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        left_out = {s["clip"] for s in meta.get("skipped", [])}
        kept = [i for i in ids if i not in left_out]
        if (
            meta.get("size") == size
            and meta.get("landmarks", "sidecar") == source
            and left_out <= set(ids)  # clips it left out are of this list (undecodable here too)
            and meta.get("clip_ids", [])[: len(kept)] == kept
            and not changed_clips(meta, stamps)
        ):
            found.append((meta_path.parent, meta))
    return found


def _current_version(holding: list[tuple[Path, dict]]) -> FrameCache | None:
    """The first of ``holding`` (``_caches_holding``) written by this code's ``CACHE_VERSION``, loaded:
    its rows are copied instead of decoding the videos again, so that the stages with and without
    extras decode the split's videos once between them."""
    for folder, meta in holding:
        if meta.get("version") == CACHE_VERSION:
            return load_frame_cache(folder)
    return None


def _note_older_versions(holding: list[tuple[Path, dict]]) -> None:
    """Say why the clips are decoded again when ``holding`` (``_caches_holding``) has them in a
    cache of an older version (``VERSION_CHANGES`` since it), and that the old folder can go."""
    old = [(f, m) for f, m in holding if m.get("version") != CACHE_VERSION]
    if old:
        folders = ", ".join(str(f) for f, _ in old)
        version = old[0][1].get("version")
        since = [text for v, text in VERSION_CHANGES.items() if not isinstance(version, int) or v > version]
        print(
            f"note: {folders}: frame cache of an older version ({version}; this code writes "
            f"version {CACHE_VERSION}, which adds {'; '.join(since)}), decoding the "
            "clips again; delete the old folder to free its space",
            file=sys.stderr,
            flush=True,
        )


def _synthtalk_roots(clips: list[Clip]) -> dict[Path, list[Clip]]:
    """The synthtalk ``clips`` by dataset root (a sidecar lies at ``<root>/clips/<id>.json``)."""
    roots: dict[Path, list[Clip]] = {}
    for clip in clips:
        if clip.dataset == "synthtalk" and clip.sidecar is not None:
            roots.setdefault(Path(clip.sidecar).parent.parent, []).append(clip)
    return roots


def build_frame_cache(
    clips: list[Clip],
    size: int,
    cache_root: str | Path,
    progress: bool = True,
    extra: Callable[[], list] | None = None,
    extra_tag: str = "",
) -> Path:
    """Decode ``clips`` once into ``cache_root/<key>/`` (atomic: built in a temp dir, then renamed),
    one clip at a time straight to disk (``NpyRowWriter``), so a split larger than memory caches too.

    ``extra`` (with ``extra_tag`` naming it in the cache key) returns more clips already in memory,
    ``edtalk.experts.data.ExpertClip`` records such as the rendered extra training people of
    ``edtalk.experts.extra_identities``; they are appended after the decoded clips, without audio
    (zero mel windows and waveforms). It is only called when the cache has to be built. When another
    cache in ``cache_root`` already holds exactly ``clips`` at ``size`` (first), their rows are copied
    from it instead of decoding the videos again.

    synthtalk clips of the judge or test split are refused (``check_unseen``; their sidecars locate
    the dataset), even from a caller that read them without ``training_clips``.
    """
    if not clips:
        raise DatasetLayoutError(None, "no clips to train on (empty split?)")
    for root, group in _synthtalk_roots(clips).items():
        check_unseen(group, "synthtalk", root)
    if (extra is None) != (not extra_tag):
        raise ValueError("build_frame_cache: give extra and extra_tag together")
    cache_root = Path(cache_root)
    final = cache_root / cache_key(clips, size, extra_tag)
    stamps = source_stamps(clips)
    if (final / "meta.json").exists():
        if not _stale(final, stamps, len(clips)):
            return final
        _discard(final)
    cache_root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(cache_root)
    check_before_decoding(clips, size, cache_root)
    holding = _caches_holding(clips, size, cache_root, stamps)  # other caches of these clips, read once
    _note_older_versions(holding)
    extra_clips = extra() if extra is not None else []
    source = landmark_source(clips)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-", dir=cache_root))
    try:
        with (
            NpyRowWriter(tmp / "frames.npy", (size, size, 3), np.uint8) as frames,
            NpyRowWriter(tmp / "landmarks.npy", (68, 2), np.float32) as lms,
            NpyRowWriter(tmp / "mels.npy", (80, 16), np.float16) as mels,
            NpyRowWriter(tmp / "wavs.npy", (SAMPLES_PER_FRAME,), np.int16) as wavs,
        ):
            writers = (frames, lms, mels, wavs)
            start, length, skipped, filled, no_audio, short_audio = _write_rows(
                clips, size, _current_version(holding), writers, progress
            )
            decoded_rows = frames.n_rows
            left_out = {s["clip"] for s in skipped}
            clips = [c for c in clips if c.id not in left_out]
            if not clips:
                raise DatasetLayoutError(
                    None, f"none of the clips to train on can be used; the first: {skipped[0]['reason']}"
                )
            for clip in extra_clips:
                start.append(frames.n_rows)
                length.append(clip.n_frames)
                frames.append(resized(clip.frames, size))
                lms.append(np.asarray(clip.landmarks, np.float32) * (size / clip.size))
                mels.append(np.zeros((clip.n_frames, 80, 16), np.float16))
                wavs.append(np.zeros((clip.n_frames, SAMPLES_PER_FRAME), np.int16))
        if skipped:
            shown = _first_reasons(skipped)
            print(
                f"warning: {len(skipped)} of {len(clips) + len(skipped)} training clips cannot be used "
                f"and are left out of the frame cache {final} (listed in its meta.json; a clip mended in "
                f"place is decoded on the next run): {shown}",
                file=sys.stderr,
                flush=True,
            )
        _note_no_audio(no_audio, short_audio, len(clips))
        if filled:
            print(
                f"note: {final}: dlib found no face in {filled} of {decoded_rows} frames; each took the "
                "landmarks of the nearest frame of its clip with a face",
                file=sys.stderr,
                flush=True,
            )
        identities = sorted({c.identity or c.id for c in clips}) + sorted({c.identity for c in extra_clips})
        index_of = {name: i for i, name in reversed(list(enumerate(identities)))}  # the first, as .index
        meta = {
            "version": CACHE_VERSION,
            "size": size,
            "start": start,
            "length": length,
            "identity": [index_of[c.identity or c.id] for c in clips]
            + [index_of[c.identity] for c in extra_clips],
            "emotion": [EMOTIONS.index(c.emotion) if c.emotion in EMOTIONS else -1 for c in clips]
            + [int(c.emotion) for c in extra_clips],
            "clip_ids": [c.id for c in clips] + [c.id for c in extra_clips],
            "identities": identities,
            "transcripts": [c.transcript or "" for c in clips] + ["" for _ in extra_clips],
            "skipped": skipped,
            "no_audio": no_audio + [c.id for c in extra_clips],
            "short_audio": short_audio,
            "landmarks": source,
            "landmark_frames_filled": filled,  # detected: frames without a face, given the nearest's
            "sources": stamps,  # the files decoded, by size and mtime (cache_sources)
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.rename(tmp, final)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DataError(
                cache_root,
                "the disk filled up while the training frame cache was written (the partial one is removed)",
            ) from None
        if not (final / "meta.json").exists():
            raise
        # another process finished the same cache first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


TMP_PREFIX = ".tmp-"  # + host-pid-: a cache being built; one whose process is gone is removed


def _stale(final: Path, stamps: dict[str, list], n_clips: int) -> bool:
    """Whether clips of the cache ``final`` changed on disk since it was decoded (re-cropped,
    regenerated or mended in place); says which when so."""
    try:
        meta = json.loads((final / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        return True  # replaced by another process just now, or broken: built again
    changed = changed_clips(meta, stamps)
    if changed:
        print(
            f"note: {final}: {len(changed)} of {n_clips} training clips changed on disk since this frame "
            f"cache was decoded (first: {', '.join(changed[:3])}); decoding the split again",
            file=sys.stderr,
            flush=True,
        )
    return bool(changed)


def _discard(final: Path) -> None:
    """Remove a stale cache folder (renamed first, so no reader finds it half deleted; workers that
    memory-map its arrays keep them until they close)."""
    gone = final.with_name(f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-stale-{final.name}")
    try:
        os.rename(final, gone)
    except FileNotFoundError:  # discarded by another process already
        return
    shutil.rmtree(gone, ignore_errors=True)


def _remove_abandoned_builds(cache_root: Path) -> None:
    """Delete the temp folders of builds on this host whose process no longer runs (a killed run's
    partly written frames can be as large as the cache itself)."""
    host = socket.gethostname()
    for tmp in cache_root.glob(f"{TMP_PREFIX}{host}-*"):
        pid = tmp.name[len(TMP_PREFIX) + len(host) + 1 :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


# a frame's landmarks (float32), mel window (float16) and 1/25 s of audio (int16: 32 kB per second at 25 fps)
ROW_BYTES_BESIDES_FRAME = 68 * 2 * 4 + 80 * 16 * 2 + SAMPLES_PER_FRAME * 2
DISK_SAMPLE = 16  # clips whose headers are read before decoding (the split's frame count and frame size)


def sampled_headers(clips: list[Clip]) -> list[tuple[Clip, VideoInfo]]:
    """Header facts (no decoding) of up to ``DISK_SAMPLE`` clips spread over the split; unreadable
    ones are skipped here (decoding names them)."""
    from edtalk.data.video import probe_video

    headers = []
    for clip in clips[:: max(1, len(clips) // DISK_SAMPLE)][:DISK_SAMPLE]:
        try:
            headers.append((clip, probe_video(clip.video)))
        except DataError:
            continue
    return headers


def estimated_cache_bytes(
    clips: list[Clip], size: int, headers: list[tuple[Clip, VideoInfo]] | None = None
) -> int:
    """Bytes the frame cache of ``clips`` at ``size`` will take: frames counted from the ``headers``
    of a sample of the clips (``sampled_headers``), scaled to all clips."""
    counts = [info.n_frames for _, info in (sampled_headers(clips) if headers is None else headers)]
    if not counts:
        return 0
    frames = float(np.mean(counts)) * len(clips)
    return int(frames * (size * size * 3 + ROW_BYTES_BESIDES_FRAME))


def check_before_decoding(clips: list[Clip], size: int, cache_root: Path) -> None:
    """Stop before decoding, from a sample of the clips' headers, when the split is raw video (no
    sampled clip a square crop at 25 fps: each would be decoded only to be left out) or the disk under
    ``cache_root`` cannot hold the cache (a MEAD-sized split at 256 px is about half a terabyte),
    instead of failing hours later."""
    headers = sampled_headers(clips)
    if headers and all(not_a_face_crop(clip, info) for clip, info in headers):
        raise not_a_face_crop(*headers[0])
    need = estimated_cache_bytes(clips, size, headers)
    free = shutil.disk_usage(cache_root).free
    if need > free:
        raise DataError(
            cache_root,
            f"the training frame cache of {len(clips)} clips at {size} px needs about "
            f"{amount_of_bytes(need)} and this disk has {amount_of_bytes(free)} free; free space, or give "
            "edtalk.train an --out on a larger disk (the cache is <out>/cache)",
        )


COPY_ROWS = 4096  # rows copied at a time from a reused cache's memory map


def _write_rows(
    clips, size, reused, writers, progress
) -> tuple[list, list, list[dict], int | None, list, list]:
    """Append ``clips``' rows to the ``writers`` (frames, landmarks, mels, wavs), copied from ``reused``
    (another cache holding them at this size, or None) or decoded (in ``decode_workers`` processes);
    returns (start, length, skipped, filled, no_audio, short_audio): ``skipped`` lists the clips that
    could not be read ({"clip", "reason"}), left out; ``filled`` counts the frames whose detected
    landmarks came from the nearest frame with a face (None when copied); ``no_audio`` the ids of the
    clips the audio stages leave out: without audio, or (also in ``short_audio``, {"clip", "reason"})
    with audio too short for their video."""
    frames, lms, mels, wavs = writers
    start: list[int] = []
    length: list[int] = []
    if reused is not None:  # the same clips at the same size, decoded for another cache already
        skipped = [{"clip": c, "reason": r} for c, r in reused.skipped]
        n = len(clips) - len(skipped)
        rows = int(reused.start[n - 1] + reused.length[n - 1])
        for i in range(0, rows, COPY_ROWS):
            frames.append(reused.frames[i : min(i + COPY_ROWS, rows)])
            lms.append(reused.landmarks[i : min(i + COPY_ROWS, rows)])
            mels.append(reused.mels[i : min(i + COPY_ROWS, rows)])
            wavs.append(reused.wavs[i : min(i + COPY_ROWS, rows)])
        ids = {c.id for c in clips}
        no_audio = [i for i in reused.no_audio if i in ids]  # not the extra people of a cache with them
        short_audio = [{"clip": c, "reason": r} for c, r in reused.short_audio if c in ids]
        return reused.start[:n].tolist(), reused.length[:n].tolist(), skipped, None, no_audio, short_audio
    skipped, filled, no_audio, short_audio = [], 0, [], []
    detect = landmark_source(clips) == DETECTED
    decoded = decode_clips(clips, size, decode_workers(len(clips), detect))
    if progress:
        from tqdm import tqdm

        what = " + dlib landmarks" if detect else ""
        decoded = tqdm(
            decoded,
            total=len(clips),
            desc=f"decoding {len(clips)} clips{what} -> {size}px cache",
            unit="clip",
        )
    for clip, result in decoded:
        if isinstance(result, DataError):  # one unreadable clip (video, audio, sidecar, no face) is left out
            skipped.append({"clip": clip.id, "reason": str(result)})
            continue
        rows, landmarks, mel, wav, clip_filled, audio_problem = result
        filled += clip_filled
        if audio_problem:
            no_audio.append(clip.id)
        if audio_problem and audio_problem != NO_AUDIO:
            short_audio.append({"clip": clip.id, "reason": audio_problem})
        start.append(frames.n_rows)
        length.append(len(rows))
        frames.append(rows)
        lms.append(landmarks)
        mels.append(mel)
        wavs.append(wav)
    return start, length, skipped, filled, no_audio, short_audio


def _first_reasons(entries: list[dict]) -> str:
    """The first three ``{"clip", "reason"}`` entries' reasons, for a note ("; ..." when there are more)."""
    return "; ".join(e["reason"] for e in entries[:3]) + ("; ..." if len(entries) > 3 else "")


def _note_no_audio(no_audio: list[str], short_audio: list[dict], n_clips: int) -> None:
    """Say which training clips the audio stages leave out: those without audio, and those whose audio
    is too short for their video (``short_audio``), apart."""
    short = {s["clip"] for s in short_audio}
    silent = [c for c in no_audio if c not in short]
    if silent:
        print(
            f"note: {len(silent)} of {n_clips} training clips have no audio (no audio file and no "
            f"audio track; first: {', '.join(silent[:3])}): the frames-only stages train on them, the "
            "audio stages leave them out",
            file=sys.stderr,
            flush=True,
        )
    if short_audio:
        shown = _first_reasons(short_audio)
        print(
            f"note: {len(short_audio)} of {n_clips} training clips have audio more than "
            f"{MAX_LENGTH_MISMATCH_S} s shorter than their video (their last frames would pair with "
            f"silence): the frames-only stages train on them, the audio stages leave them out: {shown}",
            file=sys.stderr,
            flush=True,
        )


def load_frame_cache(path: str | Path) -> FrameCache:
    """Memory-map a cache folder written by ``build_frame_cache``."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.exists():
        raise DatasetLayoutError(
            path,
            "not a training frame cache (no meta.json); `python -m edtalk.train` writes one per dataset "
            "and image size under <out>/cache/ (e.g. runs/cache/<key>/)",
        )
    meta = json.loads(meta_path.read_text())
    return FrameCache(
        frames=np.load(path / "frames.npy", mmap_mode="r"),
        landmarks=np.load(path / "landmarks.npy", mmap_mode="r"),
        mels=np.load(path / "mels.npy", mmap_mode="r"),
        wavs=np.load(path / "wavs.npy", mmap_mode="r") if (path / "wavs.npy").exists() else None,
        start=np.asarray(meta["start"], np.int64),
        length=np.asarray(meta["length"], np.int64),
        identity=np.asarray(meta["identity"], np.int64),
        emotion=np.asarray(meta["emotion"], np.int64),
        clip_ids=list(meta["clip_ids"]),
        identities=list(meta["identities"]),
        transcripts=list(meta["transcripts"]),
        skipped=tuple((entry["clip"], entry["reason"]) for entry in meta.get("skipped", [])),
        no_audio=tuple(meta.get("no_audio", [])),
        short_audio=tuple((entry["clip"], entry["reason"]) for entry in meta.get("short_audio", [])),
    )
