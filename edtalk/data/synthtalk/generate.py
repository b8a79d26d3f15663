"""Write a synthtalk dataset: plan the clips, render them in worker processes, write the index.

Every clip's random generator is seeded from (seed, identity index, emotion index, level, number),
so the bytes of a clip do not depend on worker count or scheduling: same seed, same files.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edtalk.atomic import is_temp_name, write_text
from edtalk.cli import amount_of_bytes
from edtalk.data.audio import write_wav
from edtalk.data.clip import EMOTIONS
from edtalk.data.errors import DataError, DatasetLayoutError
from edtalk.data.pool_worker import start_pool_worker
from edtalk.data.synthtalk.card import GENERATOR_VERSION, write_card, write_contact_sheet
from edtalk.data.synthtalk.clip import SynthClip, make_clip
from edtalk.data.synthtalk.expression import expression_params
from edtalk.data.synthtalk.factors import FACTOR_KEYS
from edtalk.data.synthtalk.files import write_json
from edtalk.data.synthtalk.identity import sample_identity
from edtalk.data.synthtalk.presets import SPLITS, Preset, estimated_bytes, get_preset
from edtalk.data.synthtalk.render import render_frame

_IDENTITY_STREAM = 7_919  # separates identity draws from clip draws in the seed sequence


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker needs to make and write one clip."""

    clip_id: str
    identity: str
    identity_index: int
    split: str
    emotion: str
    level: int
    number: int
    seed: int
    preset: Preset
    out: str
    sheet_tile: bool  # return a frame for the contact sheet


def identity_name(index: int) -> str:
    return f"st{index:03d}"


def identity_split(index: int, preset: Preset) -> str:
    n_train, n_judge, _ = preset.splits
    return "train" if index < n_train else "judge" if index < n_train + n_judge else "test"


def identity_params(seed: int, index: int) -> dict:
    """Identity ``index``'s appearance for ``seed`` (the same in every process)."""
    return sample_identity(np.random.default_rng(np.random.SeedSequence([seed, index, _IDENTITY_STREAM])))


def clip_rng(seed: int, identity_index: int, emotion: str, level: int, number: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence([seed, identity_index, EMOTIONS.index(emotion), level, number])
    )


def sheet_identities(preset: Preset) -> list[int]:
    """One identity per split for the contact sheet."""
    n_train, n_judge, _ = preset.splits
    return [0, n_train, n_train + n_judge]


def plan(out: Path, preset: Preset, seed: int) -> list[ClipTask]:
    tiles = set(sheet_identities(preset))
    tasks = []
    for index in range(preset.n_identities):
        for emotion in preset.emotions:
            for level in preset.levels:
                for number in range(1, preset.clips_per_condition + 1):
                    name = identity_name(index)
                    tasks.append(
                        ClipTask(
                            clip_id=f"{name}#{emotion}#level_{level}#{number:03d}",
                            identity=name,
                            identity_index=index,
                            split=identity_split(index, preset),
                            emotion=emotion,
                            level=level,
                            number=number,
                            seed=seed,
                            preset=preset,
                            out=str(out),
                            sheet_tile=index in tiles and number == 1,
                        )
                    )
    return tasks


def clip_for_task(task: ClipTask) -> SynthClip:
    """The in-memory clip of one task (identical to what ``generate`` writes)."""
    p = task.preset
    return make_clip(
        identity_params(task.seed, task.identity_index),
        task.emotion,
        task.level,
        clip_rng(task.seed, task.identity_index, task.emotion, task.level, task.number),
        size=p.size,
        fps=p.fps,
        sample_rate=p.sample_rate,
        min_duration=p.min_duration,
        max_duration=p.max_duration,
    )


def sidecar(task: ClipTask, clip: SynthClip) -> dict:
    """The JSON sidecar of a clip (keys fixed by the team contract; extra keys are additive)."""
    return {
        "id": task.clip_id,
        "identity": task.identity,
        "split": task.split,
        "emotion": task.emotion,
        "level": task.level,
        "transcript": clip.transcript,
        "fps": clip.fps,
        "sample_rate": clip.sample_rate,
        "n_frames": clip.n_frames,
        "size": clip.size,
        "factors": {k: [round(float(x), 5) for x in v] for k, v in clip.factors.items()},
        "landmarks": np.round(clip.landmarks, 2).tolist(),
        "visemes": clip.visemes,
        "identity_params": clip.identity_params,
        "expression": clip.expression,
        "generator": generator_block(task),
    }


def generator_block(task: ClipTask) -> dict:
    """The sidecar's ``generator`` block: which generator, preset and seed made this clip (its last key)."""
    return {
        "name": "synthtalk",
        "version": GENERATOR_VERSION,
        "seed": task.seed,
        "preset": task.preset.name,
        "number": task.number,
    }


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failed write (a full disk, no permission) into a ``DataError`` naming ``path`` and the fix."""
    import soundfile

    try:
        yield
    except (OSError, soundfile.SoundFileError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        free = f"{shutil.disk_usage(_nearest_folder(path)).free / 1e6:.1f} MB free there"
        raise DataError(
            path,
            f"cannot write it ({reason}; {free}): free some space or choose a writable --out, then run "
            "the same command again",
        ) from None


def _write_clip(task: ClipTask) -> dict:
    """Make one clip and write its mp4, wav and (last) sidecar; returns what the card needs of it."""
    from edtalk.data.video import write_video

    cpu_start = time.process_time()
    clip = clip_for_task(task)
    clips = Path(task.out) / "clips"
    with _writing(clips / f"{task.clip_id}.mp4"):
        write_video(
            clips / f"{task.clip_id}.mp4",
            clip.frames,
            fps=clip.fps,
            audio=clip.audio,
            sample_rate=clip.sample_rate,
        )
    with _writing(clips / f"{task.clip_id}.wav"):
        write_wav(clips / f"{task.clip_id}.wav", clip.audio, clip.sample_rate)
    with _writing(clips / f"{task.clip_id}.json"):
        write_json(clips / f"{task.clip_id}.json", sidecar(task, clip))
    tile = clip.frames[_sheet_frame(clip.factors)] if task.sheet_tile else None
    return _card_entry(task, clip.n_frames, clip.factors, tile, cpu_start)


def _kept_clip(out: Path, task: ClipTask) -> dict | None:
    """What the card needs of a clip already written by an earlier run of these settings (``_unwritten``),
    from its sidecar's factor tracks instead of synthesising it again (a contact sheet tile renders
    that one frame); None when the sidecar is not whole (the clip is written again)."""
    cpu_start = time.process_time()
    factors = _sidecar_factors(out / "clips" / f"{task.clip_id}.json")
    if factors is None:
        return None
    tile = _render_tile(task, factors) if task.sheet_tile else None
    return {**_card_entry(task, len(factors["yaw"]), factors, tile, cpu_start), "kept": True}


_SIDECAR_FACTORS = (*FACTOR_KEYS, "blink")  # a sidecar's factor tracks, in the order ``make_clip`` draws them


def _sidecar_factors(path: Path) -> dict[str, np.ndarray] | None:
    """A sidecar's factor tracks (``_SIDECAR_FACTORS``, ``n_frames`` finite values each); None when it is
    unreadable or not as ``sidecar`` writes it."""
    try:
        meta = json.loads(path.read_bytes())
        n_frames, tracks = meta["n_frames"], meta["factors"]
        factors = {k: np.asarray(v, np.float64) for k, v in tracks.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    whole = type(n_frames) is int and n_frames > 0 and tuple(factors) == _SIDECAR_FACTORS
    if not whole or any(v.shape != (n_frames,) or not np.isfinite(v).all() for v in factors.values()):
        return None
    return factors


def _kept_clips(out: Path, tasks: list[ClipTask], blocks: dict) -> dict[str, dict]:
    """The card entries (``_kept_clip``) of the planned clips that an interrupted run wrote whole, by id."""
    kept = {}
    for task in tasks:
        if not _unwritten(out, task, blocks) and (entry := _kept_clip(out, task)) is not None:
            kept[task.clip_id] = entry
    return kept


def _sheet_frame(factors: dict[str, np.ndarray]) -> int:
    """The frame of a clip that the contact sheet shows: the most frontal one with open eyes."""
    return int(np.argmin(np.abs(factors["yaw"]) + np.abs(factors["pitch"]) + 20 * factors["blink"]))


def _render_tile(task: ClipTask, factors: dict[str, np.ndarray]) -> np.ndarray:
    """The contact sheet frame (``_sheet_frame``) of ``task``'s clip, rendered alone as ``make_clip``
    renders it (same identity, expression and factors)."""
    identity = identity_params(task.seed, task.identity_index)
    expression = expression_params(task.emotion, task.level, identity["expressivity"])
    at = _sheet_frame(factors)
    return render_frame(
        identity, {k: float(v[at]) for k, v in factors.items()}, expression, task.preset.size
    )[0]


def _card_entry(
    task: ClipTask, n_frames: int, factors: dict, tile: np.ndarray | None, cpu_start: float
) -> dict:
    return {
        "id": task.clip_id,
        "split": task.split,
        "n_frames": n_frames,
        "ranges": {k: (float(v.min()), float(v.max())) for k, v in factors.items()},
        "tile": tile,
        "cpu_s": time.process_time() - cpu_start,
    }


def init_render_worker(pool: bool = True) -> None:
    """One OpenCV thread per render process (the processes already use every core). A ``pool``
    worker leaves Ctrl-C to its parent, which stops the pool (no traceback from every worker), and
    ends when its parent is gone (``edtalk.data.pool_worker``)."""
    import cv2

    cv2.setNumThreads(1)
    if pool:
        start_pool_worker()


def _remove_stale(clips: Path, keep: set[str]) -> None:
    """Remove the clip files outside the plan and temp files left by a killed run."""
    for path in clips.glob("*"):
        if is_temp_name(path.name) or (path.suffix in (".mp4", ".wav", ".json") and path.stem not in keep):
            path.unlink()


def _read_card(out: Path) -> dict | None:
    """``out``'s card.json, None when there is none (or it is unreadable)."""
    try:
        return json.loads((out / "card.json").read_text())
    except (OSError, ValueError):
        return None


_GENERATOR_KEY = '"generator":'
_TAIL_BYTES = 4096


def read_generator_block(path: Path) -> dict | None:
    """The ``generator`` block of a clip sidecar; None when the file is unreadable or has none.

    ``sidecar`` writes the block last, so reading the file's tail is enough (checking every sidecar
    of a dataset stays cheap); a file that does not end that way is parsed whole."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace")
        at = tail.rfind(_GENERATOR_KEY)
        if at >= 0:
            try:
                block, end = json.JSONDecoder().raw_decode(tail, at + len(_GENERATOR_KEY))
                if isinstance(block, dict) and tail[end:].strip() == "}":
                    return block
            except ValueError:
                pass
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    block = meta.get("generator") if isinstance(meta, dict) else None
    return block if isinstance(block, dict) else None


def _nonempty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def _finished(out: Path, preset: Preset, seed: int, tasks: list, blocks: dict) -> tuple[dict | None, str]:
    """(card, "") for a finished dataset in ``out`` made with these settings, else (None, what is not).

    Finished means: the card names these settings; card.md, the contact sheet and every planned
    clip's mp4, wav and sidecar are non-empty files; the split lists list the planned clips; and
    every sidecar's ``generator`` block (``blocks``, ``_generator_blocks``) says it was made by this
    version, preset, seed and number (so a folder that mixes clips of two runs is never taken for a
    finished dataset)."""
    if (card := _read_card(out)) is None:
        return None, "no readable card.json: an interrupted run"
    if card.get("generator_version") != GENERATOR_VERSION:
        return None, f"made by generator {card.get('generator_version')}, this is {GENERATOR_VERSION}"
    if (card.get("preset"), card.get("seed")) != (preset.name, seed):
        return None, f"card.json names preset {card.get('preset')!r} seed {card.get('seed')}"
    for name in ("card.md", "contact_sheet.png"):
        if not _nonempty(out / name):
            return None, f"{name} missing or empty"
    for split in SPLITS:
        try:
            listed = (out / "splits" / f"{split}.txt").read_text()
        except (OSError, ValueError):
            listed = None
        if listed != "".join(f"{t.clip_id}\n" for t in tasks if t.split == split):
            return None, f"splits/{split}.txt does not list the planned clips"
    for t in tasks:
        if why := _unwritten(out, t, blocks):
            return None, why
    return card, ""


def _unwritten(out: Path, task: ClipTask, blocks: dict) -> str:
    """Why ``task``'s clip is not in ``out`` as this generator writes it ("" when it is): a missing or
    empty file, or a sidecar (written after the mp4 and the wav, each atomically) of other settings
    (its ``generator`` block in ``blocks``, ``_generator_blocks``)."""
    clips = out / "clips"
    for ext in (".mp4", ".wav", ".json"):
        if not _nonempty(clips / f"{task.clip_id}{ext}"):
            return f"clips/{task.clip_id}{ext} missing or empty"
    if blocks.get(task.clip_id) != generator_block(task):
        return f"clips/{task.clip_id}.json not made by this preset, seed and generator"
    return ""


LAYOUT = {"clips", "splits", "card.json", "card.md", "contact_sheet.png"}  # what generate() writes
SUMMARY = ("card.json", "card.md", "contact_sheet.png")  # written last, from every clip


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetLayoutError(out, "is a file, not a folder: choose a folder (new or empty) for --out")


_CLIP_FILE = re.compile(rf"st\d{{3,}}#(?:{'|'.join(EMOTIONS)})#level_\d+#\d{{3,}}\.(?:mp4|wav|json)")


def _foreign(folder: Path, own) -> list[str]:
    """Names in ``folder`` that ``own(name)`` disowns (hidden files such as .DS_Store and temp files
    of a killed run do not count)."""
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    return [n for n in names if not own(n) and not n.startswith(".")]


def _generator_blocks(out: Path) -> dict[str, dict | None]:
    """The ``generator`` block (``read_generator_block``) of every sidecar in ``out/clips`` by clip id,
    read once for the checks before writing (hidden files skipped)."""
    clips = out / "clips"
    paths = sorted(clips.glob("*.json")) if clips.is_dir() else []
    return {p.stem: read_generator_block(p) for p in paths if not p.name.startswith(".")}


def _held_clips(blocks: dict[str, dict | None]) -> dict[str, int]:
    """What the sidecars' ``blocks`` (``_generator_blocks``) say made them: "clips of preset 'tiny'
    seed 0" (or ".json files that are not synthtalk sidecars") -> how many."""
    held: dict[str, int] = {}
    for block in blocks.values():
        if block is None or block.get("name") != "synthtalk":
            what = ".json files that are not synthtalk sidecars"
        else:
            what = f"clips of preset {block.get('preset')!r} seed {block.get('seed')}"
        held[what] = held.get(what, 0) + 1
    return held


def check_target(out: Path, preset: Preset, seed: int, blocks: dict[str, dict | None]) -> None:
    """Refuse (unless --force) to write into ``out`` when it holds something else: a synthtalk of
    another preset or seed, finished (its card says so) or interrupted (no card; its clip sidecars
    say so), whose clips would be overwritten clip by clip, or files synthtalk never writes, in
    ``out`` or its clips/ (which a run would delete; hidden and temp files do not count). A finished or
    interrupted dataset of these settings, or of an older generator version, is kept or regenerated.
    ``blocks``: the sidecars' generator blocks (``_generator_blocks``)."""
    _check_folder(out)
    card = _read_card(out)
    if card is not None and (card.get("preset"), card.get("seed")) != (preset.name, seed):
        raise DatasetLayoutError(
            out,
            f"holds synthtalk preset {card.get('preset')!r} seed {card.get('seed')}; generating preset "
            f"{preset.name!r} seed {seed} would overwrite it: choose another --out, or --force to replace it",
        )
    if card is None:
        held = _held_clips(blocks)
        if set(held) - {f"clips of preset {preset.name!r} seed {seed}"}:
            holds = ", ".join(f"{n} {what}" for what, n in sorted(held.items(), key=lambda kv: -kv[1]))
            raise DatasetLayoutError(
                out,
                f"holds an unfinished synthtalk (clips/ but no card.json) whose sidecars say: {holds}; "
                f"generating preset {preset.name!r} seed {seed} would overwrite them: choose another --out, "
                "or --force to replace them",
            )
    foreign = _foreign(out, LAYOUT.__contains__)
    foreign += [f"clips/{n}" for n in _foreign(out / "clips", _CLIP_FILE.fullmatch)]
    if foreign:
        raise DatasetLayoutError(
            out,
            f"not empty and not a synthtalk dataset (holds {', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}): choose an empty or new --out, or --force",
        )


SPACE_MARGIN = 0.9  # refused only below this share of the estimate, which is rough (presets.estimated_bytes)


def _check_space(out: Path, preset: Preset, todo: list[ClipTask]) -> str:
    """Stop (DataError) before writing when the disk under ``out`` clearly cannot hold the clips
    ``todo`` (``estimated_bytes``; their files already there are rewritten, so count as free space),
    instead of filling it hours in; returns the estimate for the startup line."""
    need = estimated_bytes(preset, len(todo))
    folder = _nearest_folder(out)
    held = sum(_size(out / "clips" / f"{t.clip_id}{ext}") for t in todo for ext in (".mp4", ".wav", ".json"))
    free = shutil.disk_usage(folder).free
    if free + held < SPACE_MARGIN * need:
        rewritten = f" (and {amount_of_bytes(held)} in the clips it rewrites)" if held else ""
        raise DataError(
            out,
            f"{len(todo)} clips of preset {preset.name!r} take about {amount_of_bytes(need)}, and its disk "
            f"has {amount_of_bytes(free)} free{rewritten}: free some space or choose an --out on a larger "
            "disk",
        )
    return f"about {amount_of_bytes(need)}; {amount_of_bytes(free)} free"


def _nearest_folder(path: str | Path) -> Path:
    """``path`` itself when it is a folder, else its nearest existing parent: where its disk is asked."""
    path = Path(path).absolute()
    return next((p for p in (path, *path.parents) if p.is_dir()), Path("/"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _start_writing(out: Path, tasks: list[ClipTask]) -> None:
    """Before the first clip is written: remove the card (so an interrupted run never looks
    finished), card.md, the contact sheet and the split lists (they describe the old clips), the
    clips outside the plan and temp files of a killed run."""
    try:
        (out / "clips").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetLayoutError(out, f"cannot create it ({err.strerror}): choose another --out") from err
    for name in SUMMARY:
        (out / name).unlink(missing_ok=True)
    for split in SPLITS:
        (out / "splits" / f"{split}.txt").unlink(missing_ok=True)
    for folder, prefixes in ((out, SUMMARY), (out / "splits", tuple(f"{s}.txt" for s in SPLITS))):
        for path in folder.glob(".*") if folder.is_dir() else []:
            if is_temp_name(path.name) and path.name[1:].startswith(tuple(f"{p}." for p in prefixes)):
                path.unlink()
    _remove_stale(out / "clips", {t.clip_id for t in tasks})


def _write_clips(todo: list[ClipTask], workers: int, progress: bool, done: int, desc: str) -> dict[str, dict]:
    """Write the clips ``todo`` (in ``workers`` processes; 1 is this one) -> their card entries by id;
    the progress bar counts the ``done`` clips kept before them."""
    made = {}
    with tqdm(total=done + len(todo), initial=done, desc=desc, unit="clip", disable=not progress) as bar:
        if workers == 1:
            init_render_worker(pool=False)
            for task in todo:
                made[task.clip_id] = _write_clip(task)
                bar.update()
        elif todo:
            with mp.get_context("spawn").Pool(workers, initializer=init_render_worker) as pool:
                for entry in pool.imap(_write_clip, todo, chunksize=2):
                    made[entry["id"]] = entry
                    bar.update()
    return made


def generate(
    out: str | Path,
    preset: str | Preset = "tiny",
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> dict:
    """Generate the dataset into ``out``; returns the card (also written as card.json/card.md).

    ``preset`` is a name in ``PRESETS`` or a ``Preset`` (e.g. a small one for tests); ``workers``
    defaults to the CPU count (1 runs in this process). A complete dataset of the same preset,
    seed and generator version already in ``out`` is kept as it is (same seed, same bytes) unless
    ``force``; without ``force``, an ``out`` holding anything else is refused (``check_target``).
    """
    return ensure_dataset(out, preset, seed, workers, progress, force)[0]


def ensure_dataset(
    out: str | Path,
    preset: str | Preset = "tiny",
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> tuple[dict, bool]:
    """``generate``, also saying whether it wrote the dataset: (card, False) when ``out`` already
    held it complete and nothing was written."""
    start = time.perf_counter()
    chosen = get_preset(preset)
    out = Path(out)
    _check_folder(out)
    tasks = plan(out, chosen, seed)
    kept: dict[str, dict] = {}  # card entries of an interrupted run's clips, by id
    if not force:
        blocks = _generator_blocks(out)  # each sidecar's tail read once for the checks below
        check_target(out, chosen, seed, blocks)
        existing, why = _finished(out, chosen, seed, tasks, blocks)
        if existing is not None:
            return existing, False
        if _read_card(out) is not None or blocks:
            kept = _kept_clips(out, tasks, blocks)
            print(
                f"{out}: not a finished synthtalk preset {chosen.name!r} seed {seed} ({why}): regenerating "
                f"it, keeping the {len(kept)} of {len(tasks)} clips already written"
            )
    todo = [t for t in tasks if t.clip_id not in kept]
    estimate = _check_space(out, chosen, todo)
    print(f"synthtalk preset {chosen.name!r} seed {seed}: writing {len(todo)} clips to {out} ({estimate})")
    with _writing(out):
        _start_writing(out, tasks)
    workers = max(1, workers or os.cpu_count() or 1)
    made = _write_clips(todo, workers, progress, len(kept), f"synthtalk {chosen.name}")
    results = [kept.get(t.clip_id) or made[t.clip_id] for t in tasks]
    with _writing(out / "splits"):
        for split in SPLITS:
            ids = [r["id"] for r in results if r["split"] == split]
            write_text(out / "splits" / f"{split}.txt", "".join(f"{i}\n" for i in ids))
    tiles = {
        (t.identity_index, t.emotion, t.level): r["tile"]
        for t, r in zip(tasks, results, strict=True)
        if r["tile"] is not None
    }
    with _writing(out / "contact_sheet.png"):
        write_contact_sheet(out / "contact_sheet.png", tiles, sheet_identities(chosen), chosen)
    with _writing(out / "card.json"):
        card = write_card(out, chosen, seed, tasks, results, time.perf_counter() - start, workers)
    return card, True
