"""HDTF, LRW, VoxCeleb2, folder and synthtalk readers on tiny fixture trees."""

from __future__ import annotations

import json

import pytest

from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import pair_folders, read_clips


def test_hdtf_split_list_and_all(tmp_path, place):
    for name in ["RD_Radio1_000#1", "RD_Radio1_000#2", "WDA_BarackObama_000#1"]:
        place(tmp_path / "split_5s_video" / f"{name}.mp4", tmp_path / "split_5s_audio" / f"{name}.wav")
    assert len(read_clips("hdtf", tmp_path, "all")) == 3
    with pytest.raises(DatasetLayoutError, match="lists/test.json"):
        read_clips("hdtf", tmp_path, "test")
    # the hint used to end "or use split='all'", which training refuses
    with pytest.raises(DatasetLayoutError, match="with split 'all' .training needs a train"):
        read_clips("hdtf", tmp_path, "train")
    (tmp_path / "lists").mkdir()
    # EDTalk's test.json mixes MEAD and HDTF ids; the MEAD ones are not HDTF's business.
    (tmp_path / "lists/test.json").write_text(json.dumps(["M003#angry#level_1#001", "WDA_BarackObama_000#1"]))
    (clip,) = read_clips("hdtf", tmp_path, "test")
    assert (clip.id, clip.identity, clip.extra["chunk"], clip.split) == (
        "WDA_BarackObama_000#1",
        "WDA_BarackObama_000",
        1,
        "test",
    )
    assert clip.audio == tmp_path / "split_5s_audio/WDA_BarackObama_000#1.wav"


def test_hdtf_wrong_tree(tmp_path):
    (tmp_path / "videos_somewhere").mkdir()
    with pytest.raises(DatasetLayoutError, match="split_5s_video"):
        read_clips("hdtf", tmp_path, "all")


def test_hdtf_videos_without_a_chunk_number_are_left_out_with_a_warning(tmp_path, place, caplog):
    """Before: a copy or an unsplit source video beside the chunks was read as one more clip."""
    videos = tmp_path / "split_5s_video"
    for name in ("RD_Radio1_000#1", "RD_Radio1_000#2", "RD_Radio1_000#1 (copy)", "RD_Radio1_000"):
        place(videos / f"{name}.mp4")
    with caplog.at_level("WARNING"):
        clips = read_clips("hdtf", tmp_path, "all")
    assert [(c.id, c.identity, c.extra["chunk"]) for c in clips] == [
        ("RD_Radio1_000#1", "RD_Radio1_000", 1),
        ("RD_Radio1_000#2", "RD_Radio1_000", 2),
    ]
    assert "2 videos are not HDTF chunks <video>#<k>.mp4 and are left out" in caplog.text
    assert "RD_Radio1_000#1 (copy).mp4" in caplog.text
    for chunk in ("RD_Radio1_000#1", "RD_Radio1_000#2"):
        (videos / f"{chunk}.mp4").unlink()
    with pytest.raises(DatasetLayoutError, match="split_5s_video/RD_Radio1_000#1.mp4"):
        read_clips("hdtf", tmp_path, "all")  # no chunk at all: the layout error, not two odd clips


def test_lrw_word_split_tree_and_audio_fallback(tmp_path, place):
    place(tmp_path / "ABOUT/test/ABOUT_00001.mp4", tmp_path / "ABOUT/test/ABOUT_00001.wav")
    place(tmp_path / "ABOUT/test/ABOUT_00002.mp4")
    place(tmp_path / "WORLD/train/WORLD_00001.mp4")
    clips = read_clips("lrw", tmp_path, "test")
    assert [c.id for c in clips] == ["ABOUT_00001", "ABOUT_00002"]
    assert clips[0].audio.suffix == ".wav" and clips[1].audio == clips[1].video
    assert clips[0].extra["word"] == "ABOUT"
    with pytest.raises(DatasetLayoutError, match="splits present: test, train"):
        read_clips("lrw", tmp_path, "val")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists/test.txt").write_text("ABOUT/test/ABOUT_00002\n")
    assert [c.id for c in read_clips("lrw", tmp_path, "test")] == ["ABOUT_00002"]


def test_lrw_names_out_of_their_word_folder_are_left_out_with_a_warning(tmp_path, place, caplog):
    """Before: about_00004.mp4 or a WORLD_ clip under ABOUT/ were skipped without a word."""
    place(tmp_path / "ABOUT/test/ABOUT_00001.mp4")
    place(tmp_path / "ABOUT/test/about_00004.mp4")
    place(tmp_path / "ABOUT/test/WORLD_00005.mp4")
    with caplog.at_level("WARNING"):
        assert [c.id for c in read_clips("lrw", tmp_path, "test")] == ["ABOUT_00001"]
    assert "2 videos are not <WORD>/test/<WORD>_<n>.mp4 and are left out" in caplog.text


def test_voxceleb2_fomm_and_tree_layouts(tmp_path, place):
    place(tmp_path / "test/id00017#01dfn2spqyE#000001#000100.mp4")
    place(tmp_path / "test/id00018/abcdefghijk/00001.mp4", tmp_path / "test/id00018/abcdefghijk/00001.wav")
    place(tmp_path / "dev/mp4/id00020/zzzzzzzzzzz/00003.mp4")
    clips = read_clips("voxceleb2", tmp_path, "test")
    assert [(c.id, c.identity) for c in clips] == [
        ("id00017#01dfn2spqyE#000001#000100", "id00017"),
        ("id00018#abcdefghijk#00001", "id00018"),
    ]
    assert clips[0].audio == clips[0].video and clips[1].audio.suffix == ".wav"
    (train,) = read_clips("voxceleb2", tmp_path, "train")  # "train" finds VoxCeleb2's "dev"
    assert train.id == "id00020#zzzzzzzzzzz#00003"
    with pytest.raises(DatasetLayoutError, match="voxceleb2"):
        read_clips("voxceleb2", tmp_path, "val")


def test_voxceleb2_videos_with_no_identity_are_left_out_with_a_warning(tmp_path, place, caplog):
    """Before: a stray mp4 in the split folder was a clip with identity None (or "" for ``#x.mp4``)."""
    place(tmp_path / "test/id00017#01dfn2spqyE#000001#000100.mp4")
    place(tmp_path / "test/id00018/abcdefghijk/00001.mp4")
    place(tmp_path / "test/stray.mp4")
    place(tmp_path / "test/#01dfn2spqyE#000002.mp4")
    with caplog.at_level("WARNING"):
        clips = read_clips("voxceleb2", tmp_path, "test")
    assert [(c.id, c.identity) for c in clips] == [
        ("id00017#01dfn2spqyE#000001#000100", "id00017"),
        ("id00018#abcdefghijk#00001", "id00018"),
    ]
    assert "2 videos name no identity" in caplog.text and "stray.mp4" in caplog.text


def test_folder_pairs_by_stem(tmp_path, place, caplog):
    place(tmp_path / "gt/a.mp4", tmp_path / "gt/a.wav")
    place(tmp_path / "gt/b.mp4")
    place(tmp_path / "pred/a.mp4")
    place(tmp_path / "pred/zzz.mp4")
    clips = read_clips("folder", tmp_path)
    assert [c.id for c in clips] == ["a", "b"]
    assert clips[0].extra["pred"] == tmp_path / "pred/a.mp4" and clips[0].audio == tmp_path / "gt/a.wav"
    assert clips[1].extra["pred"] is None  # missing prediction is explicit
    assert "zzz" in caplog.text and "no generated video for 1 of 2" in caplog.text
    same = pair_folders(tmp_path / "gt", tmp_path / "pred")
    assert [(c.id, c.extra["pred"]) for c in same] == [(c.id, c.extra["pred"]) for c in clips]
    plain = read_clips("folder", tmp_path / "gt")  # a bare folder of videos: no predictions
    assert [c.id for c in plain] == ["a", "b"] and "pred" not in plain[0].extra
    with pytest.raises(DatasetLayoutError, match="does not look like a folder"):
        pair_folders(tmp_path, None)  # no videos directly in root


def test_folder_pairs_names_saved_on_macos_with_names_typed_elsewhere(tmp_path, place, caplog):
    """macOS saves "Zoë" decomposed (NFD); the same name typed or saved on Linux is composed (NFC).
    The two used to be two clips: every prediction missing and an NFC list entry not on disk."""
    nfc, nfd = "Zo\u00eb_1", "Zoe\u0308_1"
    place(tmp_path / f"gt/{nfc}.mp4")
    place(tmp_path / "gt/b.mp4")
    place(tmp_path / f"pred/{nfd}.mp4")
    place(tmp_path / "pred/b.mp4")
    clips = read_clips("folder", tmp_path)
    assert [(c.id, c.extra["pred"]) for c in clips] == [
        (nfc, tmp_path / f"pred/{nfd}.mp4"),
        ("b", tmp_path / "pred/b.mp4"),
    ]
    assert "no generated video" not in caplog.text
    (tmp_path / "gt" / f"{nfc}.mp4").rename(tmp_path / "gt" / f"{nfd}.mp4")  # GT from macOS, list typed
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists/test.txt").write_text(f"{nfc}.mp4\n")
    (clip,) = read_clips("folder", tmp_path, "test")
    assert clip.id == nfc and clip.video == tmp_path / f"gt/{nfd}.mp4"


def test_folder_list_entries_written_on_windows_or_naming_the_audio_find_their_clips(tmp_path, place, caplog):
    """A list written on Windows (``gt\\a.mp4``) or naming each clip's wav kept the whole entry as the
    id: the clips were 'not on disk' and the split came out empty."""
    for name in ("a", "b", "c"):
        place(tmp_path / f"gt/{name}.mp4")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists/test.txt").write_text("gt\\a.mp4\nb.wav\nc\n")
    assert [c.id for c in read_clips("folder", tmp_path, "test")] == ["a", "b", "c"]
    assert "not on disk" not in caplog.text


@pytest.mark.parametrize("split", ["tset", "val"])
def test_a_folder_split_with_no_list_beside_other_lists_is_an_error_naming_them(tmp_path, place, split):
    """``--split tset`` on a folder with train and test lists took every clip, test and train ones
    alike, without a word."""
    for name in ("a", "b", "c"):
        place(tmp_path / f"{name}.mp4")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists/train.txt").write_text("a\n")
    (tmp_path / "lists/test.json").write_text('["b"]')
    (tmp_path / "lists/._val.txt").write_text("")  # macOS metadata: not a list
    with pytest.raises(DatasetLayoutError) as err:
        read_clips("folder", tmp_path, split)
    message = str(err.value)
    assert message.startswith(
        f"{tmp_path / 'lists'}: no list for split {split!r} ({split}.txt or {split}.json)"
    )
    assert "only test.json, train.txt: give one of their splits" in message and "\n" not in message


def test_a_readme_or_notes_beside_the_folder_lists_is_not_named_as_a_list(tmp_path, place):
    """Every .txt in lists/ was a list: `--split val` named README.txt among the splits to give, and a
    lists/ holding only a README refused every split but train and all."""
    for name in ("a", "b"):
        place(tmp_path / f"{name}.mp4")
    (tmp_path / "lists").mkdir()
    for note in ("README.txt", "notes.txt", "my lists.txt"):
        (tmp_path / "lists" / note).write_text("test.txt holds the test clips\n")
    assert [c.id for c in read_clips("folder", tmp_path, "val")] == ["a", "b"]  # no lists: every clip
    (tmp_path / "lists/test.txt").write_text("b\n")
    with pytest.raises(DatasetLayoutError, match=r"only test.txt: give one of their splits"):
        read_clips("folder", tmp_path, "val")


def test_a_folder_without_a_list_for_train_or_all_still_reads_every_clip(tmp_path, place):
    """Guard: a folder with no lists is every clip for any split; with lists, 'train' without one is
    every clip (training then refuses the test list's clips) and 'all' is every clip."""
    for name in ("a", "b"):
        place(tmp_path / f"{name}.mp4")
    assert [c.id for c in read_clips("folder", tmp_path, "tset")] == ["a", "b"]
    (tmp_path / "lists").mkdir()
    assert [c.id for c in read_clips("folder", tmp_path, "val")] == ["a", "b"]  # an empty lists/ folder
    (tmp_path / "lists/test.txt").write_text("b\n")
    assert [c.id for c in read_clips("folder", tmp_path, "test")] == ["b"]
    assert [c.id for c in read_clips("folder", tmp_path, "train")] == ["a", "b"]
    assert [c.id for c in read_clips("folder", tmp_path, "all")] == ["a", "b"]


def test_folder_predictions_that_match_no_gt_stem_are_one_clear_error(tmp_path, place):
    """Every GT clip without a prediction is a naming mismatch: eval.run used to score it as N failed
    clips and write a results file with no numbers."""
    place(tmp_path / "gt/M003_angry_001.mp4")
    place(tmp_path / "pred/M003_ang_1_001.mp4")
    with pytest.raises(DatasetLayoutError, match=r"no generated video shares a file stem with the 1 ground"):
        pair_folders(tmp_path / "gt", tmp_path / "pred")
    with pytest.raises(DatasetLayoutError, match=r"GT e.g. M003_angry_001.mp4, predictions e.g. M003_ang_1"):
        read_clips("folder", tmp_path)
    with pytest.raises(DatasetLayoutError, match=r"score the folder with eval.run's --method folder:DIR, "):
        read_clips("folder", tmp_path)  # which reads other tools' names


def _synth_sidecar(clip_id: str, split: str) -> dict:
    identity, emotion, level, _ = clip_id.split("#")
    return {
        "id": clip_id,
        "identity": identity,
        "split": split,
        "emotion": emotion,
        "level": int(level.split("_")[1]),
        "transcript": "I can not believe this.",
        "fps": 25,
        "sample_rate": 16000,
        "n_frames": 8,
        "size": 32,
    }


def test_synthtalk_reader_fills_metadata_from_sidecar(tmp_path, place):
    ids = {"test": ["st020#happy#level_2#001", "st021#sad#level_1#002"], "train": ["st000#angry#level_3#001"]}
    (tmp_path / "splits").mkdir()
    for split, split_ids in ids.items():
        (tmp_path / "splits" / f"{split}.txt").write_text("\n".join(split_ids) + "\n")
        for clip_id in split_ids:
            place(tmp_path / "clips" / f"{clip_id}.mp4", tmp_path / "clips" / f"{clip_id}.wav")
            (tmp_path / "clips" / f"{clip_id}.json").write_text(json.dumps(_synth_sidecar(clip_id, split)))
    clips = read_clips("synthtalk", tmp_path)
    assert [c.id for c in clips] == ids["test"]
    c = clips[0]
    assert (c.dataset, c.identity, c.emotion, c.level, c.transcript) == (
        "synthtalk",
        "st020",
        "happy",
        2,
        "I can not believe this.",
    )
    assert c.sidecar == tmp_path / "clips/st020#happy#level_2#001.json" and c.audio.suffix == ".wav"
    assert len(read_clips("synthtalk", tmp_path, "all")) == 3
    with pytest.raises(DatasetLayoutError, match="splits present: test, train"):
        read_clips("synthtalk", tmp_path, "judge")
    (tmp_path / "clips/st021#sad#level_1#002.json").write_text("{broken")
    broken = read_clips("synthtalk", tmp_path)[1]  # listed; decoding it fails (that clip alone)
    with pytest.raises(DatasetLayoutError, match="unreadable sidecar"):
        broken.check()
    with pytest.raises(DatasetLayoutError, match="generate it"):
        read_clips("synthtalk", tmp_path / "splits")


def test_upper_case_suffixes_count_and_hidden_files_do_not(tmp_path, place):
    """`.MP4` clips dropped out of the LRW, raw MEAD and VoxCeleb2-tree splits (a case-sensitive glob),
    and macOS `._x.mp4` files became clips."""
    place(tmp_path / "lrw/ABOUT/test/ABOUT_00001.mp4")
    place(tmp_path / "lrw/ABOUT/test/ABOUT_00002.MP4", tmp_path / "lrw/ABOUT/test/ABOUT_00002.WAV")
    place(tmp_path / "lrw/ABOUT/test/._ABOUT_00003.mp4")
    clips = read_clips("lrw", tmp_path / "lrw", "test")
    assert [c.id for c in clips] == ["ABOUT_00001", "ABOUT_00002"]
    assert clips[1].audio.name == "ABOUT_00002.WAV"  # not the mp4's own track
    place(tmp_path / "mead/M003/video/front/angry/level_1/001.mp4")
    place(tmp_path / "mead/M003/video/front/angry/level_1/002.MP4")
    place(tmp_path / "mead/M003/video/front/angry/level_1/._003.mp4")
    assert [c.id for c in read_clips("mead", tmp_path / "mead", "test")] == [
        "M003#angry#level_1#001",
        "M003#angry#level_1#002",
    ]
    place(tmp_path / "vox/test/id00017/01dfn2spqyE/00001.mp4")
    place(tmp_path / "vox/test/id00017/01dfn2spqyE/._00001.mp4")
    place(tmp_path / "vox/test/id00018/abcdefghijk/00001.MP4")
    place(tmp_path / "vox/test/.cache/abcdefghijk/00002.mp4")
    assert [c.id for c in read_clips("voxceleb2", tmp_path / "vox", "test")] == [
        "id00017#01dfn2spqyE#00001",
        "id00018#abcdefghijk#00001",
    ]


@pytest.mark.parametrize(
    "first, second",
    [
        ("hdtf/split_5s_video/RD_Radio1_000#1.mp4", "hdtf/split_5s_video/RD_Radio1_000#1.avi"),
        ("mead/MEAD_front/video/M003#angry#level_1#001.mp4", "mead/MEAD_front/video/M003_ang_1_001.mp4"),
        ("folder/gt/a.mp4", "folder/gt/a.avi"),
        ("folder/pred/a.mp4", "folder/pred/a.mkv"),
    ],
)
def test_two_videos_of_one_clip_are_an_error_naming_both(tmp_path, place, first, second):
    """One of the two was picked silently (in MEAD the EAT-named file won)."""
    place(tmp_path / first)
    place(tmp_path / second)
    if first.startswith("folder/pred"):
        place(tmp_path / "folder/gt/a.mp4")
    dataset = first.split("/")[0]
    with pytest.raises(DatasetLayoutError, match="a second video for clip") as err:
        read_clips(dataset, tmp_path / dataset, "all")
    assert str(tmp_path / first) in str(err.value) and str(tmp_path / second) in str(err.value)


def test_a_split_list_saved_as_utf16_is_read_and_other_bytes_ask_for_utf8(tmp_path, place):
    """Notepad's "Unicode" saves UTF-16 with a BOM: the list was refused with a bare codec error
    ("split list cannot be read ('utf-8' codec can't decode byte 0xff ...)")."""
    for name in ["RD_Radio1_000#1", "RD_Radio1_000#2"]:
        place(tmp_path / "hdtf/split_5s_video" / f"{name}.mp4")
    (tmp_path / "hdtf/lists").mkdir()
    for encoding in ("utf-16", "utf-16-be"):
        text = "RD_Radio1_000#2\r\nRD_Radio1_000#1\r\n"
        data = text.encode(encoding) if encoding == "utf-16" else b"\xfe\xff" + text.encode(encoding)
        (tmp_path / "hdtf/lists/test.txt").write_bytes(data)
        assert [c.id for c in read_clips("hdtf", tmp_path / "hdtf", "test")] == [
            "RD_Radio1_000#2",
            "RD_Radio1_000#1",
        ]
    (tmp_path / "hdtf/lists/test.txt").write_bytes("RD_Radio1_000#1\n".encode("latin-1") + b"caf\xe9\n")
    with pytest.raises(DatasetLayoutError, match="split list is not UTF-8 text .*: save it as UTF-8"):
        read_clips("hdtf", tmp_path / "hdtf", "test")


def test_split_lists_with_bom_spaces_suffixes_and_missing_ids(tmp_path, place, caplog):
    """A byte-order mark dropped the first id (txt) or refused the list (JSON); the folder reader cut
    ids at a space, never matched `clip.mp4`, kept folder order and said nothing of missing ids."""
    for name in ["RD_Radio1_000#1", "RD_Radio1_000#2"]:
        place(tmp_path / "hdtf/split_5s_video" / f"{name}.mp4")
    (tmp_path / "hdtf/lists").mkdir()
    (tmp_path / "hdtf/lists/test.txt").write_bytes("\ufeffRD_Radio1_000#2\r\nRD_Radio1_000#1\r\n".encode())
    assert [c.id for c in read_clips("hdtf", tmp_path / "hdtf", "test")] == [
        "RD_Radio1_000#2",
        "RD_Radio1_000#1",
    ]
    (tmp_path / "hdtf/lists/test.txt").unlink()
    (tmp_path / "hdtf/lists/test.json").write_bytes('\ufeff["RD_Radio1_000#1"]'.encode())
    assert [c.id for c in read_clips("hdtf", tmp_path / "hdtf", "test")] == ["RD_Radio1_000#1"]
    for name in ["clip one", "clip two", "clip3"]:
        place(tmp_path / f"folder/gt/{name}.mp4")
    (tmp_path / "folder/lists").mkdir()
    (tmp_path / "folder/lists/test.txt").write_text("# ours\nclip3.mp4\nclip one\nmissing_clip\n")
    assert [c.id for c in read_clips("folder", tmp_path / "folder", "test")] == ["clip3", "clip one"]
    assert "1 of 3 listed clips are not on disk (first: missing_clip)" in caplog.text


def test_method_folder_follows_symlinked_subfolders_and_skips_hidden_files(tmp_path, place):
    from baselines.adapters import index_folder

    place(tmp_path / "real/M003_ang_1_001/M003_ang_1_001.mp4")
    place(tmp_path / "real/M003_ang_1_001/._M003_ang_1_001.mp4")  # sorted first, it claimed the clip
    (tmp_path / "method").mkdir()
    (tmp_path / "method/outputs").symlink_to(tmp_path / "real")
    (tmp_path / "real/loop").symlink_to(tmp_path / "real")  # a cycle is walked once
    index = index_folder(tmp_path / "method", {"M003#angry#level_1#001"})
    assert index == {"M003#angry#level_1#001": tmp_path / "method/outputs/M003_ang_1_001/M003_ang_1_001.mp4"}
