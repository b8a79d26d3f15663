"""Tools that write one result file check its path before their work: a path under a file, or a folder
given as the file, ended in a traceback after minutes of work (eval.probe: 86 s), the result lost."""

import pytest

from edtalk.cli import out_file_problem, print_and_save, unwritable


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "afile"
    path.write_text("not a folder")
    return path


def test_unwritable_names_why_and_leaves_nothing_behind(tmp_path, a_file):
    assert unwritable(tmp_path / "new" / "deeper" / "result.json") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no folder made, no temp file left
    assert unwritable(a_file / "result.json") == f"{a_file} is a file, not a folder"
    assert unwritable(tmp_path) == f"{tmp_path} is a folder"
    assert out_file_problem(None) is None
    assert out_file_problem(a_file / "x.json", "--json") == (
        f"--json {a_file / 'x.json'}: cannot write the output here ({a_file} is a file, not a folder)"
    )


def test_a_diagnostic_refuses_its_out_before_computing(tmp_path, a_file, capsys):
    def compute():
        raise AssertionError("computed before --out was checked")

    assert print_and_save(compute, str, a_file / "probe.json") == 2
    assert "cannot write the output here" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module, argv, flag",
    [
        ("eval.proof", ["--ckpt", "{tmp}/none.pt", "--data", "{tmp}/none", "--out", "{out}"], "--out"),
        ("eval.capacity", ["--data", "{tmp}/none", "--no-judge", "--out", "{out}"], "--out"),
        (
            "edtalk.data.check",
            ["--dataset", "synthtalk", "--root", "{tmp}/none", "--json", "{out}"],
            "--json",
        ),
        ("edtalk.data.crop", ["image", "{tmp}/none.png", "--out", "{out}"], "--out"),
    ],
)
def test_each_tool_refuses_an_out_under_a_file_before_its_work(tmp_path, a_file, capsys, module, argv, flag):
    """Each would fail on its missing input first if the output were checked after the work."""
    import importlib

    out = a_file / ("result.png" if module == "edtalk.data.crop" else "result.json")
    args = [a.format(tmp=tmp_path, out=out) for a in argv]
    main = importlib.import_module(module).main
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{flag} {out}: cannot write the output here ({a_file} is a file, not a folder)" in err


def test_expert_training_refuses_its_out_and_a_missing_dataset_in_one_line(tmp_path, a_file, capsys):
    from edtalk.experts.cli import main

    assert main(["train", "--data", str(tmp_path), "--split", "train", "--out", str(a_file)]) == 2
    assert f"--out {a_file}: cannot write the experts here ({a_file} is a file, not a folder)" in (
        capsys.readouterr().err
    )
    assert (
        main(["train", "--data", str(tmp_path / "none"), "--split", "train", "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert "none" in err and "Traceback" not in err
