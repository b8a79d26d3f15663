"""A folder's provenance.json names the method, and that name becomes a folder of the results tree
(``<out>/<dataset>/<method>/``): a '/' made nested folders that ``eval.report`` cannot find, and
'../../../escaped' wrote the results and the cache outside ``--out``. Such names are refused."""

import json

import numpy as np
import pytest
import soundfile as sf

from baselines import make_method
from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.video import write_video
from eval.run import main

IDS = ["st000#happy#level_1#001", "st001#happy#level_1#001"]
BAD = ["EAT / v2 (ours)", "../../../escaped", "EAT\\v2", "v1..v2", ".hidden", "EAT\nv2", "EAT\x00"]


def _videos(folder, ids=IDS):
    folder.mkdir(parents=True, exist_ok=True)
    for i, cid in enumerate(ids):
        frames = np.full((8, 32, 32, 3), 40 * i + 20, np.uint8)
        write_video(folder / f"{cid}.mp4", frames, fps=25)


def _method(folder, name):
    _videos(folder)
    (folder / "provenance.json").write_text(json.dumps({"method": name}))
    return make_method(f"folder:{folder}")


@pytest.mark.parametrize("name", BAD)
def test_a_method_name_that_is_not_one_folder_name_is_refused(tmp_path, name):
    m = _method(tmp_path / "out", name)
    clips = [Clip(id=cid, dataset="synthtalk", split="test", video=tmp_path / f"{cid}.mp4") for cid in IDS]
    for call in (lambda: m.prepare(clips), lambda: m.display_name):
        with pytest.raises(DatasetLayoutError) as err:
            call()
        message = str(err.value)
        assert str(tmp_path / "out" / "provenance.json") in message and repr(name) in message
        assert "no '/', '\\' or '..', no leading '.', no control characters" in message
        assert "\n" not in message  # one line, the bad name shown escaped


@pytest.mark.parametrize("name", ["EAT v2 (ours)", "EAT-v2.1", "SadTalker_256+enhancer", "Méthode #2"])
def test_plain_method_names_stay_accepted(tmp_path, name):
    m = _method(tmp_path / "out", name)
    clips = [Clip(id=cid, dataset="synthtalk", split="test", video=tmp_path / f"{cid}.mp4") for cid in IDS]
    m.prepare(clips)
    assert m.display_name == name


def _synthtalk(root):
    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    _videos(root / "clips")
    for cid in IDS:
        sf.write(root / "clips" / f"{cid}.wav", np.zeros(16000 * 8 // 25, np.float32), 16000)
        (root / "clips" / f"{cid}.json").write_text(
            json.dumps({"id": cid, "identity": cid[:5], "emotion": "happy", "level": 1})
        )
    (root / "splits" / "test.txt").write_text("\n".join(IDS) + "\n")


def _run(root, out, method):
    return main(
        ["--dataset", "synthtalk", "--root", str(root), "--method", method, "--protocol", "synthtalk"]
        + ["--out", str(out), "--metrics", "psnr", "--workers", "0", "--quiet"]
    )


def test_eval_run_writes_nothing_outside_out_for_a_bad_provenance_name(tmp_path, capsys):
    root, preds = tmp_path / "synthtalk", tmp_path / "preds"
    _synthtalk(root)
    out = tmp_path / "a" / "b" / "res"  # <out>/synthtalk/../../../escaped is tmp_path/a/escaped
    for name in ("../../../escaped", "EAT / v2 (ours)"):
        _method(preds, name)
        assert _run(root, out, f"folder:{preds}") == 2
        err = capsys.readouterr().err
        assert f"{preds / 'provenance.json'}: method {name!r}" in err
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_dir())
    assert written == ["preds", "synthtalk", "synthtalk/clips", "synthtalk/splits"]  # no results, no cache
    _method(preds, "EAT v2 (ours)")
    assert _run(root, out, f"folder:{preds}") == 0
    assert (out / "synthtalk" / "EAT v2 (ours)" / "synthtalk.json").is_file()


@pytest.mark.parametrize("name", ["GT", "Static", "EDTalk_A"])
def test_one_of_our_method_names_in_another_case_is_refused(tmp_path, name):
    """On a case-insensitive file system (macOS, Windows) ``GT``'s results folder is ``gt``'s: its
    scores replaced the GT row's. The names are compared ignoring case."""
    m = _method(tmp_path / "out", name)
    clips = [Clip(id=cid, dataset="synthtalk", split="test", video=tmp_path / f"{cid}.mp4") for cid in IDS]
    with pytest.raises(DatasetLayoutError, match=f"method '{name}' is the name of this suite's own method '"):
        m.prepare(clips)
