"""Per-clip cache: safe file names, atomic round trip, unreadable rows, key and input checks."""

import os

import numpy as np

from eval.cache import ClipCache, escape_clip_id, file_fingerprint, metric_key
from eval.metrics import METRICS, load_all


def test_escape_keeps_hash_and_escapes_slashes():
    assert escape_clip_id("M003#angry#level_1#001") == "M003#angry#level_1#001"
    assert "/" not in escape_clip_id("a/b/../c")
    assert escape_clip_id("..") not in (".", "..")
    long = escape_clip_id("x" * 500)
    assert len(long) < 200 and long != escape_clip_id("x" * 499)


def test_round_trip_is_atomic(tmp_path):
    cache = ClipCache(tmp_path / "c")
    row = {"inputs": [1], "metrics": {"psnr": {"key": "k", "state": {"rows": np.arange(3)}}}}
    cache.save("a/b#1", row)
    got = cache.load("a/b#1")
    assert got["clip"] == "a/b#1" and np.array_equal(got["metrics"]["psnr"]["state"]["rows"], np.arange(3))
    assert [p.name for p in (tmp_path / "c").iterdir()] == [escape_clip_id("a/b#1") + ".pkl"]  # no temp left
    assert len(cache) == 1 and cache.load("other") is None


def test_truncated_row_is_ignored(tmp_path):
    cache = ClipCache(tmp_path)
    cache.save("x", {"inputs": [], "metrics": {}})
    data = cache.path("x").read_bytes()
    cache.path("x").write_bytes(data[: len(data) // 2])
    assert cache.load("x") is None


def test_usable_metrics_checks_keys_and_inputs(tmp_path):
    cache = ClipCache(tmp_path)
    row = {"inputs": ["i"], "metrics": {"psnr": {"key": "k1"}, "ssim": {"key": "k2"}}}
    assert set(cache.usable_metrics(row, {"psnr": "k1", "ssim": "k2"}, ["i"])) == {"psnr", "ssim"}
    assert set(cache.usable_metrics(row, {"psnr": "k1", "ssim": "new"}, ["i"])) == {"psnr"}
    assert cache.usable_metrics(row, {"psnr": "k1"}, ["changed"]) == {}
    assert cache.usable_metrics(None, {"psnr": "k1"}, ["i"]) == {}


def test_metric_key_follows_settings_and_version(monkeypatch):
    load_all()
    psnr = METRICS.get("psnr")
    k = metric_key(psnr(pooling="frames"))
    assert metric_key(psnr(pooling="frames")) == k != metric_key(psnr(pooling="videos"))
    monkeypatch.setattr(psnr, "version", "2")
    assert metric_key(psnr(pooling="frames")) != k


def test_file_fingerprint_changes_when_a_file_is_replaced(tmp_path):
    f = tmp_path / "v.mp4"
    f.write_bytes(b"abc")
    before = file_fingerprint(f, None)
    f.write_bytes(b"abcd")
    os.utime(f, ns=(1, 1))
    assert file_fingerprint(f, None) != before and before[1] is None
    assert file_fingerprint(tmp_path / "missing")[0][1] == "missing"
