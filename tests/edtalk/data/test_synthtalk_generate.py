"""synthtalk dataset writer: determinism, disjoint identity splits, sidecar schema, media durations."""

import hashlib
import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.clip import EMOTIONS
from edtalk.data.readers import read_clips
from edtalk.data.synthtalk import FACTOR_KEYS, generate
from edtalk.data.synthtalk.presets import PRESETS, SPLITS, Preset
from edtalk.data.video import probe_video, read_video

QUICK = Preset("quick", 64, (1, 1, 1), 1, 2.0, 2.2, emotions=("happy", "sad"), levels=(1, 3))
NON_DETERMINISTIC = ("card.json", "card.md")  # only their build block (wall time, workers) varies


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in NON_DETERMINISTIC
    }


def _card(root: Path) -> dict:
    card = json.loads((root / "card.json").read_text())
    card.pop("build")
    return card


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthtalk") / "a"
    generate(root, QUICK, seed=0, workers=1, progress=False)
    return root


def test_same_seed_gives_same_bytes_with_any_worker_count(dataset, tmp_path):
    again = tmp_path / "b"
    generate(again, QUICK, seed=0, workers=2, progress=False)
    assert _hashes(dataset) == _hashes(again)
    assert _card(dataset) == _card(again)


@pytest.fixture(scope="module")
def seed1(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthtalk") / "seed1"
    generate(root, QUICK, seed=1, workers=1, progress=False)
    return root


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _listed(root: Path) -> list[str]:
    """The clip ids of splits/*.txt, checked to be as many as the QUICK preset makes (never 0)."""
    ids = sorted(i for s in SPLITS for i in (root / "splits" / f"{s}.txt").read_text().split())
    assert len(ids) == QUICK.n_identities * len(QUICK.emotions) * len(QUICK.levels) > 0
    return ids


def test_different_seed_gives_different_clips(dataset, seed1):
    mine, theirs = _hashes(dataset), _hashes(seed1)
    assert mine.keys() == theirs.keys()
    clips = [k for k in mine if k.startswith("clips/")]
    listed = _listed(dataset)
    assert len(clips) == 3 * len(listed) and sorted({Path(k).stem for k in clips}) == listed  # mp4, wav, json
    assert all(mine[k] != theirs[k] for k in clips)


def test_splits_are_identity_disjoint_and_cover_every_clip(dataset):
    ids = {s: (dataset / "splits" / f"{s}.txt").read_text().split() for s in SPLITS}
    people = {s: {i.split("#")[0] for i in v} for s, v in ids.items()}
    assert all(people.values())
    assert not (
        people["train"] & people["judge"]
        or people["train"] & people["test"]
        or people["judge"] & people["test"]
    )
    listed = sorted(i for v in ids.values() for i in v)
    assert listed == sorted(p.stem for p in (dataset / "clips").glob("*.json"))
    per_identity = len(QUICK.emotions) * len(QUICK.levels)
    assert len(listed) == QUICK.n_identities * per_identity
    card = json.loads((dataset / "card.json").read_text())
    assert card["counts"]["clips_total"] == len(listed) and card["size_bytes"] > 0
    assert (dataset / "contact_sheet.png").stat().st_size > 0 and (dataset / "card.md").is_file()


def test_the_cards_per_split_counts_are_the_clips_on_disk(dataset):
    """Catches a card (and card.md's split table) whose per-split clip counts are not the split's
    own, e.g. every split given every clip; only the total was checked."""
    ids = {s: (dataset / "splits" / f"{s}.txt").read_text().split() for s in SPLITS}
    sidecars = [json.loads(p.read_text()) for p in (dataset / "clips").glob("*.json")]
    on_disk = {s: sorted(m["id"] for m in sidecars if m["split"] == s) for s in SPLITS}
    assert on_disk == {s: sorted(v) for s, v in ids.items()}  # the split lists are the sidecars' splits
    people = {s: sorted({m["identity"] for m in sidecars if m["split"] == s}) for s in SPLITS}
    card = json.loads((dataset / "card.json").read_text())
    assert card["counts"]["clips"] == {s: len(on_disk[s]) for s in SPLITS}
    assert card["counts"]["identities"] == {s: len(people[s]) for s in SPLITS}
    assert card["identities"] == people
    md = (dataset / "card.md").read_text()
    for s in SPLITS:
        assert f"| {s} | {len(people[s])} | {len(on_disk[s])} |" in md


def test_sidecar_schema(dataset):
    sidecars = sorted((dataset / "clips").glob("*.json"))
    assert [p.stem for p in sidecars] == _listed(dataset)  # one sidecar per listed clip, none missed
    for path in sidecars:
        meta = json.loads(path.read_text())
        identity, emotion, level, number = meta["id"].split("#")
        assert meta["id"] == path.stem and meta["identity"] == identity
        assert meta["emotion"] == emotion in EMOTIONS and level == f"level_{meta['level']}"
        assert meta["split"] in SPLITS and meta["transcript"] and number == "001"
        assert meta["fps"] == 25.0 and meta["sample_rate"] == 16000 and meta["size"] == 64
        t = meta["n_frames"]
        assert t >= 50  # at least 2 s
        assert set(FACTOR_KEYS) <= set(meta["factors"])
        assert all(len(v) == t for v in meta["factors"].values())
        lm = np.asarray(meta["landmarks"])
        assert lm.shape == (t, 68, 2) and (lm > 0).all() and (lm < 64).all()
        visemes = meta["visemes"]
        assert visemes[0]["start"] == 0 and visemes[-1]["end"] == pytest.approx(t / 25)
        assert {"viseme", "start", "end"} <= set(visemes[0])
        assert meta["identity_params"]["skin"] and "brow_inner_raise" in meta["expression"]


def test_video_and_wav_agree_and_readers_see_the_dataset(dataset):
    clips = read_clips("synthtalk", dataset, "test")
    assert len(clips) == len(QUICK.emotions) * len(QUICK.levels)
    for clip in clips[:2]:
        video = read_video(clip.video)
        wav, rate = sf.read(clip.audio)
        assert rate == 16000 and wav.ndim == 1
        assert video.frames.shape[1:] == (64, 64, 3) and video.fps == 25.0
        assert abs(video.duration - len(wav) / rate) <= 0.04
        assert probe_video(clip.video).has_audio
        meta = json.loads(clip.sidecar.read_text())
        assert video.n_frames == meta["n_frames"] and clip.emotion == meta["emotion"]


def test_existing_dataset_is_kept_unless_forced_or_incomplete(dataset, tmp_path):
    root = tmp_path / "d"
    generate(root, QUICK, seed=0, workers=1, progress=False)
    clip = next((root / "clips").glob("*.mp4"))
    clip.write_bytes(b"stale")  # a kept dataset is not rewritten ...
    generate(root, QUICK, seed=0, workers=1, progress=False)
    assert clip.read_bytes() == b"stale"
    generate(root, QUICK, seed=0, workers=1, progress=False, force=True)  # ... unless forced
    assert _hashes(root) == _hashes(dataset)
    clip.unlink()  # an incomplete dataset is regenerated
    generate(root, QUICK, seed=0, workers=1, progress=False)
    assert _hashes(root) == _hashes(dataset)


def test_an_out_holding_another_dataset_or_other_files_is_refused_unless_forced(dataset, tmp_path, capsys):
    """`--seed 3` into the demo's data/synthtalk (seed 0) rewrote its clips one by one, and a folder of
    someone's videos got a synthtalk written into it; both are refused now, before any file is written."""
    from edtalk.data.errors import DatasetLayoutError
    from edtalk.data.synthtalk.__main__ import main

    before = _hashes(dataset)
    with pytest.raises(
        DatasetLayoutError, match="holds synthtalk preset 'quick' seed 0; generating preset 'quick' seed 3"
    ):
        generate(dataset, QUICK, seed=3, workers=1, progress=False)
    assert _hashes(dataset) == before
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "mine.mp4").write_bytes(b"not synthtalk")
    assert main(["--out", str(videos), "--no-progress"]) == 2
    assert "not empty and not a synthtalk dataset (holds mine.mp4)" in capsys.readouterr().err
    assert sorted(p.name for p in videos.iterdir()) == ["mine.mp4"]
    generate(videos, QUICK, seed=0, workers=1, progress=False, force=True)  # --force writes anyway
    assert (videos / "mine.mp4").is_file() and (videos / "card.json").is_file()


class _Interrupted(Exception):
    pass


def test_an_interrupted_forced_run_never_looks_finished(dataset, tmp_path, monkeypatch):
    """`--force --seed 1` over a seed-0 dataset, interrupted, left the seed-0 card in place: the plain
    seed-0 command then took the mix of seed-0 and seed-1 clips for the finished dataset."""
    from edtalk.data.errors import DatasetLayoutError

    gen = importlib.import_module(
        "edtalk.data.synthtalk.generate"
    )  # the package's `generate` is the function

    root = _copy(dataset, tmp_path / "mixed")
    write_clip, written = gen._write_clip, []

    def interrupted_after_5(task):
        if len(written) == 5:
            raise _Interrupted
        written.append(task.clip_id)
        return write_clip(task)

    monkeypatch.setattr(gen, "_write_clip", interrupted_after_5)
    with pytest.raises(_Interrupted):
        generate(root, QUICK, seed=1, workers=1, progress=False, force=True)
    monkeypatch.undo()
    assert not (root / "card.json").exists() and not (root / "card.md").exists()
    assert not any((root / "splits").glob("*.txt"))
    before = _hashes(root)
    with pytest.raises(
        DatasetLayoutError, match=r"7 clips of preset 'quick' seed 0, 5 clips of preset 'quick' seed 1"
    ):
        generate(root, QUICK, seed=0, workers=1, progress=False)
    assert _hashes(root) == before
    generate(root, QUICK, seed=0, workers=1, progress=False, force=True)
    assert _hashes(root) == _hashes(dataset)


@pytest.mark.parametrize("damage", ["a clip of another seed", "an empty file"])
def test_a_finished_dataset_with_a_foreign_or_empty_clip_is_regenerated(dataset, seed1, tmp_path, damage):
    """The completeness check took any existing file for a finished clip: a clip of another seed (left
    by an interrupted run of the old generator) or zero-byte files were kept as the dataset."""
    root = _copy(dataset, tmp_path / "d")
    clip = sorted((root / "clips").glob("*.json"))[3].stem
    if damage == "an empty file":
        (root / "clips" / f"{clip}.mp4").write_bytes(b"")
    else:
        for ext in (".mp4", ".wav", ".json"):
            shutil.copy(seed1 / "clips" / f"{clip}{ext}", root / "clips" / f"{clip}{ext}")
    assert _hashes(root) != _hashes(dataset)
    generate(root, QUICK, seed=0, workers=1, progress=False)
    assert _hashes(root) == _hashes(dataset)


def test_an_unfinished_folder_of_other_settings_is_refused_unless_forced(dataset, seed1, tmp_path, capsys):
    """An interrupted run leaves clips/ and no card: a run with another seed deleted and overwrote its
    clips without a word."""
    from edtalk.data.synthtalk.__main__ import main

    root = tmp_path / "unfinished"
    _copy(seed1 / "clips", root / "clips")
    for path in sorted((root / "clips").glob("st002*")):
        path.unlink()
    before = _hashes(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(PRESETS, "quick", QUICK)
        assert main(["--out", str(root), "--preset", "quick", "--no-progress", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {root}: holds an unfinished synthtalk" in err
    assert "8 clips of preset 'quick' seed 1" in err and "--force" in err
    assert _hashes(root) == before
    generate(root, QUICK, seed=0, workers=1, progress=False, force=True)
    assert _hashes(root) == _hashes(dataset)


def test_hidden_and_leftover_temp_files_do_not_make_out_foreign(dataset, tmp_path):
    """.DS_Store or a temp file left by a killed run made the dataset's own folder "not a synthtalk"."""
    root = _copy(dataset, tmp_path / "hidden")
    card = (root / "card.json").read_text()
    leftovers = [  # as edtalk.atomic names them: mkstemp's 8 characters, then the writer's suffix
        root / ".card.json.k2j4abcd.tmp",
        root / "clips" / ".st000#happy#level_1#001.wav.x7y8z9ab.tmp.wav",
        root / "clips" / ".st000#happy#level_1#001.mp4.a1b2c3d4.tmp.mp4",
    ]
    for path in [root / ".DS_Store", *leftovers]:
        path.write_bytes(b"x")
    generate(root, QUICK, seed=0, workers=1, progress=False)  # finished: kept as it is
    assert (root / "card.json").read_text() == card
    (root / "card.json").unlink()  # interrupted: resumed, and the temp files go
    generate(root, QUICK, seed=0, workers=1, progress=False)
    assert not any(p.exists() for p in leftovers) and (root / ".DS_Store").is_file()
    assert {k: v for k, v in _hashes(root).items() if k != ".DS_Store"} == _hashes(dataset)


def test_cli_says_when_the_dataset_is_already_present(dataset, tmp_path, capsys, monkeypatch):
    """It printed "wrote N clips ... in X s" from the old card although it wrote nothing."""
    from edtalk.data.synthtalk.__main__ import main

    monkeypatch.setitem(PRESETS, "quick", QUICK)
    root = _copy(dataset, tmp_path / "present")
    assert main(["--out", str(root), "--preset", "quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"synthtalk preset 'quick' seed 0 is already present in {root}" in out and "wrote" not in out
    assert _hashes(root) == _hashes(dataset)


def test_an_out_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    from edtalk.data.synthtalk.__main__ import main

    afile = tmp_path / "afile"
    afile.write_text("x")
    for argv in (["--out", str(afile)], ["--out", str(afile), "--force"], ["--out", str(afile / "sub")]):
        assert main([*argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {argv[1]}: ") and err.count("\n") == 1
    assert afile.read_text() == "x"


def test_files_of_someone_else_in_clips_are_refused_not_deleted(dataset, tmp_path, capsys, monkeypatch):
    """A folder whose clips/ held someone's videos passed as a synthtalk: the run deleted them."""
    from edtalk.data.synthtalk.__main__ import main

    monkeypatch.setitem(PRESETS, "quick", QUICK)
    theirs = tmp_path / "theirs"
    (theirs / "clips").mkdir(parents=True)
    (theirs / "clips" / "interview.mp4").write_bytes(b"someone's video")
    finished = _copy(dataset, tmp_path / "finished")
    (finished / "clips" / "interview.mp4").write_bytes(b"someone's video")
    (finished / "card.json").unlink()  # unfinished: a run would rewrite clips/
    for root in (theirs, finished):
        assert main(["--out", str(root), "--preset", "quick", "--no-progress", "--workers", "1"]) == 2
        err = capsys.readouterr().err
        assert "not a synthtalk dataset (holds clips/interview.mp4)" in err and err.count("\n") == 1
        assert (root / "clips" / "interview.mp4").read_bytes() == b"someone's video"


def test_a_negative_seed_is_refused_by_the_command_line(tmp_path, capsys):
    """--seed -1 ended in numpy's traceback, after creating OUT/clips."""
    from edtalk.data.synthtalk.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["--out", str(tmp_path / "d"), "--seed", "-1", "--no-progress"])
    assert stop.value.code == 2 and "--seed: must be at least 0" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def _interrupt_after(gen, monkeypatch, n: int, error: BaseException) -> None:
    write_clip, written = gen._write_clip, []

    def failing(task):
        if len(written) == n:
            raise error
        written.append(task.clip_id)
        return write_clip(task)

    monkeypatch.setattr(gen, "_write_clip", failing)


def test_ctrl_c_is_exit_130_with_one_line_and_pool_workers_leave_it_to_the_parent(
    tmp_path, capsys, monkeypatch
):
    """Ctrl-C printed a traceback from the generator and one from every worker process."""

    from edtalk.data.synthtalk.__main__ import main

    gen = importlib.import_module("edtalk.data.synthtalk.generate")
    monkeypatch.setitem(PRESETS, "quick", QUICK)
    _interrupt_after(gen, monkeypatch, 2, KeyboardInterrupt())
    root = tmp_path / "d"
    try:
        rc = main(["--out", str(root), "--preset", "quick", "--workers", "1", "--no-progress"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C ended in a traceback")
    assert rc == 130
    err = capsys.readouterr().err
    assert err.strip() == (
        f"interrupted: {root} is unfinished (no card.json); the same command finishes it, keeping the "
        "clips written so far"
    )
    started = []  # start_pool_worker (tests/edtalk/data/test_pool_worker.py) in this process
    monkeypatch.setattr(gen, "start_pool_worker", lambda: started.append(True))
    gen.init_render_worker(pool=False)  # the generator's own process keeps Ctrl-C
    assert started == []
    gen.init_render_worker()  # a pool worker ignores it (the parent stops the pool) and ends with it
    assert started == [True]


@pytest.mark.parametrize("error", ["oserror", "libsndfile"])
def test_a_full_disk_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch, error):
    """A full disk ended in a traceback (from a worker: libsndfile's bare "System error.")."""
    import errno

    import soundfile

    from edtalk.data.synthtalk.__main__ import main

    gen = importlib.import_module("edtalk.data.synthtalk.generate")
    monkeypatch.setitem(PRESETS, "quick", QUICK)
    full = OSError(errno.ENOSPC, "No space left on device") if error == "oserror" else None

    def write_wav(path, audio, sample_rate):
        raise full or soundfile.LibsndfileError(2, "")

    monkeypatch.setattr(gen, "write_wav", write_wav)
    root = tmp_path / "d"
    assert main(["--out", str(root), "--preset", "quick", "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    first = sorted(t.clip_id for t in gen.plan(root, QUICK, 0))[0]
    assert err.startswith(f"error: {root / 'clips' / first}.wav: cannot write it (") and err.count("\n") == 1
    assert "MB free there): free some space or choose a writable --out" in err
    assert not (root / "card.json").exists()


def test_a_regenerated_dataset_says_why(dataset, tmp_path, capsys):
    """A finished dataset missing one clip was regenerated whole without a word."""
    root = _copy(dataset, tmp_path / "d")
    gone = sorted((root / "clips").glob("*.wav"))[2]
    gone.unlink()
    generate(root, QUICK, seed=0, workers=1, progress=False)
    out = capsys.readouterr().out
    why = f"(clips/{gone.name} missing or empty): regenerating it"
    assert f"{root}: not a finished synthtalk preset 'quick' seed 0 {why}" in out
    assert _hashes(root) == _hashes(dataset)
    generate(root, QUICK, seed=0, workers=1, progress=False)  # finished: kept without a note
    assert capsys.readouterr().out == ""


def test_an_interrupted_run_is_finished_without_writing_its_clips_again(
    dataset, tmp_path, monkeypatch, capsys
):
    """An interrupted run was regenerated from scratch: hours of the `full` preset lost to one Ctrl-C.
    The clips it wrote whole (sidecar last, of these settings) are kept; the dataset is byte-identical."""
    gen = importlib.import_module("edtalk.data.synthtalk.generate")
    root = tmp_path / "d"
    _interrupt_after(gen, monkeypatch, 5, _Interrupted())
    with pytest.raises(_Interrupted):
        generate(root, QUICK, seed=0, workers=1, progress=False)
    monkeypatch.undo()
    first = sorted(t.clip_id for t in gen.plan(root, QUICK, 0))[0]
    (root / "clips" / f"{first}.json").unlink()  # killed between its wav and its sidecar
    write_clip, written = gen._write_clip, []
    monkeypatch.setattr(gen, "_write_clip", lambda task: written.append(task.clip_id) or write_clip(task))
    card = generate(root, QUICK, seed=0, workers=1, progress=False)
    assert len(written) == len(gen.plan(root, QUICK, 0)) - 4 and first in written
    assert "keeping the 4 of 12 clips already written" in capsys.readouterr().out
    assert _hashes(root) == _hashes(dataset) and card["build"]["clips_kept"] == 4
    assert {k: v for k, v in card.items() if k != "build"} == _card(dataset)


@pytest.mark.parametrize("left", ["no card (interrupted)", "a card, one wav gone"])
def test_finishing_a_dataset_reads_each_sidecars_generator_block_once(dataset, tmp_path, monkeypatch, left):
    """Finishing an interrupted run read each kept clip's sidecar tail three times (two counts of the
    sidecars' makers, then each clip's own check); with a card left, twice. Once now, same dataset."""
    from collections import Counter

    gen = importlib.import_module("edtalk.data.synthtalk.generate")
    root = _copy(dataset, tmp_path / "d")
    gone = sorted((root / "clips").glob("*.wav"))[0]
    gone.unlink()
    if left.startswith("no card"):
        (root / "card.json").unlink()
    reads, read = Counter(), gen.read_generator_block
    monkeypatch.setattr(
        gen, "read_generator_block", lambda path: reads.update([Path(path).name]) or read(path)
    )
    card = generate(root, QUICK, seed=0, workers=1, progress=False)
    assert len(reads) == 12 and set(reads.values()) == {1}, reads.most_common(2)
    assert card["build"]["clips_kept"] == 11 and _hashes(root) == _hashes(dataset)


def test_the_disk_estimate_is_near_what_a_preset_writes(dataset):
    """The estimate scales the tiny preset's measured bytes per frame (128 px) by frame side and clip
    length; against the clips this 64 px preset wrote."""
    from edtalk.data.synthtalk.presets import estimated_bytes

    written = sum(p.stat().st_size for p in (dataset / "clips").iterdir())
    assert 0.85 < estimated_bytes(QUICK, QUICK.n_clips) / written < 1.15
    assert QUICK.n_clips == len(list((dataset / "clips").glob("*.json"))) == 12


def test_a_disk_clearly_too_small_for_the_preset_is_refused_before_writing(
    dataset, tmp_path, capsys, monkeypatch
):
    """`--preset full` started on any disk and filled it hours in. Now a disk clearly below the
    estimate is one error line before anything is written; the first line says the estimate."""
    import shutil

    from edtalk.data.synthtalk.__main__ import main
    from edtalk.data.synthtalk.presets import estimated_bytes

    gen = importlib.import_module("edtalk.data.synthtalk.generate")
    monkeypatch.setitem(PRESETS, "quick", QUICK)
    need, usage = estimated_bytes(QUICK, 12), shutil.disk_usage(tmp_path)

    def free(share: float) -> None:
        monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=int(share * need)))

    free(0.8)
    root = tmp_path / "d"
    assert main(["--out", str(root), "--preset", "quick", "--workers", "1", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"error: {root}: 12 clips of preset 'quick' take about {need / 1e6:.1f} MB, and its disk has "
        f"{0.8 * need / 1e6:.1f} MB free: free some space or choose an --out on a larger disk\n"
    )
    assert not root.exists()

    free(0.95)  # within the estimate's margin: it starts
    _interrupt_after(gen, monkeypatch, 0, _Interrupted())
    with pytest.raises(_Interrupted):
        generate(root, QUICK, seed=0, workers=1, progress=False)
    assert capsys.readouterr().out == (
        f"synthtalk preset 'quick' seed 0: writing 12 clips to {root} (about {need / 1e6:.1f} MB; "
        f"{0.95 * need / 1e6:.1f} MB free)\n"
    )

    free(0.0)  # --force over the dataset itself: the clips it rewrites free their space
    again = _copy(dataset, tmp_path / "again")
    with pytest.raises(_Interrupted):
        generate(again, QUICK, seed=0, workers=1, progress=False, force=True)
    assert "writing 12 clips" in capsys.readouterr().out


def _without_build(card_md: str) -> str:
    return card_md.split("## Build")[0]


def test_a_resume_takes_the_kept_clips_card_figures_from_their_sidecars(dataset, tmp_path, monkeypatch):
    """Finishing a run killed while writing card.json synthesised every kept clip again (a fifth of the
    build at `tiny`) for the card's factor ranges and the contact sheet. Now their sidecars give them
    (a sheet tile renders its one frame): no clip is made, and the card, card.md, contact sheet and
    split lists are those of a fresh build."""
    gen = importlib.import_module("edtalk.data.synthtalk.generate")
    root = _copy(dataset, tmp_path / "d")
    (root / "card.json").unlink()

    def no_synthesis(*args, **kwargs):
        raise AssertionError("a kept clip was synthesised again")

    monkeypatch.setattr(gen, "make_clip", no_synthesis)
    card = generate(root, QUICK, seed=0, workers=1, progress=False)
    assert card["build"]["clips_kept"] == 12 and _card(root) == _card(dataset)
    assert _hashes(root) == _hashes(dataset)  # the contact sheet (every clip has a tile) and the splits
    assert _without_build((root / "card.md").read_text()) == _without_build((dataset / "card.md").read_text())


def test_a_kept_clip_whose_sidecar_is_not_whole_is_written_again(dataset, tmp_path, capsys):
    """The card of a resumed run comes from the kept clips' sidecars: one whose generator block (all the
    checks read) is right but whose body is not a sidecar was kept as it was."""
    root = _copy(dataset, tmp_path / "d")
    (root / "card.json").unlink()
    bad = sorted((root / "clips").glob("*.json"))[5]
    block = json.loads(bad.read_text())["generator"]
    bad.write_text(json.dumps({"id": bad.stem, "factors": {"yaw": [0.0]}, "generator": block}))
    card = generate(root, QUICK, seed=0, workers=2, progress=False)
    assert "keeping the 11 of 12 clips already written" in capsys.readouterr().out
    assert card["build"]["clips_kept"] == 11 and _card(root) == _card(dataset)
    assert _hashes(root) == _hashes(dataset)


def test_cli_says_how_many_clips_it_wrote_and_how_many_it_kept(dataset, tmp_path, capsys, monkeypatch):
    """Finishing an interrupted run said "wrote 12 clips" when it wrote one and kept eleven."""
    from edtalk.data.synthtalk.__main__ import main

    monkeypatch.setitem(PRESETS, "quick", QUICK)
    root = _copy(dataset, tmp_path / "d")
    (root / "card.json").unlink()
    sorted((root / "clips").glob("*.wav"))[0].unlink()
    assert main(["--out", str(root), "--preset", "quick", "--workers", "1", "--no-progress"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"wrote 1 clips, kept 11 written by an earlier run: {root} holds 12 clips, ")
    (root / "card.json").unlink()
    assert main(["--out", str(root), "--preset", "quick", "--workers", "1", "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("wrote 0 clips, kept 12 written by an earlier")

    from edtalk.data.synthtalk.__main__ import _wrote  # a fresh build's line is as it was

    fresh = {**json.loads((dataset / "card.json").read_text()), "size_mb": 0.5}
    assert (
        _wrote(fresh, "x") == f"wrote 12 clips, 0.5 MB to x in {fresh['build']['wall_time_s']} s (1 workers)"
    )
