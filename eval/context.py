"""``ClipContext``: everything the metrics need about one scored clip, decoded and detected once.

A context holds the ground-truth ``Clip``, the predicted (generated) video, their frames decoded
once with ``edtalk.data.video.read_video``, the driving audio, and the synthtalk sidecar. Metrics
never decode or detect themselves; they ask the context:

    ctx = ClipContext(clip, pred_video=Path("out/M003#angry#level_1#001.mp4"))
    ctx.frames("gt")                                   # uint8 (T, H, W, 3) RGB
    gi, pi = ctx.pair_indices()                        # EAT's linspace frame pairing
    ctx.feature("landmarks", "pred", backend="dlib68", crop="none")   # memoised

``feature(name, side, **settings)`` looks ``name`` up in the ``FEATURES`` registry and memoises the
result per (name, side, settings), so M-LMD and F-LMD share one landmark pass and FID's frames
share one crop pass. A feature extractor is a function ``extract(ctx, side, **settings)``;
backbone modules (``eval/backbones/*.py``) register theirs with ``@FEATURES.register("name")``.

Sides: ``"gt"`` (the dataset's video) and ``"pred"`` (the method's output). For unit tests and
in-memory use, ``ClipContext.from_arrays(gt_frames, pred_frames, audio=...)`` skips the files.

GT-side features do not depend on the method, so ``eval.run`` keeps them between methods:
a context built with ``gt_features=`` (a dict from the GT feature store, eval/cache.py) answers
the cacheable GT features (``GT_CACHEABLE``) from it, and ``new_gt_features()`` lists the ones it
computed, for the runner to store. Scoring method 2..4 of a dataset then skips the GT side's
backbone passes (face judge, landmarks, FID embeddings) with the very same arrays, on every dataset:
only a ``Clip.extra`` key that a feature reads (another identity source) keeps that feature out.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edtalk.data.clip import Clip
from edtalk.registry import Registry
from eval.metrics.base import ClipFailure

SIDES = ("gt", "pred")

# GT-side features that depend on the GT video (and the protocol's weights, which the store's protocol
# hash covers), never on the prediction: safe to reuse across methods. Each maps to the ``Clip.extra``
# keys its extractor also reads; a clip that has one of them (an identity source other than its GT
# video, eval/backbones/judges.py) keeps that feature out of the store. Every other extra key leaves
# the stored features as they are: the readers' descriptive ones (HDTF's chunk, MEAD's layout, clip
# and eat_name, LRW's word, the folder reader's pred) and cross-driving's driver sidecars (read by
# ``driving_truth``, which is not stored).
GT_CACHEABLE: dict[str, frozenset[str]] = {
    "landmarks": frozenset(),
    "embedding": frozenset(),
    "judge_face": frozenset(),
    "emotion_fan_video": frozenset(),
    "identity_source": frozenset({"identity_source"}),
}

FEATURES: Registry[Callable[..., Any]] = Registry("clip feature")
"""name -> ``extract(ctx, side, **settings)``, registered by the backbone modules (eval/backbones/)."""


def _freeze(value: Any) -> Any:
    """Hashable form of a settings value (lists/dicts become tuples) for the memo key."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _load_feature_extractors() -> None:
    """Import the backbone package so its modules register their feature extractors."""
    importlib.import_module("eval.backbones").load_all()


class ClipContext:
    """One clip to score: GT clip + predicted video, decoded once, features memoised.

    Args:
        clip: the ground-truth clip (its ``video``, ``audio`` and ``sidecar`` paths are used).
        pred_video: the generated video for this clip (None when only GT-side features are used).
        pred_audio: audio muxed with the prediction, if it differs from ``clip.audio``; sync
            metrics use the *driving* audio, which is ``clip.audio`` unless given here.
        device: torch device string for the backbones (``"cpu"``, ``"cuda"``).
        sample_rate: audio sample rate the context resamples to (16 kHz for SyncNet).
        gt_features: GT-side features already computed for this clip (name -> value; eval/cache.py's
            store), answered from it rather than recomputed.
    """

    def __init__(
        self,
        clip: Clip,
        pred_video: str | Path | None = None,
        *,
        pred_audio: str | Path | None = None,
        device: str = "cpu",
        sample_rate: int = 16000,
        gt_features: dict[str, Any] | None = None,
    ) -> None:
        self.clip = clip
        self.pred_video = None if pred_video is None else Path(pred_video)
        self.pred_audio = None if pred_audio is None else Path(pred_audio)
        self.device = device
        self.sample_rate = sample_rate
        self._frames: dict[str, np.ndarray] = {}
        self._fps: dict[str, float] = {}
        self._audio: np.ndarray | None = None
        self._sidecar: dict | None = None
        self._memo: dict[tuple, Any] = {}
        # Stored GT features (feature_store_key -> value) and the keys computed here (not stored).
        self._gt_store = dict(gt_features or {})
        self._gt_new: set[str] = set()

    @classmethod
    def from_arrays(
        cls,
        gt_frames: np.ndarray | None,
        pred_frames: np.ndarray | None,
        *,
        audio: np.ndarray | None = None,
        fps: float = 25.0,
        sidecar: dict | None = None,
        clip_id: str = "in-memory",
        device: str = "cpu",
        sample_rate: int = 16000,
    ) -> ClipContext:
        """A context over frames already in memory (uint8 (T, H, W, 3) RGB)."""
        clip = Clip(id=clip_id, dataset="memory", split="test", video=Path(f"<memory>/{clip_id}"))
        ctx = cls(clip, device=device, sample_rate=sample_rate)
        for side, frames in (("gt", gt_frames), ("pred", pred_frames)):
            if frames is not None:
                ctx._frames[side] = _check_frames(np.asarray(frames), f"<{side} frames>")
                ctx._fps[side] = float(fps)
        if audio is not None:
            ctx._audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        ctx._sidecar = sidecar
        return ctx

    # -- raw data, decoded once ----------------------------------------------------------------
    def video_path(self, side: str) -> Path:
        _check_side(side)
        if side == "gt":
            self.clip.check()  # a clip the reader listed but could not read (a bad sidecar): its failure
            return self.clip.video
        if self.pred_video is None:
            raise ClipFailure(f"clip {self.clip.id}: no predicted video given")
        return self.pred_video

    def frames(self, side: str) -> np.ndarray:
        """uint8 (T, H, W, 3) RGB frames of one side, decoded on first use."""
        _check_side(side)
        if side not in self._frames:
            from edtalk.data.video import read_video  # data layer; imported on first decode

            path = self.video_path(side)
            other = "pred" if side == "gt" else "gt"
            if other in self._frames and self._same_file(other, path):  # the gt method: one decode
                self._frames[side], self._fps[side] = self._frames[other], self._fps[other]
                return self._frames[side]
            data = read_video(path)
            self._frames[side] = _check_frames(np.asarray(data.frames), str(path))
            self._fps[side] = float(data.fps)
        return self._frames[side]

    def _same_file(self, side: str, path: Path) -> bool:
        """Whether ``side``'s video is the file at ``path`` (the ``gt`` method's prediction is its GT)."""
        try:
            return self.video_path(side).samefile(path)
        except OSError:
            return False

    def fps(self, side: str) -> float:
        self.frames(side)
        return self._fps[side]

    @property
    def audio(self) -> np.ndarray:
        """float32 mono driving audio at ``sample_rate`` (``pred_audio`` if given, else the
        clip's audio). Raises ClipFailure when the clip has none."""
        if self._audio is None:
            path = self.pred_audio or self.clip.audio
            if path is None:
                raise ClipFailure(f"clip {self.clip.id}: no audio file")
            from edtalk.data.audio import load_audio

            self._audio = np.asarray(load_audio(path, sample_rate=self.sample_rate), np.float32)
        return self._audio

    @property
    def sidecar(self) -> dict:
        """The clip's JSON sidecar (synthtalk ground truth); ClipFailure when absent."""
        if self._sidecar is None:
            if self.clip.sidecar is None:
                raise ClipFailure(f"clip {self.clip.id}: no sidecar JSON")
            self.clip.check()
            self._sidecar = json.loads(Path(self.clip.sidecar).read_text())
        return self._sidecar

    # -- frame pairing -------------------------------------------------------------------------
    def pair_indices(
        self, pairing: str = "linspace", max_length_diff: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices pairing GT and predicted frames.

        ``linspace`` (EAT): n = min(T_gt, T_pred); each side takes
        ``np.linspace(0, T_side, n, endpoint=False).astype(int)``. ``truncate``: the first n of
        each. A length difference above ``max_length_diff`` frames raises ClipFailure."""
        t_gt, t_pred = len(self.frames("gt")), len(self.frames("pred"))
        if max_length_diff is not None and abs(t_gt - t_pred) > max_length_diff:
            raise ClipFailure(
                f"clip {self.clip.id}: GT has {t_gt} frames, prediction {t_pred} "
                f"(more than {max_length_diff} apart)"
            )
        n = min(t_gt, t_pred)
        if n == 0:
            raise ClipFailure(f"clip {self.clip.id}: empty video")
        if pairing == "linspace":
            return (
                np.linspace(0, t_gt, n, endpoint=False).astype(np.int64),
                np.linspace(0, t_pred, n, endpoint=False).astype(np.int64),
            )
        if pairing == "truncate":
            return np.arange(n), np.arange(n)
        raise ValueError(f"unknown pairing {pairing!r}; known: linspace, truncate")

    # -- memoised features ---------------------------------------------------------------------
    def feature(self, name: str, side: str, **settings: Any) -> Any:
        """Feature ``name`` of one side, computed once per (name, side, settings)."""
        _check_side(side)
        key = (name, side, _freeze(settings))
        if key not in self._memo:
            store_key = self._gt_store_key(name, side, key)
            if store_key is not None and store_key in self._gt_store:
                self._memo[key] = self._gt_store[store_key]
                return self._memo[key]
            if name not in FEATURES:
                _load_feature_extractors()
            extract = FEATURES.get(name)
            self._memo[key] = extract(self, side, **settings)
            if store_key is not None:
                self._gt_new.add(store_key)
                self._gt_store[store_key] = self._memo[key]
        return self._memo[key]

    def _gt_store_key(self, name: str, side: str, key: tuple) -> str | None:
        """The store key of a GT feature that the store may answer and keep (None: compute it here)."""
        if side != "gt" or name not in GT_CACHEABLE or GT_CACHEABLE[name] & set(self.clip.extra or {}):
            return None
        return feature_store_key(key)

    def new_gt_features(self) -> dict[str, Any]:
        """The cacheable GT features this context computed (store key -> value)."""
        return {k: self._gt_store[k] for k in self._gt_new}


def feature_store_key(key: tuple) -> str:
    """A stable text key for a memo key (name, side, frozen settings) in the GT feature store."""
    return repr(key)


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")


def _check_frames(frames: np.ndarray, where: str) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ClipFailure(f"{where}: expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


# -- basic features (no network) ---------------------------------------------------------------


@FEATURES.register("resized")
def resized_frames(ctx: ClipContext, side: str, size: int | None = None) -> np.ndarray:
    """The side's frames resized to ``size`` x ``size`` with cv2 INTER_AREA when shrinking
    and INTER_LINEAR when enlarging (None = unchanged)."""
    from edtalk.data.image import resize_frames

    frames = ctx.frames(side)
    return frames if size is None else resize_frames(frames, size)
