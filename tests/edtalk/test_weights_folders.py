"""Model folders in the weights manager: a replacement cut short never loses the installed folder, and a
text model's folder without its tokenizer is named as incomplete (not loaded into an empty tokenizer)."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edtalk import weights as W


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.delenv("EDTALK_BENCH_ALLOW_UNVERIFIED", raising=False)
    return tmp_path / "w"


def _hubert_folder(folder: Path, weights: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "hubert"}')
    (folder / "pytorch_model.bin").write_bytes(weights)
    return folder


def _installed_v1(wdir: Path, tmp_path: Path) -> Path:
    """hubert_large_ll60k imported once (v1), its hash recorded; v2 is the folder that replaces it."""
    with pytest.warns(UserWarning, match="recording"):
        W.import_file("hubert_large_ll60k", _hubert_folder(tmp_path / "v1", b"weights v1"))
    _hubert_folder(tmp_path / "v2", b"weights v2")
    return W.target_path("hubert_large_ll60k")


def test_a_folder_replacement_interrupted_between_its_renames_keeps_the_old_folder(
    wdir, tmp_path, monkeypatch
):
    """Ctrl-C after the old folder was moved aside and before the new one took its place: the `finally`
    deleted the old one with the stage, so nothing was installed and status said "missing"."""
    target = _installed_v1(wdir, tmp_path)
    rename = Path.rename
    calls = []

    def cut_short(self, to):
        if Path(to) == target and not calls:  # the new folder's rename into place: Ctrl-C first
            calls.append(self)
            raise KeyboardInterrupt
        return rename(self, to)

    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(Path, "rename", cut_short)
        W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
    assert calls, "the interruption was not simulated"
    assert (target / "pytorch_model.bin").read_bytes() == b"weights v1"
    assert W.resolve("hubert_large_ll60k") == target
    assert [p.name for p in wdir.iterdir() if p.name.startswith(".hubert")] == []  # nothing left over


def test_a_folder_replacement_killed_between_its_renames_is_recovered_on_the_next_access(wdir, tmp_path):
    """A kill (no `finally`) between the renames left the old folder in a hidden stage folder that
    nothing looked at: the entry stayed missing. The next access now puts it back."""
    target = _installed_v1(wdir, tmp_path)
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from edtalk import weights as W

        rename = Path.rename
        def killed(self, to):
            if Path(to) == Path({str(target)!r}):
                os.kill(os.getpid(), signal.SIGKILL)
            return rename(self, to)
        Path.rename = killed
        W.import_file("hubert_large_ll60k", {str(tmp_path / "v2")!r}, allow_unverified=True)
        """
    )
    env = {**os.environ, "EDTALK_BENCH_WEIGHTS": str(wdir)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(W.__file__).parent.parent)
    assert done.returncode == -9, "the kill was not simulated"
    assert not target.exists()  # as the kill left it
    assert W.installed("hubert_large_ll60k")
    assert (target / "pytorch_model.bin").read_bytes() == b"weights v1"
    assert {r["name"]: r["state"] for r in W.status_rows()}["hubert_large_ll60k"] == "recorded"


def test_a_completed_folder_replacement_leaves_only_the_new_folder(wdir, tmp_path):
    """Guard: a replacement that finishes puts the new folder in place and keeps no copy of the old."""
    target = _installed_v1(wdir, tmp_path)
    W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
    assert (target / "pytorch_model.bin").read_bytes() == b"weights v2"
    assert sorted(p.name for p in wdir.iterdir() if p.name.startswith(".hubert")) == []


def _killed_midway(wdir: Path, tmp_path: Path) -> subprocess.Popen:
    """An import of v2 SIGKILLed after its copy: it leaves its stage, which it held the lock of."""
    script = textwrap.dedent(
        f"""
        import os, shutil, signal
        from edtalk import weights as W

        copytree = shutil.copytree
        def killed(*args, **kwargs):
            copytree(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        shutil.copytree = killed
        W.import_file("hubert_large_ll60k", {str(tmp_path / "v2")!r}, allow_unverified=True)
        """
    )
    env = {**os.environ, "EDTALK_BENCH_WEIGHTS": str(wdir)}
    done = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=Path(W.__file__).parent.parent)
    assert done.wait() == -9, "the kill was not simulated"
    return done


def _stage(wdir: Path, name: str) -> str:
    """A stage folder ``name`` with an (unlocked) ``.owner`` file."""
    (wdir / name / "new").mkdir(parents=True)
    (wdir / name / ".owner").touch()
    return name


def test_a_folder_copy_killed_midway_leaves_a_stage_the_next_import_removes(wdir, tmp_path):
    """A kill during the copy left `.<name>.XXXX.part` (up to 1.2 GB for HuBERT) that nothing removed, as
    it might be an import running now. The next import removes a stage of this host whose `.owner` lock
    its holder released by dying, and leaves another host's and one without a lock file (an old one, or
    one whose owner has not locked it yet)."""
    target = _installed_v1(wdir, tmp_path)
    done = _killed_midway(wdir, tmp_path)
    (dead,) = [p.name for p in wdir.iterdir() if p.name.endswith(".part")]  # as the kill left it
    assert (wdir / dead / ".owner").is_file()
    kept = {
        f".{target.name}.{socket.gethostname()}.{done.pid}.nolock12.part",  # not locked yet
        f".{target.name}.old12345.part",  # an old leftover, no owner named
    }
    for name in kept:
        (wdir / name / "new").mkdir(parents=True)
    kept.add(_stage(wdir, f".{target.name}.other.host.example.{done.pid}.nfs12345.part"))  # over NFS
    W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
    assert not (wdir / dead).exists()
    assert {p.name for p in wdir.iterdir() if p.name.endswith(".part")} == kept
    assert (target / "pytorch_model.bin").read_bytes() == b"weights v2"


def test_a_stage_locked_by_a_live_process_is_kept_whatever_pid_its_name_carries(wdir, tmp_path):
    """The stage's owner was proven gone by `os.kill(pid, 0)`: a container sharing this hostname (Docker
    --net=host) but not its PID namespace runs an import whose pid is not found here, and its live stage
    was deleted. Its `.owner` lock, held by a live process, now keeps it."""
    target = _installed_v1(wdir, tmp_path)
    done = _killed_midway(wdir, tmp_path)  # its pid is gone here: as another namespace's looks
    held = _stage(wdir, f".{target.name}.{socket.gethostname()}.{done.pid}.held5678.part")
    script = textwrap.dedent(
        f"""
        import fcntl, os, sys
        fd = os.open({str(wdir / held / ".owner")!r}, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        sys.stdin.read()
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
        assert {p.name for p in wdir.iterdir() if p.name.endswith(".part")} == {held}
    finally:
        holder.communicate(b"")
    W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)  # released: now it goes
    assert [p.name for p in wdir.iterdir() if p.name.endswith(".part")] == []


def test_a_stage_of_a_host_whose_name_extends_this_ones_is_kept(wdir, tmp_path, monkeypatch):
    """The pid was cut from the name by prefix: on host `gpu`, host `gpu.99999`'s live stage
    `.<name>.gpu.99999.4567.XXXXXXXX.part` read as pid 99999's, and was removed if no such pid ran here.
    Names are now matched whole; this host's own stage of that pid still goes."""
    target = _installed_v1(wdir, tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    assert gone.wait() == 0
    monkeypatch.setattr(socket, "gethostname", lambda: "gpu")
    other = _stage(wdir, f".{target.name}.gpu.{gone.pid}.4567.abcdefgh.part")
    mine = _stage(wdir, f".{target.name}.gpu.{gone.pid}.abcdefgh.part")
    W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
    assert {p.name for p in wdir.iterdir() if p.name.endswith(".part")} == {other}
    assert not (wdir / mine).exists()


def test_without_fcntl_no_stage_is_removed(wdir, tmp_path, monkeypatch):
    """Where no lock can prove an owner gone (Windows: no fcntl), every stage is kept; imports still work."""
    target = _installed_v1(wdir, tmp_path)
    monkeypatch.setattr(W, "fcntl", None)
    dead = _stage(wdir, f".{target.name}.{socket.gethostname()}.1.abcdefgh.part")
    W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
    assert [p.name for p in wdir.iterdir() if p.name.endswith(".part")] == [dead]
    assert (target / "pytorch_model.bin").read_bytes() == b"weights v2"


def test_a_concurrent_import_keeps_the_stage_of_one_copying_now(wdir, tmp_path, monkeypatch):
    """Guard: an import's own stage holds its lock while it copies, so another import's cleanup (here
    run in the middle of the copy) leaves it."""
    import shutil

    target = _installed_v1(wdir, tmp_path)
    copytree, seen = shutil.copytree, []

    def cleaned_first(src, dst, **kwargs):
        W._remove_dead_stages(target)
        seen.append(Path(dst).parent.exists())
        return copytree(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copytree", cleaned_first)
    W.import_file("hubert_large_ll60k", tmp_path / "v2", allow_unverified=True)
    assert seen == [True]
    assert (target / "pytorch_model.bin").read_bytes() == b"weights v2"


def _emoberta_folder(folder: Path, *tokenizer_files: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "roberta"}')
    (folder / "pytorch_model.bin").write_bytes(b"emoberta weights")
    for name in tokenizer_files:
        (folder / name).write_text("{}")
    return folder


def test_an_emoberta_folder_without_its_tokenizer_is_named_as_incomplete(wdir, tmp_path):
    """config.json + weights passed the folder check, and transformers then built a 5-token tokenizer
    from the bare folder without a word: every transcript encoded as <s></s>."""
    target = _emoberta_folder(wdir / "emoberta-base", "vocab.json")
    with pytest.raises(
        W.MissingWeightsError, match="lacks its tokenizer: tokenizer.json, or merges.txt"
    ) as e:
        W.resolve("emoberta_base")
    msg = str(e.value)
    assert "\n" not in msg and str(target) in msg and "hf download tae898/emoberta-base" in msg
    row = {r["name"]: r for r in W.status_rows()}["emoberta_base"]
    assert row["state"] == "missing" and "lacks its tokenizer" in row["detail"]
    bare = _emoberta_folder(tmp_path / "dl")
    with pytest.raises(
        W.WeightsMismatchError, match=r"lacks its tokenizer: tokenizer.json, or vocab.json \+ merges.txt "
    ):
        W.import_file("emoberta_base", bare)


@pytest.mark.parametrize("files", [("tokenizer.json",), ("vocab.json", "merges.txt")])
def test_an_emoberta_folder_with_either_tokenizer_is_used(wdir, files):
    """Guard: RoBERTa's fast tokenizer (tokenizer.json) or its slow one (vocab.json + merges.txt)."""
    target = _emoberta_folder(wdir / "emoberta-base", *files)
    assert W.resolve("emoberta_base") == target


def test_a_hubert_folder_needs_no_tokenizer(wdir):
    """Guard: HuBERT is loaded with HubertModel.from_pretrained alone (no tokenizer, no feature
    extractor: the expression predictor normalises the waveform itself), so config + weights suffice."""
    target = _hubert_folder(wdir / "hubert-large-ll60k", b"weights")
    assert W.resolve("hubert_large_ll60k") == target


def test_a_model_folder_that_is_a_link_is_replaced_again_and_again(tmp_path):
    """A model folder installed as a link (into a Hugging Face cache) is replaced by a real folder; the
    link, moved aside, is removed, not left as `.<name>.old` to break the next replacement; the folder it
    pointed to is untouched."""
    cache = _hubert_folder(tmp_path / "hf_cache" / "snapshot", b"cached")
    dst = tmp_path / "w" / "hubert"
    dst.parent.mkdir()
    dst.symlink_to(cache, target_is_directory=True)
    for version in (b"v2", b"v3"):
        src = tmp_path / f"src_{version.decode()}"
        _hubert_folder(src, version)
        W._put_folder(src, dst)
        assert not dst.is_symlink() and (dst / "pytorch_model.bin").read_bytes() == version
        assert sorted(p.name for p in dst.parent.iterdir()) == ["hubert"]
    assert (cache / "pytorch_model.bin").read_bytes() == b"cached"
