"""A synthtalk sidecar's per-frame ground truth (``factors`` tracks, ``landmarks``) must have one row per
video frame. Before, a sidecar cut to 10 of 50 frames was scored over those 10 frames without a word
(``factor_errors`` truncates to the shorter), and the doctor said "all clips OK" for it and for a
sidecar with no ``factors`` at all, which ``eval.run`` then failed."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from edtalk.data.check import check_clip, main
from edtalk.data.readers import read_clips
from edtalk.data.readers.synthtalk import sidecar_frames_problem

N = 8
GOOD, SHORT, LONG, NO_FACTORS, NO_LANDMARKS = IDS = [
    "st000#happy#level_1#001",
    "st001#angry#level_2#001",
    "st002#sad#level_3#001",
    "st003#fear#level_1#001",
    "st004#neutral#level_2#001",
]


def _sidecar(clip_id: str, n_factors: int = N, n_landmarks: int = N) -> dict:
    identity, emotion, level, _ = clip_id.split("#")
    factors = {
        k: [0.1] * n_factors for k in ("yaw", "pitch", "roll", "mouth_open", "mouth_width", "mouth_round")
    }
    landmarks = np.zeros((n_landmarks, 68, 2)).tolist()
    meta = {"id": clip_id, "identity": identity, "emotion": emotion, "level": int(level[-1]), "n_frames": N}
    return meta | {"factors": factors, "landmarks": landmarks}


@pytest.fixture
def tree(tmp_path, make_clip):
    sidecars = {
        GOOD: _sidecar(GOOD),
        SHORT: _sidecar(SHORT, n_factors=3),
        LONG: _sidecar(LONG, n_landmarks=12),
        NO_FACTORS: {k: v for k, v in _sidecar(NO_FACTORS).items() if k != "factors"},
        NO_LANDMARKS: {k: v for k, v in _sidecar(NO_LANDMARKS).items() if k != "landmarks"},
    }
    for clip_id, sidecar in sidecars.items():
        make_clip(tmp_path / "clips" / f"{clip_id}.mp4", tmp_path / "clips" / f"{clip_id}.wav", size=(64, 64))
        (tmp_path / "clips" / f"{clip_id}.json").write_text(json.dumps(sidecar))
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("\n".join(IDS) + "\n")
    return tmp_path


def test_sidecar_frames_problem_names_the_arrays_and_both_counts():
    assert sidecar_frames_problem(_sidecar(GOOD), N) is None
    assert sidecar_frames_problem(_sidecar(SHORT, n_factors=3), N) == (
        "sidecar per-frame arrays of 3 frames (factors.yaw, factors.pitch, factors.roll +3 more) "
        "for a video of 8 frames"
    )
    assert sidecar_frames_problem(_sidecar(LONG, n_factors=3, n_landmarks=12), N) == (
        "sidecar per-frame arrays of 3 frames (factors.yaw, factors.pitch, factors.roll +3 more) "
        "and of 12 frames (landmarks) for a video of 8 frames"
    )
    assert (
        sidecar_frames_problem({"landmarks": []}, N)
        == "sidecar has no 'factors' (its per-frame ground truth)"
    )
    assert sidecar_frames_problem({}, None) == (
        "sidecar has no 'factors' and no 'landmarks' (its per-frame ground truth)"
    )
    assert sidecar_frames_problem(_sidecar(SHORT, n_factors=3), None) is None  # no video to compare with


def test_the_doctor_reports_sidecars_that_do_not_fit_their_video(tree):
    by_clip = {c.id: check_clip(c) for c in read_clips("synthtalk", tree)}
    assert by_clip[GOOD] == []
    for clip_id, detail in (
        (
            SHORT,
            "arrays of 3 frames (factors.yaw, factors.pitch, factors.roll +3 more) for a video of 8",
        ),
        (LONG, "per-frame arrays of 12 frames (landmarks) for a video of 8 frames"),
        (NO_FACTORS, "sidecar has no 'factors'"),
        (NO_LANDMARKS, "sidecar has no 'landmarks'"),
    ):
        (problem,) = by_clip[clip_id]
        assert (problem.kind, problem.path) == ("sidecar", str(tree / "clips" / f"{clip_id}.json"))
        assert detail in problem.detail, clip_id
    buffer = io.StringIO()
    code = main(["--dataset", "synthtalk", "--root", str(tree)], console=Console(file=buffer, width=250))
    assert code == 1 and "all clips OK" not in buffer.getvalue() and "4 problem(s) found" in buffer.getvalue()
