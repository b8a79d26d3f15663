"""Generating a method's predictions: a chunk of clips on one Ray worker (``generate_chunk``), and
the stamps that say what each generated video was made from, so that videos of another checkpoint
(``drop_stale_videos``) or of changed GT files (``drop_videos_of_changed_inputs``) are generated again.

Ray workers import this module (``generate_chunk`` is shipped by reference): keep its top-level
imports light."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

from edtalk.atomic import write_json
from eval.cache import file_fingerprint, same_inputs
from eval.scoring import fatal_errors


def lost_generation(items: list[tuple[Any, Path]], reason: str) -> dict:
    """``generate_chunk``'s result for a chunk whose worker died: each clip's generation failed."""
    return {"rows": [c.id for c, _ in items], "failures": [(c.id, reason) for c, _ in items]}


def stopping_errors() -> tuple[type[BaseException], ...]:
    """The errors that stop a method's generation, being the same for every clip (its checkpoint, its
    config, a weight file): ``fatal_errors`` and the checkpoint's and config's own."""
    from edtalk.config import ConfigError
    from edtalk.model import CheckpointError

    return (*fatal_errors(), CheckpointError, ConfigError)


def generate_chunk(items: list[tuple[Any, Path]], method: Any) -> dict:
    """A chunk on a Ray worker: write the method's prediction for each (clip, path); failures by clip."""
    from edtalk.data.errors import DataError

    failures = []
    for clip, path in items:
        try:
            method.generate(clip, path)
            stamp_generation_inputs(clip, path)  # here, so a killed run keeps what it finished
        except stopping_errors():
            raise  # the same for every clip: stop the run with its message (before the per-clip kinds
            # below, which they subclass: a CheckpointError is a ValueError, a missing weight file a
            # FileNotFoundError)
        except (DataError, FileNotFoundError, ValueError) as e:
            failures.append((clip.id, f"generation failed: {e}"))
        except Exception as e:  # a bug met on this clip: its failure, the other clips go on
            traceback.print_exc()
            failures.append((clip.id, f"generation crashed: {type(e).__name__}: {e}"))
    return {"rows": [c.id for c, _ in items], "failures": failures}


def generation_stamp(video: Path) -> Path:
    """Where the fingerprint of the inputs a generated video was made from is kept, beside it."""
    return video.with_name(video.name + ".inputs.json")


def generation_inputs(clip: Any) -> list:
    """The GT files the generating methods read (frames, audio) as ``file_fingerprint``: each file
    by name, size and mtime, so the same GT files reached through another spelling of ``--root``
    (relative, absolute, symlinked, moved) keep their videos and a replaced one does not."""
    return json.loads(json.dumps(file_fingerprint(clip.video, clip.audio)))


def stamp_generation_inputs(clip: Any, video: Path) -> None:
    """Record what ``video`` was generated from (``drop_videos_of_changed_inputs`` checks it)."""
    write_json(generation_stamp(video), generation_inputs(clip))


def drop_videos_of_changed_inputs(clips: list, preds: dict[str, Path | None]) -> int:
    """Delete generated videos whose GT inputs changed since they were made, or that have no stamp
    (killed between writing the video and its stamp), so that they are generated again; returns
    how many. A stamp written before stamps kept file names (it holds the GT paths as spelled then)
    is read by the names of those paths (``eval.cache.same_inputs``)."""
    changed, unstamped = [], []
    for clip in clips:
        video = preds[clip.id]
        if video is None or not video.exists():
            continue
        try:
            made_from = json.loads(generation_stamp(video).read_text())
        except (OSError, ValueError):
            unstamped.append(video)
            continue
        if not same_inputs(made_from, generation_inputs(clip)):  # stamps of older runs too
            changed.append(video)
    for video in changed + unstamped:
        video.unlink()
        generation_stamp(video).unlink(missing_ok=True)
    if changed:
        note = f"note: {len(changed)} generated videos were made from other GT files; regenerating"
        print(note, flush=True)
    if unstamped:
        print(
            f"note: {len(unstamped)} generated videos have no record of the GT files they were made from "
            "(an interrupted run?); regenerating",
            flush=True,
        )
    return len(changed) + len(unstamped)


def provenance_identity(provenance: dict[str, Any]) -> dict[str, Any]:
    """What makes two generations the same: the provenance without the checkpoint's path and the
    resolution it implies when its sha256 is recorded (``runs/x/final.pt`` and its absolute path are
    one checkpoint)."""
    if "checkpoint_sha256" in provenance:
        return {k: v for k, v in provenance.items() if k not in ("checkpoint", "resolution")}
    return provenance


def drop_stale_videos(videos_dir: Path, provenance: dict[str, Any]) -> int:
    """Delete videos generated under another provenance (e.g. a retrained ``--ckpt``: its sha256
    differs) and record the current one in ``videos_dir/provenance.json``. Returns how many were
    deleted. Their cached score rows go stale with them (the rows fingerprint the prediction file)."""
    stamp = videos_dir / "provenance.json"
    current = json.loads(json.dumps(provenance, sort_keys=True, default=str))
    try:
        previous = json.loads(stamp.read_text()) if stamp.is_file() else None
    except (OSError, ValueError):
        previous = None
    videos = list(videos_dir.glob("*.mp4"))
    same = previous is not None and provenance_identity(previous) == provenance_identity(current)
    stale = [] if same else videos  # another provenance, or unstamped videos
    if stale:
        for video in stale:
            video.unlink()
            generation_stamp(video).unlink(missing_ok=True)
        origin = previous if previous is not None else "an unstamped run"
        print(f"note: {len(stale)} videos in {videos_dir} came from {origin}; regenerating", flush=True)
    write_json(stamp, current, indent=1, sort_keys=True)  # creates videos_dir
    return len(stale)
