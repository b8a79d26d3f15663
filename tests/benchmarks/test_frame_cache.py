"""benchmarks.frame_cache: a short smoke run (no timing asserts): both cases are built on both sides,
checked identical and reported with their ratio; a cache that differs in any of its files is caught."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.mark.slow  # ~40 s on 2 shared cores: each build in 2 processes spawns them (torch, dlib imports)
def test_smoke_run_reports_both_cases_and_their_ratios(tmp_path, capsys):
    from benchmarks.frame_cache import main

    out = tmp_path / "bench.json"
    assert main(["--smoke", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["smoke"] and r["repeats"] == 1 and r["workers"] == 2 and r["machine"]["cpus"] >= 1
    assert set(r["cases"]) == {"dlib", "sidecar"} and len(r["load_average"]) == 2
    for case in r["cases"].values():
        assert case["clips"] == 2 and case["identical"]
        assert case["one_s"] > 0 and case["many_s"] > 0 and case["speedup"] > 0
        assert [len(v) for v in case["seconds_all"].values()] == [1, 1]
    printed = capsys.readouterr().out
    assert "dlib" in printed and "sidecar" in printed and "2 processes" in printed


def _cache(root, mels_value: float = 0.0, skipped: list | None = None, wavs_value: int = 0):
    root.mkdir()
    np.save(root / "frames.npy", np.zeros((3, 4, 4, 3), np.uint8))
    np.save(root / "landmarks.npy", np.full((3, 68, 2), np.nan, np.float32))
    np.save(root / "mels.npy", np.full((3, 80, 16), mels_value, np.float16))
    np.save(root / "wavs.npy", np.full((3, 640), wavs_value, np.int16))
    (root / "meta.json").write_text(json.dumps({"skipped": skipped or [], "landmark_frames_filled": 0}))
    return root


@pytest.mark.parametrize("differ", ["mels", "wavs", "meta"])
def test_caches_that_differ_in_mels_wavs_or_meta_are_not_the_same(tmp_path, differ):
    """Before: only frames.npy and landmarks.npy were compared (and no audio rows existed)."""
    from benchmarks.frame_cache import same_cache

    a = _cache(tmp_path / "a")
    assert same_cache(a, _cache(tmp_path / "b"))  # NaN landmarks compare equal
    other = {
        "mels": lambda: _cache(tmp_path / "c", mels_value=1.0),
        "wavs": lambda: _cache(tmp_path / "c", wavs_value=7),
        "meta": lambda: _cache(tmp_path / "c", skipped=[{"clip": "x", "reason": "unreadable"}]),
    }[differ]()
    assert not same_cache(a, other)


def test_clips_limits_both_cases(tmp_path, monkeypatch, capsys):
    """Before: --clips limited only the dlib case; the sidecar case built the whole train split."""
    import benchmarks.frame_cache as bench

    seen = {}
    monkeypatch.setattr("edtalk.data.readers.read_clips", lambda *a: [_clip(tmp_path, i) for i in range(5)])

    def fake_time_case(clips, workers, repeats, root, warm_builds=True):
        seen[root.name] = len(clips)
        return {"one": [2.0], "many": [1.0]}

    monkeypatch.setattr(bench, "time_case", fake_time_case)
    assert bench.main(["--clips", "3", "--data", str(tmp_path)]) == 0
    assert seen == {"dlib": 3, "sidecar": 3}


def _clip(root, i: int):
    from edtalk.data.clip import Clip

    return Clip(
        id=f"c{i}", dataset="synthtalk", split="train", video=root / f"c{i}.mp4", sidecar=root / "x.json"
    )


def test_sides_alternate_and_neither_always_runs_first():
    """The shared helper of benchmarks.face_crop and benchmarks.frame_cache (before: one fixed order)."""
    from benchmarks.face_crop import alternate

    calls = []
    seconds, outputs = alternate(
        {"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}, 3
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert outputs == {"a": [1, 1, 1], "b": [2, 2, 2]} and [len(v) for v in seconds.values()] == [3, 3]
