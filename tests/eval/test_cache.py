"""Per-clip cache: safe file names, atomic round trip, unreadable rows, key and input checks."""

import builtins
import errno
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from edtalk.data.clip import Clip
from eval.cache import ClipCache, GTFeatureStore, clip_inputs, escape_clip_id, file_fingerprint, metric_key
from eval.metrics import METRICS, load_all


def test_escape_keeps_hash_and_escapes_slashes():
    assert escape_clip_id("M003#angry#level_1#001") == "M003#angry#level_1#001"
    assert "/" not in escape_clip_id("a/b/../c")
    assert escape_clip_id("..") not in (".", "..")
    long = escape_clip_id("x" * 500)
    assert len(long) < 200 and long != escape_clip_id("x" * 499)


def _disk_full_under(monkeypatch, folder: Path) -> None:
    """Files opened for writing in ``folder`` take half of the first write, then raise ENOSPC."""
    real_open = io.open

    class HalfWritten:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            self._f.write(bytes(data)[: max(1, len(data) // 2)])
            self._f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def failing_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        writing = any(c in mode for c in "wax+") and isinstance(file, str | os.PathLike)
        return HalfWritten(f) if writing and Path(file).parent == folder else f

    monkeypatch.setattr(io, "open", failing_open)
    monkeypatch.setattr(builtins, "open", failing_open)


def test_round_trip_is_atomic(tmp_path, monkeypatch):
    """A row comes back as saved; a save over it that dies mid-write (disk full) leaves the old row
    loadable as it was and no temp file (a direct write to the row's file would leave half a row)."""
    cache = ClipCache(tmp_path / "c")
    row = {"inputs": [1], "metrics": {"psnr": {"key": "k", "state": {"rows": np.arange(3)}}}}
    cache.save("a/b#1", row)
    got = cache.load("a/b#1")
    assert got["clip"] == "a/b#1" and np.array_equal(got["metrics"]["psnr"]["state"]["rows"], np.arange(3))
    assert [p.name for p in (tmp_path / "c").iterdir()] == [escape_clip_id("a/b#1") + ".pkl"]  # no temp left
    assert len(cache) == 1 and cache.load("other") is None
    _disk_full_under(monkeypatch, cache.root)
    new = {"inputs": [2], "metrics": {"psnr": {"key": "k2", "state": {"rows": np.arange(50)}}}}
    with pytest.raises(OSError, match="No space left"):
        cache.save("a/b#1", new)
    monkeypatch.undo()
    got = cache.load("a/b#1")
    assert got is not None and got["inputs"] == [1] and got["metrics"]["psnr"]["key"] == "k"
    assert np.array_equal(got["metrics"]["psnr"]["state"]["rows"], np.arange(3))
    assert [p.name for p in (tmp_path / "c").iterdir()] == [escape_clip_id("a/b#1") + ".pkl"]


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


def _pickle_raising(kind: str) -> bytes:
    """Bytes that make ``pickle.load`` raise ``kind`` (not only UnpicklingError)."""
    import struct

    return {
        "OverflowError": b"\x8e" + struct.pack("<Q", 2**63),  # BINBYTES8 longer than memory
        "TypeError": b"K\x01K\x02\x85R.",  # calls the int 1
        "ValueError": b"cbuiltins\nint\n(X\x03\x00\x00\x00abcK\x07tR.",  # int("abc", 7)
        "UnpicklingError": b"h\x00.",  # memo value not found
    }[kind]


@pytest.mark.parametrize("kind", ["OverflowError", "TypeError", "ValueError", "UnpicklingError"])
def test_a_corrupt_row_counts_as_missing_and_is_removed(tmp_path, kind):
    """pickle.load raised OverflowError, TypeError ... past the except clause: the whole run crashed."""
    with pytest.raises(Exception) as raised:
        pickle.loads(_pickle_raising(kind))
    assert type(raised.value).__name__ == kind
    cache, store = ClipCache(tmp_path / "rows"), GTFeatureStore(tmp_path / "gt")
    cache.save("x", {"inputs": [], "metrics": {}})
    store.save("x", ["i"], {"f": 1})
    cache.path("x").write_bytes(_pickle_raising(kind))
    store.path("x").write_bytes(_pickle_raising(kind))
    assert cache.load("x") is None and store.load("x", ["i"]) == {}
    assert not cache.path("x").exists() and not store.path("x").exists()


def test_clip_inputs_cover_the_sidecar_and_files_in_extra(tmp_path):
    """The disentangle metrics read the sidecar, cross-driving the drivers' sidecars and an identity
    source named in ``clip.extra``: changing any of them must change the clip's fingerprint."""
    files = {n: tmp_path / n for n in ("v.mp4", "p.mp4", "a.wav", "s.json", "d.json", "id.mp4")}
    for f in files.values():
        f.write_bytes(b"x")
    plain = Clip("c", "synthtalk", "test", files["v.mp4"], audio=files["a.wav"])
    assert clip_inputs(plain, files["p.mp4"]) == file_fingerprint(
        files["v.mp4"], files["p.mp4"], files["a.wav"]
    )
    clip = Clip(
        "c",
        "synthtalk",
        "test",
        files["v.mp4"],
        audio=files["a.wav"],
        sidecar=files["s.json"],
        extra={
            "drivers": {"pose": str(files["d.json"]), "mouth": {"id": "inline"}},
            "word": "hi",
            "identity_source": files["id.mp4"],
        },
    )
    before = clip_inputs(clip, files["p.mp4"])
    assert [e[0] for e in before[3:]] == ["s.json", "d.json", "id.mp4"]  # files by name (file_fingerprint)
    for name in ("s.json", "d.json", "id.mp4"):
        files[name].write_bytes(b"changed")
        assert clip_inputs(clip, files["p.mp4"]) != before, name
        before = clip_inputs(clip, files["p.mp4"])


def test_entries_keep_every_metric_and_the_old_row_wide_unverified_mark(tmp_path):
    cache = ClipCache(tmp_path)
    row = {
        "inputs": ["i"],
        "metrics": {"psnr": {"key": "k1"}, "l1": {"key": "k3", "unverified": {}}},
        "unverified": {"w": "bad sha"},
    }
    assert cache.entries(row, ["i"]) == {
        "psnr": {"key": "k1", "unverified": {"w": "bad sha"}},  # a row written before per-entry marks
        "l1": {"key": "k3", "unverified": {}},
    }
    assert cache.entries(row, ["changed"]) == {} and cache.entries(None, ["i"]) == {}


def test_gt_features_of_a_replaced_gt_video_are_not_returned(tmp_path):
    """A replaced GT video must invalidate its stored GT features: its new fingerprint (size,
    mtime) finds nothing, and the unchanged one still finds them."""
    video = tmp_path / "gt.mp4"
    video.write_bytes(b"old video")
    os.utime(video, ns=(1_000_000_000, 1_000_000_000))
    store = GTFeatureStore(tmp_path / "gt_features")
    old = file_fingerprint(video)
    store.save("M003#angry#level_1#001", old, {"landmarks": np.arange(4)})
    assert np.array_equal(store.load("M003#angry#level_1#001", old)["landmarks"], np.arange(4))
    video.write_bytes(b"a new GT video")
    os.utime(video, ns=(2_000_000_000, 2_000_000_000))
    new = file_fingerprint(video)
    assert new != old
    assert store.load("M003#angry#level_1#001", new) == {}


def _hash_suffixed_pair() -> tuple[str, str]:
    """Two long clip ids whose escaped names differ (long ids get a hash suffix, not their tail)."""
    a, b = "x" * 300 + "#a", "x" * 300 + "#b"
    assert escape_clip_id(a) != escape_clip_id(b)
    return a, b


def test_a_row_stored_under_another_clip_id_is_refused(tmp_path):
    """The row's own clip id is checked, not only its file name: a row copied or renamed to another
    clip's path (or a file-name clash of two long ids) must not be served as that clip's scores."""
    cache = ClipCache(tmp_path / "rows")
    a, b = _hash_suffixed_pair()
    cache.save(a, {"inputs": ["i"], "metrics": {"psnr": {"key": "k", "state": 1}}})
    cache.path(b).write_bytes(cache.path(a).read_bytes())
    assert cache.load(a)["clip"] == a
    assert cache.load(b) is None


def test_gt_features_stored_under_another_clip_id_are_refused(tmp_path):
    """The same check for the GT feature store: another clip's features are not this clip's."""
    store = GTFeatureStore(tmp_path / "gt_features")
    a, b = _hash_suffixed_pair()
    store.save(a, ["i"], {"f": 1})
    store.path(b).write_bytes(store.path(a).read_bytes())
    assert store.load(a, ["i"]) == {"f": 1}
    assert store.load(b, ["i"]) == {}


def _dataset(root):
    """A clip's files (video, prediction, audio, sidecar) under ``root``, with fixed mtimes."""
    (root / "clips").mkdir(parents=True)
    for i, name in enumerate(("c.mp4", "c.pred.mp4", "c.wav", "c.json")):
        (root / "clips" / name).write_bytes(b"x" * (i + 1))
        os.utime(root / "clips" / name, ns=(1_000_000_000 * (i + 1), 1_000_000_000 * (i + 1)))


def _clip(root):
    c = root / "clips"
    return Clip("c", "synthtalk", "test", c / "c.mp4", audio=c / "c.wav", sidecar=c / "c.json")


def test_the_same_files_have_one_fingerprint_however_the_root_is_spelled(tmp_path, monkeypatch):
    """The fingerprint held each path as given: --root data/x after --root /abs/data/x (or from another
    working folder, through a symlink, after moving the dataset) missed every cached row and GT feature
    row ("0 clips from the cache"). A changed file is still a new fingerprint."""
    _dataset(tmp_path / "data" / "x")
    absolute = clip_inputs(_clip(tmp_path / "data" / "x"), tmp_path / "data" / "x" / "clips" / "c.pred.mp4")
    monkeypatch.chdir(tmp_path)
    relative = Path("data") / "x"
    (tmp_path / "link").symlink_to(tmp_path / "data" / "x")
    spellings = [relative, Path("link"), tmp_path / "data" / ".." / "data" / "x"]
    for root in spellings:
        assert clip_inputs(_clip(root), root / "clips" / "c.pred.mp4") == absolute, root
    cache, store = ClipCache(tmp_path / "rows"), GTFeatureStore(tmp_path / "gt_features")
    cache.save("c", {"inputs": absolute, "metrics": {"psnr": {"key": "k", "state": 1}}})
    store.save("c", file_fingerprint(relative / "clips" / "c.mp4"), {"f": 1})

    os.rename(tmp_path / "data" / "x", tmp_path / "moved")  # mv keeps the files' times
    moved = tmp_path / "moved"
    assert clip_inputs(_clip(moved), moved / "clips" / "c.pred.mp4") == absolute
    assert set(cache.usable_metrics(cache.load("c"), {"psnr": "k"}, absolute)) == {"psnr"}
    assert store.load("c", file_fingerprint(moved / "clips" / "c.mp4")) == {"f": 1}

    (moved / "clips" / "c.json").write_bytes(b"yyyy")  # same size, new mtime: still a change
    changed = clip_inputs(_clip(moved), moved / "clips" / "c.pred.mp4")
    assert changed != absolute and cache.usable_metrics(cache.load("c"), {"psnr": "k"}, changed) == {}
    (moved / "clips" / "c.mp4").write_bytes(b"z")
    assert store.load("c", file_fingerprint(moved / "clips" / "c.mp4")) == {}


def test_rows_written_with_paths_are_reused_only_for_the_same_files(tmp_path):
    """Rows and GT feature rows of older runs hold each file's path as it was spelled; they are read by
    that path's name: reused when name, size and mtime still match (not lost to the new format), never
    for another file."""
    _dataset(tmp_path / "x")
    clip, pred = _clip(tmp_path / "x"), tmp_path / "x" / "clips" / "c.pred.mp4"
    old = [
        [str(p), *e[1:]]
        for p, e in zip([clip.video, pred, clip.audio, clip.sidecar], clip_inputs(clip, pred), strict=True)
    ]
    assert old[0][0] == str(tmp_path / "x" / "clips" / "c.mp4")  # the old format: the path as given
    cache, store = ClipCache(tmp_path / "rows"), GTFeatureStore(tmp_path / "gt_features")
    cache.save("c", {"inputs": old, "metrics": {"psnr": {"key": "k", "state": 1}}})
    store.save("c", old[:1], {"f": 1})
    assert set(cache.entries(cache.load("c"), clip_inputs(clip, pred))) == {"psnr"}
    assert store.load("c", file_fingerprint(clip.video)) == {"f": 1}
    (tmp_path / "x" / "clips" / "c.wav").write_bytes(b"new speech")
    assert cache.entries(cache.load("c"), clip_inputs(clip, pred)) == {}
    renamed = tmp_path / "x" / "clips" / "d.mp4"  # another file of the same size and mtime
    os.rename(clip.video, renamed)
    assert store.load("c", file_fingerprint(renamed)) == {}
