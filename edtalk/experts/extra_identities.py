"""Extra identities of no split, rendered on the fly from the synthtalk generator: for the judges,
and (from an index range of their own) for the frames-only training stages
(``edtalk.train --extra-identities``: eg_pretrain, mouth_pose, expression).

A tiny synthtalk set has only six judge identities, and a judge trained on six faces reads face
shape as expression: a neutral face with high brows and wide eyes is called "surprised". The
generator can draw as many people as we like, so the face judge also trains on still frames of
``n`` more identities that belong to no split: their indices start at ``EXTRA_INDEX_BASE``, far
past any preset's identities, so they are never train or test people (DESIGN.md's rule holds).

Each extra identity gets every emotion x level of the dataset card, ``frames_per_clip`` frames
each, drawn from a clip of the generator's own pose / mouth / blink tracks (rendered at the
card's size with its seed; no audio, no video encoding; the judges' blur and noise augmentations
cover the H.264 round trip).

The same holds for the model: twelve training faces do not carry E and G over to unseen ones, so
the shipped stage-1 init also trained on rendered people (``edtalk.pretrained`` has the figures).
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edtalk.data.synthtalk.clip import make_clip
from edtalk.data.synthtalk.generate import clip_rng, identity_params, init_render_worker
from edtalk.data.synthtalk.render import render_frame
from edtalk.experts.data import MOUTH_KEYS, POSE_KEYS, ExpertClip, emotion_index
from edtalk.experts.face_analyser import EXPRESSION_KEYS

EXTRA_INDEX_BASE = 1_000_000  # identity indices of extra judge people (presets stop below 1000)
# Extra *training* people (``python -m edtalk.train --extra-identities N``, the frames-only stages
# 1-3) come from a range of their own, so no judge ever saw the faces a model was trained on, and vice versa.
TRAIN_EXTRA_INDEX_BASE = 2_000_000
EXTRA_PREFIX = {EXTRA_INDEX_BASE: "extra", TRAIN_EXTRA_INDEX_BASE: "trainextra"}


def extra_identity_name(k: int, index_base: int = EXTRA_INDEX_BASE) -> str:
    return f"{EXTRA_PREFIX[index_base]}{k:04d}"


def read_card(root: str | Path) -> dict:
    """The dataset card of a synthtalk root (seed, size, fps, emotions, levels)."""
    path = Path(root) / "card.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no synthtalk dataset card; extra judge identities are drawn with the "
            "generator settings it records (generate the set with `python -m edtalk.data.synthtalk`)"
        )
    return json.loads(path.read_text())


def _render_person(
    k: int, index_base: int, seed: int, size: int, fps: float, conditions: tuple, frames_per_clip: int
) -> list[ExpertClip]:
    """The stills of extra person ``k``: one ``ExpertClip`` per (emotion, level) of ``conditions``."""
    index = index_base + k
    name = extra_identity_name(k, index_base)
    person = identity_params(seed, index)
    out = []
    for emotion, level in conditions:
        rng = clip_rng(seed, index, emotion, level, 1)
        track = make_clip(person, emotion, level, rng, size=size, fps=fps, tracks_only=True)
        picks = np.sort(rng.choice(track.n_frames, size=min(frames_per_clip, track.n_frames), replace=False))
        stills = [render_frame(person, track.factors_at(i), track.expression, size) for i in picks]
        frames, landmarks = [s[0] for s in stills], [s[1] for s in stills]
        factors = track.factors
        out.append(
            ExpertClip(
                id=f"{name}#{emotion}#level_{level}#001",
                identity=name,
                emotion=emotion_index(emotion),
                frames=np.stack(frames),
                wav=np.zeros(0, np.float32),
                landmarks=np.stack(landmarks).astype(np.float32),
                pose=np.stack([factors[key][picks] for key in POSE_KEYS], 1).astype(np.float32),
                mouth=np.stack([factors[key][picks] for key in MOUTH_KEYS], 1).astype(np.float32),
                expression=np.array([track.expression[key] for key in EXPRESSION_KEYS], np.float32),
                fps=fps,
                level=level,
            )
        )
    return out


def render_extra_clips(
    root: str | Path,
    n_identities: int,
    frames_per_clip: int = 4,
    progress: bool = False,
    index_base: int = EXTRA_INDEX_BASE,
    workers: int | None = None,
) -> list[ExpertClip]:
    """Still frames of ``n_identities`` extra people, with the same ground truth as real clips.

    ``index_base`` picks the range: ``EXTRA_INDEX_BASE`` (judges) or ``TRAIN_EXTRA_INDEX_BASE``.
    People are rendered in ``workers`` processes (default: the CPU count; 1 = in this process); every
    person's frames are seeded by its index alone, so the result does not depend on ``workers``."""
    if index_base not in EXTRA_PREFIX:
        raise ValueError(f"index_base must be one of {sorted(EXTRA_PREFIX)}, got {index_base}")
    card = read_card(root)
    seed, size, fps = int(card["seed"]), int(card["size"]), float(card["fps"])
    conditions = tuple((e, int(level)) for e in card["emotions"] for level in card["levels"])
    render = functools.partial(
        _render_person,
        index_base=index_base,
        seed=seed,
        size=size,
        fps=fps,
        conditions=conditions,
        frames_per_clip=frames_per_clip,
    )
    workers = max(1, min(workers or os.cpu_count() or 1, n_identities))
    kind = "judge" if index_base == EXTRA_INDEX_BASE else "training"
    out: list[ExpertClip] = []
    spawn = mp.get_context("spawn")
    processes = (
        spawn.Pool(workers, initializer=init_render_worker) if workers > 1 else contextlib.nullcontext()
    )
    with processes as pool:  # None when rendering in this process
        people = (pool.imap if pool else map)(render, range(n_identities))  # in order of k
        for clips in tqdm(
            people,
            total=n_identities,
            desc=f"render extra {kind} identities",
            unit="identity",
            leave=False,
            disable=not progress,
        ):
            out += clips
    return out
