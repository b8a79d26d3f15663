"""What a table says about its rows' comparability: which rows are ranked when they were scored on
different numbers of clips, a renamed folder method's stale results file, and what drove each row."""

import json

from eval.report.formats import to_html, to_latex, to_markdown
from eval.report.inputs import load_results
from eval.report.tables import build_tables

T1 = {"psnr": 20.0, "ssim": 0.7, "m_lmd": 2.0, "f_lmd": 2.0, "fid": 20.0, "lse_c": 5.0, "acc_emo": 50.0}


def _extra_table(tmp_path, warnings=None):
    [table] = [
        t for t in build_tables(load_results(tmp_path), warnings) if t.key.startswith("dataset-synthtalk")
    ]
    return table


def _ranks(table, metric: str) -> dict[str, int | None]:
    j = next(j for j, c in enumerate(table.columns) if c.metric == metric)
    return {r.label: r.cells[j].rank for r in table.rows}


def test_rows_scored_on_fewer_clips_are_shown_but_not_ranked(tmp_path, make_result):
    """A method scored with --limit 16 (12 clips) was bold on most columns while the stamp under the
    table called it not comparable."""
    for method, psnr, n in (("edtalk_a", 22.0, 144), ("edtalk_v", 26.0, 144), ("static", 21.0, 144)):
        make_result(tmp_path, "synthtalk", method, "synthtalk", {"psnr": psnr}, extra={"n_clips": n})
    make_result(tmp_path, "synthtalk", "gt", "synthtalk", {"psnr": 99.0}, extra={"n_clips": 144})
    make_result(tmp_path, "synthtalk", "mymethod", "synthtalk", {"psnr": 34.0}, extra={"n_clips": 12})
    table = _extra_table(tmp_path)
    assert _ranks(table, "psnr") == {
        "edtalk_a": 2,
        "edtalk_v": 1,
        "gt": None,
        "mymethod": None,
        "static": None,
    }
    assert "| mymethod | 34.000 |" in to_markdown(table)  # shown as measured, not marked
    assert (
        "Best (bold) and second best (underlined) on synthtalk test marked only among the rows scored on "
        "144 clips (the most any row was); not ranked: mymethod (12 clips)"
    ) in table.stamps


def test_a_gt_row_on_more_clips_does_not_unrank_the_methods(tmp_path, make_result):
    """GT is never ranked, so its clip count does not decide which methods are."""
    make_result(tmp_path, "synthtalk", "gt", "synthtalk", {"psnr": 99.0}, extra={"n_clips": 144})
    make_result(tmp_path, "synthtalk", "a", "synthtalk", {"psnr": 20.0}, extra={"n_clips": 12})
    make_result(tmp_path, "synthtalk", "b", "synthtalk", {"psnr": 21.0}, extra={"n_clips": 12})
    make_result(tmp_path, "synthtalk", "z", "synthtalk", {"psnr": 19.0}, extra={"n_clips": 12})  # a third
    table = _extra_table(tmp_path)
    assert _ranks(table, "psnr") == {"a": 2, "b": 1, "z": None, "gt": None}
    assert not any(s.startswith("Best (bold)") for s in table.stamps)


def test_paper_rows_stay_ranked_beside_measured_rows_on_fewer_clips(tmp_path, make_result):
    """Table 1 (MEAD): the paper's rows are ranked with the measured rows on the most clips, as before;
    a row on 2 clips is not, and a row whose file records no count is not either."""
    make_result(tmp_path, "mead", "a", "eat", {**T1, "lse_c": 8.9}, extra={"n_clips": 144})
    make_result(tmp_path, "mead", "smoke", "eat", {**T1, "lse_c": 9.5}, extra={"n_clips": 2})
    make_result(tmp_path, "mead", "old", "eat", {**T1, "lse_c": 9.4})
    [t1] = [t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.sources]
    ranks = _ranks(t1, "lse_c")  # the paper's best MEAD Sync_conf is Wav2Lip's 8.774
    assert ranks["a"] == 1 and ranks["Wav2Lip"] == 2 and ranks["smoke"] is None and ranks["old"] is None
    assert (
        "Best (bold) and second best (underlined) on mead test marked only among the rows scored on 144 "
        "clips (the most any row was) and the paper's † rows; not ranked: old (clips not recorded), "
        "smoke (2 clips)"
    ) in t1.stamps


def test_rows_on_one_number_of_clips_or_none_recorded_are_all_ranked(tmp_path, make_result):
    """Guard: equal counts, or no count recorded at all (files older than n_clips), rank every row."""
    make_result(tmp_path, "synthtalk", "a", "synthtalk", {"psnr": 20.0}, extra={"n_clips": 12})
    make_result(tmp_path, "synthtalk", "b", "synthtalk", {"psnr": 21.0}, extra={"n_clips": 12})
    make_result(tmp_path, "synthtalk", "z", "synthtalk", {"psnr": 19.0}, extra={"n_clips": 12})  # a third
    assert _ranks(_extra_table(tmp_path), "psnr") == {"a": 2, "b": 1, "z": None}
    make_result(tmp_path, "synthtalk", "a", "synthtalk", {"psnr": 20.0})
    make_result(tmp_path, "synthtalk", "b", "synthtalk", {"psnr": 21.0})
    make_result(tmp_path, "synthtalk", "z", "synthtalk", {"psnr": 19.0})
    table = _extra_table(tmp_path)
    assert _ranks(table, "psnr") == {"a": 2, "b": 1, "z": None}
    assert not any(s.startswith("Best (bold)") for s in table.stamps)


def _folder_result(tmp_path, make_result, method: str, created: str, folder: str, psnr: float = 30.0):
    extra = {"provenance": {"method": method, "folder": folder}, "created": created}
    return make_result(tmp_path, "synthtalk", method, "synthtalk", {"psnr": psnr}, extra=extra)


def test_a_renamed_folder_methods_stale_file_is_warned_about_naming_both(tmp_path, make_result, capsys):
    """A folder method scored as mymethod, renamed Ours_v2 in its provenance.json and rescored: both
    rows appeared, same numbers, both bold, with no warning."""
    from eval.report.__main__ import main

    old = _folder_result(tmp_path, make_result, "mymethod", "2026-01-01T10:00:00+00:00", "/videos/ours")
    new = _folder_result(tmp_path, make_result, "Ours_v2", "2026-01-02T10:00:00+00:00", "/videos/ours")
    _folder_result(tmp_path, make_result, "other", "2026-01-02T10:00:00+00:00", "/videos/other", 20.0)
    warnings = []
    table = _extra_table(tmp_path, warnings)
    assert sorted(r.label for r in table.rows) == ["Ours_v2", "mymethod", "other"]  # none dropped
    [warning] = warnings
    assert warning == (
        f"{old} and {new} scored the same videos (/videos/ours) on synthtalk test under protocol synthtalk, "
        "as methods 'mymethod', 'Ours_v2', and are all shown: if the folder's method was renamed (its "
        f"provenance.json 'method'), delete the stale one (the older is {old}, created "
        "2026-01-01T10:00:00+00:00)"
    )
    assert main([str(tmp_path), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    [line] = [x for x in capsys.readouterr().err.splitlines() if "same videos" in x]
    assert line == f"warning: {warning}"


def test_one_folder_under_two_protocols_or_datasets_is_no_stale_file(tmp_path, make_result):
    """Guard: the same videos scored under another protocol, or by generating methods (no folder
    recorded), give no warning."""
    make_result(
        tmp_path, "synthtalk", "a", "synthtalk", {"psnr": 30.0}, extra={"provenance": {"folder": "/v"}}
    )
    make_result(tmp_path, "synthtalk", "a", "eat", {"psnr": 30.0}, extra={"provenance": {"folder": "/v"}})
    make_result(tmp_path, "synthtalk", "edtalk_a", "synthtalk", {"psnr": 30.0}, extra={"provenance": {}})
    make_result(tmp_path, "synthtalk", "edtalk_v", "synthtalk", {"psnr": 30.0}, extra={"provenance": {}})
    warnings = []
    build_tables(load_results(tmp_path), warnings)
    assert not any("same videos" in w for w in warnings)


def test_each_measured_row_is_marked_with_what_drove_it_in_every_format(tmp_path, make_result):
    """The synthtalk table ranked video-driven edtalk_v with audio-driven rows, nothing saying which
    is which."""
    for method, driving in (
        ("edtalk_a", "audio"),
        ("edtalk_v", "video"),
        ("mine", "audio"),
        ("static", None),
        ("gt", None),
    ):
        extra = {"driving": driving} if driving else {}
        make_result(tmp_path, "synthtalk", method, "synthtalk", {"psnr": 20.0}, extra=extra)
    table = _extra_table(tmp_path)
    assert {r.label: r.driving for r in table.rows} == {
        "edtalk_a": "audio",
        "edtalk_v": "video",
        "mine": "audio",
        "static": None,
        "gt": None,
    }
    key = "Driving, as each row's results file records it: [audio] audio-driven, [video] video-driven"
    assert f"{key}; no driving input recorded for static" in table.stamps  # GT, a reference, not named
    md, tex, html = to_markdown(table), to_latex(table), to_html(table)
    assert "| edtalk\\_v [video] |" in md and "| mine [audio] |" in md and "| static |" in md
    assert "\nedtalk\\_v [video] & " in tex and "\nstatic & " in tex
    assert '<th scope="row">edtalk_a [audio]</th>' in html and '<th scope="row">static</th>' in html


def test_table_1_marks_measured_rows_not_the_papers_and_one_mode_tables_mark_none(tmp_path, make_result):
    """Table 1 takes both modes (the paper's EDTalk-A and EDTalk-V): its measured rows are marked, its
    reported rows keep their names; Table 5 (face reenactment) is video-driven by its caption."""
    make_result(tmp_path, "mead", "edtalk_v", "eat", T1, extra={"driving": "video"})
    reenact = {"psnr": 30.0, "lpips": 0.1, "l1": 0.02, "akd": 1.0, "aed": 0.1}
    make_result(tmp_path, "hdtf", "edtalk_v", "canonical", reenact, extra={"driving": "video"})
    tables = build_tables(load_results(tmp_path))
    [t1] = [t for t in tables if t.number == "1" and t.sources]
    assert [r.label for r in t1.rows if r.driving] == ["edtalk_v"]
    assert "| edtalk\\_v [video] |" in to_markdown(t1) and "| EDTalk-V† |" in to_markdown(t1)
    [t5] = [t for t in tables if t.number == "5" and t.sources]
    assert not any(r.driving for r in t5.rows) and not any(s.startswith("Driving") for s in t5.stamps)


def test_a_dollar_sign_in_a_name_is_no_math_in_markdown(tmp_path, make_result):
    """GitHub renders $...$ in Markdown as math: 'ours $\\beta_$ v2' lost its dollars and backslash."""
    path = make_result(tmp_path, "synthtalk", "odd", "synthtalk", {"psnr": 20.0})
    data = json.loads(path.read_text())
    data["method"] = r"ours $\beta_$ v2"
    path.write_text(json.dumps(data))
    assert r"| ours \$\\beta\_\$ v2 |" in to_markdown(_extra_table(tmp_path))
