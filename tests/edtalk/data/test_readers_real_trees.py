"""HDTF, LRW and VoxCeleb2 trees as they ship and as people lay them out: roots one level off, raw
HDTF, VoxCeleb2's mp4/ + aac/ trees, Windows-made split lists, dangling links, missing wavs."""

from __future__ import annotations

import pytest

from edtalk.data.check import check_clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import read_clips


@pytest.fixture
def lrw(tmp_path, place):
    """LRW as ``lrw-v1.tar`` unpacks: ``lipread_mp4/<WORD>/<split>/<WORD>_<n>.mp4`` + ``.txt`` metadata."""
    for word in ("ABOUT", "WORLD"):
        for split in ("train", "val", "test"):
            for n in (1, 2):
                place(tmp_path / f"LRW/lipread_mp4/{word}/{split}/{word}_0000{n}.mp4")
                (tmp_path / f"LRW/lipread_mp4/{word}/{split}/{word}_0000{n}.txt").write_text("Text: X\n")
    return tmp_path / "LRW/lipread_mp4"


@pytest.fixture
def vox(tmp_path, place):
    """VoxCeleb2's ``<split>/mp4/<person>/<video>/<utt>.mp4`` with ``<split>/aac/.../<utt>.m4a``."""
    for split in ("test", "dev"):
        for person in ("id00017", "id00018"):
            video = tmp_path / f"vox/{split}/mp4/{person}/01dfn2spqyE/00001.mp4"
            place(video)
            audio = tmp_path / f"vox/{split}/aac/{person}/01dfn2spqyE/00001.m4a"
            audio.parent.mkdir(parents=True, exist_ok=True)
            audio.write_bytes(video.read_bytes())  # an mp4 container holding AAC, as an m4a is
    return tmp_path / "vox"


@pytest.fixture
def hdtf(tmp_path, place):
    """EDTalk's preprocessed HDTF: raw sources in video/, chunks in split_5s_video|audio/."""
    place(tmp_path / "HDTF/video/RD_Radio1_000.mp4")
    for name in ("RD_Radio1_000#1", "RD_Radio1_000#2"):
        place(tmp_path / f"HDTF/split_5s_video/{name}.mp4", tmp_path / f"HDTF/split_5s_audio/{name}.wav")
    return tmp_path / "HDTF"


@pytest.mark.parametrize("relative", ["..", "ABOUT"])
def test_lrw_root_one_level_off_names_lipread_mp4(lrw, relative):
    """A root one level above ``lipread_mp4`` (or a word folder) was the bare expected tree."""
    assert len(read_clips("lrw", lrw, "test")) == 4
    with pytest.raises(DatasetLayoutError, match=f"{lrw} does: use that folder as the lrw root"):
        read_clips("lrw", (lrw / relative).resolve(), "test")


@pytest.mark.parametrize("relative", ["..", "split_5s_video"])
def test_hdtf_root_one_level_off_names_the_root(hdtf, relative):
    assert [c.id for c in read_clips("hdtf", hdtf, "all")] == ["RD_Radio1_000#1", "RD_Radio1_000#2"]
    with pytest.raises(DatasetLayoutError, match=f"{hdtf} does: use that folder as the hdtf root"):
        read_clips("hdtf", (hdtf / relative).resolve(), "all")


def test_raw_hdtf_names_the_crop_command(tmp_path, place):
    """Unsplit videos (EDTalk's HDTF/video/ before split_HDTF_video.py) got the bare expected tree."""
    place(tmp_path / "HDTF/video/RD_Radio1_000.mp4")
    place(tmp_path / "HDTF/video/WDA_Mr. Smith_000.mp4")
    with pytest.raises(
        DatasetLayoutError, match=r"\(2 others, e.g. video/RD_Radio1_000.mp4\): raw HDTF"
    ) as err:
        read_clips("hdtf", tmp_path / "HDTF", "all")
    assert "python -m edtalk.data.crop dataset --dataset hdtf --root RAW --out CROPPED" in str(err.value)


def test_hdtf_chunks_in_two_folders_are_an_error(hdtf, place):
    """The chunks of video/ were ignored without a word once split_5s_video/ held any."""
    place(hdtf / "video/RD_Radio1_000#3.mp4")
    with pytest.raises(DatasetLayoutError, match=r"split_5s_video/ \(2\) and video/ \(1\): keep one"):
        read_clips("hdtf", hdtf, "all")


@pytest.mark.parametrize("relative, split", [("test", "test"), ("test/mp4", "test"), ("dev", "train")])
def test_voxceleb2_root_one_level_off_names_the_root(vox, relative, split):
    """The split folder, or its mp4/, given as the root got the bare expected tree."""
    with pytest.raises(DatasetLayoutError, match=f"{vox} does: use that folder as the voxceleb2 root"):
        read_clips("voxceleb2", vox / relative, split)


def test_voxceleb2_mp4_and_aac_without_a_split_folder_say_where_they_go(vox):
    (vox / "test").rename(vox / "unpacked")
    for name in ("mp4", "aac"):
        (vox / "unpacked" / name).rename(vox / name)
    with pytest.raises(DatasetLayoutError, match=f"move them to {vox / 'test'}/"):
        read_clips("voxceleb2", vox, "test")


def test_voxceleb2_reads_every_tree_of_the_split(vox, place):
    """A tree beside mp4/ and dev/ beside an (empty) train/ were skipped without a word."""
    place(vox / "test/id00019/5MkXgwdrmJw/00002.mp4")
    clips = read_clips("voxceleb2", vox, "test")
    assert [(c.id, c.identity, c.audio.suffix) for c in clips] == [
        ("id00017#01dfn2spqyE#00001", "id00017", ".m4a"),
        ("id00018#01dfn2spqyE#00001", "id00018", ".m4a"),
        ("id00019#5MkXgwdrmJw#00002", "id00019", ".mp4"),
    ]
    (vox / "train").mkdir()
    assert [c.id for c in read_clips("voxceleb2", vox, "train")] == [
        "id00017#01dfn2spqyE#00001",
        "id00018#01dfn2spqyE#00001",
    ]
    place(vox / "train/id00017#01dfn2spqyE#00001.mp4")  # the same clip in train/ and dev/
    with pytest.raises(DatasetLayoutError, match="a second video for clip 'id00017#01dfn2spqyE#00001'"):
        read_clips("voxceleb2", vox, "train")


def test_split_list_paths_from_windows_and_from_the_tree(vox, lrw, hdtf, caplog):
    """VoxCeleb2 entries under mp4/ became ``mp4#id00017#...`` and ``\\`` paths or ``.MP4`` names were
    never found (logged as not on disk and left out)."""
    (vox / "lists").mkdir()
    (vox / "lists/test.txt").write_bytes(
        b"\xef\xbb\xbf# ours\r\ntest/mp4/id00018/01dfn2spqyE/00001.mp4  \r\n"
        b"\r\nid00017\\01dfn2spqyE\\00001.MP4\r\n"
    )
    assert [c.id for c in read_clips("voxceleb2", vox, "test")] == [
        "id00018#01dfn2spqyE#00001",
        "id00017#01dfn2spqyE#00001",
    ]
    (lrw / "lists").mkdir()
    (lrw / "lists/test.txt").write_text(
        "WORLD\\test\\WORLD_00002.MP4\r\nlipread_mp4/ABOUT/test/ABOUT_00001\r\n"
    )
    assert [c.id for c in read_clips("lrw", lrw, "test")] == ["WORLD_00002", "ABOUT_00001"]
    (hdtf / "lists").mkdir()
    (hdtf / "lists/test.txt").write_text("split_5s_video\\RD_Radio1_000#2.MP4\r\n")
    assert [c.id for c in read_clips("hdtf", hdtf, "test")] == ["RD_Radio1_000#2"]
    assert "not on disk" not in caplog.text


def test_lrw_list_entries_of_another_split_are_not_this_splits_clips(lrw, caplog):
    """``ABOUT/train/ABOUT_00001`` in the test list picked test's ABOUT_00001: another video."""
    (lrw / "lists").mkdir()
    (lrw / "lists/test.txt").write_text("ABOUT/train/ABOUT_00001\nABOUT/test/ABOUT_00002\n")
    (clip,) = read_clips("lrw", lrw, "test")
    assert clip.video == lrw / "ABOUT/test/ABOUT_00002.mp4"
    assert "1 of 2 listed clips are not on disk (first: train/ABOUT_00001)" in caplog.text


def test_voxceleb2_list_of_speakers_says_it_needs_clips(vox):
    """It said "none of the listed VoxCeleb2 clips for 'test' is on disk"; they were."""
    (vox / "lists").mkdir()
    (vox / "lists/test.txt").write_text("id00017\nid00018\n")
    with pytest.raises(DatasetLayoutError, match=r"lists speakers \(id00017, id00018\), not clips"):
        read_clips("voxceleb2", vox, "test")


def test_a_dangling_link_is_a_clip_the_doctor_reports_missing(hdtf):
    """A link to a video on an unmounted disk dropped its clip without a word."""
    (hdtf / "split_5s_video/RD_Radio1_000#3.mp4").symlink_to(hdtf / "gone/RD_Radio1_000#3.mp4")
    (hdtf / "split_5s_video/._RD_Radio1_000#4.mp4").symlink_to(hdtf / "gone/x.mp4")  # hidden: skipped
    clips = read_clips("hdtf", hdtf, "all")
    assert [c.id for c in clips] == ["RD_Radio1_000#1", "RD_Radio1_000#2", "RD_Radio1_000#3"]
    assert [p.kind for p in check_clip(clips[2])] == ["video_missing"]  # once, not as its audio too


def test_a_chunk_without_its_wav_is_named_by_reader_and_doctor(tmp_path, make_clip, caplog):
    """EDTalk's split_HDTF_audio.py writes no wav for a last chunk of 3 s or less: that chunk took its
    mp4's own track silently, and the doctor blamed the mp4 ("sample rate 44100 Hz")."""
    root = tmp_path / "HDTF"
    make_clip(root / "split_5s_video/A_000#1.mp4", root / "split_5s_audio/A_000#1.wav", size=(64, 64))
    make_clip(root / "split_5s_video/A_000#2.mp4", size=(64, 64), embed_audio=True, sample_rate=44100)
    clips = read_clips("hdtf", root, "all")
    assert clips[1].audio == clips[1].video
    assert f"{root / 'split_5s_audio'}: 1 of 2 clips have no audio file" in caplog.text
    assert "(first: A_000#2)" in caplog.text
    (problem,) = check_clip(clips[1])
    assert problem.kind == "sample_rate" and "no audio file found for this clip" in problem.detail
    assert check_clip(clips[0]) == []
