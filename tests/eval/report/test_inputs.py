"""Results files of the wrong shape are named problems (left out, or exit 2 with --strict), never
tracebacks."""

import json

import pytest

from eval.report.__main__ import main
from eval.report.inputs import ResultsFileError, read_result


def _set(field, value):
    return lambda d: d.__setitem__(field, value)


def _flat_metrics(d):  # a results file of an older schema: "psnr": 22.3
    d["metrics"] = {k: v["value"] for k, v in d["metrics"].items()}


BREAKS = {
    "flat metric numbers": (_flat_metrics, "metric 'psnr' is 22.3, not an object"),
    "protocol null": (_set("protocol", None), "field 'protocol' is None, expected an object"),
    "failures null": (_set("failures", None), "field 'failures' is None, expected a list"),
    "metrics a list": (_set("metrics", [1]), "field 'metrics' is [1]"),
    "failure a string": (_set("failures", ["clip a"]), "failure entry 'clip a' lacks clip/reason"),
    "metrics empty": (_set("metrics", {}), "field 'metrics' is empty"),
    "failure metric a list": (
        _set("failures", [{"clip": "a", "metric": ["psnr"], "reason": "x"}]),
        "failure entry's metric ['psnr'] is not a metric id",
    ),
    "psnr lower is better": (  # it stopped the whole report (exit 2) when the tables were built
        lambda d: d["metrics"]["psnr"].__setitem__("higher_is_better", False),
        "metric 'psnr' has higher_is_better=False, but the paper's arrow says True",
    ),
    "method null": (_set("method", None), "field 'method' is None"),
    "provenance a string": (_set("provenance", "x"), "field 'provenance' is 'x', expected an object"),
    "sweep param a list": (
        _set("sweep", {"name": "ablations", "param": ["v"], "value": "full"}),
        "string 'name' and 'param'",
    ),
    "value a string": (  # catches validate accepting any value type (the tables then format a str)
        lambda d: d["metrics"]["psnr"].__setitem__("value", "30.0"),
        "metric 'psnr' value '30.0' is not a number",
    ),
    "another schema": (  # catches validate reading a file of another schema version as this one
        _set("schema", "edtalk-bench/results/0"),
        "schema 'edtalk-bench/results/0', expected 'edtalk-bench/results/1'",
    ),
    "bank size not a number": (
        _set("sweep", {"name": "bank_size", "param": "mouth", "value": "full"}),
        "bank_size sweep value 'full' is not a number",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_wrong_types_are_named_problems_not_tracebacks(tmp_path, make_result, capsys, case):
    results = tmp_path / "results"
    make_result(results, "mead", "good", "eat", {"psnr": 30.0, "fid": 3.0})
    path = make_result(results, "mead", "bad", "eat", {"psnr": 22.3, "fid": 4.0})
    data = json.loads(path.read_text())
    brk, message = BREAKS[case]
    brk(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match="bad/eat.json") as err:
        read_result(path)
    assert message in str(err.value)

    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    assert f"warning: left out: {path}: " in capsys.readouterr().err
    md = (tmp_path / "r" / "tables.md").read_text()
    assert "good" in md and "| bad" not in md
    assert main([str(results), "--out", str(tmp_path / "strict"), "--no-plots", "--strict"]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "strict").exists()


def test_a_file_that_is_not_utf8_is_left_out_like_a_truncated_one(tmp_path, make_result, capsys):
    results = tmp_path / "results"
    make_result(results, "mead", "good", "eat", {"psnr": 30.0, "fid": 3.0})
    gz = results / "mead" / "zipped" / "eat.json"
    gz.parent.mkdir(parents=True)
    gz.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(ResultsFileError, match="zipped/eat.json: not UTF-8 text"):
        read_result(gz)
    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    assert f"warning: left out: {gz}: not UTF-8 text" in capsys.readouterr().err
    assert "good" in (tmp_path / "r" / "tables.md").read_text()
    assert main([str(results), "--out", str(tmp_path / "strict"), "--no-plots", "--strict"]) == 2


def test_ctrl_c_while_rendering_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C during a render printed a 50-90 line traceback."""
    import eval.report.build as build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_report", interrupted)
    assert main([str(tmp_path), "--out", str(tmp_path / "report")]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: the report in") and "run the same command again" in err
    assert "Traceback" not in err
