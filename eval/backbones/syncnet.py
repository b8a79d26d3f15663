"""SyncNet v2 (Chung & Zisserman) and its MFCC pipeline, for LSE-C / LSE-D.

Model definition: ``syncnet_python.SyncNetModel.S`` (lip stream on 5 stacked frames of 224 x 224
BGR uint8-valued floats, audio stream on 13 x 20 MFCC windows); weights ``syncnet_v2`` from the
weights manager. Inputs as ``SyncNetInstance.evaluate``:
- frames: BGR (cv2.imread order), values 0..255 as float, no normalisation; window i = [i, i+5);
- audio: 16 kHz int16 PCM (as scipy's wavfile gives it) -> ``python_speech_features.mfcc``
  defaults (13 coefficients, 25 ms / 10 ms, 100 frames/s); window i = MFCC frames [4i, 4i+20);
- min_length = min(T, floor(len(audio) / 640)), windows i = 0 .. min_length - 6.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from edtalk.data.audio import pcm16
from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure

CROP_SIZE = 224  # the lip stream's input side (its last conv and fc fit 224 px only)


@BACKBONES.register("syncnet")
def load_syncnet(device: str = "cpu", weights: str | None = None) -> torch.nn.Module:
    from syncnet_python.SyncNetModel import S

    net = S(num_layers_in_fc_layers=1024)
    state = torch.load(weights or resolve("syncnet_v2"), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.eval().to(device)


def mfcc(audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """(13, N) MFCCs of int16 PCM, python_speech_features defaults."""
    import python_speech_features

    return np.asarray(python_speech_features.mfcc(audio, sample_rate)).T


@torch.no_grad()
def sync_embeddings(frames_rgb: np.ndarray, audio: np.ndarray, device: str = "cpu", batch: int = 20):
    """(video (W, 1024), audio (W, 1024)) SyncNet features of W = min_length - 5 windows."""
    if frames_rgb.shape[1:3] != (CROP_SIZE, CROP_SIZE):  # else a shape error deep in the lip stream
        h, w = frames_rgb.shape[1:3]
        raise ClipFailure(f"sync: SyncNet reads {CROP_SIZE} x {CROP_SIZE} face crops, got {w}x{h} frames")
    net = get_backbone("syncnet", device=device)
    pcm = pcm16(audio)
    min_length = min(len(frames_rgb), math.floor(len(pcm) / 640))
    last = min_length - 5
    if last < 1:
        raise ClipFailure(f"sync: too short ({len(frames_rgb)} frames, {len(pcm)} samples); need > 5 frames")
    vid = torch.from_numpy(np.ascontiguousarray(frames_rgb[..., ::-1])).float()  # T H W C, BGR
    vid = vid.permute(3, 0, 1, 2)[None]  # (1, 3, T, H, W)
    cc = torch.from_numpy(mfcc(pcm)).float()[None, None]  # (1, 1, 13, N)
    v_out, a_out = [], []
    for i in range(0, last, batch):
        idx = range(i, min(last, i + batch))
        v_out.append(net.forward_lip(torch.cat([vid[:, :, j : j + 5] for j in idx]).to(device)).cpu())
        a_out.append(net.forward_aud(torch.cat([cc[..., 4 * j : 4 * j + 20] for j in idx]).to(device)).cpu())
    return torch.cat(v_out).double().numpy(), torch.cat(a_out).double().numpy()


@FEATURES.register("syncnet")
def syncnet_feature(ctx: ClipContext, side: str, crop: str = "none", size: int = 224):
    """SyncNet (video, audio) window features of one side against the driving audio.

    ``crop="s3fd_track"``: syncnet_python's S3FD track crop (eval/backbones/s3fd_track.py), with
    the audio cut to the track like the reference pipeline; other crops: ``ctx.feature("crop")``."""
    if ctx.sample_rate != 16000:
        raise ValueError("SyncNet needs 16 kHz audio (ClipContext(sample_rate=16000))")
    if crop == "s3fd_track":
        from eval.backbones import s3fd_track  # noqa: F401  (registers the feature)

        track = ctx.feature("s3fd_track", side)
        audio = ctx.audio[track["start"] * 640 :]
        return sync_embeddings(track["frames"], audio, ctx.device)
    frames = ctx.feature("crop", side, kind=crop, size=size)
    return sync_embeddings(frames, ctx.audio, ctx.device)
