"""eval.results.validate: the writer's own schema check refuses what readers would misread."""

import pytest

from eval.results import SCHEMA, ResultsSchemaError, validate, write_results


def _results(**changes) -> dict:
    """A minimal valid results dict (the fields eval.run writes), with ``changes`` applied."""
    psnr = {"value": 30.0, "n": 3, "spread": 0.5, "higher_is_better": True, "label": "PSNR"}
    data = {
        "schema": SCHEMA,
        "dataset": "synthtalk",
        "method": "gt",
        "split": "test",
        "protocol": {"name": "synthtalk", "hash": "0123456789abcdef", "settings": {}},
        "metrics": {"psnr": psnr},
        "versions": {"eval": "0"},
        "git": {"commit": "deadbeef", "dirty": False},
        "config": {},
        "unverified": False,
        "failures": [],
        "provenance": {},
    }
    data.update(changes)
    return data


def test_a_minimal_results_dict_is_valid():
    validate(_results())
    validate(_results(metrics={"psnr": {**_results()["metrics"]["psnr"], "value": None}}))  # not measured


def test_a_string_metric_value_is_refused_and_never_written(tmp_path):
    """Catches validate accepting any value type: "30.0" would be written, then sorted and averaged
    as text by the report."""
    data = _results()
    data["metrics"]["psnr"]["value"] = "30.0"
    with pytest.raises(ResultsSchemaError, match=r"metric 'psnr' value '30.0' is not a number"):
        validate(data, "r.json")
    with pytest.raises(ResultsSchemaError):
        write_results(tmp_path / "r.json", data)
    assert not (tmp_path / "r.json").exists()


def test_a_boolean_metric_value_is_refused():
    """Python's True is an int: validate took "value": true as the number 1."""
    data = _results()
    data["metrics"]["psnr"]["value"] = True
    with pytest.raises(ResultsSchemaError, match=r"metric 'psnr' value True is not a number"):
        validate(data, "r.json")


def test_another_schema_version_is_refused():
    """Catches validate reading a file of another schema version as if it were this one."""
    with pytest.raises(ResultsSchemaError, match=rf"schema 'edtalk-bench/results/0', expected '{SCHEMA}'"):
        validate(_results(schema="edtalk-bench/results/0"), "r.json")


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda d: d.update(unverified="false"), r"field 'unverified' is 'false', expected true or false"),
        (
            lambda d: d["metrics"]["psnr"].update(higher_is_better="false"),
            r"metric 'psnr' higher_is_better 'false' is not true/false",
        ),
        (lambda d: d["metrics"]["psnr"].update(higher_is_better=0), r"higher_is_better 0 is not true/false"),
    ],
)
def test_a_hand_edited_flag_of_another_type_is_refused(edit, problem):
    """A hand-edited "false" is a non-empty string: the report read it as true (an unverified mark on
    a verified run, or a lower-is-better metric's best value picked as its worst)."""
    data = _results()
    edit(data)
    with pytest.raises(ResultsSchemaError, match=problem):
        validate(data, "r.json")
