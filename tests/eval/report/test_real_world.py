"""The report pointed at results folders as they are found in practice: a rerun kept beside the
first run, files older than n_clips, a sweep run with several seeds, a dataset folder passed instead
of the results folder, test and val runs of one method, hand-edited per-clip lines, --out a file."""

import json

from eval.report.__main__ import main
from eval.report.inputs import load_results
from eval.report.tables import build_tables

T1 = {"psnr": 21.0, "ssim": 0.7, "m_lmd": 1.6, "f_lmd": 1.3, "fid": 18.0, "lse_c": 7.9, "acc_emo": 66.0}


def _table1(results_dir, warnings=None):
    [t1] = [t for t in build_tables(load_results(results_dir), warnings) if t.number == "1" and t.sources]
    return t1


def _as_protocol(path, protocol: str) -> None:
    """Rename the protocol inside a results file (its file name stays)."""
    data = json.loads(path.read_text())
    data["protocol"]["name"] = protocol
    path.write_text(json.dumps(data))


def test_two_files_of_one_method_in_one_folder_are_both_shown(tmp_path, make_result):
    """A rerun kept as mead/edtalk_a/eat_old.json: both files gave the row 'edtalk_a (edtalk_a/)' and
    the later one replaced the other, while the warning said both were shown."""
    make_result(tmp_path, "mead", "edtalk_a", "eat", T1, extra={"n_clips": 24})
    old = make_result(tmp_path, "mead", "edtalk_a", "eat_old", {**T1, "psnr": 19.0}, extra={"n_clips": 20})
    _as_protocol(old, "eat")
    warnings = []
    t1 = _table1(tmp_path, warnings)
    psnr = next(j for j, c in enumerate(t1.columns) if (c.group, c.metric) == ("mead", "psnr"))
    rows = {r.label: r.cells[psnr].text for r in t1.rows if not r.reported}
    assert rows == {"edtalk_a (edtalk_a/eat.json)": "21.000", "edtalk_a (edtalk_a/eat_old.json)": "19.000"}
    assert (
        "Rows scored on different numbers of clips of mead test (not comparable): "
        "edtalk_a (edtalk_a/eat.json) 24, edtalk_a (edtalk_a/eat_old.json) 20" in t1.stamps
    )
    [warning] = warnings
    assert "shown as separate rows" in warning


def test_a_row_without_a_clip_count_is_named_not_counted_as_the_others(tmp_path, make_result):
    """A file written before n_clips was recorded made 'Clips scored: 24 of mead test in every row'."""
    make_result(tmp_path, "mead", "new", "eat", T1, extra={"n_clips": 24})
    make_result(tmp_path, "mead", "old", "eat", T1)
    stamps = _table1(tmp_path).stamps
    assert "Clips scored: 24 of mead test in every row that records it; not recorded for old" in stamps
    make_result(tmp_path, "mead", "other", "eat", T1, extra={"n_clips": 2})
    assert (
        "Rows scored on different numbers of clips of mead test (not comparable): new 24, other 2; "
        "not recorded for old" in _table1(tmp_path).stamps
    )


def _seeded_sweep(tmp_path, make_result, name: str, points: list[tuple[str, object, float]]) -> None:
    """A sweep run with --num-samples 2, exported as sweeps/export.py does: edtalk_<variant>_seed<k>."""
    for seed in (0, 1):
        for param, value, psnr in points:
            make_result(
                tmp_path,
                "mead",
                f"edtalk_{param}_{value}_seed{seed}",
                "eat",
                {"psnr": psnr + seed},
                sweep={"name": name, "param": param, "value": value, "seed": seed},
                extra={"driving": "audio"},
            )


def test_a_bank_size_sweeps_seeds_are_lines_of_their_own(tmp_path, make_result, monkeypatch):
    """Both seeds' points were joined in one line per bank, zigzagging between them at each size."""
    from eval.report import plots

    _seeded_sweep(tmp_path, make_result, "bank_size", [("mouth", 5, 20.0), ("mouth", 10, 22.0)])
    drawn = {}

    def keep(fig, path):
        [ax] = [a for a in fig.axes if a.get_visible()]
        drawn.update({ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.get_lines()})
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_bank_size(load_results(tmp_path), tmp_path / "plots")) == 1
    assert drawn == {
        "mouth bank (seed 0)": ([5.0, 10.0], [20.0, 22.0]),
        "mouth bank (seed 1)": ([5.0, 10.0], [21.0, 23.0]),
    }


def test_an_ablation_sweeps_seeds_are_bars_named_as_the_table_rows(tmp_path, make_result, monkeypatch):
    """Each seed's bar was labelled with the variant only: two 'Full Model' bars, which is which?"""
    from eval.report import plots

    _seeded_sweep(
        tmp_path, make_result, "ablations", [("variant", "full", 22.0), ("variant", "wo_bank", 18.0)]
    )
    drawn = {}

    def keep(fig, path):
        [ax] = [a for a in fig.axes if a.get_visible()]
        names = [t.get_text() for t in ax.get_xticklabels()]
        drawn.update({names[round(p.get_x() + p.get_width() / 2)]: p.get_height() for p in ax.patches})
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_ablations(load_results(tmp_path), tmp_path / "plots")) == 1
    assert drawn == {
        "w/o Bank (seed 0)": 18.0,
        "w/o Bank (seed 1)": 19.0,
        "Full Model (seed 0)": 22.0,
        "Full Model (seed 1)": 23.0,
    }


def test_a_dataset_folder_passed_for_the_results_folder_gets_the_hint(tmp_path, make_result, capsys):
    """results/mead/ read eval.run's videos/provenance.json and *.mp4.inputs.json as results files
    and stopped with 'none of the 2 results files could be read' instead of naming the parent."""
    results = tmp_path / "results"
    make_result(results, "mead", "edtalk_a", "eat", T1)
    videos = results / "mead" / "edtalk_a" / "videos"
    videos.mkdir()
    (videos / "provenance.json").write_text('{"method": "edtalk_a"}')
    (videos / "M003#angry#level_1#001.mp4.inputs.json").write_text("[]")
    assert main([str(results / "mead"), "--out", str(tmp_path / "r"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "no results files (expected <dataset>/<method>/<protocol>.json under it" in err
    assert f"did you mean its parent {results}?" in err
    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    assert "left out" not in capsys.readouterr().err


def test_a_methods_test_and_val_runs_get_a_video_grid_each(tmp_path, make_result):
    """Both runs share the method's videos/ folder: one grid mixed their clips under 'm (m/)'."""
    from eval.report.html import collect_videos

    make_result(tmp_path, "synthtalk", "m", "synthtalk", {"psnr": 20.0}, clips=[{"clip": "t1"}])
    val = make_result(
        tmp_path,
        "synthtalk",
        "m",
        "synthtalk.val",
        {"psnr": 25.0},
        clips=[{"clip": "v1"}],
        extra={"split": "val"},
    )
    _as_protocol(val, "synthtalk")
    (tmp_path / "synthtalk" / "m" / "videos").mkdir()
    for clip in ("t1", "v1"):
        (tmp_path / "synthtalk" / "m" / "videos" / f"{clip}.mp4").write_bytes(b"")
    grids = collect_videos(load_results(tmp_path))
    assert {k: {clip: sorted(v) for clip, v in g.items()} for k, g in grids.items()} == {
        ("synthtalk", "synthtalk", "test"): {"t1": ["m"]},
        ("synthtalk", "synthtalk", "val"): {"v1": ["m"]},
    }


def test_per_clip_fields_of_the_wrong_type_are_named_problems_not_tracebacks(tmp_path, make_result, capsys):
    """A hand-edited line with "clip": 123 (or a non-string video path) stopped the report with a
    TypeError traceback; the README promises such a line is left out and named."""
    rows = [
        {"clip": 123, "values": {"psnr": 20.0}},
        {"clip": "a", "video": 5},
        {"clip": "b", "gt_video": ["x.mp4"]},
        {"clip": "c", "values": [20.0]},
        {"clip": "d", "values": {"psnr": 21.0}},
    ]
    make_result(tmp_path / "results", "synthtalk", "m", "synthtalk", {"psnr": 20.0}, clips=rows)
    assert main([str(tmp_path / "results"), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    for line, problem in (
        (1, "'clip' is 123, expected a string"),
        (2, "'video' is 5, expected a path"),
        (3, "'gt_video' is ['x.mp4'], expected a path"),
        (4, "'values' is [20.0], expected an object of metric id -> value"),
    ):
        assert f"synthtalk.clips.jsonl: line {line}: {problem}; line skipped" in err
    assert "line 5" not in err
    [result] = load_results(tmp_path / "results")
    assert [r["clip"] for r in result.clip_rows] == ["d"]


def test_an_out_or_results_path_that_is_a_file_is_one_error_line(tmp_path, make_result, capsys):
    """--out naming a file ended in a FileExistsError traceback (NotADirectoryError below one); a
    results path naming a file was said not to exist."""
    results = tmp_path / "results"
    make_result(results, "mead", "a", "eat", T1)
    taken = tmp_path / "report.md"
    taken.write_text("mine")
    assert main([str(results), "--out", str(taken)]) == 2
    assert capsys.readouterr().err == f"error: {taken}: the report's output folder is a file\n"
    assert taken.read_text() == "mine"
    assert main([str(results), "--out", str(taken / "sub"), "--no-plots"]) == 2
    assert capsys.readouterr().err.startswith("error: [Errno 20] Not a directory")
    assert main([str(taken), "--out", str(tmp_path / "r")]) == 2
    assert f"error: {taken}: a file, not the results folder that eval.run writes" in capsys.readouterr().err


def test_markdown_group_headings_are_escaped_like_the_rest(tmp_path, make_result):
    """Table 6's headings name the sweep's dataset: 'my_data_set' lost its underscores to italics."""
    from eval.report.formats import to_markdown

    sweep = {"name": "bank_size", "param": "mouth", "value": 10}
    make_result(tmp_path, "my_data_set", "edtalk_mouth_10", "eat", {"psnr": 20.0}, sweep=sweep)
    [t6] = [t for t in build_tables(load_results(tmp_path)) if t.number == "6" and t.sources]
    assert "| Mouth bank B^m (my\\_data\\_set) |" in to_markdown(t6)


def test_sweep_rows_driven_otherwise_get_a_figure_of_their_own(tmp_path, make_result, monkeypatch):
    """An audio-driven ablation sweep, then a video-driven one exported to the same folder (it replaces
    the variants both ran): the tables split the rows by driving, one figure mixed their bars."""
    from eval.report import plots

    for variant, driving in (("full", "video"), ("wo_bank", "video"), ("wo_l_m_rec", "audio")):
        sweep = {"name": "ablations", "param": "variant", "value": variant, "seed": 0}
        make_result(
            tmp_path,
            "mead",
            f"edtalk_{variant}",
            "eat",
            {"psnr": 20.0},
            sweep=sweep,
            extra={"driving": driving},
        )
    drawn = {}

    def keep(fig, path):
        [ax] = [a for a in fig.axes if a.get_visible()]
        drawn[(path.name, fig._suptitle.get_text())] = [t.get_text() for t in ax.get_xticklabels()]
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_ablations(load_results(tmp_path), tmp_path / "plots")) == 2
    assert drawn == {
        ("ablations_mead_eat_01234567_audio.png", "Ablations: mead [eat 01234567, audio-driven]"): [
            "w/o L^m_rec"
        ],
        ("ablations_mead_eat_01234567_video.png", "Ablations: mead [eat 01234567, video-driven]"): [
            "w/o Bank",
            "Full Model",
        ],
    }


def test_a_relative_root_finds_the_gt_videos_from_the_folder_eval_run_ran_in(tmp_path, monkeypatch):
    """The video grid read a results file's relative --root from the report's folder: rendered from
    anywhere else, its GT column was empty. eval.run records the folder it ran in (config.cwd)."""
    import json as json_module

    from eval.report.html import _gt_videos
    from eval.report.inputs import ResultFile

    data = tmp_path / "project" / "data" / "st"
    (data / "clips").mkdir(parents=True)
    (data / "splits").mkdir()
    clip = "st003#angry#level_1#001"
    (data / "splits" / "test.txt").write_text(f"{clip}\n")
    (data / "clips" / f"{clip}.mp4").write_bytes(b"")
    (data / "clips" / f"{clip}.json").write_text(json_module.dumps({"identity": "st003", "emotion": "angry"}))
    config = {"root": "data/st", "cwd": str(tmp_path / "project")}
    result = ResultFile(
        tmp_path / "res/synthtalk/m/synthtalk.json", "synthtalk", "m", "test", "synthtalk", "h", {}, False,
        (), None, {}, {"config": config},
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert _gt_videos(result, {}) == {clip: data / "clips" / f"{clip}.mp4"}
