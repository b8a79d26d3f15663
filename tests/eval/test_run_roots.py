"""``python -m eval.run`` and the dataset root: the same files however ``--root`` is spelled, and
``--dataset folder --root`` pairs (their prediction folder, two pairs in one ``--out``)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.video import write_video
from eval.results import read_results
from eval.run import main

FAST = ["--metrics", "psnr,ssim,l1", "--workers", "0", "--quiet"]


def frames_of(i: int, t: int = 10, size: int = 48) -> np.ndarray:
    """A moving colour pattern, different per clip."""
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack(
        [
            np.stack([(xx * 3 + k * 9 + i * 40) % 256, (yy * 2 + k * 3) % 256, (xx + yy) % 256], -1)
            for k in range(t)
        ]
    ).astype(np.uint8)


@pytest.fixture
def synth(tmp_path):
    """A minimal synthtalk tree under tmp_path/data/synthtalk: clips/<id>.mp4|wav|json + splits/test.txt."""
    root = tmp_path / "data" / "synthtalk"
    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    ids = [f"st{i:03d}#happy#level_1#001" for i in range(3)]
    for i, cid in enumerate(ids):
        audio = (0.1 * np.sin(np.arange(16000 * 10 // 25) * 0.05)).astype(np.float32)
        write_video(root / "clips" / f"{cid}.mp4", frames_of(i), fps=25, audio=audio)
        sf.write(root / "clips" / f"{cid}.wav", audio, 16000)
        (root / "clips" / f"{cid}.json").write_text(json.dumps({"id": cid, "identity": f"st{i:03d}"}))
    (root / "splits" / "test.txt").write_text("\n".join(ids) + "\n")
    return root, ids


def run_static(root, out) -> int:
    argv = ["--dataset", "synthtalk", "--root", str(root), "--method", "static", "--protocol", "synthtalk"]
    return main([*argv, "--out", str(out), *FAST])


def test_a_rerun_with_another_spelling_of_the_root_resumes_from_the_cache(
    synth, tmp_path, monkeypatch, capsys
):
    """--root data/synthtalk after --root /abs/data/synthtalk (or through a symlink, or after moving the
    dataset) said "3 generated videos were made from other GT files; regenerating" and scored every
    clip again ("0 clips from the cache"): the cache and the generation stamps held paths as given."""
    root, ids = synth
    out = tmp_path / "res"
    assert run_static(root, out) == 0
    videos = sorted((out / "synthtalk/static/videos").glob("*.mp4"))
    made = [v.stat().st_mtime_ns for v in videos]
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    os.rename(tmp_path / "data", tmp_path / "moved")  # mv keeps the files' times
    (tmp_path / "link").symlink_to(tmp_path / "moved" / "synthtalk")
    for spelling in (Path("link"), Path("moved/synthtalk"), tmp_path / "moved" / "synthtalk"):
        assert run_static(spelling, Path("res")) == 0, spelling
        console = capsys.readouterr().out
        assert "3 clips from the cache" in console and "regenerating" not in console, spelling
        assert [v.stat().st_mtime_ns for v in videos] == made  # the generated videos were kept
    sf.write(tmp_path / "moved/synthtalk/clips" / f"{ids[1]}.wav", np.zeros(6400, np.float32), 16000)
    assert run_static(Path("link"), Path("res")) == 0  # a changed file is still seen
    console = capsys.readouterr().out
    assert (
        "1 generated videos were made from other GT files" in console and "2 clips from the cache" in console
    )


def make_pair(root: Path, names=("a", "b", "c"), preds=("a", "b", "c")) -> Path:
    """A --dataset folder root: gt/<name>.mp4 and pred/<name>.mp4 for the names in ``preds``."""
    for i, name in enumerate(names):
        write_video(root / "gt" / f"{name}.mp4", frames_of(i), fps=25)
        if name in preds:
            write_video(root / "pred" / f"{name}.mp4", frames_of(i), fps=25)
    return root


def run_folder(out, *pair) -> int:
    argv = ["--dataset", "folder", *pair, "--protocol", "canonical", "--out", str(out)]
    return main([*argv, "--metrics", "psnr", "--workers", "0", "--quiet"])


def test_a_folder_root_without_predictions_is_a_usage_error_naming_the_tree(tmp_path, capsys):
    """A --root without pred/ (e.g. --root x/gt, one level too low) failed every clip with "no
    prediction video for this clip in None: name it a.mp4"; a missing prediction of a root that has
    pred/ named no folder either."""
    root = make_pair(tmp_path / "pair", preds=("a", "b"))
    out = tmp_path / "res"
    gt_only = tmp_path / "gt_only"
    write_video(gt_only / "gt" / "a.mp4", frames_of(0), fps=25)
    for wrong, missing in ((root / "gt", f"{root}/gt/gt and {root}/gt/pred"), (gt_only, f"{gt_only}/pred")):
        assert run_folder(out, "--root", str(wrong)) == 2
        err = capsys.readouterr().err
        assert f"--dataset folder --root {wrong}: {missing} not found; paired scoring" in err
        assert "<root>/gt/<id>.mp4" in err and "<root>/pred/<id>.mp4" in err
    assert not (out / "folder").exists()  # stopped before any scoring
    assert run_folder(out, "--root", str(root)) == 1
    expected = f"failed: c: no prediction video for this clip in {root / 'pred'}: name it c.mp4"
    assert expected in capsys.readouterr().out
    assert run_folder(tmp_path / "static", "--root", str(root / "gt"), "--method", "static") == 0  # generates


def test_two_folder_roots_do_not_share_a_results_file(tmp_path, monkeypatch, capsys):
    """Two --dataset folder --root pairs written to one --out silently replaced each other's scores
    (only --gt/--pred were compared); the same pair by another spelling, or by --gt/--pred, is not
    another pair."""
    first, second = make_pair(tmp_path / "first"), make_pair(tmp_path / "second")
    out = tmp_path / "res"
    assert run_folder(out, "--root", str(first)) == 0
    assert run_folder(out, "--root", str(second)) == 2
    assert f"holds the scores of --root {first}; this run's --root is {second}" in capsys.readouterr().err
    assert run_folder(out, "--gt", str(second / "gt"), "--pred", str(second / "pred")) == 2
    assert (
        f"holds the scores of --root {first}; this run's --gt is {second / 'gt'}" in capsys.readouterr().err
    )
    assert read_results(out / "folder/paired/canonical.json")["config"]["root"] == str(first)
    monkeypatch.chdir(tmp_path)
    assert run_folder(out, "--root", "first") == 0  # the same pair, spelled relative
    assert run_folder(out, "--gt", str(first / "gt"), "--pred", str(first / "pred")) == 0
    assert run_folder(out, "--root", str(second)) == 2  # a --gt/--pred pair against a --root
    assert (
        f"holds the scores of --gt {first / 'gt'}; this run's --root is {second}" in capsys.readouterr().err
    )


def test_a_relative_root_is_compared_from_the_folder_it_was_given_in(tmp_path, monkeypatch, capsys):
    """A results file's relative --root was resolved against the folder of the *next* run: the same
    pair, scored again from another folder, was refused as another pair, and another pair that
    happened to sit at that relative path there was taken for the same one."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_pair(tmp_path / "a" / "pair")
    make_pair(tmp_path / "b" / "pair")  # another pair, at the same relative path from b
    out = tmp_path / "res"
    monkeypatch.chdir(tmp_path / "a")
    assert run_folder(out, "--root", "pair") == 0
    assert read_results(out / "folder/paired/canonical.json")["config"]["cwd"] == str(tmp_path / "a")
    monkeypatch.chdir(tmp_path)
    assert run_folder(out, "--root", str(tmp_path / "a" / "pair")) == 0  # the same pair
    monkeypatch.chdir(tmp_path / "b")
    assert run_folder(out, "--root", "pair") == 2  # b's pair is another one
    assert "holds the scores of --root" in capsys.readouterr().err


def test_a_prediction_in_a_subfolder_is_named_with_the_way_to_score_it(tmp_path, capsys):
    """--pred reads only the folder itself; a prediction in a per-emotion subfolder was reported as
    'name it c.mp4', though a file of that name was there, one level down."""
    root = make_pair(tmp_path / "pair", preds=("a", "b"))
    write_video(root / "pred" / "happy" / "c.mp4", frames_of(2), fps=25)
    assert run_folder(tmp_path / "res", "--root", str(root)) == 1
    console = capsys.readouterr().out
    assert (
        f"c: no prediction video for this clip in {root / 'pred'}; {root / 'pred/happy/c.mp4'} is in a "
        f"subfolder, which --pred does not read: move it up, or score the folder with --method "
        f"folder:{root / 'pred'}"
    ) in console
    assert run_folder(tmp_path / "res2", "--root", str(root), "--method", f"folder:{root / 'pred'}") == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "synthtalk", "--root", "{root}", "--gt", "{root}"], "--gt: for --dataset folder only"),
        (
            ["--dataset", "folder", "--root", "{root}", "--gt", "{root}", "--pred", "{root}"],
            "--root and --gt",
        ),
        (
            ["--dataset", "folder"],
            "--dataset folder needs --root DIR (with gt/ and pred/), or --gt DIR --pred",
        ),
    ],
)
def test_options_that_would_be_ignored_are_refused(synth, tmp_path, capsys, argv, message):
    """--root beside --gt/--pred was dropped, --gt/--pred beside another dataset too: what was scored
    was not what the command line said, and nothing said so (a helper's CLI audit)."""
    root, _ = synth
    args = [a.format(root=root) for a in argv]
    assert (
        main([*args, "--method", "gt", "--protocol", "synthtalk", "--out", str(tmp_path / "o"), *FAST]) == 2
    )
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_ckpt_no_method_uses_gets_a_note(synth, tmp_path, capsys):
    root, _ = synth
    argv = ["--dataset", "synthtalk", "--root", str(root), "--method", "gt", "--protocol", "synthtalk"]
    assert main([*argv, "--ckpt", "nope.pt", "--out", str(tmp_path / "o"), *FAST]) == 0
    assert "note: --ckpt nope.pt is unused: none of --method gt generates from a checkpoint" in (
        capsys.readouterr().err
    )
