"""The report folder as a whole: a wrong or empty results folder, a bad proof.json, stale plots."""

import json

import pytest

from eval.report.__main__ import main


def test_a_folder_with_no_results_file_stops_with_a_hint(tmp_path, make_result, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), "--out", str(tmp_path / "r"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert f"error: {empty}: no results files (expected <dataset>/<method>/<protocol>.json" in err
    assert "--allow-empty (`allow_empty=True` from Python)" in err and not (tmp_path / "r").exists()

    results = tmp_path / "results"
    make_result(results, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0})
    assert main([str(results / "mead"), "--out", str(tmp_path / "r"), "--no-plots"]) == 2
    assert f"did you mean its parent {results}?" in capsys.readouterr().err
    assert main([str(tmp_path), "--out", str(tmp_path / "r"), "--no-plots"]) == 2
    assert f"did you mean {results}?" in capsys.readouterr().err

    assert main([str(empty), "--out", str(tmp_path / "paper"), "--no-plots", "--allow-empty"]) == 0
    assert "0 results files -> 5 tables" in capsys.readouterr().out


def test_a_folder_whose_every_results_file_is_unreadable_stops(tmp_path, capsys):
    bad = tmp_path / "mead" / "a" / "eat.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    assert main([str(tmp_path), "--out", str(tmp_path / "r"), "--no-plots"]) == 2
    assert (
        f"none of the 1 results files could be read; the first: {bad}: not valid JSON"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "proof, problem",
    [
        ({"claims": {"x": True}, "cross_driving": None}, "missing or not objects"),
        ({"claims": {"x": True}}, "['reconstruction', 'cross_driving', 'audio_sync', 'pose_seeds']"),
        (
            {
                "claims": {"x": True},
                **{k: {} for k in ("reconstruction", "audio_sync", "pose_seeds")},
                "cross_driving": {"videos_supporting": {"x": 3}},
            },
            "cannot be shown, a field is missing or of the wrong type (TypeError",
        ),
    ],
)
def test_a_bad_proof_is_a_problem_and_the_rest_is_rendered(tmp_path, make_result, capsys, proof, problem):
    results = tmp_path / "results"
    make_result(results, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0})
    (results / "proof.json").write_text(json.dumps(proof))
    out = tmp_path / "r"
    assert main([str(results), "--out", str(out), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert f"warning: left out: {results / 'proof.json'}: " in err and problem in err
    page = (out / "index.html").read_text()
    assert "Left out of this report (1)" in page and 'id="proof"' not in page
    assert page.count('<table class="report-table"') == 5 and (out / "tables.md").is_file()
    assert main([str(results), "--out", str(tmp_path / "strict"), "--no-plots", "--strict"]) == 2
    assert not (tmp_path / "strict").exists()


def test_rerendering_removes_the_old_plots_and_keeps_other_files(tmp_path, make_result):
    results = tmp_path / "results"
    clips = [{"clip": "c1", "values": {"psnr": 20.0}}, {"clip": "c2", "values": {"psnr": 21.0}}]
    make_result(results, "synthtalk", "a", "synthtalk", {"psnr": 20.0}, clips=clips)
    sweep = {"name": "ablations", "param": "variant", "value": "full"}
    make_result(results, "synthtalk", "edtalk_ablation_full", "synthtalk", {"psnr": 21.0}, sweep=sweep)
    out = tmp_path / "r"
    assert main([str(results), "--out", str(out)]) == 0
    plots = out / "plots"
    assert {p.name.split("_")[0] for p in plots.iterdir()} == {"ablations", "clips"}
    (plots / "my_figure.png").write_bytes(b"mine")
    (plots / "notes.txt").write_text("mine")
    (out / "extra.md").write_text("mine")
    (results / "synthtalk" / "edtalk_ablation_full" / "synthtalk.json").unlink()
    (results / "synthtalk" / "a" / "synthtalk.clips.jsonl").unlink()
    assert main([str(results), "--out", str(out)]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["my_figure.png", "notes.txt"]
    assert (out / "extra.md").read_text() == "mine"
    assert "<img " not in (out / "index.html").read_text()


def test_warnings_go_to_stderr_and_the_page(tmp_path, make_result, capsys):
    results = tmp_path / "results"
    make_result(results, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0})
    odd = make_result(results, "mead", "static", "eat", {"psnr": 20.0, "lse_d": 8.0})
    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    assert (
        f"warning: {odd}: its metrics (lse_d, psnr) are in no paper table of MEAD" in capsys.readouterr().err
    )
    page = (tmp_path / "r" / "index.html").read_text()
    assert '<div class="warnings"><p>Warnings (1):' in page and "Other metrics on MEAD" in page
    assert "Left out of this report" not in page
