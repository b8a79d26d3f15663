"""constraints.txt (the lock every ``make install`` is constrained to) agrees with the pins it locks:
a pin changed in pyproject.toml or the Makefile without ``make lock`` fails here, not in pip's
resolver on a fresh clone."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")
# pip freeze leaves out pip's own tooling, which the Makefile pins in its first install step
NOT_FROZEN = {"pip", "setuptools", "wheel"}


def _name(raw: str) -> str:
    """PEP 503 normalised project name: ``Face_Alignment`` and ``face-alignment`` are one package."""
    return re.sub(r"[-_.]+", "-", raw).lower()


def _lock() -> dict[str, str]:
    lines = [
        ln for ln in (ROOT / "constraints.txt").read_text().splitlines() if ln and not ln.startswith("#")
    ]
    pins = {}
    for line in lines:
        match = PIN.match(line)
        assert match, f"constraints.txt: {line!r} is not a plain name==version pin"
        pins[_name(match[1])] = match[2]
    return pins


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [
        *project["dependencies"],
        *(s for extra in project["optional-dependencies"].values() for s in extra),
    ]
    return {_name(m[1]): m[2] for m in map(PIN.match, specs) if m}


def _makefile_pins() -> dict[str, str]:
    """The name==version pins the Makefile installs by hand (torch first, the --no-deps packages)."""
    text = (ROOT / "Makefile").read_text()
    return {_name(n): v for n, v in re.findall(r"(?<![\w-])([A-Za-z][\w.-]*)==([\w.+]+)", text)}


def test_lock_holds_every_pyproject_pin_at_its_version() -> None:
    lock = _lock()
    pins = _pyproject_pins()
    assert len(pins) > 30  # the parser read the pins, not nothing
    wrong = {n: (v, lock.get(n)) for n, v in pins.items() if lock.get(n) != v and n not in NOT_FROZEN}
    assert not wrong, f"pyproject pin vs constraints.txt (run `make lock`): {wrong}"


def test_lock_agrees_with_the_makefile_pins() -> None:
    lock = _lock()
    pins = _makefile_pins()
    assert {"torch", "torchvision", "face-alignment", "syncnet-python"} <= set(pins)
    wrong = {n: (v, lock.get(n)) for n, v in pins.items() if lock.get(n) != v and n not in NOT_FROZEN}
    assert not wrong, f"Makefile pin vs constraints.txt (run `make lock`): {wrong}"


def test_lock_has_no_editable_or_local_entry() -> None:
    assert "edtalk-bench" not in _lock(), "constraints.txt must not pin the project itself"
