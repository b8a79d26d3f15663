"""LSE-D / LSE-C from SyncNet features (syncnet_python's ``calc_pdist`` + ``evaluate``).

For offsets k = 0..2*vshift, with the audio features zero-padded by vshift on both sides:
    d_i(k) = || v_i - a_{i+k-vshift} ||_2   (torch pairwise_distance, eps 1e-6)
    D(k)   = mean_i d_i(k)
LSE-D = min_k D(k); LSE-C = median_k D(k) - min_k D(k); AV offset = vshift - argmin_k D(k).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def offset_distances(video: np.ndarray, audio: np.ndarray, vshift: int = 15) -> np.ndarray:
    """(2*vshift+1,) mean distance D(k) per offset, from (N, D) video and audio window features of
    the same N windows (syncnet_python computes both for the same windows)."""
    if np.shape(video) != np.shape(audio) or len(video) == 0:
        raise ValueError(
            f"sync features must be (N, D) of the same N > 0 windows, got video {np.shape(video)} "
            f"and audio {np.shape(audio)}"
        )
    v = torch.from_numpy(np.asarray(video, np.float32))
    a = F.pad(torch.from_numpy(np.asarray(audio, np.float32)), (0, 0, vshift, vshift))
    win = 2 * vshift + 1
    d = torch.stack([F.pairwise_distance(v[[i]].repeat(win, 1), a[i : i + win]) for i in range(len(v))], 1)
    return d.mean(1).double().numpy()


def lse(video: np.ndarray, audio: np.ndarray, vshift: int = 15) -> dict:
    """{"lse_d", "lse_c", "offset"} of one clip."""
    dk = offset_distances(video, audio, vshift)
    k = int(np.argmin(dk))
    median = float(torch.median(torch.from_numpy(dk)))  # torch's median: lower middle value
    return {"lse_d": float(dk[k]), "lse_c": median - float(dk[k]), "offset": vshift - k}
