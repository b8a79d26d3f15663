"""synthtalk's split lists and file names are read as the other readers read theirs: a repeated list
line, a list entry with a video suffix, an upper-case ``.MP4`` and a list that names nothing on disk."""

from __future__ import annotations

import json

import pytest

from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import read_clips

IDS = ["st020#happy#level_2#001", "st021#sad#level_1#002", "st022#angry#level_3#001"]


@pytest.fixture
def tree(tmp_path, place):
    (tmp_path / "splits").mkdir()
    for clip_id in IDS:
        place(tmp_path / "clips" / f"{clip_id}.mp4", tmp_path / "clips" / f"{clip_id}.wav")
        identity, emotion, level, _ = clip_id.split("#")
        meta = {"id": clip_id, "identity": identity, "emotion": emotion, "level": int(level[-1])}
        (tmp_path / "clips" / f"{clip_id}.json").write_text(json.dumps(meta))
    return tmp_path


def _write_list(root, *lines):
    (root / "splits" / "test.txt").write_text("".join(f"{line}\n" for line in lines))


def test_a_repeated_list_line_counts_once(tree):
    """Before: 'duplicate clip ids in split 'test' (one video per clip id ...)' naming the same file
    twice, from eval.run, although there was one file."""
    _write_list(tree, IDS[0], IDS[1], IDS[0])
    clips = read_clips("synthtalk", tree)
    assert [c.id for c in clips] == IDS[:2]


def test_list_entries_with_a_video_suffix_name_their_clip(tree):
    """Before: every clip failed with '<id>.mp4.json: missing sidecar JSON'."""
    _write_list(tree, f"{IDS[1]}.mp4", f"clips/{IDS[0]}.MP4", IDS[2])
    clips = read_clips("synthtalk", tree)
    assert [c.id for c in clips] == [IDS[1], IDS[0], IDS[2]]
    assert all(c.problem is None for c in clips) and clips[0].sidecar == tree / "clips" / f"{IDS[1]}.json"


def test_an_upper_case_video_suffix_is_a_clip(tree):
    """Before: the reader assumed '<id>.mp4', and '<id>.MP4' failed with 'missing: no such file'."""
    (tree / "clips" / f"{IDS[1]}.mp4").rename(tree / "clips" / f"{IDS[1]}.MP4")
    (tree / "clips" / f"{IDS[1]}.wav").rename(tree / "clips" / f"{IDS[1]}.WAV")
    _write_list(tree, *IDS)
    clip = read_clips("synthtalk", tree)[1]
    assert clip.video == tree / "clips" / f"{IDS[1]}.MP4" and clip.video.is_file()
    assert clip.audio == tree / "clips" / f"{IDS[1]}.WAV"
    assert [c.id for c in read_clips("synthtalk", tree, "all")] == sorted(IDS)


def test_a_list_naming_nothing_on_disk_is_a_layout_error(tree, caplog):
    """Before: one per-clip failure ('missing sidecar JSON') for each listed clip, where the other
    readers say that none of the listed clips is on disk."""
    _write_list(tree, "st099#fear#level_1#001", "st098#fear#level_1#001")
    with pytest.raises(
        DatasetLayoutError, match=r"test.txt: none of the listed synthtalk clips for 'test' is on"
    ):
        read_clips("synthtalk", tree)
    _write_list(tree, IDS[0], "st099#fear#level_1#001")  # some listed clips missing: warned, left out
    assert [c.id for c in read_clips("synthtalk", tree)] == [IDS[0]]
    assert "1 of 2 listed clips are not on disk (first: st099#fear#level_1#001)" in caplog.text
    _write_list(tree, "# nothing listed")
    with pytest.raises(DatasetLayoutError, match=r"test.txt: lists no synthtalk clip ids for split 'test'"):
        read_clips("synthtalk", tree)
