import pytest

from edtalk.registry import Registry, UnknownNameError


def test_register_and_get():
    r = Registry("widget")

    @r.register("alpha")
    def alpha():
        return 1

    assert r.get("alpha") is alpha
    assert "alpha" in r and len(r) == 1 and r.names() == ["alpha"]


def test_unknown_name_suggests_close_matches():
    r = Registry("metric")
    r.add("psnr", object())
    r.add("ssim", object())
    with pytest.raises(UnknownNameError) as err:
        r.get("pnsr")
    msg = str(err.value)
    assert "unknown metric 'pnsr'" in msg and "Did you mean 'psnr'" in msg and "Known: psnr, ssim" in msg


def test_duplicate_registration_is_an_error():
    r = Registry("stage")
    r.add("a", object())
    with pytest.raises(ValueError, match="registered twice"):
        r.add("a", object())


REGISTRIES = {  # package -> (the expression giving its registry after loading, decorator names)
    "eval.metrics": ("eval.metrics.load_all()", ("METRICS",)),
    "eval.backbones": ("eval.backbones.load_all()", ("BACKBONES",)),
    "baselines": ("baselines.load_all()", ("METHODS",)),
    "edtalk.data.readers": ("edtalk.data.readers.READERS", ("READERS",)),
}


@pytest.mark.parametrize("package", sorted(REGISTRIES))
def test_loading_a_registry_registers_every_name_its_package_declares(package):
    """A fresh interpreter: every ``@<REGISTRY>.register("name")`` written in the package's files is
    known once the registry is loaded (before, each package kept a second list of module names, and
    eval.backbones' list lacked s3fd_track: ``syncnet_s3fd`` and the ``s3fd_track`` feature were
    registered only if eval.metrics.lse had happened to import it first)."""
    import importlib.util
    import re
    import subprocess
    import sys
    from pathlib import Path

    expression, registries = REGISTRIES[package]
    folder = Path(importlib.util.find_spec(package).origin).parent
    pattern = re.compile(rf"@?(?:{'|'.join(registries)}|FEATURES)\.(?:register|add)\(\s*\"([a-z0-9_]+)\"")
    declared = {
        name
        for path in folder.glob("*.py")
        if path.name != "__init__.py"  # its docstring shows the decorator with a placeholder name
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert declared, f"no registrations found under {folder}"
    code = (
        f"import {package}, eval.context\n"
        f"names = set({expression}.names()) | set(eval.context.FEATURES.names())\n"
        "print('\\n'.join(sorted(names)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert declared <= set(out.split()), declared - set(out.split())


def test_a_registry_with_a_package_to_fill_it_from_imports_it_on_the_first_lookup():
    """eval.metrics' own docstring example, METRICS.get("psnr"), failed in a fresh process ("Known:
    (none)"): the metric modules register themselves only once imported."""
    import subprocess
    import sys

    code = (
        "from eval.metrics import METRICS; from baselines import METHODS; "
        "print(METRICS.get('psnr').__name__, 'lse_d' in METRICS, METHODS.get('static').__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["PSNR", "True", "StaticFrame"]


def test_a_definition_run_again_in_a_notebook_replaces_the_first():
    """Re-running a notebook cell that registers a metric or protocol raised 'registered twice'; a
    different thing under a taken name still does (a helper's library-API review)."""
    from dataclasses import dataclass

    r = Registry("metric")
    code = "@r.register('mine')\nclass Mine:\n    pass\n"
    first, second = {"r": r, "__name__": "__main__"}, {"r": r, "__name__": "__main__"}
    exec(code, first)
    exec(code, second)  # the cell again: a new class object of the same name
    assert r.get("mine") is second["Mine"]

    @dataclass(frozen=True)
    class Record:
        x: int

    r.add("rec", Record(1))
    r.add("rec", Record(1))  # an equal record again
    with pytest.raises(ValueError, match="registered twice"):
        r.add("rec", Record(2))
    with pytest.raises(ValueError, match="registered twice"):
        r.add("mine", object())
