"""The synthtalk expert networks: small CNNs trained on synthtalk's ground truth.

Two networks, each trained on one identity split (DESIGN.md: a judge never sees train or test
identities; a training-loss expert never judges):

* ``face_analyser.FaceAnalyser``: face image -> 68 landmarks, pose (yaw, pitch, roll), mouth
  factors (open, width, round), 8 emotion logits (``EMOTIONS`` order), a unit identity embedding.
* ``sync_net.SyncNetJudge``: SyncNet's interface (5 lower-face frames vs 0.2 s of audio as a
  Wav2Lip 80x16 mel window, L2 distance of unit embeddings, LSE offset search).

Evaluation judges (judge split) are trained and installed into the weights directory by

    python -m eval.zoo train --data data/synthtalk

For the TRAINING ENGINEER, the training-loss experts (train split) come from

    python -m edtalk.experts train --data data/synthtalk --split train --out runs/experts

which writes ``runs/experts/synthtalk_face_expert.safetensors``,
``runs/experts/synthtalk_sync_expert.safetensors`` and ``runs/experts/manifest.json`` (sha256 of
each). Load them with

    from edtalk.experts import load_expert
    face, meta = load_expert("runs/experts/synthtalk_face_expert.safetensors", expect_split="train")
    out = face(x)            # x: whole frames, float (N, 3, S, S) in [-1, 1]; differentiable (the
                             # face box is cut inside); keys landmarks (N,68,2 in [0,1] of the
                             # box), pose_z, mouth_z, expression, emotion, identity (unit)
    sync, _ = load_expert("runs/experts/synthtalk_sync_expert.safetensors", expect_split="train")
    v = sync.embed_video(stack_windows(lip_frames_t))   # differentiable lip embeddings
    a = sync.embed_audio(mel_windows)                    # (N, 1, 80, 16) Wav2Lip mel windows

(``face.predict(frames)`` / ``sync.video_features(frames)`` are the no-grad numpy versions.)
Files: names.py (file names of judges and loss experts, torch-free), data.py (split loading +
guard), face_analyser.py, sync_net.py, store.py (safetensors + manifest + weights-manager hook),
train.py (loops + CLI), evaluate.py (held-out figures).
"""

__all__ = ["load_expert", "save_expert"]


def __getattr__(name: str):
    """``load_expert`` / ``save_expert`` on first use, so torch-free ``edtalk.experts.names`` stays light."""
    if name in __all__:
        from edtalk.experts import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
