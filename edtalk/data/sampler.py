"""Training samples for the six EDTalk stages, drawn from a ``FrameCache`` (``edtalk.data.training``)
with a per-rank RNG:

- ``frame_pairs`` (eg_pretrain): target I^d of any clip, source I^i a neutral frame of the same identity.
- ``mouth_swap_pairs`` (mouth_pose): frames I^a, I^b of two identities, their identity frames, and
  the mouth-swapped I^{m_a}_{p_b}, I^{m_b}_{p_a}.
- ``expression_windows`` (expression): source I^i (neutral when available), driving I^d and the
  K-frame window around I^d.
- ``audio_windows`` (audio_lip, audio_pose): a source frame, T consecutive frames, their mel windows.
- ``emotion_clips`` (audio_expression): T frames of a clip (to extract W^e), their mel windows, their
  16 kHz waveform (for HuBERT's E_S) and the transcript.

The audio stages draw from the clips with audio that hold their T consecutive frames (``run_frames``
says how many a stage takes; ``edtalk.train`` names the clips left out before training); the
frames-only stages draw from every clip, and the expression stage's K-frame window is clamped to the
clip's ends, for a short clip as at any clip's first and last frames.

Images are float32 (B, 3, H, W) in [-1, 1]; mels (B, T, 1, 80, 16); waveforms float32 (B, T * 640)
in [-1, 1].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from edtalk.data.audio import from_pcm16
from edtalk.data.clip import EMOTIONS
from edtalk.data.errors import DataError
from edtalk.data.mouth_swap import swap_mouth

if TYPE_CHECKING:
    from edtalk.data.training import FrameCache


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
        silent = set(cache.no_audio)
        self._with_audio = np.array([i for i, c in enumerate(cache.clip_ids) if c not in silent], np.int64)
        self._runs_of: dict[int, np.ndarray] = {}  # T -> the clips with audio of at least T frames

    # --- helpers ---------------------------------------------------------------------------------
    def _frame(self, clip: int) -> int:
        return int(self.cache.start[clip] + self.rng.integers(self.cache.length[clip]))

    def _clip_of_identity(self, identity: int, prefer: np.ndarray | None = None) -> int:
        pool = self._by_identity[identity]
        if prefer is not None:
            preferred = np.intersect1d(pool, prefer)
            pool = preferred if len(preferred) else pool
        return int(self.rng.choice(pool))

    def _clips_with_audio(self, batch_size: int, n_frames: int) -> np.ndarray:
        """``batch_size`` clips drawn from those with audio and at least ``n_frames`` frames (the audio
        stages' batches of T consecutive frames); the same draws as over every clip when all qualify."""
        if not len(self._with_audio):
            raise DataError(
                None,
                f"none of the {self.cache.n_clips} clips of this frame cache has audio (no audio file, no "
                "audio track): the audio stages (audio_lip, audio_pose, audio_expression) need it",
            )
        if n_frames not in self._runs_of:
            self._runs_of[n_frames] = self._with_audio[self.cache.length[self._with_audio] >= n_frames]
        pool = self._runs_of[n_frames]
        if not len(pool):
            longest = int(self.cache.length[self._with_audio].max())
            raise DataError(
                None,
                f"none of the {len(self._with_audio)} clips with audio of this frame cache has the "
                f"{n_frames} consecutive frames this stage's samples take (the longest has {longest})",
            )
        return pool[self.rng.integers(len(pool), size=batch_size)]

    def _images(self, rows: list[int] | np.ndarray) -> torch.Tensor:
        return to_tensor(self.cache.frames[np.asarray(rows)])

    def _run(self, clip: int, n: int) -> np.ndarray:
        """Rows of ``n`` consecutive frames of ``clip`` (its last frame repeated if the clip is shorter,
        which ``_clips_with_audio`` never draws)."""
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
        Wav2Lip mel window of each frame (B, T, 1, 80, 16); clips with audio of at least T frames only."""
        clips = self._clips_with_audio(batch_size, n_frames)
        runs = np.stack([self._run(int(c), n_frames) for c in clips])
        src = [self._frame(int(c)) for c in clips]
        mels = torch.from_numpy(np.ascontiguousarray(self.cache.mels[runs])).float().unsqueeze(2)
        return {"source": self._images(src), "frames": self._images(runs), "mels": mels}

    def emotion_clips(self, batch_size: int, n_frames: int) -> dict:
        """audio_expression: ``n_frames`` (T) consecutive frames of a clip (to extract W^e), their mel
        windows (B, T, 1, 80, 16), the transcript and the emotion index; and, when the cache holds
        audio (``FrameCache.wavs``), "wavs": the T frames' waveform end to end, float32 (B, T * 640) in
        [-1, 1], the input of HuBERT's E_S (at 25 fps, frames s .. s+T-1 give samples
        [s * 640, (s + T) * 640) of the clip's 16 kHz audio). Clips with audio of at least T frames only."""
        clips = self._clips_with_audio(batch_size, n_frames)
        runs = np.stack([self._run(int(c), n_frames) for c in clips])
        mels = torch.from_numpy(np.ascontiguousarray(self.cache.mels[runs])).float().unsqueeze(2)
        batch = {
            "frames": self._images(runs),
            "mels": mels,
            "transcripts": [self.cache.transcripts[int(c)] for c in clips],
            "emotion": torch.as_tensor(self.cache.emotion[clips]),
        }
        if self.cache.wavs is not None:
            pcm = self.cache.wavs[runs].reshape(len(clips), -1)  # the T frames' rows end to end
            batch["wavs"] = torch.from_numpy(from_pcm16(pcm))
        return batch


class _RunProbe:
    """Stands in for a ``StageSampler`` to record the T an audio stage's ``sample`` asks for."""

    frames = 1

    def audio_windows(self, batch_size: int, n_frames: int) -> None:
        self.frames = n_frames

    emotion_clips = audio_windows


def run_frames(sample, stage_cfg) -> int:
    """The consecutive frames of one clip (T) that ``sample`` (an audio stage's ``Stage.sample``)
    takes under ``stage_cfg``: clips with audio shorter than it are left out of the stage's draws."""
    probe = _RunProbe()
    sample(probe, stage_cfg)
    return probe.frames
