"""One synthtalk clip's missing or malformed sidecar JSON stopped the whole ``python -m eval.run``
(exit 2, no clip scored): the reader raised for the split. The clip is now listed with the reader's
error (``Clip.problem``), and decoding it raises that error: eval.run fails that clip alone, the
training frame cache leaves it out with a warning (as a clip whose video is missing), the expert
decoders refuse it, and the dataset doctor reports it."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import read_clips
from edtalk.data.video import write_video

IDS = ["st000#happy#level_1#001", "st001#angry#level_3#001", "st002#sad#level_2#001"]
MISSING, BAD_LEVEL, GOOD = IDS


def _synthtalk(root: Path) -> Path:
    """Three clips; the first has no sidecar, the second a sidecar with level "high"."""
    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    for i, cid in enumerate(IDS):
        frames = np.full((8, 64, 64, 3), 40 * i + 20, np.uint8)
        write_video(root / "clips" / f"{cid}.mp4", frames, fps=25)
        sf.write(root / "clips" / f"{cid}.wav", np.zeros(16000 * 8 // 25, np.float32), 16000)
        identity, emotion, level, _ = cid.split("#")
        meta = {"id": cid, "identity": identity, "emotion": emotion, "level": int(level[-1])}
        (root / "clips" / f"{cid}.json").write_text(json.dumps(meta))
    (root / "splits" / "test.txt").write_text("\n".join(IDS) + "\n")
    (root / "clips" / f"{MISSING}.json").unlink()
    (root / "clips" / f"{BAD_LEVEL}.json").write_text(json.dumps({"identity": "st001", "level": "high"}))
    return root


def test_the_reader_lists_a_clip_with_a_bad_sidecar_and_decoding_it_raises(tmp_path):
    root = _synthtalk(tmp_path / "st")
    clips = {c.id: c for c in read_clips("synthtalk", root, "test")}
    assert list(clips) == IDS
    missing, bad, good = clips[MISSING], clips[BAD_LEVEL], clips[GOOD]
    good.check()
    assert good.problem is None and (good.identity, good.emotion, good.level) == ("st002", "sad", 2)
    for clip, message in (
        (missing, "missing sidecar JSON for a listed synthtalk clip"),
        (bad, "sidecar 'level' must be 1..3, got 'high'"),
    ):
        for copy in (clip, pickle.loads(pickle.dumps(clip))):  # as a Ray worker receives it
            with pytest.raises(DatasetLayoutError) as err:
                copy.check()
            assert str(err.value) == f"{root / 'clips' / clip.id}.json: {message}"
    # what the id spells: the person stays known (the guard that keeps test people out of training)
    assert (missing.identity, missing.emotion, missing.level) == ("st000", "happy", 1)
    assert (bad.identity, bad.emotion, bad.level) == ("st001", "angry", 3)
    # the dataset's own layout is still checked up front
    with pytest.raises(DatasetLayoutError, match="no split list for 'train'"):
        read_clips("synthtalk", root, "train")


def test_eval_run_fails_only_the_clips_with_a_bad_sidecar(tmp_path, capsys):
    from eval.results import read_results
    from eval.run import main

    root = _synthtalk(tmp_path / "st")
    argv = ["--dataset", "synthtalk", "--root", str(root), "--method", "gt", "--protocol", "synthtalk"]
    argv += ["--metrics", "psnr", "--workers", "0", "--quiet", "--out", str(tmp_path / "res")]
    assert main(argv) == 1  # some clips failed (0 with --allow-failures), not 2: the run went on
    data = read_results(tmp_path / "res/synthtalk/gt/synthtalk.json")
    assert data["n_clips"] == 3 and data["metrics"]["psnr"]["n_clips"] == 1
    assert [(f["clip"], f["metric"], f["reason"]) for f in data["failures"]] == [
        (MISSING, None, f"{root}/clips/{MISSING}.json: missing sidecar JSON for a listed synthtalk clip"),
        (BAD_LEVEL, None, f"{root}/clips/{BAD_LEVEL}.json: sidecar 'level' must be 1..3, got 'high'"),
    ]


def test_training_leaves_a_clip_with_a_bad_sidecar_out_and_the_experts_refuse_it(tmp_path, capsys):
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.experts.data import decode_clips
    from edtalk.experts.testing import make_fixture_dataset

    root = make_fixture_dataset(tmp_path / "st", n_clips=2, n_frames=6, size=32)
    clips = read_clips("synthtalk", root, "train")
    bad = clips[1]
    Path(bad.sidecar).write_text("[1, 2]")
    clips = read_clips("synthtalk", root, "train")
    cache = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "cache", progress=False))
    assert cache.clip_ids == [c.id for c in clips if c.id != bad.id]
    assert cache.skipped == ((bad.id, f"{bad.sidecar}: sidecar JSON must be an object"),)
    assert f"1 of {len(clips)} training clips cannot be used" in capsys.readouterr().err
    with pytest.raises(DatasetLayoutError, match="sidecar JSON must be an object"):
        decode_clips(clips)


def test_the_doctor_reports_a_bad_sidecar(tmp_path):
    from edtalk.data.check import check_clip

    root = _synthtalk(tmp_path / "st")
    by_clip = {c.id: check_clip(c) for c in read_clips("synthtalk", root, "test")}
    assert [(p.kind, p.path, p.detail) for p in by_clip[MISSING]] == [
        ("metadata", f"{root}/clips/{MISSING}.json", "missing sidecar JSON for a listed synthtalk clip")
    ]
    assert [p.kind for p in by_clip[BAD_LEVEL]] == ["metadata"]
