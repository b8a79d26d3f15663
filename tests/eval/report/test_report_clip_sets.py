"""Rows scored on as many clips but other ones (a --limit run beside a folder of other clips' videos,
or two methods that lost different clips) were ranked against each other and stamped as scored on
the same clips: the report now compares rows by the clip ids their per-clip rows record."""

from eval.report.formats import to_markdown
from eval.report.inputs import load_results
from eval.report.tables import build_tables

T1 = {"psnr": 20.0, "ssim": 0.7, "m_lmd": 2.0, "f_lmd": 2.0, "fid": 20.0, "lse_c": 5.0, "acc_emo": 50.0}


def _clips(first: int, last: int) -> list[str]:
    return [f"st{i:03d}#happy#level_1#000" for i in range(first, last)]


def _scored(tmp_path, make_result, method, psnr, ids, failed=(), dataset="synthtalk", protocol="synthtalk"):
    """A results file as eval.run writes it: ``n_clips`` clips run, a per-clip row each, ``failed``
    of them failed as a whole."""
    rows = [
        {
            "clip": c,
            "values": {} if c in failed else {"psnr": psnr},
            "failures": {"*": "x"} if c in failed else {},
        }
        for c in ids
    ]
    failures = [{"clip": c, "metric": None, "reason": "no prediction"} for c in failed]
    values = {**T1, "psnr": psnr} if dataset == "mead" else {"psnr": psnr}
    extra = {"n_clips": len(ids), "failures": failures}
    return make_result(tmp_path, dataset, method, protocol, values, clips=rows, extra=extra)


def _extra_table(tmp_path):
    [table] = [t for t in build_tables(load_results(tmp_path)) if t.key.startswith("dataset-synthtalk")]
    return table


def _ranks(table, metric: str = "psnr") -> dict[str, int | None]:
    j = next(j for j, c in enumerate(table.columns) if c.metric == metric)
    return {r.label: r.cells[j].rank for r in table.rows}


def test_a_row_on_as_many_other_clips_is_flagged_and_not_ranked(tmp_path, make_result):
    """b was scored on 12 clips, 4 of them not GT's: it was bold, under 'Clips scored: 12 ... in every
    row'."""
    _scored(tmp_path, make_result, "gt", 99.0, _clips(0, 12))
    _scored(tmp_path, make_result, "a", 20.0, _clips(0, 12))
    _scored(tmp_path, make_result, "c", 21.0, _clips(0, 12))
    _scored(tmp_path, make_result, "d", 19.0, _clips(0, 12))  # a third ranked row: a second is marked
    _scored(tmp_path, make_result, "b", 30.0, _clips(4, 16))
    table = _extra_table(tmp_path)
    assert _ranks(table) == {"a": 2, "b": None, "c": 1, "d": None, "gt": None}
    assert "| b | 30.000 |" in to_markdown(table) and "| c | **21.000** |" in to_markdown(table)
    assert (
        "Rows scored on different clips of synthtalk test (not comparable): a, c, d, gt: 12 clips; "
        "b: 12 clips, 4 of them not in gt's 12"
    ) in table.stamps
    assert (
        "Best (bold) and second best (underlined) on synthtalk test marked only among the rows scored on "
        "the same 12 clips as a (the most any row was); not ranked: b (12 clips, 4 of them not in a's 12)"
    ) in table.stamps
    assert not any(s.startswith("Clips scored") for s in table.stamps)


def test_two_rows_that_lost_different_clips_are_not_ranked_against_each_other(tmp_path, make_result):
    """Each failed one clip as a whole, a different one: 11 clips each, so they were ranked."""
    ids = _clips(0, 12)
    _scored(tmp_path, make_result, "gt", 99.0, ids)
    _scored(tmp_path, make_result, "a", 20.0, ids, failed={ids[0]})
    _scored(tmp_path, make_result, "b", 21.0, ids, failed={ids[1]})
    table = _extra_table(tmp_path)
    assert _ranks(table) == {"a": None, "b": None, "gt": None}
    assert (
        "Rows scored on different clips of synthtalk test (not comparable): gt: 12 clips; "
        "a: 11 clips, all in gt's 12; b: 11 clips, all in gt's 12"
    ) in table.stamps
    assert (
        "Best (bold) and second best (underlined) on synthtalk test not marked: the rows scored on the most "
        "clips (11) were scored on different clips, as many rows on each; not ranked: a (11 clips), "
        "b (11 clips, 1 of them not in a's 11)"
    ) in table.stamps


def test_paper_rows_stay_ranked_when_the_measured_rows_were_scored_on_different_clips(tmp_path, make_result):
    """Table 1: a --limit run and a folder of other clips' videos, both 12 clips: ranked only the
    paper's rows among themselves, as the line under the table says."""
    _scored(tmp_path, make_result, "a", 20.0, _clips(0, 12), dataset="mead", protocol="eat")
    _scored(tmp_path, make_result, "b", 21.0, _clips(12, 24), dataset="mead", protocol="eat")
    [t1] = [t for t in build_tables(load_results(tmp_path)) if t.number == "1" and t.sources]
    ranks = _ranks(t1)
    assert ranks["a"] is None and ranks["b"] is None and 1 in ranks.values()
    assert (
        "Best (bold) and second best (underlined) on mead test marked only among the paper's † rows: the "
        "rows scored on the most clips (12) were scored on different clips, as many rows on each; "
        "not ranked: a (12 clips), b (12 clips, 12 of them not in a's 12)"
    ) in t1.stamps


def test_files_that_record_no_clip_ids_are_compared_by_their_count(tmp_path, make_result):
    """No .clips.jsonl, or rows that do not name each clip run: such a file is ranked with the rows on
    as many clips (today's rule), and says that its clips' ids are not recorded."""
    _scored(tmp_path, make_result, "a", 20.0, _clips(0, 12))
    _scored(tmp_path, make_result, "c", 25.0, _clips(0, 12))
    _scored(tmp_path, make_result, "b", 30.0, _clips(4, 16))
    make_result(tmp_path, "synthtalk", "old", "synthtalk", {"psnr": 22.0}, extra={"n_clips": 12})
    partial = [{"clip": c, "values": {}} for c in _clips(0, 6)]  # 6 rows for 12 clips run
    make_result(
        tmp_path, "synthtalk", "part", "synthtalk", {"psnr": 23.0}, clips=partial, extra={"n_clips": 12}
    )
    table = _extra_table(tmp_path)
    assert _ranks(table) == {"a": None, "b": None, "c": 1, "old": None, "part": 2}
    assert (
        "Rows scored on different clips of synthtalk test (not comparable): a, c: 12 clips; "
        "b: 12 clips, 4 of them not in a's 12; old: 12 clips, clip ids not recorded; "
        "part: 12 clips, clip ids not recorded"
    ) in table.stamps
    assert (
        "Best (bold) and second best (underlined) on synthtalk test marked only among the rows scored on "
        "the same 12 clips as a (the most any row was) and the rows on 12 clips whose files record no clip "
        "ids; not ranked: b (12 clips, 4 of them not in a's 12)"
    ) in table.stamps


def test_rows_of_the_same_clips_render_as_before(tmp_path, make_result):
    """Guard: rows scored on one set of clips (GT's too, and one file recording only its count) are
    ranked and stamped as they were when only counts were compared."""
    ids = _clips(0, 3)
    _scored(tmp_path, make_result, "gt", 99.0, ids)
    _scored(tmp_path, make_result, "a", 20.0, ids)
    _scored(tmp_path, make_result, "b", 21.0, ids)
    make_result(tmp_path, "synthtalk", "old", "synthtalk", {"psnr": 19.0}, extra={"n_clips": 3})
    assert to_markdown(_extra_table(tmp_path)) == (
        "**Measured results on synthtalk [synthtalk]**\n\n"
        "| Method | PSNR ↑ |\n|---|---|\n| a | <u>20.000</u> |\n| b | **21.000** |\n| gt | 99.000 |\n"
        "| old | 19.000 |\n\n"
        "- Protocol: synthtalk (hash 0123456789abcdef): offline: the canonical maths with backbones trained "
        "on synthtalk's judge identities (eval.zoo), plus ground-truth disentanglement metrics; its numbers "
        "are not on the paper's scales\n"
        "- Clips scored: 3 of synthtalk test in every row\n"
        "- Rows: gt: the ground-truth clip scored against itself (a reference, never ranked)\n"
    )
