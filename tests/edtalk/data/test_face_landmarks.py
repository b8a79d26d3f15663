"""Landmarks for training on datasets without sidecars (HDTF, MEAD): dlib on the frames, checked
against synthtalk's true landmarks; frames without a face and clips without one."""

import json

import numpy as np
import pytest

from edtalk.data.face_landmarks import NoFaceError, track_landmarks

SIZE, N_FRAMES = 128, 6


def _rendered(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (T, 128, 128, 3), true landmarks (T, 68, 2)) of a synthtalk face opening its mouth."""
    from edtalk.data.synthtalk import render_frame, sample_identity
    from edtalk.data.synthtalk.expression import neutral_expression

    identity = sample_identity(np.random.default_rng(seed))
    pose = dict(yaw=0.0, pitch=0.0, roll=0.0, tx=0.0, ty=0.0, scale=1.0, mouth_width=0.0, mouth_round=0.0)
    out = [
        render_frame(
            identity, {**pose, "yaw": 4.0 * t, "mouth_open": t / N_FRAMES}, neutral_expression(), SIZE
        )
        for t in range(N_FRAMES)
    ]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out]).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_detected_landmarks_lie_near_the_true_ones(seed):
    frames, truth = _rendered(seed)
    detected, filled = track_landmarks(frames, "face.mp4")
    eyes = np.linalg.norm(truth[:, 36:42].mean(1) - truth[:, 42:48].mean(1), axis=1).mean()
    assert detected.shape == (N_FRAMES, 68, 2) and detected.dtype == np.float32 and filled == 0
    # dlib's 68 points against the renderer's template: measured ~10 % of the eye distance, mouth ~6 %
    assert np.linalg.norm(detected - truth, axis=2).mean() < 0.2 * eyes
    assert np.linalg.norm(detected[:, 48:] - truth[:, 48:], axis=2).mean() < 0.12 * eyes
    opening = detected[:, 66, 1] - detected[:, 62, 1]  # inner lips follow the mouth opening
    assert opening[-1] > opening[0]


def test_frames_without_a_face_take_the_nearest_detected_frames():
    frames, _ = _rendered(0)
    full, _ = track_landmarks(frames, "x.mp4")
    frames[:2] = 128  # no face in the first two frames and the last
    frames[-1] = 128
    patched, filled = track_landmarks(frames, "x.mp4")
    assert filled == 3
    np.testing.assert_array_equal(patched[:2], np.repeat(patched[2:3], 2, axis=0))
    np.testing.assert_array_equal(patched[-1], patched[-2])
    np.testing.assert_allclose(patched[2:-1], full[2:-1])
    with pytest.raises(
        NoFaceError, match=rf"blank\.mp4: no face found by dlib's HOG detector in any of its {N_FRAMES}"
    ):
        track_landmarks(np.full_like(frames, 128), "blank.mp4")


def test_a_cache_of_clips_without_sidecars_detects_their_landmarks(tmp_path, monkeypatch):
    """Before: such a cache held NaN landmarks and mouth_pose failed inside Ray (HDTF, MEAD). Decoded
    in two processes (with a bad clip among them) it is the same cache as decoded in one."""
    import edtalk.data.training as training
    from edtalk.data.clip import Clip
    from edtalk.data.training import build_frame_cache, cache_key, load_frame_cache
    from edtalk.data.video import write_video

    plain, with_sidecars = [], []
    for seed in (0, 1):
        frames, truth = _rendered(seed)
        video, sidecar = tmp_path / f"p{seed}#0.mp4", tmp_path / f"p{seed}#0.json"
        write_video(video, frames, fps=25.0)
        sidecar.write_text(json.dumps({"landmarks": truth.tolist()}))
        plain.append(Clip(id=f"p{seed}#0", dataset="hdtf", split="train", video=video, identity=f"p{seed}"))
        with_sidecars.append(
            Clip(
                id=f"p{seed}#0",
                dataset="hdtf",
                split="train",
                video=video,
                identity=f"p{seed}",
                sidecar=sidecar,
            )
        )
    truth_cache = load_frame_cache(build_frame_cache(with_sidecars, 64, tmp_path / "c", progress=False))
    detected_path = build_frame_cache(plain, 64, tmp_path / "c", progress=False)  # not a copy of the other
    detected = load_frame_cache(detected_path)
    assert cache_key(plain, 64) != cache_key(with_sidecars, 64)
    assert json.loads((detected_path / "meta.json").read_text())["landmarks"] == "dlib68"
    assert detected.has_landmarks and not np.isnan(detected.landmarks).any()
    np.testing.assert_array_equal(detected.frames, truth_cache.frames)
    error = np.linalg.norm(detected.landmarks - truth_cache.landmarks, axis=2).mean()
    assert 0 < error < 2.5  # px at 64 px: detected, so near the truth but not equal to it

    broken = tmp_path / "p9#0.mp4"
    broken.write_bytes(b"not a video")
    clips = [
        *plain[:1],
        Clip(id="p9#0", dataset="hdtf", split="train", video=broken, identity="p9"),
        *plain[1:],
    ]
    one = load_frame_cache(build_frame_cache(clips, 64, tmp_path / "one", progress=False))
    monkeypatch.setattr(training, "decode_workers", lambda n_clips, detect: 2)
    two = load_frame_cache(build_frame_cache(clips, 64, tmp_path / "two", progress=False))
    assert two.clip_ids == one.clip_ids == [c.id for c in plain] and [c for c, _ in two.skipped] == ["p9#0"]
    for name in ("frames", "landmarks", "mels", "start", "length"):
        np.testing.assert_array_equal(getattr(two, name), getattr(one, name))
    np.testing.assert_array_equal(one.landmarks, detected.landmarks)


def test_decoding_is_parallel_only_when_detecting_many_clips():
    """benchmarks/frame_cache.py: 2 processes x1.36 with dlib, x0.40 decoding alone (spawn costs)."""
    import os

    from edtalk.data.cache_decode import MOST_DECODERS, decode_workers

    assert decode_workers(10_000, detect=False) == 1
    assert decode_workers(10, detect=True) == 1  # a few clips: not worth spawning
    assert decode_workers(10_000, detect=True) == min(MOST_DECODERS, os.cpu_count() or 1)


def test_dlib_models_load_without_the_pkg_resources_warning():
    """Before: every process that loaded dlib's models (each Ray worker of a scoring run) printed
    face_recognition_models' 'pkg_resources is deprecated' UserWarning."""
    import subprocess
    import sys

    code = "from edtalk.data import face_landmarks as f; f.shape_predictor(); f.face_recognizer()"
    proc = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
