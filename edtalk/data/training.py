"""Training samples for the six EDTalk stages, drawn from a decoded, cached copy of a split.

``build_frame_cache`` decodes every clip of a split once (frames resized to the model's image size,
landmarks rescaled, Wav2Lip mel windows per frame) into a folder of ``.npy`` arrays that every Ray
worker memory-maps (``load_frame_cache``). ``training_clips`` reads the split and refuses any clip of
the dataset's judge or test split (``check_unseen``). Samplers then draw batches from the cache with a
per-rank RNG:

- ``frame_pairs`` (eg_pretrain): target I^d of any clip, source I^i a neutral frame of the same identity.
- ``mouth_swap_pairs`` (mouth_pose): frames I^a, I^b of two identities, their identity frames, and
  the mouth-swapped I^{m_a}_{p_b}, I^{m_b}_{p_a}.
- ``expression_windows`` (expression): source I^i (neutral when available), driving I^d and the
  K-frame window around I^d.
- ``audio_windows`` (audio_lip, audio_pose): a source frame, T consecutive frames, their mel windows.
- ``emotion_clips`` (audio_expression): T frames of a clip (to extract W^e), their mel windows and
  the transcript.

Images are float32 (B, 3, H, W) in [-1, 1]; mels (B, T, 1, 80, 16).
"""

from __future__ import annotations

import errno
import hashlib
import itertools
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

import cv2
import numpy as np
import torch

from edtalk.config import ConfigError
from edtalk.data.clip import EMOTIONS, Clip
from edtalk.data.errors import DataError, DatasetLayoutError
from edtalk.data.mouth_swap import swap_mouth
from edtalk.data.npy_rows import NpyRowWriter

if TYPE_CHECKING:
    from edtalk.data.video import VideoInfo

CACHE_VERSION = 1


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


def _decoded_elsewhere(clips: list[Clip], size: int, cache_root: Path) -> FrameCache | None:
    """A cache already in ``cache_root`` whose clips start with exactly ``clips`` at this size (the
    split's plain cache, or one with extra people appended), so that the stages with and without
    extras decode the split's videos once between them."""
    ids = [c.id for c in clips]
    source = landmark_source(clips)
    for meta_path in sorted(cache_root.glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        left_out = {s["clip"] for s in meta.get("skipped", [])}
        kept = [i for i in ids if i not in left_out]
        if (
            meta.get("version") == CACHE_VERSION
            and meta.get("size") == size
            and meta.get("landmarks", "sidecar") == source
            and left_out <= set(ids)  # clips it left out are of this list (undecodable here too)
            and meta.get("clip_ids", [])[: len(kept)] == kept
        ):
            return load_frame_cache(meta_path.parent)
    return None


def _clip_landmarks(clip: Clip, frames: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """(T, 68, 2) landmarks in pixels of the cached ``size``, from the clip's sidecar or, without
    one, detected on its frames; and how many frames had no detection (0 from a sidecar)."""
    n_frames, scale = len(frames), size / frames.shape[1]
    if clip.sidecar is None:
        from edtalk.data.face_landmarks import track_landmarks

        landmarks, filled = track_landmarks(frames, clip.video)
        return landmarks * scale, filled
    if not Path(clip.sidecar).exists():
        raise DataError(clip.sidecar, "missing landmark sidecar JSON")
    try:
        meta = json.loads(Path(clip.sidecar).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(clip.sidecar, f"unreadable sidecar JSON ({err})") from None
    lm = np.asarray(meta.get("landmarks", []), np.float32)
    if lm.shape[1:] != (68, 2) or len(lm) < n_frames:
        raise DataError(clip.sidecar, f"'landmarks' must be T x 68 x 2 with T >= {n_frames}, got {lm.shape}")
    return lm[:n_frames] * scale, 0


def _clip_mels(clip: Clip, n_frames: int, fps: float) -> np.ndarray:
    from edtalk.data.audio import load_audio, mel_windows, melspectrogram

    if clip.audio is None:
        return np.zeros((n_frames, 80, 16), np.float16)
    mel = melspectrogram(load_audio(clip.audio))
    return mel_windows(mel, n_frames, fps=fps).astype(np.float16)


# --- the evaluation splits stay unseen ------------------------------------------------------------
HELD_OUT_SPLITS = ("judge", "test")  # the judges' identities and the scored test split: never trained on


def _held_out_clips(reader: str, root: Path, split: str) -> list[Clip]:
    """The clips of the held-out ``split``; [] where the dataset has no such split (no list, no folder,
    no built-in rule). The folder reader returns every clip for a split it has no list for, so there
    only a list makes a split."""
    from edtalk.data.readers import read_clips
    from edtalk.data.readers.common import split_list_path

    if reader == "folder" and split_list_path(root, split) is None:
        return []
    try:
        return read_clips(reader, root, split)
    except DatasetLayoutError:
        return []


def held_out_overlap(clips: list[Clip], reader: str, root: str | Path) -> dict[str, list[str]]:
    """The ids of ``clips`` that belong to the dataset's judge or test split, per split it has: the same
    video file (LRW's train and test folders reuse clip names), or, for a dataset whose splits hold out
    whole people (its reader's ``splits_by_identity``), a clip of the same person."""
    from edtalk.data.readers import READERS

    videos = [Path(c.video).resolve() for c in clips]
    found: dict[str, list[str]] = {}
    for split in HELD_OUT_SPLITS:
        held = _held_out_clips(reader, Path(root), split)
        held_videos = {Path(c.video).resolve() for c in held}
        people = {c.identity or c.id for c in held} if READERS.get(reader).splits_by_identity else set()
        ids = [
            c.id
            for c, v in zip(clips, videos, strict=True)
            if v in held_videos or (c.identity or c.id) in people
        ]
        if ids:
            found[split] = ids
    return found


def check_unseen(clips: list[Clip], reader: str, root: str | Path) -> None:
    """Refuse training ``clips`` of the dataset's judge or test split (``held_out_overlap``): the judges
    and the test identities score the trained model, so no training may see them."""
    overlap = held_out_overlap(clips, reader, root)
    if overlap:
        found = "; ".join(
            f"{len(ids)} of the {split} split (first: {ids[0]})" for split, ids in overlap.items()
        )
        raise ConfigError(
            f"split {clips[0].split!r} of {reader}:{root} holds evaluation clips: {found}. Training must "
            "never see the judges' or the test identities (they score the trained model): train on "
            "'train', or on a split list that leaves them out"
        )


def training_clips(reader: str, root: str | Path, split: str) -> list[Clip]:
    """The clips of ``split`` to train on (``read_clips``), refused when any is a judge or test clip."""
    from edtalk.data.readers import read_clips

    clips = read_clips(reader, root, split)
    check_unseen(clips, reader, root)
    return clips


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
    (zero mel windows). It is only called when the cache has to be built. When another cache in
    ``cache_root`` already holds exactly ``clips`` at ``size`` (first), their rows are copied from it
    instead of decoding the videos again.

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
    if (final / "meta.json").exists():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(cache_root)
    check_before_decoding(clips, size, cache_root)
    extra_clips = extra() if extra is not None else []
    source = landmark_source(clips)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-", dir=cache_root))
    try:
        with (
            NpyRowWriter(tmp / "frames.npy", (size, size, 3), np.uint8) as frames,
            NpyRowWriter(tmp / "landmarks.npy", (68, 2), np.float32) as lms,
            NpyRowWriter(tmp / "mels.npy", (80, 16), np.float16) as mels,
        ):
            start, length, skipped, filled = _write_rows(clips, size, cache_root, frames, lms, mels, progress)
            decoded_rows = frames.n_rows
            left_out = {s["clip"] for s in skipped}
            clips = [c for c in clips if c.id not in left_out]
            if not clips:
                raise DatasetLayoutError(
                    None, f"none of the clips to train on could be read; the first: {skipped[0]['reason']}"
                )
            for clip in extra_clips:
                start.append(frames.n_rows)
                length.append(clip.n_frames)
                frames.append(_resized(clip.frames, size))
                lms.append(np.asarray(clip.landmarks, np.float32) * (size / clip.size))
                mels.append(np.zeros((clip.n_frames, 80, 16), np.float16))
        if skipped:
            shown = "; ".join(s["reason"] for s in skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
            print(
                f"warning: {len(skipped)} of {len(clips) + len(skipped)} training clips could not be read "
                f"and are left out of the frame cache {final} (listed in its meta.json; to add them once "
                f"mended, delete that folder): {shown}",
                file=sys.stderr,
                flush=True,
            )
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
            "landmarks": source,
            "landmark_frames_filled": filled,  # detected: frames without a face, given the nearest's
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


ROW_BYTES_BESIDES_FRAME = 68 * 2 * 4 + 80 * 16 * 2  # a frame's landmarks (float32) and mel window (float16)
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
    """Stop before decoding, from a sample of the clips' headers, when the split is raw video (every
    sampled clip non-square: each would be decoded only to be left out) or the disk under
    ``cache_root`` cannot hold the cache (a MEAD-sized split at 256 px is about half a terabyte),
    instead of failing hours later."""
    headers = sampled_headers(clips)
    if headers and all(info.size[0] != info.size[1] for _, info in headers):
        clip, info = headers[0]
        raise _not_square(clip, *info.size)
    need = estimated_cache_bytes(clips, size, headers)
    free = shutil.disk_usage(cache_root).free
    if need > free:
        raise DataError(
            cache_root,
            f"the training frame cache of {len(clips)} clips at {size} px needs about {_amount(need)} "
            f"and this disk has {_amount(free)} free; free space, or give edtalk.train an --out on a "
            "larger disk (the cache is <out>/cache)",
        )


def _amount(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


def _resized(native_frames: np.ndarray, size: int) -> np.ndarray:
    """Frames area-resized to ``size`` x ``size`` (uint8 (T, size, size, 3))."""
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in native_frames])


COPY_ROWS = 4096  # rows copied at a time from a reused cache's memory map


def _write_rows(
    clips, size, cache_root, frames, lms, mels, progress
) -> tuple[list, list, list[dict], int | None]:
    """Append ``clips``' rows to the three writers, from another cache holding them at this size or
    decoded (in ``decode_workers`` processes); returns (start, length, skipped, filled): ``skipped``
    lists the clips that could not be read ({"clip", "reason"}), left out; ``filled`` counts the
    frames whose detected landmarks came from the nearest frame with a face (None when copied)."""
    start: list[int] = []
    length: list[int] = []
    reused = _decoded_elsewhere(clips, size, cache_root)
    if reused is not None:  # the same clips at the same size, decoded for another cache already
        skipped = [{"clip": c, "reason": r} for c, r in reused.skipped]
        n = len(clips) - len(skipped)
        rows = int(reused.start[n - 1] + reused.length[n - 1])
        for i in range(0, rows, COPY_ROWS):
            frames.append(reused.frames[i : min(i + COPY_ROWS, rows)])
            lms.append(reused.landmarks[i : min(i + COPY_ROWS, rows)])
            mels.append(reused.mels[i : min(i + COPY_ROWS, rows)])
        return reused.start[:n].tolist(), reused.length[:n].tolist(), skipped, None
    skipped, filled = [], 0
    detect = landmark_source(clips) == DETECTED
    decoded = _decoded(clips, size, decode_workers(len(clips), detect))
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
        rows, landmarks, mel, clip_filled = result
        filled += clip_filled
        start.append(frames.n_rows)
        length.append(len(rows))
        frames.append(rows)
        lms.append(landmarks)
        mels.append(mel)
    return start, length, skipped, filled


CLIPS_PER_DECODER = 16  # fewer clips than this per extra process: decode in this one (spawn costs ~2 s)
MOST_DECODERS = 8


def decode_workers(n_clips: int, detect: bool) -> int:
    """Processes that decode a split: with landmark detection one per core (at most 8; none beyond
    this one for a few clips); without, this one (benchmarks/frame_cache.py: 64 synthtalk clips with
    dlib on 2 cores 1.36x faster in 2 processes; from sidecars 0.40x, decoding is cheap)."""
    if not detect:
        return 1
    return max(1, min(MOST_DECODERS, os.cpu_count() or 1, n_clips // CLIPS_PER_DECODER))


def _not_square(clip: Clip, height: int, width: int) -> DataError:
    """The error for a clip whose frames are not square face crops, with how to make them."""
    if clip.dataset in ("mead", "hdtf"):
        how = (
            f"`python -m edtalk.data.crop dataset --dataset {clip.dataset} --root RAW --out CROPPED` makes "
            "them; train on CROPPED"
        )
    else:
        how = "`python -m edtalk.data.crop video` makes them"
    return DataError(
        clip.video, f"frames are {width}x{height} (width x height), not square face crops; {how}"
    )


def _decode_clip(clip: Clip, size: int):
    """(frames resized to ``size``, landmarks, mel windows, frames filled) of one clip, or the
    ``DataError`` that says why it cannot be read (returned, so a pool hands it back in order)."""
    from edtalk.data.video import read_video

    try:
        clip.check()  # listed but unreadable (a bad sidecar): left out with its reason, as a missing video
        video = read_video(clip.video)
        if video.size[0] != video.size[1]:
            raise _not_square(clip, *video.size)
        landmarks, filled = _clip_landmarks(clip, video.frames, size)
        mel = _clip_mels(clip, video.n_frames, video.fps)
    except DataError as err:
        return err
    return _resized(video.frames, size), landmarks, mel, filled


def _decoded(clips: list[Clip], size: int, workers: int):
    """Yield (clip, ``_decode_clip`` result) in ``clips``' order, from ``workers`` spawned processes
    when more than one (at most two clips each in flight, so memory stays bounded)."""
    if workers <= 1:
        for clip in clips:
            yield clip, _decode_clip(clip, size)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    todo = iter(clips)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = deque((c, pool.submit(_decode_clip, c, size)) for c in itertools.islice(todo, 2 * workers))
        while pending:
            clip, future = pending.popleft()
            result = future.result()
            for nxt in itertools.islice(todo, 1):
                pending.append((nxt, pool.submit(_decode_clip, nxt, size)))
            yield clip, result


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
        start=np.asarray(meta["start"], np.int64),
        length=np.asarray(meta["length"], np.int64),
        identity=np.asarray(meta["identity"], np.int64),
        emotion=np.asarray(meta["emotion"], np.int64),
        clip_ids=list(meta["clip_ids"]),
        identities=list(meta["identities"]),
        transcripts=list(meta["transcripts"]),
        skipped=tuple((entry["clip"], entry["reason"]) for entry in meta.get("skipped", [])),
    )


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float32 (..., 3, H, W) in [-1, 1]."""
    t = (
        torch.from_numpy(np.array(frames, dtype=np.uint8)).float().div_(127.5).sub_(1.0)
    )  # copy: caches are read-only
    return t.movedim(-1, -3)


class StageSampler:
    """Draws the batches of every stage from one ``FrameCache`` with a seeded RNG (one per rank)."""

    def __init__(self, cache: FrameCache, seed: int = 0) -> None:
        self.cache = cache
        self.rng = np.random.default_rng(seed)
        self._by_identity: dict[int, np.ndarray] = {
            i: np.flatnonzero(cache.identity == i) for i in np.unique(cache.identity)
        }
        neutral = EMOTIONS.index("neutral")
        self._neutral = np.flatnonzero(cache.emotion == neutral)

    # --- helpers ---------------------------------------------------------------------------------
    def _frame(self, clip: int) -> int:
        return int(self.cache.start[clip] + self.rng.integers(self.cache.length[clip]))

    def _clip_of_identity(self, identity: int, prefer: np.ndarray | None = None) -> int:
        pool = self._by_identity[identity]
        if prefer is not None:
            preferred = np.intersect1d(pool, prefer)
            pool = preferred if len(preferred) else pool
        return int(self.rng.choice(pool))

    def _images(self, rows: list[int] | np.ndarray) -> torch.Tensor:
        return to_tensor(self.cache.frames[np.asarray(rows)])

    def _run(self, clip: int, n: int) -> np.ndarray:
        """Rows of ``n`` consecutive frames of ``clip`` (repeating the last frame if the clip is short)."""
        length = int(self.cache.length[clip])
        first = int(self.rng.integers(max(length - n, 0) + 1))
        offs = np.minimum(np.arange(first, first + n), length - 1)
        return self.cache.start[clip] + offs

    # --- samplers ----------------------------------------------------------------------------------
    def frame_pairs(self, batch_size: int) -> dict[str, torch.Tensor]:
        """eg_pretrain: a target frame of any clip, and a source frame of the same identity from one of
        its neutral clips when it has one (the official stage-1 MEAD sampling: source = a random
        neutral frame of the identity, target = a random frame of any emotion), so G learns to draw
        every expression onto a neutral face, which is what cross-driving asks of it."""
        clips = self.rng.integers(self.cache.n_clips, size=batch_size)
        tgt = [self._frame(c) for c in clips]
        src = [self._frame(self._clip_of_identity(int(self.cache.identity[c]), self._neutral)) for c in clips]
        return {"source": self._images(src), "target": self._images(tgt)}

    def mouth_swap_pairs(self, batch_size: int, neutral_only: bool = True) -> dict[str, torch.Tensor]:
        """mouth_pose: I^a, I^b (two identities), identity frames, I^{m_a}_{p_b} and I^{m_b}_{p_a}.

        Like the paper (HDTF, neutral only) it prefers neutral clips when the split has them.
        """
        if not self.cache.has_landmarks:
            raise DataError(
                None,
                "the mouth-pose stage needs 68-point landmarks per frame, and this frame cache has none "
                "(built before landmarks were detected for clips without a sidecar): delete it to rebuild",
            )
        ids = np.array(sorted(self._by_identity))
        prefer = self._neutral if (neutral_only and len(self._neutral)) else None
        out: dict[str, list] = {k: [] for k in ("id_a", "a", "id_b", "b", "ma_pb", "mb_pa")}
        for _ in range(batch_size):
            ia, ib = self.rng.choice(ids, size=2, replace=len(ids) < 2)
            rows = {}
            for key, ident in (("a", ia), ("b", ib)):
                rows[key] = self._frame(self._clip_of_identity(int(ident), prefer))
                rows["id_" + key] = self._frame(self._clip_of_identity(int(ident), prefer))
            fa, fb = self.cache.frames[rows["a"]], self.cache.frames[rows["b"]]
            la, lb = self.cache.landmarks[rows["a"]], self.cache.landmarks[rows["b"]]
            out["ma_pb"].append(swap_mouth(fb, lb, fa, la)[0])  # b's face and pose, a's mouth
            out["mb_pa"].append(swap_mouth(fa, la, fb, lb)[0])  # a's face and pose, b's mouth
            for key in ("a", "b", "id_a", "id_b"):
                out[key].append(self.cache.frames[rows[key]])
        return {k: to_tensor(np.stack(v)) for k, v in out.items()}

    def expression_windows(self, batch_size: int, window: int) -> dict[str, torch.Tensor]:
        """expression: source I^i (a neutral clip of the same identity when there is one), driving
        I^d, and the ``window`` (K) frames centred on I^d whose expression features are averaged."""
        clips = self.rng.integers(self.cache.n_clips, size=batch_size)
        src, drv, win = [], [], []
        half = window // 2
        for c in clips:
            length, first = int(self.cache.length[c]), int(self.cache.start[c])
            t = int(self.rng.integers(length))
            offs = np.clip(np.arange(t - half, t - half + window), 0, length - 1)
            drv.append(first + t)
            win.append(first + offs)
            src.append(self._frame(self._clip_of_identity(int(self.cache.identity[c]), self._neutral)))
        return {
            "source": self._images(src),
            "driving": self._images(drv),
            "window": self._images(np.stack(win)),
            "emotion": torch.as_tensor(self.cache.emotion[clips]),
        }

    def audio_windows(self, batch_size: int, n_frames: int) -> dict[str, torch.Tensor]:
        """audio_lip / audio_pose: a source frame of the clip, ``n_frames`` consecutive frames, and the
        Wav2Lip mel window of each frame (B, T, 1, 80, 16)."""
        clips = self.rng.integers(self.cache.n_clips, size=batch_size)
        runs = np.stack([self._run(int(c), n_frames) for c in clips])
        src = [self._frame(int(c)) for c in clips]
        mels = torch.from_numpy(np.ascontiguousarray(self.cache.mels[runs])).float().unsqueeze(2)
        return {"source": self._images(src), "frames": self._images(runs), "mels": mels}

    def emotion_clips(self, batch_size: int, n_frames: int) -> dict:
        """audio_expression: ``n_frames`` consecutive frames of a clip (to extract W^e), their mel
        windows (B, T, 1, 80, 16), the transcript and the emotion index."""
        clips = self.rng.integers(self.cache.n_clips, size=batch_size)
        runs = np.stack([self._run(int(c), n_frames) for c in clips])
        mels = torch.from_numpy(np.ascontiguousarray(self.cache.mels[runs])).float().unsqueeze(2)
        return {
            "frames": self._images(runs),
            "mels": mels,
            "transcripts": [self.cache.transcripts[int(c)] for c in clips],
            "emotion": torch.as_tensor(self.cache.emotion[clips]),
        }
