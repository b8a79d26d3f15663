"""``folder:DIR`` adapter: EAT -> MEAD name mapping, provenance, pairing errors."""

import json

import numpy as np
import pytest

from baselines import make_method
from baselines.adapters import candidate_ids, index_folder
from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.video import write_video

MEAD = ["M003#angry#level_1#001", "W015#neutral#level_1#012", "M030#surprised#level_3#020"]


def _video(path):
    write_video(path, np.zeros((3, 16, 16, 3), np.uint8), fps=25)


def _clips(tmp_path):
    return [Clip(id=i, dataset="mead", split="test", video=tmp_path / f"{i}.mp4") for i in MEAD]


def test_eat_names_map_to_mead_ids(tmp_path):
    assert "M003#angry#level_1#001" in candidate_ids(tmp_path / "M003_ang_1_001.mp4", tmp_path)
    out = tmp_path / "eat"
    out.mkdir()
    _video(out / "M003_ang_1_001.mp4")  # EAT's flat spelling
    (out / "W015_neu_1_012").mkdir()
    _video(out / "W015_neu_1_012" / "result.mp4")  # EAT nests a clip in a folder of its name
    _video(out / "M030#surprised#level_3#020.mp4")  # already our id
    _video(out / "unrelated.mp4")
    index = index_folder(out, set(MEAD))
    assert index == {
        "M003#angry#level_1#001": out / "M003_ang_1_001.mp4",
        "W015#neutral#level_1#012": out / "W015_neu_1_012" / "result.mp4",
        "M030#surprised#level_3#020": out / "M030#surprised#level_3#020.mp4",
    }


def test_folder_method_provenance_and_missing_clips(tmp_path):
    out = tmp_path / "eat_out"
    out.mkdir()
    _video(out / "M003_ang_1_001.mp4")
    prov = {
        "method": "EAT",
        "version": "95beccb",
        "checkpoint": "deepprompt_eam3d_all_final_313",
        "resolution": 256,
    }
    (out / "provenance.json").write_text(json.dumps(prov))
    m = make_method(f"folder:{out}")
    clips = _clips(tmp_path)
    m.prepare(clips)
    assert m.display_name == "EAT"
    assert m.prediction_path(clips[0], tmp_path) == out / "M003_ang_1_001.mp4"
    assert m.prediction_path(clips[1], tmp_path) is None  # recorded as a failure by the runner
    p = m.provenance()
    assert p["reported"]["checkpoint"] == "deepprompt_eam3d_all_final_313" and p["resolution"] == [16, 16]
    assert p["folder"] == str(out.resolve())


def test_name_map_and_errors(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _video(out / "clip7.mp4")
    (out / "provenance.json").write_text(json.dumps({"name_map": {"clip7": MEAD[2]}}))
    assert index_folder(out, set(MEAD)) == {MEAD[2]: out / "clip7.mp4"}
    _video(out / "M030_sur_3_020.mp4")  # a second file for the same clip
    with pytest.raises(DatasetLayoutError, match="second video"):
        index_folder(out, set(MEAD))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match="no video matches"):
        make_method(f"folder:{empty}").prepare(_clips(tmp_path))
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        make_method(f"folder:{tmp_path / 'nope'}").prepare(_clips(tmp_path))


def test_paired_method_uses_the_folder_reader_pairing(tmp_path):
    m = make_method("paired")
    clip = Clip(
        id="a",
        dataset="folder",
        split="test",
        video=tmp_path / "gt/a.mp4",
        extra={"pred": tmp_path / "p/a.mp4"},
    )
    assert m.prediction_path(clip, tmp_path) == tmp_path / "p/a.mp4"
    assert (
        m.prediction_path(Clip(id="b", dataset="folder", split="test", video=tmp_path / "b.mp4"), tmp_path)
        is None
    )
