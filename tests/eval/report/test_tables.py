"""Report tables: golden Markdown/LaTeX, protocol separation, ranking, arrows, bad inputs."""

import json
import os
from pathlib import Path

import pytest

from eval.report.formats import caption, to_html, to_latex, to_markdown
from eval.report.inputs import ResultsFileError, load_results, read_result
from eval.report.tables import build_tables

GOLDEN = Path(__file__).parent / "golden"


def _render(results_dir, fmt):
    tables = build_tables(load_results(results_dir))
    return "\n".join(fmt(t) for t in tables)


@pytest.mark.parametrize("name, fmt", [("tables.md", to_markdown), ("tables.tex", to_latex)])
def test_tables_match_golden_files(results_dir, name, fmt):
    text = _render(results_dir, fmt)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":  # never a silent pass: the new file must be reviewed
        golden.write_text(text, encoding="utf-8")
        pytest.fail(f"golden files regenerated ({golden}): review the diff and rerun without UPDATE_GOLDEN")
    assert text == golden.read_text(encoding="utf-8"), (
        f"regenerate with UPDATE_GOLDEN=1 if intended: {golden}"
    )


def test_protocols_never_mixed_and_reported_rows_only_under_their_protocol(results_dir):
    tables = build_tables(load_results(results_dir))
    for t in tables:
        assert len({s for s in t.stamps if s.startswith("Protocol:")}) == 1
        if any(r.reported for r in t.rows):
            assert t.protocol == ("canonical" if t.number == "5" else "eat"), t.key
    t1 = [t for t in tables if t.number == "1"]
    assert [t.protocol for t in t1] == ["eat", "canonical"]
    assert not any(r.reported for r in t1[1].rows)
    t6 = [t for t in tables if t.number == "6"]
    assert {t.protocol for t in t6} == {"synthtalk", "eat"}


def test_best_bold_second_underlined_with_direction(results_dir):
    t1 = next(t for t in build_tables(load_results(results_dir)) if t.number == "1" and t.protocol == "eat")
    col = {(c.group, c.metric): j for j, c in enumerate(t1.columns)}
    rows = {r.label: r for r in t1.rows}
    fid = col[("mead", "fid")]  # lower is better: EDTalk-V 15.548 best, edtalk_a / wav2lip 18.000? no: 17.698
    assert rows["EDTalk-V"].cells[fid].rank == 1 and rows["EDTalk-A"].cells[fid].rank == 2
    sync = col[("mead", "lse_c")]  # higher is better: measured wav2lip 9.100 beats the paper's 8.774
    assert rows["wav2lip"].cells[sync].rank == 1 and rows["Wav2Lip"].cells[sync].rank == 2
    assert rows["GT"].reference and all(c.rank is None for c in rows["GT"].cells)
    assert rows["wav2lip"].unverified and "*" in to_markdown(t1).split("wav2lip")[1][:2]
    md = to_markdown(t1)
    assert "**15.548**" in md and "<u>17.698</u>" in md and "FID ↓" in md and "PSNR ↑" in md
    tex = to_latex(t1)
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\textbf{15.548}" in tex and r"\underline{17.698}" in tex and r"EAT\textsuperscript{\dag}" in tex
    html = to_html(t1)
    assert '<td class="best"><b>15.548</b></td>' in html and 'class="reported"' in html


def test_stamps_name_protocol_hash_unverified_and_failures(results_dir):
    t1 = next(t for t in build_tables(load_results(results_dir)) if t.number == "1" and t.protocol == "eat")
    text = "\n".join(t1.stamps + t1.notes)
    assert "Protocol: eat (hash 0123456789abcdef)" in text
    assert "unverified" in text and "wav2lip (mead)" in text
    assert "failed" in text and "EDTalk (Tan et al., ECCV 2024), Table 1" in text


def test_stamps_say_how_many_clips_each_row_was_scored_on(tmp_path, make_result):
    """A smoke run's 2 clips are stated, and rows scored on different numbers of clips are flagged."""
    make_result(tmp_path, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0}, extra={"n_clips": 144})
    make_result(tmp_path, "mead", "b", "eat", {"psnr": 21.0, "fid": 3.0}, extra={"n_clips": 144})
    t1 = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    assert "Clips scored: 144 of mead test in every row" in t1.stamps
    make_result(tmp_path, "mead", "b", "eat", {"psnr": 21.0, "fid": 3.0}, extra={"n_clips": 2})
    t1 = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    assert "Rows scored on different numbers of clips of mead test (not comparable): a 144, b 2" in t1.stamps


def test_clips_that_failed_as_a_whole_are_not_counted_as_scored(tmp_path, make_result):
    """'Clips scored' gave the clips run: a row whose 4 clips failed as a whole read as scored on 144,
    like a row that scored all of them."""
    make_result(tmp_path, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0}, extra={"n_clips": 144})
    failures = [{"clip": f"c{i}", "metric": None, "reason": "corrupt video"} for i in range(4)]
    failures.append({"clip": "c9", "metric": "fid", "reason": "no face"})  # one metric only: still scored
    make_result(
        tmp_path, "mead", "b", "eat", {"psnr": 21.0, "fid": 3.0}, extra={"n_clips": 144, "failures": failures}
    )
    t1 = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    assert (
        "Rows scored on different numbers of clips of mead test (not comparable): a 144, b 140" in t1.stamps
    )


def test_direction_disagreeing_with_paper_leaves_the_file_out(tmp_path, make_result):
    """It would invert the bolding; it stopped the whole report, now only that file is left out."""
    path = make_result(tmp_path, "mead", "m", "eat", {"fid": 10.0})
    data = json.loads(path.read_text())
    data["metrics"]["fid"]["higher_is_better"] = True
    path.write_text(json.dumps(data))
    skipped = []
    assert load_results(tmp_path, skipped) == []
    assert "'fid' has higher_is_better=True, but the paper's arrow says False" in str(skipped[0])


def test_two_files_disagreeing_on_a_metrics_direction_is_an_error(tmp_path, make_result):
    for method, hib in (("a", True), ("b", False)):
        path = make_result(tmp_path, "mead", method, "eat", {"psnr": 30.0, "lse_d": 7.0})
        data = json.loads(path.read_text())
        data["metrics"]["lse_d"]["higher_is_better"] = hib
        path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="lse_d.*direction differs"):
        build_tables(load_results(tmp_path))


def test_malformed_results_name_the_file(tmp_path):
    bad = tmp_path / "mead" / "m" / "eat.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(ResultsFileError, match=r"eat\.json.*not valid JSON"):
        read_result(bad)
    bad.write_text(json.dumps({"metrics": {}}))
    with pytest.raises(ResultsFileError, match="missing field"):
        read_result(bad)
    with pytest.raises(ResultsFileError, match="does not exist"):
        load_results(tmp_path / "nowhere")


def test_empty_results_still_give_the_reported_tables(tmp_path):
    tables = build_tables(load_results(tmp_path))
    assert [t.number for t in tables] == ["1", "3", "4", "5", "6"]
    assert all(t.protocol_hash is None for t in tables)


def test_failure_stamp_says_which_numbers_each_failed_clip_is_left_out_of(tmp_path, make_result):
    """'Clips that failed and are not in the numbers' was wrong for a clip that failed one metric:
    it is still in the other metrics' numbers."""
    failures = [
        {"clip": "a", "metric": None, "reason": "unreadable"},
        {"clip": "b", "metric": "fid", "reason": "no face"},
        {"clip": "c", "metric": "fid", "reason": "no face"},
        {"clip": "c", "metric": "psnr", "reason": "crashed: RuntimeError: x"},
    ]
    make_result(tmp_path, "mead", "m", "eat", {"psnr": 20.0, "fid": 3.0}, failures=failures)
    t1 = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    assert (
        "Clips that failed, each left out only of the numbers of the metrics it failed in: "
        "m (mead): 1 clip as a whole, 2 in fid, 1 in psnr"
    ) in t1.stamps


T3_VALUES = dict(psnr=20.0, ssim=0.7, m_lmd=2.0, f_lmd=2.0, fid=20.0, lse_c=5.0, acc_emo=50.0)


def _t1(tables, split="test"):
    return [t for t in tables if t.number == "1" and t.protocol == "eat" and t.split == split]


def test_rows_of_different_splits_are_never_ranked_together(tmp_path, make_result):
    make_result(tmp_path, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0})
    make_result(tmp_path, "mead", "b", "eat", {"psnr": 30.0, "fid": 1.0}, extra={"split": "val"})
    make_result(tmp_path, "mead", "c", "eat", {"psnr": 25.0, "fid": 2.0}, extra={"split": None})
    tables = build_tables(load_results(tmp_path))
    [test], [val], [unrecorded] = _t1(tables), _t1(tables, "val"), _t1(tables, "")
    assert "a" in [r.label for r in test.rows] and any(r.reported for r in test.rows)
    assert [r.label for r in val.rows] == ["b"] and [r.label for r in unrecorded.rows] == ["c"]
    assert all(c.rank is None for c in val.rows[0].cells)  # alone in its table: nothing to rank against
    assert "[eat, val split]" in to_markdown(val) and "[eat, split not recorded]" in to_markdown(unrecorded)
    assert any(s.startswith("Split: val, not the usual test split") for s in val.stamps)
    assert not any(s.startswith("Split:") for s in test.stamps) and "[eat]" in to_markdown(test)
    assert len({t.key for t in tables}) == len(tables)


def test_two_files_naming_one_method_are_both_shown_and_warned_about(tmp_path, make_result):
    first = make_result(tmp_path, "mead", "edtalk_a", "eat", {"psnr": 20.0, "fid": 3.0})
    rerun = make_result(tmp_path, "mead", "edtalk_a_rerun", "eat", {"psnr": 99.0, "fid": 3.0})
    data = json.loads(rerun.read_text())
    data["method"] = "edtalk_a"
    rerun.write_text(json.dumps(data))
    make_result(tmp_path, "hdtf", "edtalk_a", "eat", {"psnr": 21.0, "fid": 4.0})
    warnings = []
    [t1] = _t1(build_tables(load_results(tmp_path), warnings))
    rows = {r.label: r for r in t1.rows if not r.reported}
    assert sorted(rows) == ["edtalk_a (edtalk_a/)", "edtalk_a (edtalk_a_rerun/)"]
    psnr = next(j for j, c in enumerate(t1.columns) if (c.group, c.metric) == ("mead", "psnr"))
    hdtf = next(j for j, c in enumerate(t1.columns) if (c.group, c.metric) == ("hdtf", "psnr"))
    assert rows["edtalk_a (edtalk_a/)"].cells[psnr].text == "20.000"
    assert rows["edtalk_a (edtalk_a_rerun/)"].cells[psnr].text == "99.000"
    assert rows["edtalk_a (edtalk_a/)"].cells[hdtf].text == "21.000"  # same folder, other dataset
    [warning] = warnings
    assert (
        "Table 1" in warning and "'edtalk_a'" in warning and str(first) in warning and str(rerun) in warning
    )
    assert any(str(rerun) in s for s in t1.stamps)


def test_results_in_no_paper_table_get_an_other_metrics_table_and_a_warning(tmp_path, make_result):
    odd = make_result(tmp_path, "mead", "static", "eat", {"psnr": 20.0, "ssim": 0.7, "lse_d": 8.0})
    make_result(tmp_path, "mead", "a", "eat", {"psnr": 21.0, "fid": 3.0})
    sweep = {"name": "lr", "param": "lr", "value": 0.1}
    lost = make_result(tmp_path, "synthtalk", "lr_0.1", "synthtalk", {"psnr": 20.0}, sweep=sweep)
    warnings = []
    tables = build_tables(load_results(tmp_path), warnings)
    [other] = [t for t in tables if t.key.startswith("other-mead")]
    assert caption(other) == "Other metrics on MEAD (in no paper table) [eat]"
    assert [r.label for r in other.rows] == ["static"] and [c.metric for c in other.columns] == [
        "psnr",
        "ssim",
        "lse_d",
    ]
    assert "static" not in [r.label for t in _t1(tables) for r in t.rows]
    assert any(
        w.startswith(f"{odd}: its metrics (lse_d, psnr, ssim) are in no paper table of MEAD")
        for w in warnings
    )
    assert f"{lost}: in no table (sweep 'lr' has no table" in "\n".join(warnings)


def test_latex_needs_only_booktabs(results_dir):
    tex = _render(results_dir, to_latex)
    assert r"\text{" not in tex and r"Sync$_\mathrm{conf}$" in tex


def test_audio_driven_results_stay_out_of_the_face_reenactment_table(tmp_path, make_result):
    """Every canonical HDTF result has LPIPS/L1/AKD/AED, so an audio-driven method (Wav2Lip,
    edtalk_a) used to be ranked in Table 5 against the paper's reenactment methods."""
    reenact = {"psnr": 30.0, "lpips": 0.1, "l1": 0.02, "akd": 1.0, "aed": 0.1, "lse_c": 7.0}
    make_result(tmp_path, "hdtf", "edtalk_v", "canonical", reenact, extra={"driving": "video"})
    make_result(
        tmp_path, "hdtf", "wav2lip", "canonical", {**reenact, "psnr": 40.0}, extra={"driving": "audio"}
    )
    make_result(tmp_path, "hdtf", "other", "canonical", reenact)  # not recorded: shown, as before
    tables = build_tables(load_results(tmp_path))
    [t5] = [t for t in tables if t.number == "5" and t.protocol == "canonical"]
    assert [r.label for r in t5.rows if not r.reported] == ["edtalk_v", "other"]
    [t1] = [t for t in tables if t.number == "1" and t.protocol == "canonical"]
    assert "wav2lip" in [r.label for r in t1.rows]  # the audio-driven comparison still has it
    assert "Also measured, not in this table's columns: LPIPS, L1, AKD, AED" in t1.stamps


def test_sweep_rows_driven_otherwise_than_the_papers_get_their_own_table(tmp_path, make_result):
    """The paper's Tables 3 and 6 are audio-driven (Table 3's Full Model is EDTalk-A of Table 1):
    video-driven ablation rows were ranked together with audio-driven ones."""
    values = {
        "psnr": 20.0,
        "ssim": 0.7,
        "m_lmd": 2.0,
        "f_lmd": 2.0,
        "fid": 20.0,
        "lse_c": 5.0,
        "acc_emo": 50.0,
    }

    def ablation(variant, driving, psnr):
        sweep = {"name": "ablations", "param": "variant", "value": variant}
        extra = {"driving": driving} if driving else {}
        make_result(tmp_path, "mead", variant, "eat", {**values, "psnr": psnr}, sweep=sweep, extra=extra)

    ablation("full", "video", 25.0)
    ablation("wo_eem", "video", 24.0)
    ablation("wo_l_m_sync", "audio", 30.0)
    t3 = {t.driving: t for t in build_tables(load_results(tmp_path)) if t.number == "3"}
    assert sorted(t3, key=str) == ["audio", "video"]
    assert [r.label for r in t3["video"].rows] == ["w/o EEM", "Full Model"]  # paper's order, none of its rows
    assert "[eat, video-driven]" in to_markdown(t3["video"])
    audio_rows = [r.label for r in t3["audio"].rows]
    assert audio_rows[0] == "w/o L^m_sync" and "Full Model" in audio_rows[1:]  # the paper's, reported
    assert any(r.reported for r in t3["audio"].rows) and "[eat, audio-driven]" in to_markdown(t3["audio"])


def test_odd_method_names_are_shown_as_typed_in_markdown_and_latex(tmp_path, make_result):
    """LaTeX printed a bare < > | as ¡ ¿ — and Markdown rendered a method named <i>x</i> in italics."""
    make_result(tmp_path, "mead", "odd", "eat", {"psnr": 20.0, "fid": 3.0})
    path = tmp_path / "mead" / "odd" / "eat.json"
    data = json.loads(path.read_text())
    data["method"] = "we<i>ird</i> | a>b"
    path.write_text(json.dumps(data))
    [t1] = _t1(build_tables(load_results(tmp_path)))
    assert (
        r"we\textless{}i\textgreater{}ird\textless{}/i\textgreater{} \textbar{} a\textgreater{}b"
        in to_latex(t1)
    )
    assert r"we&lt;i&gt;ird&lt;/i&gt; \| a&gt;b" in to_markdown(t1)


def test_a_sweeps_seeds_are_rows_of_their_own_not_a_clash(tmp_path, make_result):
    """--num-samples 2 exports edtalk_full_seed0 and _seed1 with one sweep value: they were shown as
    a clash of two files (labelled by folder, with a warning)."""
    values = T3_VALUES
    for seed in (0, 1):
        sweep = {"name": "ablations", "param": "variant", "value": "full", "seed": seed}
        make_result(tmp_path, "synthtalk", f"edtalk_full_seed{seed}", "eat", {**values, "psnr": 20.0 + seed},
                    sweep=sweep, extra={"driving": "audio"})  # fmt: skip
    warnings = []
    [t3] = [t for t in build_tables(load_results(tmp_path), warnings) if t.number == "3" and t.sources]
    assert [r.label for r in t3.rows] == ["Full Model (seed 0)", "Full Model (seed 1)"] and warnings == []


def _table5(tmp_path, make_result):
    """Table 5 (HDTF reenactment, PSNR and LPIPS shown with 2 decimals) with measured rows a, b, c
    and a measured GT row; a 30.001 and b 29.996 both print as 30.00."""
    base = {"ssim": 0.8, "l1": 0.03, "akd": 1.5, "aed": 0.02}
    for method, psnr, lpips in (
        ("a", 30.001, 0.10),
        ("b", 29.996, 0.12),
        ("c", 28.0, 0.20),
        ("gt", 30.0, 0.10),
    ):
        make_result(tmp_path, "hdtf", method, "canonical", {**base, "psnr": psnr, "lpips": lpips})
    [t5] = [t for t in build_tables(load_results(tmp_path)) if t.number == "5" and t.protocol == "canonical"]
    col = {c.metric: j for j, c in enumerate(t5.columns)}
    rows = {r.label: r for r in t5.rows if not r.reported}
    return t5, col, rows


def test_values_equal_at_the_shown_precision_share_the_rank(tmp_path, make_result):
    """30.001 and 29.996 both print 30.00: both are best (bold), and the next value shown is second.
    Ranking the unrounded values bolded one of two equal-looking numbers."""
    t5, col, rows = _table5(tmp_path, make_result)
    psnr = col["psnr"]
    assert rows["a"].cells[psnr].text == rows["b"].cells[psnr].text == "30.00"
    assert [rows[k].cells[psnr].rank for k in ("a", "b", "c")] == [1, 1, 2]
    assert to_markdown(t5).count("**30.00**") == 2 and "<u>28.00</u>" in to_markdown(t5)


def test_a_gt_row_equal_to_the_best_value_is_not_ranked(tmp_path, make_result):
    """GT is a reference: shown, never bold or underlined, even where its value equals the best
    (PSNR 30.00, LPIPS 0.10); the methods' ranks are unchanged by it."""
    t5, col, rows = _table5(tmp_path, make_result)
    gt = next(r for r in t5.rows if r.reference and not r.reported)
    assert gt.cells[col["psnr"]].text == "30.00" and gt.cells[col["lpips"]].text == "0.10"
    assert all(c.rank is None for c in gt.cells)
    assert [rows[k].cells[col["lpips"]].rank for k in ("a", "b", "c")] == [1, 2, None]
    gt_line = next(line for line in to_markdown(t5).splitlines() if line.startswith(f"| {gt.label} "))
    assert "**" not in gt_line and "<u>" not in gt_line


def test_a_metric_that_clips_failed_in_alone_is_marked_and_not_ranked(tmp_path, make_result):
    """A clip that failed in one metric is left out of that metric only, so the cell is over fewer clips
    than its row and the other rows: it was bold as if comparable, with nothing in the cell saying so."""
    make_result(tmp_path, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0}, extra={"n_clips": 12})
    make_result(tmp_path, "mead", "b", "eat", {"psnr": 21.0, "fid": 2.0}, extra={"n_clips": 12})
    failures = [
        {"clip": "c1", "metric": "fid", "reason": "no face"},
        {"clip": "c2", "metric": "fid", "reason": "no face"},
        {"clip": "c3", "metric": None, "reason": "unreadable"},
        {"clip": "c3", "metric": "psnr", "reason": "no face"},  # failed as a whole: in no number
    ]
    make_result(
        tmp_path, "mead", "c", "eat", {"psnr": 22.0, "fid": 1.0}, extra={"n_clips": 13, "failures": failures}
    )
    t1 = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    rows = {r.label: r for r in t1.rows if not r.reported}
    fid = [c.metric for c in t1.columns].index("fid")
    psnr = [c.metric for c in t1.columns].index("psnr")
    assert rows["c"].cells[fid].text == "1.000‡" and rows["c"].cells[fid].rank is None
    assert rows["c"].cells[psnr].text == "22.000" and rows["c"].cells[psnr].rank is not None
    assert rows["b"].cells[fid].rank == 1 and rows["a"].cells[fid].rank == 2
    assert (
        "‡ over fewer clips than the rest of its row (clips that failed in that metric alone are left out "
        "of it only), so not ranked: c FID (2 of its 12 clips failed in it)"
    ) in t1.stamps
    assert r"1.000\textsuperscript{\ddag}" in to_latex(t1)


def test_two_ranked_rows_mark_only_the_best_and_latex_numbers_its_own_tables(tmp_path, make_result):
    """With two rows every cell was bold or underlined (a smoke sweep's Table 6), which says nothing;
    and LaTeX's caption began 'Table 1:' under LaTeX's own number ('Table 2: Table 3: ...')."""
    make_result(tmp_path, "mead", "a", "eat", {"psnr": 20.0, "fid": 3.0})
    make_result(tmp_path, "mead", "b", "eat", {"psnr": 21.0, "fid": 2.0})
    t = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    assert {c.rank for r in t.rows if r.reported for c in r.cells} >= {1, 2}  # with the paper's rows: both
    t.rows = [r for r in t.rows if not r.reported]
    for c in t.rows[0].cells + t.rows[1].cells:
        c.rank = None
    from eval.report.tables import _rank

    _rank(t.rows, t.columns)
    psnr = [c.metric for c in t.columns].index("psnr")
    assert [r.cells[psnr].rank for r in t.rows] == [None, 1]
    tex = to_latex(t)
    assert r"\caption{Audio-driven" in tex and "(the paper's Table 1)}" in tex and "Table 1:" not in tex


def test_a_table_says_the_size_its_rows_videos_were_drawn_at(tmp_path, make_result):
    """A 64 px model's videos are resized to 128 px GT before scoring, and nothing said so (a helper's
    review of the demo's report: its PSNR read as a full-size one's)."""
    for method in ("edtalk_a", "edtalk_v"):
        make_result(
            tmp_path, "mead", method, "eat", {"fid": 3.0}, extra={"provenance": {"resolution": [64, 64]}}
        )
    make_result(tmp_path, "mead", "gt", "eat", {"fid": 0.0})
    t1 = next(t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.protocol == "eat")
    assert (
        "Videos drawn at (height x width): edtalk_a, edtalk_v 64x64; another size than the GT's is resized "
        "to it before scoring"
    ) in t1.stamps
