"""One protocol under two hashes (a metric row added to it between runs, or other judges): the report
printed two tables of one caption, differing only in the hash line under them, and said nothing."""

from eval.report.__main__ import main
from eval.report.formats import caption
from eval.report.inputs import load_results
from eval.report.tables import build_tables

OLD, NEW = "1111aaaa1111aaaa", "2222bbbb2222bbbb"


def two_hashes(root, make_result):
    values = dict(psnr=20.0, ssim=0.7)
    make_result(
        root, "synthtalk", "gt", "synthtalk", values, phash=OLD, extra={"created": "2025-01-01T00:00"}
    )
    make_result(root, "synthtalk", "static", "synthtalk", values, phash=OLD, extra={"created": "2025-01-02"})
    make_result(
        root, "synthtalk", "edtalk_a", "synthtalk", values, phash=NEW, extra={"created": "2025-02-01"}
    )


def test_one_dataset_and_protocol_under_two_hashes_is_warned_about(tmp_path, make_result):
    two_hashes(tmp_path, make_result)
    warnings = []
    tables = build_tables(load_results(tmp_path), warnings)
    same = [t for t in tables if caption(t) == "Measured results on synthtalk [synthtalk]"]
    assert sorted(t.protocol_hash for t in same) == [OLD, NEW]  # still two tables, one per hash
    [warning] = [w for w in warnings if "protocol hashes" in w]
    assert warning.startswith("protocol synthtalk has rows under 2 protocol hashes")
    assert "'Measured results on synthtalk [synthtalk]' is shown once per hash" in warning
    assert "hash 1111aaaa: gt (synthtalk), static (synthtalk)" in warning
    assert "hash 2222bbbb (the newest): edtalk_a (synthtalk)" in warning
    assert "The protocol's table changed between the runs" in warning and "judges" in warning
    assert "rescore the older rows" in warning


def test_the_warning_is_on_stderr_and_on_the_page(tmp_path, make_result, capsys):
    two_hashes(tmp_path / "res", make_result)
    assert main([str(tmp_path / "res"), "--out", str(tmp_path / "report"), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert err.count("protocol hashes") == 1 and "warning: protocol synthtalk has rows under 2" in err
    assert (
        "protocol synthtalk has rows under 2 protocol hashes" in (tmp_path / "report/index.html").read_text()
    )


def test_a_paper_table_split_by_hash_is_warned_about_once(tmp_path, make_result):
    """mead scored under eat before a change to eat, hdtf after: Table 1 twice."""
    t1 = dict(psnr=21.0, ssim=0.70, m_lmd=1.6, f_lmd=1.3, fid=18.0, lse_c=7.9)
    make_result(tmp_path, "mead", "edtalk_a", "eat", t1, phash=OLD)
    make_result(tmp_path, "hdtf", "edtalk_a", "eat", t1, phash=NEW)
    warnings = []
    build_tables(load_results(tmp_path), warnings)
    [warning] = [w for w in warnings if "protocol hashes" in w]
    assert warning.startswith("protocol eat has rows under 2 protocol hashes, so 'Table 1: ")
    assert "hash 1111aaaa: edtalk_a (mead); hash 2222bbbb: edtalk_a (hdtf)" in warning  # no dates: no newest


def test_one_hash_per_protocol_gives_no_warning(results_dir):
    """Guard: other protocols under other hashes (the fixture's eat, canonical and synthtalk) are no
    change between runs."""
    warnings = []
    build_tables(load_results(results_dir), warnings)
    assert len({r.protocol_hash for r in load_results(results_dir)}) == 3
    assert not [w for w in warnings if "protocol hashes" in w]
