"""MEAD reader on tiny fixture trees: flattened, EAT-named and raw layouts; split rules and lists."""

from __future__ import annotations

import json

import pytest

from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, read_clips

IDS = ["M003#angry#level_1#001", "W015#happy#level_3#002", "M005#sad#level_2#001", "W011#neutral#level_1#003"]


@pytest.fixture
def flat_tree(tmp_path, place):
    for clip_id in IDS:
        place(
            tmp_path / "MEAD_front/video" / f"{clip_id}.mp4", tmp_path / "MEAD_front/audio" / f"{clip_id}.wav"
        )
    return tmp_path


def test_flat_layout_default_test_split_is_the_official_speakers(flat_tree):
    clips = read_clips("mead", flat_tree)
    assert [c.id for c in clips] == ["M003#angry#level_1#001", "W015#happy#level_3#002"]
    first = clips[0]
    assert (first.dataset, first.split, first.identity, first.emotion, first.level) == (
        "mead",
        "test",
        "M003",
        "angry",
        1,
    )
    assert first.video.name == "M003#angry#level_1#001.mp4" and first.video.is_file()
    assert first.audio == flat_tree / "MEAD_front/audio/M003#angry#level_1#001.wav"
    assert first.extra["eat_name"] == "M003_ang_1_001"
    assert {c.identity for c in read_clips("mead", flat_tree, "train")} == {"M005", "W011"}
    assert len(read_clips("mead", flat_tree, "all")) == 4


def test_root_may_be_mead_front_itself(flat_tree):
    assert len(read_clips("mead", flat_tree / "MEAD_front", "all")) == 4


def test_official_json_list_selects_clips_and_ignores_hdtf_entries(flat_tree, caplog):
    (flat_tree / "lists").mkdir()
    listed = ["M005#sad#level_2#001", "RD_Radio1_000#1", "M003#angry#level_1#001", "M040#fear#level_1#001"]
    (flat_tree / "lists/test.json").write_text(json.dumps(listed))
    clips = read_clips("mead", flat_tree, "test")
    assert [c.id for c in clips] == ["M005#sad#level_2#001", "M003#angry#level_1#001"]  # list order
    assert "M040#fear#level_1#001" in caplog.text  # listed but not on disk: warned, not silent


def test_txt_list_with_eat_names(flat_tree):
    (flat_tree / "lists").mkdir()
    (flat_tree / "lists/val.txt").write_text("W011_neu_1_003\n\nM005_sad_2_001\n")
    assert [c.id for c in read_clips("mead", flat_tree, "val")] == [
        "W011#neutral#level_1#003",
        "M005#sad#level_2#001",
    ]


def test_eat_named_files_map_to_canonical_ids(tmp_path, place):
    place(tmp_path / "video/M003_ang_1_001.mp4", tmp_path / "audio/M003_ang_1_001.wav")
    place(tmp_path / "video/W009_sur_2_004.mp4")  # no wav: the mp4's own audio track
    clips = read_clips("mead", tmp_path)
    assert [c.id for c in clips] == ["M003#angry#level_1#001", "W009#surprised#level_2#004"]
    assert clips[0].audio.name == "M003_ang_1_001.wav"
    assert clips[1].audio == clips[1].video


def test_raw_layout(tmp_path, place):
    place(tmp_path / "M003/video/front/angry/level_1/001.mp4", tmp_path / "M003/audio/angry/level_1/001.wav")
    place(tmp_path / "M030/video/front/contempt/level_2/010.mp4")
    place(tmp_path / "M005/video/front/sad/level_1/001.mp4")
    clips = read_clips("mead", tmp_path)
    assert [c.id for c in clips] == ["M003#angry#level_1#001", "M030#contempt#level_2#010"]
    assert clips[0].audio == tmp_path / "M003/audio/angry/level_1/001.wav"
    assert clips[0].extra["layout"] == "raw"


def test_layout_errors_explain_the_expected_tree(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist") as info:
        read_clips("mead", tmp_path / "nowhere")
    assert "MEAD_front/video" in str(info.value)
    assert "<root>/video/M003_ang_1_001.mp4" in str(info.value)  # EAT's flat layout, also read
    (tmp_path / "random.txt").write_text("x")
    with pytest.raises(DatasetLayoutError, match="docs/datasets.md") as info:
        read_clips("mead", tmp_path)
    assert "M003/video/front/angry/level_1/001.mp4" in str(info.value)


def test_unknown_split_and_reader(flat_tree):
    with pytest.raises(DatasetLayoutError, match="built-in splits"):
        read_clips("mead", flat_tree, "judge")
    with pytest.raises(KeyError, match="Did you mean 'mead'"):
        read_clips("meed", flat_tree)
    assert READERS.names() == ["folder", "hdtf", "lrw", "mead", "synthtalk", "voxceleb2"]


def test_each_dataset_states_its_facts_once():
    """The facts the metrics, the trainer and the report read live on the dataset's record: which
    datasets label every clip with its emotion (Acc_emo applies), which hold out whole people (the
    held-out check), and the name tables print."""
    from edtalk.data.readers import dataset_title

    labelled = {n for n in READERS.names() if READERS.get(n).labels_every_clip}
    by_identity = {n for n in READERS.names() if READERS.get(n).splits_by_identity}
    assert labelled == {"mead", "synthtalk"} and by_identity == {"synthtalk"}
    titles = [dataset_title(n) for n in READERS.names()]
    assert titles == ["folder", "HDTF", "LRW", "MEAD", "synthtalk", "VoxCeleb2"]
    assert dataset_title("cremad") == "cremad"  # a results file of a dataset this checkout cannot read


@pytest.mark.parametrize(
    "payload",
    [
        {"test": ["W015#happy#level_3#002"], "train": ["M005#sad#level_2#001"]},
        {"MEAD": ["W015#happy#level_3#002"], "HDTF": ["RD_Radio1_000#1"]},
        {"W015#happy#level_3#002": {"frames": 100}},
    ],
)
def test_json_list_shapes(flat_tree, payload):
    (flat_tree / "lists").mkdir()
    (flat_tree / "lists/test.json").write_text(json.dumps(payload))
    assert [c.id for c in read_clips("mead", flat_tree, "test")] == ["W015#happy#level_3#002"]


def test_root_that_is_a_file(tmp_path):
    (tmp_path / "f.mp4").write_bytes(b"x")
    with pytest.raises(DatasetLayoutError, match="must be a folder"):
        read_clips("mead", tmp_path / "f.mp4")


def test_a_stray_flat_named_file_does_not_hide_a_raw_tree(tmp_path, place):
    """Before: one MEAD-named video at the root of a raw tree switched the reader to the flat layout
    and every raw clip was dropped without a word (crop dataset too)."""
    place(tmp_path / "M003" / "video" / "front" / "angry" / "level_1" / "001.mp4")
    place(tmp_path / "M030" / "video" / "front" / "happy" / "level_2" / "002.mp4")
    assert len(read_clips("mead", tmp_path, "all")) == 2
    place(tmp_path / "M003_ang_1_009.mp4")
    with pytest.raises(
        DatasetLayoutError, match=r"both a flattened MEAD layout \(1 clips.*raw MEAD tree \(2"
    ):
        read_clips("mead", tmp_path, "all")


def test_levels_beyond_three_and_unparsed_names_are_left_out_with_a_warning(tmp_path, place, caplog):
    flat = tmp_path / "MEAD_front" / "video"
    for name in ("M003#angry#level_1#001", "M003#angry#level_7#003", "M003_ang_0_004", "notes"):
        place(flat / f"{name}.mp4")
    with caplog.at_level("WARNING"):
        clips = read_clips("mead", tmp_path, "all")
    assert [c.id for c in clips] == ["M003#angry#level_1#001"]
    assert "3 of 4 videos do not name a MEAD clip" in caplog.text
    raw = tmp_path / "raw"
    place(raw / "M003" / "video" / "front" / "angry" / "level_1" / "001.mp4")
    place(raw / "M003" / "video" / "front" / "angry" / "level_7" / "002.mp4")
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert [c.level for c in read_clips("mead", raw, "all")] == [1]
    assert "1 videos of the raw MEAD tree" in caplog.text


def test_upper_case_emotions_are_left_out_in_folder_and_file_names_alike(tmp_path, place, caplog):
    """Before: raw ``ANGRY/`` folders were read as angry, while ``M003#ANGRY#...`` files were left out."""
    raw = tmp_path / "raw"
    place(raw / "M003/video/front/angry/level_1/001.mp4")
    place(raw / "M003/video/front/ANGRY/level_1/002.mp4")
    place(raw / "M003/video/front/Happy/level_1/003.mp4")
    with caplog.at_level("WARNING"):
        assert [c.id for c in read_clips("mead", raw, "all")] == ["M003#angry#level_1#001"]
    assert "2 videos of the raw MEAD tree" in caplog.text and "ANGRY/level_1/002.mp4" in caplog.text
    flat = tmp_path / "flat" / "MEAD_front" / "video"
    for name in ("M003#angry#level_1#001", "M003#ANGRY#level_1#002", "M003_ANG_1_003"):
        place(flat / f"{name}.mp4")
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert [c.id for c in read_clips("mead", tmp_path / "flat", "all")] == ["M003#angry#level_1#001"]
    assert "2 of 3 videos do not name a MEAD clip" in caplog.text


def test_a_split_list_naming_no_clip_on_disk_is_named(tmp_path, place):
    """Before: 'no MEAD clips for split test (... test speakers are M003 ...)', with M003 on disk and
    the empty list file not named."""
    place(tmp_path / "MEAD_front" / "video" / "M003#angry#level_1#001.mp4")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "test.txt").write_text("W099#sad#level_1#001\n")
    with pytest.raises(DatasetLayoutError, match=r"test.txt: names none of the 1 MEAD clips found under"):
        read_clips("mead", tmp_path, "test")


def test_a_root_one_level_too_low_names_the_folder_to_give(flat_tree):
    """Before: with --root MEAD_front/video every clip fell back to its mp4's own audio track, and LSE
    failed each clip with '...mp4: no audio stream in the file' (or, had the mp4 a track, scored it)."""
    low = flat_tree / "MEAD_front/video"
    with pytest.raises(DatasetLayoutError, match="one level too low") as info:
        read_clips("mead", low, "all")
    message = str(info.value)
    assert str(flat_tree / "MEAD_front/audio") in message and f"({flat_tree / 'MEAD_front'})" in message


def test_videos_straight_in_the_root_keep_their_own_audio(tmp_path, place):
    """The layouts that use files straight in the root stay: a wav beside the mp4, or the mp4's own
    audio track when no audio folder lies beside the root."""
    place(tmp_path / "eat/M003_ang_1_001.mp4", tmp_path / "eat/M003_ang_1_001.wav")
    place(tmp_path / "eat/M030_sad_2_001.mp4")
    clips = read_clips("mead", tmp_path / "eat")
    assert [c.audio.name for c in clips] == ["M003_ang_1_001.wav", "M030_sad_2_001.mp4"]
    place(tmp_path / "own/M003_ang_1_001.mp4")
    (tmp_path / "audio").mkdir()  # an unrelated audio folder beside the root, without this clip's audio
    (clip,) = read_clips("mead", tmp_path / "own")
    assert clip.audio == clip.video
