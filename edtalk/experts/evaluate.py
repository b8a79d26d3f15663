"""Held-out figures of trained experts on clips of another identity split (usually ``test``).

``evaluate_face`` compares the face analyser with the sidecar ground truth: landmark error
(mean L2 over points and frames, pixels at the native resolution), pose error (mean absolute
degrees over yaw/pitch/roll), mouth-factor error (mean absolute, factor units), emotion accuracy
on GT clips (video level: argmax of the frame-averaged logits, also per intensity level and as
a confusion matrix; and frame level), and identity
verification (cosine of clip-mean embeddings, same vs different identity, ROC AUC).

``evaluate_sync`` delays/advances each clip's audio by 1..10 frames and counts how often
SyncNet's offset search (vshift 15) recovers the shift exactly; it also reports LSE-C/LSE-D with
the true audio and with another clip's audio.
"""

from __future__ import annotations

import numpy as np

from edtalk.data.clip import EMOTIONS
from edtalk.experts.data import ExpertClip
from edtalk.experts.face_analyser import FaceAnalyser
from edtalk.experts.sync_net import SyncNetJudge, offset_search, shift_audio


def _progress(items, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="clip", disable=not enabled, leave=False)


def evaluate_face(model: FaceAnalyser, clips: list[ExpertClip], progress: bool = True) -> dict:
    lmk, pose, mouth, frame_hits, video_hits, n_frames = [], [], [], 0, 0, 0
    clip_emb, clip_ident, expr = [], [], []
    confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), int)  # rows: true, columns: predicted
    by_level: dict[str, list[bool]] = {}
    for c in _progress(clips, "eval face", progress):
        out = model.predict(c.frames)
        lmk.append(np.linalg.norm(out["landmarks"] - c.landmarks, axis=-1).mean())
        pose.append(np.abs(out["pose"] - c.pose).mean(axis=0))
        mouth.append(np.abs(out["mouth"] - c.mouth).mean(axis=0))
        frame_hits += int((out["emotion"].argmax(1) == c.emotion).sum())
        n_frames += c.n_frames
        predicted = int(out["emotion"].mean(0).argmax())
        video_hits += int(predicted == c.emotion)
        confusion[c.emotion, predicted] += 1
        by_level.setdefault(str(c.level), []).append(predicted == c.emotion)
        if c.expression is not None:
            expr.append(np.abs(out["expression"] - c.expression[None]).mean())
        e = out["identity"].mean(0)
        clip_emb.append(e / np.linalg.norm(e))
        clip_ident.append(c.identity)
    pose_axes = np.mean(pose, axis=0)
    mouth_axes = np.mean(mouth, axis=0)
    return {
        "n_clips": len(clips),
        "landmark_error_px": float(np.mean(lmk)),
        "native_size_px": int(clips[0].size) if clips else None,
        "pose_error_deg": float(pose_axes.mean()),
        "pose_error_deg_yaw_pitch_roll": [float(v) for v in pose_axes],
        "mouth_error": float(mouth_axes.mean()),
        "mouth_error_open_width_round": [float(v) for v in mouth_axes],
        "expression_error": float(np.mean(expr)) if expr else None,
        "emotion_acc_video": video_hits / max(len(clips), 1),
        "emotion_acc_frame": frame_hits / max(n_frames, 1),
        "emotion_acc_video_by_level": {k: float(np.mean(v)) for k, v in sorted(by_level.items())},
        "emotion_confusion": {"classes": list(EMOTIONS), "rows_true_cols_predicted": confusion.tolist()},
        **identity_verification(np.stack(clip_emb), clip_ident),
    }


def identity_verification(embeddings: np.ndarray, identities: list[str]) -> dict:
    """Cosine of every pair of clip embeddings; same vs different identity, ROC AUC."""
    cos = embeddings @ embeddings.T
    ident = np.asarray(identities)
    iu = np.triu_indices(len(ident), k=1)
    same = (ident[:, None] == ident[None, :])[iu]
    scores = cos[iu]
    out = {
        "identity_cos_same": float(scores[same].mean()) if same.any() else None,
        "identity_cos_diff": float(scores[~same].mean()) if (~same).any() else None,
        "identity_auc": None,
    }
    if same.any() and (~same).any():
        from sklearn.metrics import roc_auc_score

        out["identity_auc"] = float(roc_auc_score(same, scores))
    return out


def evaluate_sync(
    model: SyncNetJudge,
    clips: list[ExpertClip],
    shifts: tuple[int, ...] = tuple(range(1, 11)),
    vshift: int = 15,
    progress: bool = True,
) -> dict:
    """Share of audio shifts of +-``shifts`` frames recovered exactly by the offset search."""
    hits, total, per_shift = 0, 0, {}
    conf_true, dist_true, conf_other, zero_ok = [], [], [], 0
    for j, c in enumerate(_progress(clips, "eval sync", progress)):
        v = model.video_features(c.frames)
        r = offset_search(v, model.audio_features(c.wav, c.n_frames, c.fps), vshift)
        conf_true.append(r["lse_c"])
        dist_true.append(r["lse_d"])
        zero_ok += int(r["offset"] == 0)
        other = clips[(j + len(clips) // 2) % len(clips)] if len(clips) > 1 else c
        wav_other = np.resize(other.wav, len(c.wav))
        conf_other.append(
            offset_search(v, model.audio_features(wav_other, c.n_frames, c.fps), vshift)["lse_c"]
        )
        for s in shifts:
            for signed in (s, -s):
                found = offset_search(
                    v, model.audio_features(shift_audio(c.wav, signed), c.n_frames, c.fps), vshift
                )
                ok = int(found["offset"] == -signed)
                hits += ok
                total += 1
                per_shift.setdefault(signed, []).append(ok)
    return {
        "n_clips": len(clips),
        "shift_recovery": hits / max(total, 1),
        "n_shift_trials": total,
        "shift_recovery_by_shift": {str(k): float(np.mean(v)) for k, v in sorted(per_shift.items())},
        "in_sync_offset_zero": zero_ok / max(len(clips), 1),
        "lse_c_true_audio": float(np.mean(conf_true)),
        "lse_d_true_audio": float(np.mean(dist_true)),
        "lse_c_other_audio": float(np.mean(conf_other)),
    }
