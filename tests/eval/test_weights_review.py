"""Weights manager: what a researcher's wrong file, folder or download does to `import`, `fetch`,
`resolve` and `status` (nothing that is not the weight file is installed, recorded or called ok)."""

import errno
import hashlib
import io
import json
import zipfile

import pytest
import torch

from edtalk import weights as W
from edtalk.weight_catalogue import WEIGHTS, WeightFile
from eval.weights import main


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.delenv("EDTALK_BENCH_ALLOW_UNVERIFIED", raising=False)
    return tmp_path / "w"


def _checkpoint(path, n=1000):
    torch.save({"w": torch.arange(n, dtype=torch.float32)}, path)
    return path


def test_a_saved_error_page_is_refused_and_not_recorded_as_the_reference(wdir, tmp_path, capsys):
    """openface.pth has no published hash: an HTML error page imported first was installed, its hash
    recorded as the reference, and the real file refused afterwards."""
    page = tmp_path / "openface.pth"
    page.write_text("\n<!DOCTYPE html>\n<html><body>404: Not Found</body></html>\n")
    assert main(["import", "openface_nn4_small2", str(page), "--allow-unverified"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(page) in err and "web page" in err
    assert WEIGHTS.get("openface_nn4_small2").url in err and str(wdir / "openface.pth") in err
    assert not W.installed("openface_nn4_small2") and W.expected_hash("openface_nn4_small2") is None
    real = _checkpoint(tmp_path / "real.pth")
    assert main(["import", "openface_nn4_small2", str(real)]) == 0
    assert W.expected_hash("openface_nn4_small2") == W.sha256_of(real)


@pytest.mark.parametrize("kind", ["empty", "zip", "truncated"])
def test_an_archive_empty_or_cut_short_file_is_refused_even_with_allow_unverified(wdir, tmp_path, kind):
    """Emotion-FAN's file sits in a Google Drive code.zip: the zip itself, an empty file or a torch
    checkpoint cut short were installed and their hash recorded."""
    src = tmp_path / "f"
    if kind == "zip":
        with zipfile.ZipFile(src, "w") as z:
            z.writestr("code/emotionfan_basiccode/model/model_training_name/x", b"weights")
    elif kind == "truncated":
        data = _checkpoint(tmp_path / "full.pth").read_bytes()
        src.write_bytes(data[: len(data) // 2])
    else:
        src.write_bytes(b"")
    with pytest.raises(
        W.WeightsMismatchError, match={"empty": "empty", "zip": "unpack", "truncated": "cut short"}[kind]
    ):
        W.import_file("emotion_fan_mead8", src, allow_unverified=True)
    assert not W.installed("emotion_fan_mead8") and W.expected_hash("emotion_fan_mead8") is None


def _hf_folder(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "hubert"}')
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(4)}, str(folder / "model-00001-of-00002.safetensors"))
    return folder


def test_a_model_folder_missing_a_shard_or_with_a_broken_link_is_not_installed(wdir, tmp_path):
    """A Hugging Face snapshot missing one of its shards (or whose link to a blob is broken) was
    imported, recorded and listed as installed."""
    snap = _hf_folder(tmp_path / "snap")
    with pytest.raises(W.WeightsMismatchError, match="model-00002-of-00002.safetensors"):
        W.import_file("hubert_large_ll60k", snap)
    assert W.expected_hash("hubert_large_ll60k") is None
    (snap / "model-00002-of-00002.safetensors").symlink_to(tmp_path / "blobs" / "unfinished")
    with pytest.raises(W.WeightsMismatchError, match="broken link"):
        W.import_file("hubert_large_ll60k", snap)
    in_place = _hf_folder(wdir / "hubert-large-ll60k")  # downloaded straight into place, one shard short
    assert not W.installed("hubert_large_ll60k")
    with pytest.raises(W.MissingWeightsError, match="lacks model-00002-of-00002.safetensors"):
        W.resolve("hubert_large_ll60k")
    from safetensors.torch import save_file

    save_file({"b": torch.zeros(1000)}, str(in_place / "model-00002-of-00002.safetensors"))
    data = (in_place / "model-00002-of-00002.safetensors").read_bytes()
    (in_place / "model-00002-of-00002.safetensors").write_bytes(data[:-100])  # cut short
    with pytest.raises(W.WeightsMismatchError, match="cut short"):
        W.import_file("hubert_large_ll60k", in_place)
    (in_place / "model-00002-of-00002.safetensors").write_bytes(data)
    with pytest.warns(UserWarning, match="recording"):
        assert W.import_file("hubert_large_ll60k", in_place) == in_place


class _Response(io.BytesIO):
    """An HTTP response whose server closed the connection before Content-Length bytes."""

    def __init__(self, data, length):
        super().__init__(data)
        self.headers = {"Content-Length": str(length)}


def test_a_download_cut_short_is_not_installed(wdir, monkeypatch):
    """urllib's read() ends quietly when the connection closes early: the partial openface.pth (no
    published hash) was installed and recorded as the reference."""
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda url: _Response(b"\x80\x02partial", 10_000))
    with pytest.raises(W.MissingWeightsError, match="after 9 of 10000 bytes"):
        W.fetch("openface_nn4_small2", progress=False)
    assert not W.installed("openface_nn4_small2") and W.expected_hash("openface_nn4_small2") is None
    assert list(wdir.iterdir()) == []


def test_a_fetched_error_page_is_not_installed(wdir, tmp_path, monkeypatch):
    """A direct URL that answers with a page (here a file:// one) is not a weight file."""
    page = tmp_path / "page.html"
    page.write_text("<html><body>Sign in to continue</body></html>")
    wf = WeightFile("unit_page", "unit_page.pth", None, page.as_uri(), "test", ("test",))
    monkeypatch.setitem(WEIGHTS._items, wf.name, wf)
    with pytest.raises(W.WeightsMismatchError, match=f"the download from {page.as_uri()} .*web page"):
        W.fetch("unit_page", progress=False)
    assert not W.installed("unit_page") and W.expected_hash("unit_page") is None


def test_a_file_still_growing_while_imported_is_not_installed(wdir, tmp_path, monkeypatch):
    """The source was hashed, then copied: a download still being written in between left a copy
    whose bytes were not the hash recorded and cached for it."""
    src = _checkpoint(tmp_path / "dl.pth")
    real_copy = W.shutil.copyfile

    def copy_while_growing(a, b):
        with open(a, "ab") as f:
            f.write(b"more bytes arriving")
        return real_copy(a, b)

    monkeypatch.setattr(W.shutil, "copyfile", copy_while_growing)
    with pytest.raises(W.WeightsMismatchError, match="changed while it was being copied"):
        W.import_file("openface_nn4_small2", src)
    assert not W.installed("openface_nn4_small2") and W.expected_hash("openface_nn4_small2") is None


def test_a_failed_copy_names_the_file_and_where_it_was_going(wdir, tmp_path, monkeypatch):
    """A full (or read-only) weights folder gave only '[Errno 28] No space left on device'."""
    src = _checkpoint(tmp_path / "dl.pth")

    def full(a, b):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(W.shutil, "copyfile", full)
    with pytest.raises(W.WeightsMismatchError) as e:
        W.import_file("openface_nn4_small2", src)
    assert str(src) in str(e.value) and str(wdir / "openface.pth") in str(e.value)
    assert "No space left" in str(e.value) and not W.installed("openface_nn4_small2")
    assert sorted(p.name for p in wdir.iterdir()) == []  # no partial copy left


def test_a_folder_where_a_file_belongs_is_named(wdir, tmp_path, capsys):
    """A folder at the target was reported 'missing' with no word on it, and importing over it gave
    '[Errno 21] Is a directory' on a temp file; a folder given to import was 'no such file'."""
    (wdir / "openface.pth").mkdir(parents=True)
    with pytest.raises(W.MissingWeightsError, match="a folder is there, not the file"):
        W.resolve("openface_nn4_small2")
    row = {r["name"]: r for r in W.status_rows()}["openface_nn4_small2"]
    assert row["state"] == "missing" and "a folder is there" in row["detail"]
    src = _checkpoint(tmp_path / "real.pth")
    with pytest.raises(W.WeightsMismatchError, match="a folder is in its place"):
        W.import_file("openface_nn4_small2", src)
    assert main(["import", "openface_nn4_small2", str(tmp_path)]) == 2
    assert "it is a folder, not a file" in capsys.readouterr().err


def test_a_refused_second_file_says_where_the_reference_hash_came_from(wdir, tmp_path):
    """A file with no published hash is checked against the first one imported: refusing the second
    said only 'does not match the expected <hash>', not that the hash came from the first import nor
    how to replace a wrong first file."""
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("openface_nn4_small2", _checkpoint(tmp_path / "a.pth", 10))
    with pytest.raises(W.WeightsMismatchError) as e:
        W.import_file("openface_nn4_small2", _checkpoint(tmp_path / "b.pth", 20))
    assert "recorded from the first" in str(e.value) and str(wdir / "recorded_hashes.json") in str(e.value)
    assert (
        W.resolve("openface_nn4_small2", allow_unverified=False).read_bytes()
        == (tmp_path / "a.pth").read_bytes()
    )


def test_the_same_file_imported_twice_stays_installed_and_recorded(wdir, tmp_path):
    src = _checkpoint(tmp_path / "a.pth")
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("openface_nn4_small2", src)
    W.import_file("openface_nn4_small2", src)
    assert W.expected_hash("openface_nn4_small2") == hashlib.sha256(src.read_bytes()).hexdigest()
    assert {r["name"]: r["state"] for r in W.status_rows()}["openface_nn4_small2"] == "recorded"


def test_ctrl_c_during_a_copy_leaves_nothing_in_place_and_exits_130(wdir, tmp_path, monkeypatch, capsys):
    """Ctrl-C while a large file was copied printed a traceback; the partial copy must not remain."""
    src = _checkpoint(tmp_path / "big.pth")
    real_copy = W.shutil.copyfile

    def interrupted(a, b):
        real_copy(a, b)
        raise KeyboardInterrupt

    monkeypatch.setattr(W.shutil, "copyfile", interrupted)
    assert main(["import", "openface_nn4_small2", str(src)]) == 130
    assert "interrupted: no partly copied" in capsys.readouterr().err
    assert list(wdir.iterdir()) == [] and not W.installed("openface_nn4_small2")


def test_status_does_not_call_a_file_put_in_place_by_hand_recorded_or_ok(wdir, tmp_path):
    """A file with no published hash (or a judge) copied into the weights folder by hand, never
    imported, was listed as "recorded" (the judge as "ok") although no hash was recorded for it."""
    import shutil

    wdir.mkdir()
    shutil.copyfile(_checkpoint(tmp_path / "a.pth"), wdir / "openface.pth")
    (wdir / "synthtalk_sync_judge.safetensors").write_bytes(b"copied by hand")
    rows = {r["name"]: r for r in W.status_rows()}
    for name in ("openface_nn4_small2", "synthtalk_sync_judge"):
        assert rows[name]["state"] == "unrecorded" and "no hash was recorded" in rows[name]["detail"]
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("openface_nn4_small2", wdir / "openface.pth")
    assert {r["name"]: r["state"] for r in W.status_rows()}["openface_nn4_small2"] == "recorded"


def test_a_file_matching_its_published_hash_is_installed_whatever_its_first_bytes(
    wdir, tmp_path, monkeypatch
):
    """The content checks must not refuse the right file: a checkpoint saved by an old torch (whose
    header may look like a tar archive) is vouched for by the published sha256."""
    import dataclasses

    old = tmp_path / "2DFAN4-11f355bf06.pth.tar"
    old.write_bytes(b"\0" * 257 + b"ustar" + bytes(range(256)) * 8)  # tar-like header, any content
    entry = WEIGHTS.get("fan_2dfan4")
    monkeypatch.setitem(WEIGHTS._items, "fan_2dfan4", dataclasses.replace(entry, sha256=W.sha256_of(old)))
    assert W.import_file("fan_2dfan4", old) == W.target_path("fan_2dfan4")
    other = tmp_path / "other.pth.tar"
    other.write_bytes(b"\0" * 257 + b"ustar" + b"x" * 100)
    with pytest.raises(W.WeightsMismatchError, match="tar archive"):
        W.import_file("fan_2dfan4", other, allow_unverified=True)


def test_a_judge_import_refuses_allow_unverified_and_names_a_folder(wdir, tmp_path, capsys):
    """`import synthtalk_face_judge X --allow-unverified` ignored the flag without a word, and a folder
    given as the judge was 'no such file'."""
    assert main(["import", "synthtalk_face_judge", str(tmp_path), "--allow-unverified"]) == 2
    assert "--allow-unverified cannot waive" in capsys.readouterr().err
    assert main(["import", "synthtalk_face_judge", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a folder; give the judge's .safetensors file in it" in capsys.readouterr().err


def test_an_unreadable_judge_is_one_error_naming_it_and_how_to_install_again(wdir, tmp_path, monkeypatch):
    """A judge file cut short that got past the hash check (EDTALK_BENCH_ALLOW_UNVERIFIED, or placed by
    hand) raised a bare ValueError from its metadata read: eval.run printed a traceback, exit 1."""
    from eval.run_checks import _resolve_weight

    wdir.mkdir(parents=True, exist_ok=True)
    W.target_path("synthtalk_sync_judge").write_bytes(b"cut short" * 10)
    monkeypatch.setenv("EDTALK_BENCH_ALLOW_UNVERIFIED", "1")
    with pytest.raises(W.WeightsMismatchError) as raised:
        _resolve_weight("synthtalk_sync_judge", True, str(tmp_path / "st"))
    message = str(raised.value)
    assert "synthtalk_sync_judge.safetensors: not a readable safetensors file" in message
    assert f"python -m eval.zoo install --data {tmp_path / 'st'}" in message
