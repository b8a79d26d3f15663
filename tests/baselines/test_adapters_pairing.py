"""``folder:DIR`` on other tools' own output naming: each video paired with its clip or refused by name
(SadTalker's ``<image>##<audio>[_full|_enhanced]``, per-emotion subfolders, Wav2Lip's result_voice.mp4),
and a bad provenance.json as one error, not a traceback."""

import json
import logging

import numpy as np
import pytest

from baselines import make_method
from baselines.adapters import index_folder
from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.video import write_video
from eval.run_checks import UsageError

IDS = ["clip_1", "clip_10", "clip_2"]
MEAD = "M003#angry#level_1#001"


def _video(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.zeros((3, 16, 16, 3), np.uint8), fps=25)


def _folder(root, names, provenance=None):
    for name in names:
        _video(root / name)
    if provenance is not None:
        data = provenance if isinstance(provenance, bytes) else json.dumps(provenance).encode()
        (root / "provenance.json").write_bytes(data)
    return root


def _clips(ids=IDS):
    return [
        Clip(id=i, dataset="folder", split="test", video=f"/gt/{i}.mp4", extra={"pred": None}) for i in ids
    ]


def test_sadtalker_names_pair_by_their_audio(tmp_path):
    out = _folder(
        tmp_path / "sad",
        [
            "clip_1##clip_1.mp4",
            "clip_10##clip_10.mp4",
            "frame0##clip_2_enhanced.mp4",
            "run/M003_ang_1_001##M003_ang_1_001_full.mp4",
        ],
    )
    assert index_folder(out, {*IDS, MEAD}) == {
        "clip_1": out / "clip_1##clip_1.mp4",
        "clip_10": out / "clip_10##clip_10.mp4",
        "clip_2": out / "frame0##clip_2_enhanced.mp4",
        MEAD: out / "run/M003_ang_1_001##M003_ang_1_001_full.mp4",
    }


@pytest.mark.parametrize("other", ["clip_1##clip_1_full.mp4", "clip_1##clip_1_enhanced.mp4"])
def test_two_sadtalker_variants_of_one_clip_are_an_error_naming_both(tmp_path, other):
    out = _folder(tmp_path / "sad", ["clip_1##clip_1.mp4", other])
    with pytest.raises(DatasetLayoutError, match="second video for clip 'clip_1'") as err:
        index_folder(out, set(IDS))
    assert "clip_1##clip_1.mp4" in str(err.value) and other in str(err.value)


def test_sadtalker_image_of_another_clip_is_refused_unless_mapped(tmp_path):
    out = _folder(tmp_path / "sad", ["clip_1##clip_10.mp4"])
    with pytest.raises(DatasetLayoutError, match="image names clip 'clip_1' and its audio clip 'clip_10'"):
        index_folder(out, set(IDS))
    (out / "provenance.json").write_text(json.dumps({"name_map": {"clip_1##clip_10": "clip_1"}}))
    assert index_folder(out, set(IDS)) == {"clip_1": out / "clip_1##clip_10.mp4"}


def test_one_clip_in_two_subfolders_suggests_one_folder_each(tmp_path):
    out = _folder(tmp_path / "eat", ["happy/clip_1.mp4", "sad/clip_1.mp4", "clip_2.mp4"])
    with pytest.raises(DatasetLayoutError, match="--method folder:SUBFOLDER") as err:
        make_method(f"folder:{out}").prepare(_clips())
    assert "happy/clip_1.mp4" in str(err.value) and "sad/clip_1.mp4" in str(err.value)


def test_videos_matching_no_clip_are_named_in_a_warning(tmp_path, caplog):
    out = _folder(tmp_path / "w2l", ["clip_1.mp4", "clip_3.mp4", "clip_2/result_voice.mp4", "timestamp.mp4"])
    with caplog.at_level(logging.WARNING, logger="baselines.adapters"):
        index = index_folder(out, set(IDS))
    assert index == {"clip_1": out / "clip_1.mp4", "clip_2": out / "clip_2/result_voice.mp4"}
    assert (
        "2 videos match none of the 3 clips and are ignored (first: clip_3.mp4, timestamp.mp4)" in caplog.text
    )


def test_name_map_by_file_name_is_not_bypassed(tmp_path):
    # the key "clip_1.mp4" was never looked up: the file was scored as clip_1, not the mapped clip_2
    out = _folder(tmp_path / "m", ["clip_1.mp4"], {"name_map": {"clip_1.mp4": "clip_2"}})
    assert index_folder(out, set(IDS)) == {"clip_2": out / "clip_1.mp4"}


@pytest.mark.parametrize(
    "provenance, problem",
    [
        ({"name_map": ["clip_1"]}, "name_map must be a JSON object"),
        ({"name_map": "clip_1"}, "name_map must be a JSON object"),
        ({"name_map": {"clip_1": 2}}, "name_map must be a JSON object"),
        ({"method": {"name": "EAT"}}, "method must be a JSON string"),
        ({"method": True}, "method must be a JSON string"),
        ({"method": "  "}, "method '  ' is blank"),
        ('{"method": "M\xe9thode"}'.encode("latin-1"), "is not UTF-8 text"),
    ],
)
def test_a_bad_provenance_json_is_one_error_naming_it(tmp_path, provenance, problem):
    out = _folder(tmp_path / "p", ["clip_1.mp4"], provenance)
    with pytest.raises(DatasetLayoutError, match=problem) as err:
        make_method(f"folder:{out}").prepare(_clips())
    assert str(out / "provenance.json") in str(err.value)


def test_provenance_json_saved_with_a_bom_reads(tmp_path):
    out = _folder(tmp_path / "p", ["clip_1.mp4"], '\ufeff{"method": "SadTalker"}'.encode())
    m = make_method(f"folder:{out}")
    m.prepare(_clips())
    assert m.display_name == "SadTalker"


def test_bad_provenance_is_exit_2_with_one_line(tmp_path, capsys):
    from eval.run import main

    gt = _folder(tmp_path / "gt", ["clip_1.mp4"])
    out = _folder(tmp_path / "sad", ["clip_1.mp4"], {"name_map": ["clip_1"]})
    args = ["--dataset", "folder", "--root", str(gt), "--method", f"folder:{out}", "--protocol", "canonical"]
    assert main(args + ["--metrics", "psnr", "--workers", "0", "--quiet", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"error: {out / 'provenance.json'}: name_map must be a JSON object" in err
    assert "Traceback" not in err


def test_paired_is_refused_for_clips_not_from_the_folder_reader():
    mead = [Clip(id=MEAD, dataset="mead", split="test", video="/gt/a.mp4")]
    with pytest.raises(UsageError, match="--method paired scores the pairs of --dataset folder"):
        make_method("paired").prepare(mead)
    make_method("paired").prepare(_clips())  # --gt/--pred pairs (a missing prediction is None)


def test_a_video_file_given_as_the_folder_is_named_a_file(tmp_path):
    _video(tmp_path / "result_voice.mp4")
    with pytest.raises(DatasetLayoutError, match="method output folder is a file: name the folder"):
        make_method(f"folder:{tmp_path / 'result_voice.mp4'}").prepare(_clips())


def test_names_saved_on_macos_pair_with_clip_ids_typed_elsewhere(tmp_path):
    """A method's videos saved on macOS carry decomposed names (NFD: "e" + combining diaeresis); the
    clip ids of a folder dataset read on Linux are composed (NFC). They used to match no clip."""
    nfc, nfd = "Zo\u00eb_1", "Zoe\u0308_1"
    out = _folder(tmp_path / "mac", [f"{nfd}.mp4", "clip_1.mp4"])
    assert index_folder(out, {nfc, "clip_1"}) == {nfc: out / f"{nfd}.mp4", "clip_1": out / "clip_1.mp4"}
    mapped = _folder(tmp_path / "mapped", ["take 1.mp4"], {"name_map": {"take 1": nfd}})
    assert index_folder(mapped, {nfc}) == {nfc: mapped / "take 1.mp4"}  # a name_map value from macOS
    method = make_method(f"folder:{out}")
    method.prepare(_clips([nfc, "clip_1"]))
    assert method.prediction_path(_clips([nfc])[0], tmp_path) == out / f"{nfd}.mp4"


def test_candidate_ids_go_from_the_file_name_to_sadtalkers_audio_to_the_folder(tmp_path):
    """Most specific first: the file's own stem, then SadTalker's audio name (less _full/_enhanced), then
    EAT's folder name; a SadTalker file kept in a folder named after another clip is its audio's clip
    (a mutation review swapped the last two unnoticed)."""
    from baselines.adapters import candidate_ids

    video = tmp_path / "clip_b" / "face##clip_a_full.mp4"
    ids = candidate_ids(video, tmp_path)
    order = [ids.index(i) for i in ("face##clip_a_full", "clip_a_full", "clip_a", "clip_b")]
    assert order == sorted(order)
