"""SyncNetJudge: a small audio-visual sync network with SyncNet's interface (Chung & Zisserman 2016).

* Lip stream: 5 consecutive frames ``[i, i+5)`` of the mouth region (a fixed box of the square
  frame, ``SyncNetConfig.crop``, that holds synthtalk's mouths under their head motion),
  resized to ``lip_size`` and stacked as 15 channels.
* Audio stream: the 0.2 s of audio under those 5 frames, as a **Wav2Lip mel window** (80 x 16
  mel frames, ``edtalk.data.audio.melspectrogram`` + ``mel_windows``; the window of the middle
  frame ``i+2`` starts at ``int(80 * i / 25)``, i.e. exactly at frame ``i``). Not MFCC.
* Both streams end in a unit-norm ``embed_dim`` embedding; like SyncNet, two windows are compared
  by the **L2 distance** of their embeddings, and ``offset_search`` is SyncNet's ``calc_pdist``
  + LSE maths (vshift offsets, zero-padded audio features, LSE-D = min of the offset-mean
  distances, LSE-C = their median - min, AV offset = vshift - argmin).

Training (``sync_loss``) is contrastive over in-sync vs shifted pairs: for every video window of
a clip, the in-sync audio window must be nearer than the audio windows shifted by up to
``max_shift`` frames of the same clip and every window of the other clips in the batch
(a softmax over negative distances, temperature ``temperature``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edtalk.data.audio import SAMPLES_PER_FRAME  # 16 kHz / 25 fps

WINDOW = 5  # video frames per lip window (0.2 s at 25 fps)


@dataclass(frozen=True)
class SyncNetConfig:
    crop: tuple[float, ...] = (0.46, 0.8, 0.26, 0.74)  # mouth box: top, bottom, left, right (fractions)
    lip_size: tuple[int, ...] = (24, 32)  # (height, width) of a resized lip frame
    width: int = 16  # channels of the first conv of each stream
    embed_dim: int = 64
    temperature: float = 0.1  # softmax temperature on L2 distances
    max_shift: int = 15  # in-clip shifted negatives up to this many frames (vshift)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SyncNetConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"SyncNetConfig: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _conv(c_in: int, c_out: int, stride) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def lip_frames(frames: np.ndarray | torch.Tensor, cfg: SyncNetConfig) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, h, w) lower-face crops in [-1, 1]."""
    x = torch.as_tensor(np.asarray(frames))
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"lip_frames needs (T, H, W, 3) frames, got {tuple(x.shape)}")
    h, w = x.shape[1], x.shape[2]
    top, bottom, left, right = cfg.crop
    x = x[:, int(round(top * h)) : int(round(bottom * h)), int(round(left * w)) : int(round(right * w))]
    x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return F.interpolate(x, size=tuple(cfg.lip_size), mode="area").contiguous()


def stack_windows(lips: torch.Tensor) -> torch.Tensor:
    """(T, 3, h, w) -> (T-4, 15, h, w): window i holds frames i..i+4."""
    n = lips.shape[0] - WINDOW + 1
    if n <= 0:
        raise ValueError(f"need at least {WINDOW} frames for a lip window, got {lips.shape[0]}")
    return torch.cat([lips[k : k + n] for k in range(WINDOW)], dim=1)


def audio_windows(wav: np.ndarray, n_frames: int, fps: float = 25.0) -> torch.Tensor:
    """Wav2Lip mel windows for lip windows 0..n_frames-5: (n_frames-4, 1, 80, 16).

    The window of lip window i is ``mel_windows(...)[i + 2]`` (centred on the middle frame, it
    starts at frame i's time and spans 0.2 s)."""
    from edtalk.data.audio import mel_windows, melspectrogram

    mel = melspectrogram(np.asarray(wav, np.float32))
    windows = mel_windows(mel, n_frames, fps=fps)  # (n_frames, 80, 16)
    return torch.from_numpy(windows[2 : n_frames - 2].copy()).unsqueeze(1)


class SyncNetJudge(nn.Module):
    """Two conv streams -> unit-norm embeddings compared by L2 distance (see module docstring)."""

    def __init__(self, cfg: SyncNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.lip = nn.Sequential(  # (15, 24, 32) -> D
            _conv(3 * WINDOW, w, 1),
            _conv(w, 2 * w, 2),
            _conv(2 * w, 2 * w, 1),
            _conv(2 * w, 4 * w, 2),
            _conv(4 * w, 4 * w, 1),
            nn.AdaptiveAvgPool2d((1, 2)),
            nn.Flatten(),
            nn.Linear(8 * w, 4 * w),
            nn.ReLU(inplace=True),
            nn.Linear(4 * w, cfg.embed_dim),
        )
        self.audio = nn.Sequential(  # (1, 80, 16) -> mel bands pooled by 2 -> D
            nn.AvgPool2d((2, 1)),
            _conv(1, w, 2),
            _conv(w, 2 * w, 1),
            _conv(2 * w, 4 * w, 2),
            _conv(4 * w, 4 * w, (2, 1)),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(4 * w, 4 * w),
            nn.ReLU(inplace=True),
            nn.Linear(4 * w, cfg.embed_dim),
        )

    def embed_video(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, 15, h, w) lip windows -> (N, D) unit embeddings."""
        return F.normalize(self.lip(windows), dim=1)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """(N, 1, 80, 16) mel windows -> (N, D) unit embeddings."""
        return F.normalize(self.audio(mels), dim=1)

    @torch.no_grad()
    def video_features(self, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """uint8 (T, H, W, 3) -> (T-4, D) lip-window embeddings (the SyncNet ``v_i``)."""
        self.eval()
        device = next(self.parameters()).device
        windows = stack_windows(lip_frames(frames, self.cfg))
        out = [
            self.embed_video(windows[s : s + batch_size].to(device))
            for s in range(0, len(windows), batch_size)
        ]
        return torch.cat(out).cpu().numpy()

    @torch.no_grad()
    def audio_features(
        self, wav: np.ndarray, n_frames: int, fps: float = 25.0, batch_size: int = 512
    ) -> np.ndarray:
        """16 kHz float wav -> (n_frames-4, D) audio-window embeddings (the SyncNet ``a_i``)."""
        self.eval()
        device = next(self.parameters()).device
        mels = audio_windows(wav, n_frames, fps)
        out = [self.embed_audio(mels[s : s + batch_size].to(device)) for s in range(0, len(mels), batch_size)]
        return torch.cat(out).cpu().numpy()


def sync_loss(
    model: SyncNetJudge, lip_windows: list[torch.Tensor], mel_windows: list[torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    """Contrastive loss over a batch of clips: per clip, lip windows (N_c, 15, h, w) and the
    in-sync mel windows (N_c, 1, 80, 16), row i of each aligned. Positives: (i, i) of the same
    clip; negatives: shifted windows |i - j| <= max_shift of the same clip and all windows of
    the other clips. Returns the loss and the in-clip offset accuracy (argmin == in-sync)."""
    v = model.embed_video(torch.cat(lip_windows))
    a = model.embed_audio(torch.cat(mel_windows))
    sizes, device = [len(x) for x in lip_windows], v.device  # the masks and targets go where v is
    clip_of = torch.repeat_interleave(
        torch.arange(len(sizes), device=device), torch.tensor(sizes, device=device)
    )
    pos = torch.cat([torch.arange(n, device=device) for n in sizes])
    dist = torch.cdist(v, a)  # (N, N) L2 distances
    same = clip_of[:, None] == clip_of[None, :]
    far = (pos[:, None] - pos[None, :]).abs() > model.cfg.max_shift
    logits = -dist / model.cfg.temperature
    logits = logits.masked_fill(same & far, float("-inf"))  # in-clip: only shifts up to max_shift
    target = torch.arange(len(v), device=device)
    loss = F.cross_entropy(logits, target)
    with torch.no_grad():
        in_clip = dist.masked_fill(~same | far, float("inf"))
        acc = (in_clip.argmin(dim=1) == target).float().mean()
    return loss, {"sync": float(loss.detach()), "offset_acc": float(acc)}


def offset_search(video_feats: np.ndarray, audio_feats: np.ndarray, vshift: int = 15) -> dict:
    """SyncNet's offset search on per-window features (``calc_pdist`` + ``evaluate``).

    d_i(k) = ||v_i - a_{i+k-vshift}||_2 (audio zero-padded by vshift rows each side, eps 1e-6 as
    torch's pairwise_distance); D(k) = mean_i d_i(k). Returns ``offset`` = vshift - argmin_k D,
    ``lse_d`` = min_k D, ``lse_c`` = median_k D - min_k D and ``dists`` = D (2*vshift+1,).
    Audio delayed by s frames (``shift_audio(wav, s)``) gives ``offset == -s``."""
    v = np.asarray(video_feats, np.float64)
    a = np.asarray(audio_feats, np.float64)
    n = min(len(v), len(a))
    v, a = v[:n], a[:n]
    padded = np.concatenate([np.zeros((vshift, a.shape[1])), a, np.zeros((vshift, a.shape[1]))])
    dists = np.empty(2 * vshift + 1)
    for k in range(2 * vshift + 1):
        diff = v - padded[k : k + n] + 1e-6
        dists[k] = np.sqrt((diff * diff).sum(axis=1)).mean()
    k_star = int(np.argmin(dists))
    minval = float(dists[k_star])
    return {
        "offset": vshift - k_star,
        "lse_d": minval,
        "lse_c": float(np.median(dists) - minval),
        "dists": dists,
    }


def shift_audio(wav: np.ndarray, frames: int) -> np.ndarray:
    """Delay (``frames`` > 0) or advance (< 0) audio by whole video frames (640 samples each),
    zero-filling and keeping the length. ``offset_search`` then finds ``offset == -frames``."""
    wav = np.asarray(wav, np.float32)
    n = abs(int(frames)) * SAMPLES_PER_FRAME
    if frames == 0 or n >= len(wav):
        return wav.copy() if frames == 0 else np.zeros_like(wav)
    if frames > 0:
        return np.concatenate([np.zeros(n, np.float32), wav[:-n]])
    return np.concatenate([wav[n:], np.zeros(n, np.float32)])
