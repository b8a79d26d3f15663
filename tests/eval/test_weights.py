"""Weights manager: missing files name file/URL/target, hash checks, unverified marking, CLI."""

import hashlib
import sys

import pytest

from edtalk import weights as W
from edtalk.weight_catalogue import WEIGHTS, WeightFile
from eval.weights import main


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.delenv("EDTALK_BENCH_ALLOW_UNVERIFIED", raising=False)
    return tmp_path / "w"


@pytest.mark.parametrize(
    "name",
    [
        "pytorch_fid_inception",
        "torchvision_alexnet",
        "fan_2dfan4",
        "s3fd",
        "syncnet_v2",
        "emotion_fan_mead8",
        "openface_nn4_small2",
        "torchvision_inception_v3",
        "vgg19",
        "hubert_large_ll60k",
        "emoberta_base",
    ],
)
def test_missing_weights_error_names_file_url_and_target(wdir, name):
    w = WEIGHTS.get(name)
    with pytest.raises(W.MissingWeightsError) as e:
        W.resolve(name)
    msg = str(e.value)
    assert w.filename in msg and w.url in msg and str(wdir / w.filename) in msg


@pytest.mark.parametrize("name", ["synthtalk_face_judge", "synthtalk_sync_judge"])
def test_a_missing_judge_is_installed_or_trained_with_eval_zoo_not_downloaded(wdir, name):
    """The judges have no download: their missing-file message said "download it from trained on
    synthtalk's judge identities: ... and run `python -m eval.weights import ...`"."""
    from edtalk.experts.names import INSTALL_JUDGES, TRAIN_JUDGES

    with pytest.raises(W.MissingWeightsError) as e:
        W.resolve(name)
    msg = str(e.value)
    assert f"To install: `{INSTALL_JUDGES}` installs the shipped pair, `{TRAIN_JUDGES}` trains one" in msg
    assert "download it from" not in msg


def test_prefix_mismatch_refused_unless_allow_unverified(wdir, tmp_path):
    src = tmp_path / "fake.pth"
    src.write_bytes(b"not the official file")
    with pytest.raises(W.WeightsMismatchError, match="6726825d"):
        W.import_file("pytorch_fid_inception", src)
    path = W.import_file("pytorch_fid_inception", src, allow_unverified=True)
    with pytest.raises(W.WeightsMismatchError, match="does not match"):
        W.resolve("pytorch_fid_inception")
    assert W.resolve("pytorch_fid_inception", allow_unverified=True) == path
    assert "pytorch_fid_inception" in W.unverified_in_use()


def test_first_import_records_hash_then_enforces_it(wdir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"openface weights v1")
    b.write_bytes(b"something else")
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("openface_nn4_small2", a)
    assert W.expected_hash("openface_nn4_small2") == hashlib.sha256(b"openface weights v1").hexdigest()
    assert W.resolve("openface_nn4_small2").read_bytes() == b"openface weights v1"
    # no official hash exists for it: whatever was imported first (random bytes, a truncated
    # download) was "ok" and unmarked; results computed with it are now marked unverified
    assert W.unverified_in_use()["openface_nn4_small2"].startswith("no official sha256 is published")
    assert {r["name"]: r["state"] for r in W.status_rows()}["openface_nn4_small2"] == "recorded"
    with pytest.raises(W.WeightsMismatchError):
        W.import_file("openface_nn4_small2", b)
    # a file swapped behind the manager's back is caught (the size/mtime cache is invalidated)
    W.target_path("openface_nn4_small2").write_bytes(b"tampered, longer content")
    with pytest.raises(W.WeightsMismatchError, match="recorded"):
        W.resolve("openface_nn4_small2")


def test_import_reads_the_file_once_then_verifies_from_the_cache(wdir, tmp_path, monkeypatch):
    src = tmp_path / "big.pth"
    src.write_bytes(b"x" * 4096)
    hashed = []
    real = W.sha256_of
    monkeypatch.setattr(W, "sha256_of", lambda p: hashed.append(p) or real(p))
    assert main(["import", "pytorch_fid_inception", str(src), "--allow-unverified"]) == 0
    assert hashed == [src]  # the copy's hash is the source's; verify() reads it from the cache
    # a changed file is still hashed again
    W.target_path("pytorch_fid_inception").write_bytes(b"y" * 4097)
    assert W.verify("pytorch_fid_inception")[0] is False
    assert len(hashed) == 2


def test_a_same_size_file_put_in_place_with_the_old_mtime_is_hashed_again(wdir, tmp_path):
    """``cp -p`` / ``rsync -t`` of another file of the same size keeps size and mtime: the verified cache,
    keyed on those two, vouched for the replaced file with the first file's hash."""
    import os

    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"x" * 4096)
    b.write_bytes(b"y" * 4096)
    main(["import", "pytorch_fid_inception", str(a), "--allow-unverified"])
    target = W.target_path("pytorch_fid_inception")
    first = W.file_sha256("pytorch_fid_inception")
    st = target.stat()
    target.write_bytes(b.read_bytes())
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert W.file_sha256("pytorch_fid_inception") == W.sha256_of(b) != first


def _registered(monkeypatch, name: str, sha256: str | None = None, **affixes) -> WeightFile:
    """A weight file ``name`` (``<name>.bin``) in the catalogue for this test only, published with its
    ``sha256`` or with ``affixes`` (sha256_prefix, sha256_suffix)."""
    wf = WeightFile(name, f"{name}.bin", sha256, "https://example.invalid/x", "test", ("test",), **affixes)
    monkeypatch.setitem(WEIGHTS._items, wf.name, wf)
    return wf


def test_full_hash_match(wdir, tmp_path, monkeypatch):
    data = b"exact"
    wf = _registered(monkeypatch, "unit_test_exact", sha256=hashlib.sha256(data).hexdigest())
    src = tmp_path / "x"
    src.write_bytes(data)
    W.import_file(wf.name, src)
    assert W.resolve(wf.name).read_bytes() == data


def test_a_published_suffix_is_checked_as_well_as_the_prefix(wdir, tmp_path, monkeypatch):
    """A file whose hash starts as published but ends otherwise is not the official file. No test had a
    matching prefix and a wrong suffix, and dropping the suffix check passed."""
    src = tmp_path / "f"
    src.write_bytes(b"official weights")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    wrong_end = "0000" if not digest.endswith("0000") else "1111"
    _registered(monkeypatch, "unit_affixed", sha256_prefix=digest[:8], sha256_suffix=wrong_end)
    with pytest.raises(W.WeightsMismatchError):
        W.import_file("unit_affixed", src)
    _registered(monkeypatch, "unit_affixed", sha256_prefix=digest[:8], sha256_suffix=digest[-4:])
    with pytest.warns(UserWarning, match="recording"):  # a prefix and suffix are not the full hash
        assert W.import_file("unit_affixed", src).read_bytes() == b"official weights"


def test_the_official_file_imported_after_a_forced_wrong_one_is_installed_and_not_marked(
    wdir, tmp_path, monkeypatch
):
    """`import --allow-unverified` of a wrong download recorded its hash, so the official file was then
    refused by `import` (and by `resolve`) until recorded_hashes.json was edited by hand; and a process
    that had used the wrong file kept its results marked unverified after the right one came in."""
    good = b"official weights"
    _registered(monkeypatch, "unit_prefixed", sha256_prefix=hashlib.sha256(good).hexdigest()[:8])
    (tmp_path / "bad").write_bytes(b"a wrong download")
    (tmp_path / "good").write_bytes(good)
    W.import_file("unit_prefixed", tmp_path / "bad", allow_unverified=True)
    W.resolve("unit_prefixed", allow_unverified=True)
    assert "unit_prefixed" in W.unverified_in_use()
    with pytest.warns(UserWarning, match="recording"):  # the official file's hash, not the wrong one's
        W.import_file("unit_prefixed", tmp_path / "good")
    assert W.resolve("unit_prefixed").read_bytes() == good
    assert "unit_prefixed" not in W.unverified_in_use()


def test_cli_import_of_a_mismatching_file_with_allow_unverified_says_it_is_unverified(wdir, tmp_path, capsys):
    """A user who forces a wrong file in is told that results computed with it will be marked; the
    note was never checked, and losing it passed."""
    (tmp_path / "f").write_bytes(b"not the official inception")
    assert main(["import", "pytorch_fid_inception", str(tmp_path / "f"), "--allow-unverified"]) == 0
    assert "note: installed UNVERIFIED (" in capsys.readouterr().err


def test_status_exits_1_when_a_present_file_fails_its_hash_check(wdir, tmp_path, capsys):
    """`status` exited 0 with a MISMATCH in its table, so a script could not use it as a check. Recorded
    and unrecorded files pass (resolve accepts them) and missing ones stay exit 0 (most are optional)."""
    (tmp_path / "a").write_bytes(b"openface weights v1")
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("openface_nn4_small2", tmp_path / "a")
    (wdir / "synthtalk_sync_judge.safetensors").write_bytes(b"copied by hand")  # unrecorded
    assert main(["status"]) == 0
    assert "MISMATCH" not in capsys.readouterr().err
    (tmp_path / "f").write_bytes(b"not the official inception")
    assert main(["import", "pytorch_fid_inception", str(tmp_path / "f"), "--allow-unverified"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: 1 present but failing the hash check (MISMATCH): pytorch_fid_inception; to install the right "
        "one: pytorch_fid_inception: run `python -m eval.weights fetch pytorch_fid_inception`"
    )


def test_status_gives_each_mismatching_file_its_own_install_advice(wdir, tmp_path, capsys):
    """The MISMATCH line told every file `import NAME FILE` (or `fetch NAME`): no fetch exists for a
    manual download (emotion_fan_mead8), and a judge comes from `eval.zoo install`."""
    import shutil

    from edtalk.experts.names import INSTALL_JUDGES, TRAIN_JUDGES
    from edtalk.experts.store import install_judge

    (tmp_path / "a").write_bytes(b"emotion-fan weights v1")
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("emotion_fan_mead8", tmp_path / "a")
    W.target_path("emotion_fan_mead8").write_bytes(b"emotion-fan weights, changed by hand")
    install_judge("synthtalk_sync_judge", _judge_file(tmp_path / "j"))
    shutil.copyfile(_judge_file(tmp_path / "k", seed=1), wdir / "synthtalk_sync_judge.safetensors")
    assert main(["status"]) == 1
    err = capsys.readouterr().err.strip()
    url = WEIGHTS.get("emotion_fan_mead8").url
    assert err == (
        "error: 2 present but failing the hash check (MISMATCH): emotion_fan_mead8, synthtalk_sync_judge; to "
        f"install the right one: emotion_fan_mead8: download it from {url} and run `python -m eval.weights "
        f"import emotion_fan_mead8 <file>`; synthtalk_sync_judge: `{INSTALL_JUDGES}` installs the shipped "
        f"pair, `{TRAIN_JUDGES}` trains one"
    )
    assert "fetch" not in err


def test_status_with_allow_unverified_notes_a_mismatch_and_exits_0(wdir, tmp_path, capsys, monkeypatch):
    """Under EDTALK_BENCH_ALLOW_UNVERIFIED=1 `resolve` uses a mismatching file (marked unverified), yet
    `status` called it an error and exited 1: it is now a note, exit 0."""
    (tmp_path / "f").write_bytes(b"not the official inception")
    assert main(["import", "pytorch_fid_inception", str(tmp_path / "f"), "--allow-unverified"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("EDTALK_BENCH_ALLOW_UNVERIFIED", "1")
    W.resolve("pytorch_fid_inception")
    assert main(["status"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == (
        "note: 1 present but failing the hash check (MISMATCH) (used, as EDTALK_BENCH_ALLOW_UNVERIFIED is "
        "set: results are marked unverified): pytorch_fid_inception; to install the right one: "
        "pytorch_fid_inception: run `python -m eval.weights fetch pytorch_fid_inception`"
    )


def test_fetch_refuses_non_direct_and_cli_status(wdir, capsys):
    with pytest.raises(W.MissingWeightsError, match="cannot be downloaded automatically"):
        W.fetch("emotion_fan_mead8")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "syncnet_v2" in out and "missing" in out
    assert main(["import", "syncnet_v2", str(wdir / "nope")]) == 2


def test_a_failed_download_names_the_file_url_and_where_to_put_it(wdir, monkeypatch, capsys):
    """No network (as on these machines): the error says what to fetch by hand and the import command."""
    import urllib.error
    import urllib.request

    def offline(url):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["fetch", "torchvision_alexnet"]) == 2
    err = capsys.readouterr().err
    assert "downloading 'alexnet-owt-7be5be79.pth' from https://download.pytorch.org/models/" in err
    assert "Name or service not known" in err and "python -m eval.weights import torchvision_alexnet" in err
    assert str(wdir / "alexnet-owt-7be5be79.pth") in err
    assert list(wdir.iterdir()) == []  # no partial download left behind


def test_a_broken_weights_folder_is_named_not_a_traceback(tmp_path, monkeypatch, capsys):
    """A weights folder that is a file gave '[Errno 17] File exists'; a broken recorded_hashes.json
    or .verified.json a JSONDecodeError traceback from `status`."""
    from eval.weights import main

    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "afile"))
    src = tmp_path / "w.bin"
    src.write_bytes(b"weights")
    assert main(["import", "openface_nn4_small2", str(src)]) == 2
    assert (
        f"EDTALK_BENCH_WEIGHTS={tmp_path / 'afile'} ({tmp_path / 'afile'}) is a file"
        in capsys.readouterr().err
    )
    folder = tmp_path / "w"
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(folder))
    assert main(["import", "openface_nn4_small2", str(src)]) == 0
    assert "note: openface_nn4_small2: no official full sha256 is known" in capsys.readouterr().err
    (folder / ".verified.json").write_text("{broken")  # a cache: rebuilt
    assert main(["status"]) == 0
    (folder / "recorded_hashes.json").write_text("{broken")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert (
        "recorded_hashes.json is not readable JSON" in err and "delete it and import those files again" in err
    )


def test_a_relative_weights_folder_means_the_same_folder_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", "relw")
    assert W.weights_dir() == tmp_path / "relw"


def _judge_file(folder, identities=("st002",), seed=0):
    import torch

    from edtalk.experts.store import save_expert
    from edtalk.experts.sync_net import SyncNetConfig, SyncNetJudge

    torch.manual_seed(seed)
    return save_expert(SyncNetJudge(SyncNetConfig()), "sync_net", "judge", list(identities), folder)


def test_every_file_an_error_names_can_be_installed_with_the_command_it_gives(
    wdir, tmp_path, capsys, monkeypatch
):
    """`fetch vgg19` (named by the perceptual loss's error) and `import synthtalk_sync_judge FILE`
    (named by a judge's mismatch error) were 'unknown weight file': VGG19 and the judges are
    registered by other modules, which the CLI did not import."""
    import urllib.error
    import urllib.request

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "vgg19" in out and "synthtalk_sync_judge" in out and "eval.zoo train" in out
    judge = _judge_file(tmp_path / "trained")
    assert main(["import", "synthtalk_sync_judge", str(judge)]) == 0
    assert W.resolve("synthtalk_sync_judge") == wdir / "synthtalk_sync_judge.safetensors"
    assert main(["import", "synthtalk_face_judge", str(judge)]) == 2  # a sync judge is not a face judge
    assert "not a synthtalk_face_judge judge" in capsys.readouterr().err
    assert main(["fetch", "synthtalk_face_judge"]) == 2
    err = capsys.readouterr().err
    assert "trained by this suite, not downloaded: `python -m eval.zoo install --data data/synthtalk`" in err
    assert "`python -m eval.zoo train --data data/synthtalk` trains one" in err

    def offline(url):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["fetch", "vgg19"]) == 2
    assert "downloading 'vgg19-dcbb9e9d.pth'" in capsys.readouterr().err
    assert main(["fetch", "all"]) == 1  # every direct file is tried, the failures are counted
    err = capsys.readouterr().err
    direct = [n for n in WEIGHTS.names() if WEIGHTS.get(n).direct]
    assert f"{len(direct)} of {len(direct)} not fetched" in err and err.count("error: ") == len(direct) + 1


def test_a_judge_swapped_by_hand_changes_its_weight_identity(wdir, tmp_path):
    """A judge copied over the installed one (no recorded hash changes) kept the protocol hash, so
    eval.run served the old judge's cached scores."""
    import shutil

    from edtalk.experts.store import install_judge
    from eval.protocols import weight_identity

    install_judge("synthtalk_sync_judge", _judge_file(tmp_path / "a"))
    before = weight_identity("synthtalk_sync_judge")
    shutil.copyfile(_judge_file(tmp_path / "b", seed=1), wdir / "synthtalk_sync_judge.safetensors")
    assert weight_identity("synthtalk_sync_judge") != before
    assert weight_identity("synthtalk_sync_judge") == W.sha256_of(wdir / "synthtalk_sync_judge.safetensors")


def test_an_installed_judge_is_verified_not_marked_unverified(wdir, tmp_path):
    """A judge is trained here: its recorded hash is the reference, so results scored with it are not
    marked unverified (starred in the report) and `status` says "ok". Nothing checked this, and
    treating judges as files with no published hash passed."""
    from edtalk.experts.store import install_judge

    install_judge("synthtalk_sync_judge", _judge_file(tmp_path / "trained"))
    W.resolve("synthtalk_sync_judge")
    assert "synthtalk_sync_judge" not in W.unverified_in_use()
    assert {r["name"]: r["state"] for r in W.status_rows()}["synthtalk_sync_judge"] == "ok"


def test_the_manager_declares_every_weight_on_import():
    """VGG19 joined WEIGHTS only once edtalk.perceptual was imported, the judges only after
    register_weight_entries(), and HuBERT / EmoBERTa never (a second manager in the expression
    predictor): a fresh interpreter that imports only the catalogue must see them all."""
    import subprocess
    import sys

    code = "from edtalk.weight_catalogue import WEIGHTS; print(' '.join(WEIGHTS.names()))"
    names = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in (
        "vgg19",
        "hubert_large_ll60k",
        "emoberta_base",
        "synthtalk_face_judge",
        "synthtalk_sync_judge",
    ):
        assert name in names.split()
    assert WEIGHTS.get("synthtalk_sync_judge").trained_here


def _model_folder(folder, weights=b"hubert weights"):
    """A Hugging Face model folder as `hf download --local-dir` leaves it (with its hidden .cache)."""
    (folder / ".cache" / "huggingface").mkdir(parents=True)
    (folder / ".cache" / "huggingface" / "download.lock").write_text("lock")
    (folder / "config.json").write_text('{"model_type": "hubert"}')
    (folder / "pytorch_model.bin").write_bytes(weights)
    return folder


def test_a_model_folder_is_listed_imported_verified_and_never_fetched(wdir, tmp_path, capsys):
    """HuBERT / EmoBERTa are model folders: status lists them with the `hf download` command, fetch
    says how to get them, import copies and records the folder's hash, and a changed file is caught."""
    target = wdir / "hubert-large-ll60k"
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "hubert_large_ll60k" in out and "hubert-large-ll60k/" in out and "emoberta_base" in out
    assert f"hf download facebook/hubert-large-ll60k --local-dir {target}" in out

    assert main(["fetch", "hubert_large_ll60k"]) == 2
    assert f"hf download facebook/hubert-large-ll60k --local-dir {target}" in capsys.readouterr().err

    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "pytorch_model.bin").write_bytes(b"w")
    assert main(["import", "hubert_large_ll60k", str(partial)]) == 2
    assert "no config.json" in capsys.readouterr().err

    src = _model_folder(tmp_path / "dl")
    assert main(["import", "hubert_large_ll60k", str(src)]) == 0
    assert "note: hubert_large_ll60k: no official full sha256 is known" in capsys.readouterr().err
    assert W.resolve("hubert_large_ll60k") == target
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "pytorch_model.bin"]  # no .cache
    assert W.expected_hash("hubert_large_ll60k") == W.folder_sha256(src)
    assert {r["name"]: r["state"] for r in W.status_rows()}["hubert_large_ll60k"] == "recorded"

    (target / "pytorch_model.bin").write_bytes(b"other weights, longer")
    with pytest.raises(W.WeightsMismatchError, match="recorded"):
        W.resolve("hubert_large_ll60k")
    (target / "config.json").unlink()
    with pytest.raises(W.MissingWeightsError, match="has no config.json"):
        W.resolve("hubert_large_ll60k")


def test_a_file_renamed_inside_a_model_folder_is_a_mismatch(wdir, tmp_path):
    """The folder hash covers the files' names, not only their bytes: pytorch_model.bin renamed to
    tf_model.bin (the same bytes, in the same sorted place) passed when the names were left out."""
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("hubert_large_ll60k", _model_folder(tmp_path / "dl"))
    target = W.target_path("hubert_large_ll60k")
    (target / "pytorch_model.bin").rename(target / "tf_model.bin")
    with pytest.raises(W.WeightsMismatchError, match="recorded"):
        W.resolve("hubert_large_ll60k")


def test_a_model_folder_downloaded_into_place_is_used_and_can_be_recorded(wdir, tmp_path, capsys):
    """The command the error gives puts the folder at the target itself: it resolves as it is, and
    importing it from there records its hash without copying it onto itself."""
    target = _model_folder(wdir / "emoberta-base")
    (target / "vocab.json").write_text("{}")  # a text model's folder holds its tokenizer too
    (target / "merges.txt").write_text("#version: 0.2")
    assert W.resolve("emoberta_base") == target
    assert W.expected_hash("emoberta_base") is None
    assert main(["import", "emoberta_base", str(target)]) == 0
    assert W.expected_hash("emoberta_base") == W.folder_sha256(target)
    assert (target / ".cache").is_dir() and W.resolve("emoberta_base") == target


def test_the_printed_hf_command_runs_under_the_offline_setting_from_the_repo_root(wdir, monkeypatch):
    """status printed `hf download ...`: `hf` is on PATH only in an activated venv, and under the
    HF_HUB_OFFLINE=1 the README and Makefile export it refuses ("offline mode is enabled")."""
    from pathlib import Path

    monkeypatch.chdir(Path(W.__file__).resolve().parent.parent)  # the repo root, as the README runs it
    command = W.how_to_install("emoberta_base").split("`")[1]
    setting, hf, *rest = command.split()
    assert setting == "HF_HUB_OFFLINE=0" and rest[:2] == ["download", "tae898/emoberta-base"]
    assert Path(hf).is_file() and Path(hf).parent.resolve() == Path(sys.executable).parent.resolve()
    assert rest[2:] == ["--local-dir", str(wdir / "emoberta-base")]


def test_every_subcommand_takes_weights_dir_as_eval_zoo_does(wdir, tmp_path, capsys):
    """`eval.weights status --weights-dir DIR` was refused ("unrecognized arguments") while every
    eval.zoo subcommand takes it."""
    other = tmp_path / "other"
    assert main(["status", "--weights-dir", str(other)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"weights directory: {other}"
    src = tmp_path / "f"
    src.write_bytes(b"inception")
    argv = ["import", "pytorch_fid_inception", str(src), "--allow-unverified", "--weights-dir", str(other)]
    assert main(argv) == 0
    assert (other / WEIGHTS.get("pytorch_fid_inception").filename).read_bytes() == b"inception"
    assert not wdir.exists()
    assert main(["fetch", "hubert_large_ll60k", "--weights-dir", str(other)]) == 2  # a folder: never fetched
    assert f"--local-dir {other / 'hubert-large-ll60k'}" in capsys.readouterr().err
