"""The synthtalk judges as metric backbones (the `synthtalk` protocol; trained by ``eval.zoo``).

Backbones (``get_backbone(name)``; weight files from the weights manager, trained on synthtalk's
*judge* identity split only, refused otherwise):

* ``synthtalk_face_judge``: ``edtalk.experts.face_analyser.FaceAnalyser`` (landmarks, pose,
  mouth factors, emotion logits, identity embedding);
* ``synthtalk_sync_judge``: ``edtalk.experts.sync_net.SyncNetJudge`` (SyncNet interface).

Clip features (memoised per side by ``ClipContext.feature``):

* ``ctx.feature("judge_face", side)`` -> dict of numpy arrays, one row per frame: ``landmarks``
  (T,68,2 px of the frames as given), ``pose`` (T,3 deg), ``mouth`` (T,3), ``emotion`` (T,8
  logits, ``EMOTIONS`` order), ``identity`` (T,D unit vectors), ``hidden`` (T,256 trunk features);
* ``ctx.feature("judge_sync", side)`` -> {"video": (N,D) lip-window embeddings, "audio": (N,D)
  embeddings of the driving audio}, N = min(T, len(audio)/640) - 4, ready for LSE's offset
  search (``eval.metrics.functional.lse.lse``).

It also plugs the face judge into the shared registries: ``LANDMARKERS["synthtalk_face_judge"]``
(M-LMD/F-LMD), ``EMBEDDERS["synthtalk_face_judge"]`` (trunk features, e.g. for FID).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from edtalk.experts.store import JUDGE_NAMES, load_expert, resolve_judge
from edtalk.experts.sync_net import SAMPLES_PER_FRAME, WINDOW
from eval.backbones import BACKBONES, get_backbone
from eval.backbones.embeddings import EMBEDDERS
from eval.backbones.landmarks import LANDMARKERS
from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure

FACE_JUDGE = JUDGE_NAMES["face_analyser"]  # "synthtalk_face_judge"
SYNC_JUDGE = JUDGE_NAMES["sync_net"]  # "synthtalk_sync_judge"


def _load(name: str, device: str, path: str | None):
    weights = path or resolve_judge(name)
    model, meta = load_expert(weights, expect_split="judge", device=device)
    model.meta = meta
    return model


@BACKBONES.register(FACE_JUDGE)
def load_face_judge(device: str = "cpu", path: str | None = None):
    """The face judge; ``path`` overrides the weights manager (tests)."""
    return _load(FACE_JUDGE, device, path)


@BACKBONES.register(SYNC_JUDGE)
def load_sync_judge(device: str = "cpu", path: str | None = None):
    """The sync judge; ``path`` overrides the weights manager (tests)."""
    return _load(SYNC_JUDGE, device, path)


# The face judge's outputs of the last frame arrays it analysed. M-LMD/F-LMD (``landmarks``),
# FID (``embedding``) and the judge_face metrics (acc_emo, disentangle_*) all read one side's
# decoded frames, and the feature registries hand each of them the very same array object
# (``crop`` kind none without a size returns ``ctx.frames(side)`` itself), so one forward pass
# per side serves them all. Entries hold the array itself, so an ``is`` match cannot be a
# recycled id; a few entries cover the two sides of the clip being scored.
_RECENT_PASSES: OrderedDict[tuple[int, int, int], tuple[object, np.ndarray, dict]] = OrderedDict()
_RECENT_MAX = 4


def analyse_frames(model, frames: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Every face-judge output for uint8 (T,H,W,3) frames (one batched pass, shared by every
    caller that passes the same array object; callers must not modify the returned arrays)."""
    key = (id(model), id(frames), batch_size)
    hit = _RECENT_PASSES.get(key)
    if hit is not None and hit[0] is model and hit[1] is frames:
        _RECENT_PASSES.move_to_end(key)
        return hit[2]
    out = model.predict(frames, batch_size=batch_size)
    _RECENT_PASSES[key] = (model, frames, out)
    while len(_RECENT_PASSES) > _RECENT_MAX:
        _RECENT_PASSES.popitem(last=False)
    return out


@FEATURES.register("judge_face")
def judge_face_feature(ctx: ClipContext, side: str, path: str | None = None) -> dict[str, np.ndarray]:
    frames = ctx.frames(side)
    return analyse_frames(get_backbone(FACE_JUDGE, ctx.device, **({"path": path} if path else {})), frames)


@FEATURES.register("judge_sync")
def judge_sync_feature(ctx: ClipContext, side: str, path: str | None = None) -> dict[str, np.ndarray]:
    model = get_backbone(SYNC_JUDGE, ctx.device, **({"path": path} if path else {}))
    frames = ctx.frames(side)
    wav = ctx.audio
    n = min(len(frames), len(wav) // SAMPLES_PER_FRAME)
    if n < WINDOW + 1:
        audio = ctx.pred_audio or ctx.clip.audio
        of = f" of {audio}" if audio is not None else ""
        raise ClipFailure(
            f"clip {ctx.clip.id}: {n} frames with audio ({len(wav) / ctx.sample_rate:.2f} s{of} beside "
            f"{len(frames)} frames); the sync judge needs {WINDOW + 1}"
        )
    fps = ctx.fps(side)
    return {
        "video": model.video_features(frames[:n]),
        "audio": model.audio_features(wav[: n * SAMPLES_PER_FRAME], n, fps),
    }


def _judge_landmarks(frames: np.ndarray, device: str) -> np.ndarray:
    return analyse_frames(get_backbone(FACE_JUDGE, device), frames)["landmarks"].astype(np.float64)


def _judge_embedding(frames: np.ndarray, device: str) -> np.ndarray:
    return analyse_frames(get_backbone(FACE_JUDGE, device), frames)["hidden"].astype(np.float64)


# -- ground truth of the driving clips (synthtalk sidecars) ----------------------------------------

DRIVER_FACTORS = ("mouth", "pose", "expression")
PER_FRAME_FACTORS = ("mouth", "pose")  # driving_truth factors read row by row (expression: one label)


def _sidecar(value, where: str) -> dict:
    """A sidecar given as a dict or as a path to its JSON."""
    if isinstance(value, dict):
        return value
    import json
    from pathlib import Path

    try:
        return json.loads(Path(value).read_text())
    except (OSError, ValueError) as err:
        raise ClipFailure(f"{where}: cannot read driving sidecar {value} ({err})") from None


@FEATURES.register("driving_truth")
def driving_truth_feature(ctx: ClipContext, side: str, factor: str = "mouth") -> dict:
    """Ground truth of the clip that drove ``factor`` (mouth | pose | expression).

    Self-driving (reconstruction, audio-driven) uses the clip's own sidecar, whose per-frame rows
    must match its GT video's frames for the per-frame factors (mouth, pose): a sidecar of another
    length was scored over the frames the two shared, without a word; it is a ``ClipFailure`` naming
    the sidecar and both counts (``synthtalk.sidecar_frames_problem``). Cross-driving puts the
    drivers' sidecars (dict or JSON path) into ``clip.extra["drivers"][factor]`` (used as given: their
    videos are not at hand). Returns {"mouth": (T,3), "pose": (T,3) deg, "emotion": class index,
    "id": clip id}."""
    from edtalk.data.readers.synthtalk import sidecar_frames_problem
    from edtalk.experts.data import emotion_index, sidecar_targets

    if factor not in DRIVER_FACTORS:
        raise ValueError(f"driving_truth factor must be one of {DRIVER_FACTORS}, got {factor!r}")
    drivers = (ctx.clip.extra or {}).get("drivers", {})
    where = f"clip {ctx.clip.id}"
    sidecar = _sidecar(drivers[factor], where) if factor in drivers else ctx.sidecar
    if factor not in drivers and factor in PER_FRAME_FACTORS and isinstance(sidecar, dict):
        if problem := sidecar_frames_problem(sidecar, len(ctx.frames("gt"))):
            raise ClipFailure(f"{ctx.clip.sidecar or where}: {problem}")
    try:
        targets = sidecar_targets(sidecar, where)
        emotion = emotion_index(sidecar.get("emotion"), where)
    except ValueError as err:
        raise ClipFailure(str(err)) from None
    return {"mouth": targets["mouth"], "pose": targets["pose"], "emotion": emotion, "id": sidecar.get("id")}


@FEATURES.register("identity_source")
def identity_source_feature(ctx: ClipContext, side: str, frames: str = "first") -> np.ndarray:
    """Face-judge identity embeddings (S, D) of the identity source: ``clip.extra["identity_source"]``
    (uint8 frames (S,H,W,3) or (H,W,3), or a video path) if given, else the GT video; ``frames``
    = "first" (the source image, as EDTalk drives from one frame) or "all"."""
    source = (ctx.clip.extra or {}).get("identity_source")
    if source is None:
        images = ctx.frames("gt")
    elif isinstance(source, np.ndarray):
        images = source[None] if source.ndim == 3 else source
    else:
        from edtalk.data.video import read_video

        images = read_video(source).frames
    if frames == "first":
        images = images[:1]
    elif frames != "all":
        raise ValueError(f"identity_source frames must be 'first' or 'all', got {frames!r}")
    return analyse_frames(get_backbone(FACE_JUDGE, ctx.device), images)["identity"]


LANDMARKERS.add(FACE_JUDGE, _judge_landmarks)
EMBEDDERS.add(FACE_JUDGE, _judge_embedding)
