"""The dataset doctor: one good clip and one clip per kind of problem, reasons and exit codes.
Clips are 64 px a side, the smallest the doctor passes (``MIN_IMAGE_SIDE``)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from edtalk.data.check import check_clip, main
from edtalk.data.readers import read_clips

GOOD = "M003#angry#level_1#001"
EXPECTED_KINDS = {
    "M003#angry#level_1#002": {"video_truncated"},
    "M003#angry#level_1#003": {"fps"},
    "M003#angry#level_1#004": {"sample_rate"},
    "M003#angry#level_1#005": {"audio_missing"},
    "M003#angry#level_1#006": {"not_square"},
    "M003#angry#level_1#007": {"length_mismatch"},
    "M003#angry#level_1#008": {"audio_empty"},
    "M003#angry#level_1#009": {"too_short"},  # passed the doctor, then eval.run failed it
    "M003#angry#level_1#010": {"too_small"},  # 16 x 16 px passed the doctor
}
SIDE = (64, 64)


def _paths(root, clip_id):
    return root / "MEAD_front/video" / f"{clip_id}.mp4", root / "MEAD_front/audio" / f"{clip_id}.wav"


@pytest.fixture
def doctor_tree(tmp_path, make_clip):
    make_clip(*_paths(tmp_path, GOOD), size=SIDE)
    video, wav = _paths(tmp_path, "M003#angry#level_1#002")
    make_clip(video, wav, n_frames=25, size=SIDE)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])  # truncated: cut in half
    make_clip(*_paths(tmp_path, "M003#angry#level_1#003"), fps=30.0, size=SIDE)
    make_clip(*_paths(tmp_path, "M003#angry#level_1#004"), sample_rate=22050, size=SIDE)
    make_clip(_paths(tmp_path, "M003#angry#level_1#005")[0], None, size=SIDE)  # no wav, silent mp4
    make_clip(*_paths(tmp_path, "M003#angry#level_1#006"), size=(64, 96))
    make_clip(*_paths(tmp_path, "M003#angry#level_1#007"), audio_seconds=1.0, size=SIDE)
    video, wav = _paths(tmp_path, "M003#angry#level_1#008")
    make_clip(video, None, size=SIDE)
    sf.write(wav, np.zeros(0, np.float32), 16000)
    make_clip(*_paths(tmp_path, "M003#angry#level_1#009"), n_frames=2, size=SIDE)
    make_clip(*_paths(tmp_path, "M003#angry#level_1#010"), size=(16, 16))
    return tmp_path


def _run(argv):
    buffer = io.StringIO()
    code = main(argv, console=Console(file=buffer, width=250, force_terminal=False))
    return code, buffer.getvalue()


def test_each_bad_clip_gets_its_reason(doctor_tree):
    by_clip = {c.id: {p.kind for p in check_clip(c)} for c in read_clips("mead", doctor_tree)}
    assert by_clip[GOOD] == set()
    for clip_id, kinds in EXPECTED_KINDS.items():
        assert by_clip[clip_id] == kinds, clip_id


def test_details_name_the_numbers(doctor_tree):
    clips = {c.id: c for c in read_clips("mead", doctor_tree)}
    (fps,) = check_clip(clips["M003#angry#level_1#003"])
    assert "30 fps" in fps.detail and fps.path.endswith("#003.mp4")
    (rate,) = check_clip(clips["M003#angry#level_1#004"])
    assert "22050" in rate.detail and rate.path.endswith("#004.wav")
    (gap,) = check_clip(clips["M003#angry#level_1#007"])
    assert "1.000 s" in gap.detail and "0.320 s" in gap.detail
    (missing,) = check_clip(clips["M003#angry#level_1#005"])
    assert "no audio file" in missing.detail
    assert "the frames-only stages train on it" in missing.detail  # a silent crop is not unusable
    (small,) = check_clip(clips["M003#angry#level_1#010"])
    assert small.detail == "frames are 16x16 (W x H): under the 64 px a side inference needs"


def test_cli_reports_every_file_and_exits_1(doctor_tree, tmp_path):
    report = tmp_path / "report.json"
    code, out = _run(["--dataset", "mead", "--root", str(doctor_tree), "--json", str(report)])
    assert code == 1
    for clip_id, kinds in EXPECTED_KINDS.items():
        assert clip_id in out and all(kind in out for kind in kinds)
    assert "clips checked" in out and "10" in out and "clips with problems" in out
    assert "python -m edtalk.data.crop dataset --dataset mead|hdtf" in " ".join(out.split())  # not square
    import json

    payload = json.loads(report.read_text())
    assert payload["clips"] == 10 and len({p["clip"] for p in payload["problems"]}) == 9


def test_clean_dataset_exits_0(tmp_path, make_clip):
    make_clip(*_paths(tmp_path, GOOD), size=SIDE)
    code, out = _run(["--dataset", "mead", "--root", str(tmp_path)])
    assert code == 0 and "all clips OK" in out and "edtalk.data.crop" not in out


def test_folder_mode_checks_generated_videos(tmp_path, make_clip):
    for stem in "abc":
        make_clip(tmp_path / f"gt/{stem}.mp4", tmp_path / f"gt/{stem}.wav", size=SIDE)
    make_clip(tmp_path / "pred/a.mp4", size=SIDE)
    make_clip(tmp_path / "pred/b.mp4", n_frames=25, size=SIDE)
    data = (tmp_path / "pred/b.mp4").read_bytes()
    (tmp_path / "pred/b.mp4").write_bytes(data[: len(data) // 2])
    code, out = _run(["--dataset", "folder", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")])
    assert code == 1
    assert "pred_truncated" in out and "pred_missing" in out
    assert "a.mp4" not in out.split("Problems per file")[1].split("Summary")[0]  # the good pair is clean


def test_a_dataset_it_cannot_read_is_a_usage_error_not_a_clip_problem(tmp_path, make_clip, capsys):
    """A missing root or an unknown split exited 1, the status of clips with problems, where eval.run,
    edtalk.train and the sweeps exit 2 with an `error:` line for the same mistakes."""
    code, out = _run(["--dataset", "hdtf", "--root", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {tmp_path / 'missing'}: ") and "Traceback" not in out + err
    make_clip(*_paths(tmp_path, GOOD), size=SIDE)
    code, out = _run(["--dataset", "mead", "--root", str(tmp_path), "--split", "tset"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "tset" in err and "checking" not in out
    with pytest.raises(SystemExit) as info:
        main(["--dataset", "nope", "--root", str(tmp_path)])
    assert info.value.code == 2


def test_frame_rate_hints_tell_ground_truth_from_generated_videos(tmp_path, make_clip):
    """Generated videos at 30 fps were sent to `edtalk.data.crop dataset` (the ground truth's fix); a
    method's output needs resampling to 25 fps, as eval.run says."""
    make_clip(tmp_path / "gt/a.mp4", tmp_path / "gt/a.wav", size=SIDE)
    make_clip(tmp_path / "pred/a.mp4", fps=30.0, size=SIDE)
    code, out = _run(["--dataset", "folder", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")])
    out = " ".join(out.split())
    assert code == 1 and "fps" in out
    assert "edtalk.data.crop" not in out
    assert "generated videos not at the GT's 25 fps: resample them" in out and "-vf fps=25" in out
    make_clip(tmp_path / "gt/a.mp4", tmp_path / "gt/a.wav", fps=30.0, size=SIDE)
    make_clip(tmp_path / "pred/a.mp4", size=SIDE)
    code, out = _run(["--dataset", "folder", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")])
    out = " ".join(out.split())
    assert code == 1 and "python -m edtalk.data.crop dataset --dataset mead|hdtf|folder" in out
    assert "resample them" not in out
