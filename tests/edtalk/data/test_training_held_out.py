"""Training never sees the evaluation clips: ``edtalk.data.held_out.check_unseen`` compares the clips of
the training split with the dataset's judge and test splits (fixture trees of empty files; nothing is
decoded)."""

from __future__ import annotations

import json

import pytest

from edtalk.config import ConfigError
from edtalk.data.held_out import check_unseen, held_out_overlap, training_clips
from edtalk.data.readers import read_clips
from edtalk.data.training import build_frame_cache

SPLITS = {"train": ["st000", "st001"], "judge": ["st002"], "test": ["st003"]}


@pytest.fixture
def synthtalk(tmp_path):
    """A synthtalk tree with disjoint train/judge/test identities (two clips each)."""
    root = tmp_path / "synthtalk"
    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    for split, people in SPLITS.items():
        ids = [f"{p}#{e}#level_1#001" for p in people for e in ("angry", "happy")]
        (root / "splits" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for clip_id in ids:
            (root / "clips" / f"{clip_id}.mp4").write_bytes(b"")
            sidecar = {"identity": clip_id.split("#")[0], "emotion": clip_id.split("#")[1], "level": 1}
            (root / "clips" / f"{clip_id}.json").write_text(json.dumps(sidecar))
    return root


def test_train_split_passes_and_all_judge_test_are_refused(synthtalk):
    assert len(training_clips("synthtalk", synthtalk, "train")) == 4
    with pytest.raises(
        ConfigError, match=r"split 'all' .* 2 of the judge split.* 2 of the test split"
    ) as err:
        training_clips("synthtalk", synthtalk, "all")
    assert "never see the judges' or the test identities" in str(err.value)
    for split in ("judge", "test"):
        with pytest.raises(ConfigError, match=f"2 of the {split} split"):
            training_clips("synthtalk", synthtalk, split)


def test_a_custom_list_with_a_judge_person_is_refused(synthtalk):
    """A split list of other names that smuggles in a judge clip, or another clip of a judge person
    (synthtalk's splits hold out whole people), is refused, not only the names judge/test/all."""
    (synthtalk / "splits/mine.txt").write_text("st000#angry#level_1#001\nst002#happy#level_1#001\n")
    with pytest.raises(ConfigError, match=r"split 'mine' .*1 of the judge split \(first: st002#happy"):
        training_clips("synthtalk", synthtalk, "mine")
    extra = "st003#sad#level_3#009"  # a test person's clip that test.txt does not list
    (synthtalk / "clips" / f"{extra}.mp4").write_bytes(b"")
    (synthtalk / "clips" / f"{extra}.json").write_text(json.dumps({"identity": "st003", "emotion": "sad"}))
    (synthtalk / "splits/mine.txt").write_text(f"st000#angry#level_1#001\n{extra}\n")
    assert held_out_overlap(read_clips("synthtalk", synthtalk, "mine"), "synthtalk", synthtalk) == {
        "test": [extra]
    }


def test_frame_cache_refuses_synthtalk_evaluation_clips_before_decoding(synthtalk, tmp_path):
    """The CLI's prepare_cache reads the clips itself: the cache is the place every run passes."""
    with pytest.raises(ConfigError, match="split 'all'"):
        build_frame_cache(read_clips("synthtalk", synthtalk, "all"), 32, tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists()  # refused before anything was written or decoded


def _files(root, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_mead_and_hdtf_training_splits_still_work_and_all_is_refused(tmp_path):
    mead = tmp_path / "mead"
    _files(mead, [f"MEAD_front/video/{s}#angry#level_1#001.mp4" for s in ("M003", "M005", "W011", "W015")])
    assert {c.identity for c in training_clips("mead", mead, "train")} == {"M005", "W011"}  # built-in split
    with pytest.raises(ConfigError, match=r"2 of the test split \(first: M003"):
        training_clips("mead", mead, "all")
    (mead / "lists").mkdir()  # EDTalk's lists: clips, not speakers, are held out
    (mead / "lists/train.txt").write_text("M003#angry#level_1#001\nM005#angry#level_1#001\n")
    (mead / "lists/test.txt").write_text("W015#angry#level_1#001\n")
    assert [c.id for c in training_clips("mead", mead, "train")] == [
        "M003#angry#level_1#001",
        "M005#angry#level_1#001",
    ]
    hdtf = tmp_path / "hdtf"
    _files(hdtf, [f"split_5s_video/RD_Radio1_000#{k}.mp4" for k in (1, 2, 3)])
    assert len(training_clips("hdtf", hdtf, "all")) == 3  # no test list here: nothing held out
    (hdtf / "lists").mkdir()
    (hdtf / "lists/test.json").write_text(json.dumps(["M003#angry#level_1#001", "RD_Radio1_000#3"]))
    (hdtf / "lists/train.txt").write_text("RD_Radio1_000#1\nRD_Radio1_000#2\n")
    assert len(training_clips("hdtf", hdtf, "train")) == 2
    with pytest.raises(ConfigError, match=r"1 of the test split \(first: RD_Radio1_000#3\)"):
        training_clips("hdtf", hdtf, "all")


def test_same_names_in_other_folders_and_folders_without_lists_are_no_overlap(tmp_path):
    """LRW's train and test folders reuse clip names (other files); the folder reader returns every
    clip for any split it has no list for, which is no held-out split."""
    lrw = tmp_path / "lrw"
    _files(lrw, ["ABOUT/train/ABOUT_00001.mp4", "ABOUT/test/ABOUT_00001.mp4"])
    assert len(training_clips("lrw", lrw, "train")) == 1
    folder = tmp_path / "folder"
    _files(folder, ["a.mp4", "b.mp4"])
    assert len(training_clips("folder", folder, "train")) == 2
    (folder / "lists").mkdir()
    (folder / "lists/test.txt").write_text("b\n")
    clips = read_clips("folder", folder, "train")  # no train list: every clip, b included
    with pytest.raises(ConfigError, match=r"1 of the test split \(first: b\)"):
        check_unseen(clips, "folder", folder)


def _meta(data: str, split: str, stage: str = "audio_expression") -> dict:
    return {"stage": stage, "trained_on": [{"stage": stage, "data": data, "split": split}]}


def test_scoring_a_checkpoint_on_its_training_clips_is_refused(tmp_path):
    """A folder dataset without split lists has no held-out split, so training on it is not refused;
    scoring the checkpoint on that folder then compared the model with the very clips it fit."""
    from edtalk.data.held_out import check_not_trained_on
    from edtalk.model import CheckpointError

    folder = tmp_path / "mine"
    _files(folder, ["gt/a.mp4", "gt/b.mp4", "pred/a.mp4"])
    clips = read_clips("folder", folder, "test")
    assert len(training_clips("folder", folder, "train")) == 2  # nothing held out: training goes ahead
    with pytest.raises(CheckpointError, match=r"e.pt: trained on 2 of the 2 clips .*first: a; stage"):
        check_not_trained_on(clips, _meta(f"folder:{folder}", "train"), "e.pt")
    (folder / "lists").mkdir()
    (folder / "lists/train.txt").write_text("a\n")
    (folder / "lists/test.txt").write_text("b\n")
    check_not_trained_on(read_clips("folder", folder, "test"), _meta(f"folder:{folder}", "train"), "e.pt")
    with pytest.raises(
        CheckpointError, match=r"trained on 1 of the 2 clips to score, or on copies of them \(first: a;"
    ):
        check_not_trained_on(clips, _meta(f"folder:{folder}", "train"), "e.pt")


def test_a_folder_split_trained_without_a_list_is_every_clip_after_lists_are_added(tmp_path):
    """Trained with `--split mine` on a folder without lists (every clip), then lists were written: the
    reader now refuses `mine` (no list beside others), and the check passed over that record."""
    from edtalk.data.held_out import check_not_trained_on
    from edtalk.model import CheckpointError

    folder = tmp_path / "mine"
    _files(folder, ["gt/a.mp4", "gt/b.mp4", "pred/b.mp4"])
    (folder / "lists").mkdir()
    (folder / "lists/test.txt").write_text("b\n")
    with pytest.raises(CheckpointError, match=r"trained on 1 of the 1 clips to score.*--split mine"):
        check_not_trained_on(read_clips("folder", folder, "test"), _meta(f"folder:{folder}", "mine"), "e.pt")


def test_trained_people_are_refused_within_their_dataset_only(synthtalk, tmp_path):
    """synthtalk holds out whole people: another clip of a trained person is refused too, but only
    within the dataset trained on (another dataset may reuse a person's name)."""
    from edtalk.data.held_out import check_not_trained_on
    from edtalk.model import CheckpointError

    meta = _meta(f"synthtalk:{synthtalk}", "train")
    check_not_trained_on(read_clips("synthtalk", synthtalk, "test"), meta, "e.pt")  # the demo's case
    extra = "st000#sad#level_3#009"  # a trained person's clip that train.txt does not list
    (synthtalk / "clips" / f"{extra}.mp4").write_bytes(b"")
    (synthtalk / "clips" / f"{extra}.json").write_text(json.dumps({"identity": "st000", "emotion": "sad"}))
    (synthtalk / "splits/mine.txt").write_text(f"st003#angry#level_1#001\n{extra}\n")
    with pytest.raises(CheckpointError, match=f"trained on 1 of the 2 clips to score, .* .first: {extra}"):
        check_not_trained_on(read_clips("synthtalk", synthtalk, "mine"), meta, "e.pt")
    other = tmp_path / "other"  # a folder dataset whose clip is named like a trained person
    _files(other, ["gt/st000.mp4", "pred/st000.mp4"])
    check_not_trained_on(read_clips("folder", other, "test"), meta, "e.pt")


def test_training_record_of_older_checkpoints_and_data_not_here(tmp_path):
    """A checkpoint written before ``trained_on`` gives its last stage's --data as typed; data that is
    not on this machine cannot be compared and is passed over."""
    from edtalk.data.held_out import check_not_trained_on, training_record

    old = {"stage": "mouth_pose", "run": {"train_config": {"data": "folder:x", "split": "train"}}}
    assert training_record(old) == [{"stage": "mouth_pose", "data": "folder:x", "split": "train"}]
    assert training_record({"stage": "eg_pretrain"}) == []
    _files(tmp_path / "f", ["a.mp4"])
    clips = read_clips("folder", tmp_path / "f", "test")
    check_not_trained_on(clips, _meta(f"folder:{tmp_path / 'gone'}", "train"), "e.pt")
    check_not_trained_on(clips, _meta("nosuchreader:/x", "train"), "e.pt")


def test_a_copy_of_a_training_clip_elsewhere_is_refused_too(tmp_path):
    """Clips were compared by path: training clips copied into another folder to score passed. A copy
    (same name, size and ends) is refused; a file of the same name and size but other bytes is not."""
    from edtalk.data.held_out import check_not_trained_on
    from edtalk.model import CheckpointError

    trained, scored = tmp_path / "trained", tmp_path / "scored"
    (trained / "gt").mkdir(parents=True)
    (scored / "gt").mkdir(parents=True)
    (trained / "gt/a.mp4").write_bytes(b"A" * 200_000)
    (trained / "gt/b.mp4").write_bytes(b"B" * 1000)
    (scored / "gt/a.mp4").write_bytes(b"A" * 200_000)  # a copy
    (scored / "gt/b.mp4").write_bytes(b"C" * 1000)  # same name and size, another video
    (scored / "gt/c.mp4").write_bytes(b"B" * 1000)  # b's bytes under another name: not looked for
    meta = _meta(f"folder:{trained}", "train")
    with pytest.raises(
        CheckpointError, match=r"trained on 1 of the 3 clips to score, or on copies of them \(first: a;"
    ):
        check_not_trained_on(read_clips("folder", scored, "test"), meta, "e.pt")
    (scored / "gt/a.mp4").write_bytes(b"A" * 199_999 + b"Z")  # its last bytes differ: another video
    check_not_trained_on(read_clips("folder", scored, "test"), meta, "e.pt")
