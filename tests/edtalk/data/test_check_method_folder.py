"""The doctor on a method's output folder (``--method folder:DIR``): its videos are matched to the split's
clips as ``eval.run --method folder:DIR`` matches them. The stem pairing of ``--dataset folder --gt
--pred`` reported clips that eval.run scored (through name_map, ``%23`` or EAT's names) as pred_missing."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from edtalk.data.check import main

IDS = [f"M003#angry#level_1#00{k}" for k in (1, 2, 3, 4)]
SIDE = (64, 64)


def _run(argv):
    buffer = io.StringIO()
    code = main(argv, console=Console(file=buffer, width=250, force_terminal=False))
    return code, " ".join(buffer.getvalue().split())


def _mead_with_method_folder(root, make_clip, ids=IDS):
    """GT clips of ``ids`` in a MEAD tree, and a method's folder naming them in three ways."""
    for cid in ids:
        make_clip(
            root / "MEAD_front/video" / f"{cid}.mp4", root / "MEAD_front/audio" / f"{cid}.wav", size=SIDE
        )
    out = root / "mine"
    make_clip(out / "M003_ang_1_001.mp4", size=SIDE)  # EAT's spelling
    make_clip(out / "M003%23angry%23level_1%23002.mp4", size=SIDE)  # our cache spelling
    make_clip(out / "take3.mp4", size=SIDE)  # named in name_map
    (out / "provenance.json").write_text(json.dumps({"method": "mine", "name_map": {"take3": ids[2]}}))
    return out


def test_a_method_folder_is_matched_as_eval_run_matches_it(tmp_path, make_clip):
    out = _mead_with_method_folder(tmp_path, make_clip, IDS[:3])
    code, text = _run(["--dataset", "mead", "--root", str(tmp_path), "--method", f"folder:{out}"])
    assert code == 0 and "all clips OK" in text and "checking 3 mead clips" in text


def test_a_clip_without_a_video_is_named_with_how_to_name_it(tmp_path, make_clip):
    out = _mead_with_method_folder(tmp_path, make_clip)
    make_clip(out / "take3.mp4", size=(64, 96))  # the doctor checks the matched video itself
    report = tmp_path / "doctor.json"
    argv = ["--dataset", "mead", "--root", str(tmp_path), "--method", f"folder:{out}"]
    code, _ = _run([*argv, "--json", str(report)])
    problems = json.loads(report.read_text())["problems"]
    assert code == 1 and {(p["clip"], p["kind"]) for p in problems} == {
        (IDS[2], "not_square"),
        (IDS[3], "pred_missing"),
    }
    missing = next(p for p in problems if p["kind"] == "pred_missing")["detail"]
    assert missing.startswith(f"no video for this clip in {out} (name it {IDS[3]}.mp4, or map its file name")
    code, text = _run([*argv, "--limit", "2"])
    assert code == 0 and "checking 2 mead clips" in text  # the videos of clips past --limit are not unmatched


def test_method_usage_errors_exit_2(tmp_path, make_clip, capsys):
    _mead_with_method_folder(tmp_path, make_clip)
    code, _ = _run(["--dataset", "mead", "--root", str(tmp_path), "--method", f"folder:{tmp_path / 'nope'}"])
    assert code == 2 and "method output folder does not exist" in capsys.readouterr().err
    code, _ = _run(["--dataset", "mead", "--root", str(tmp_path), "--method", "folder:"])
    assert code == 2 and "the folder method needs a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        _run(["--dataset", "mead", "--root", str(tmp_path), "--method", "edtalk_a"])
    assert stop.value.code == 2 and "--method takes folder:DIR" in capsys.readouterr().err
