"""Provenance stamped into every checkpoint, expert file and results file: git hash, versions and the
machine that measured the speeds (it/s, seconds) recorded beside them."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent  # the checkout this code runs from


def git_hash(repo: Path = REPO) -> str:
    """The repository's HEAD commit, or "unknown" outside a git checkout (or before its first commit)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=repo
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (out.returncode == 0 and out.stdout.strip()) or "unknown"


def _dirty(repo: Path) -> bool | None:
    """Whether the checkout differs from HEAD: a tracked file changed (staged or not), or an untracked
    file that .gitignore does not ignore (a new module not yet committed; data/, runs/ and results/
    are ignored). None when git cannot tell. Takes no index lock (``--no-optional-locks``): a result
    written while someone commits in the same checkout does not make their ``git add`` fail."""
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=normal"],
            cwd=repo, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def code_state(repo: Path = REPO) -> str:
    """HEAD's commit, with "+dirty" when the checkout differs from it (``_dirty``: tracked changes or
    untracked files that are not ignored; "unknown" outside git): what a saved result computed by this
    code may be reused under (``edtalk.cli.saved_result``)."""
    head = git_hash(repo)
    if head == "unknown":
        return head
    dirty = _dirty(repo)
    if dirty is None:
        return "unknown"
    return f"{head}+dirty" if dirty else head


def git_info(repo: Path = REPO) -> dict[str, Any]:
    """{"commit": HEAD's commit, "dirty": whether the checkout differs from it (``_dirty``)}; None for
    what git cannot tell (outside a checkout, no git)."""
    head = git_hash(repo)
    return {"commit": None if head == "unknown" else head, "dirty": _dirty(repo)}


# import name -> distribution name, where they differ (for the version of a library not imported)
DISTRIBUTIONS = {"skimage": "scikit-image", "cv2": "opencv-python-headless", "dlib": "dlib-bin"}


def library_versions(names: Iterable[str]) -> dict[str, str | None]:
    """{"python": version, name: version for each of ``names``}: an imported module's ``__version__``,
    else its installed distribution's version (``DISTRIBUTIONS``; a distribution name such as
    "edtalk-bench" works too), else None. Imports nothing."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in names:
        mod = sys.modules.get(name)
        version = getattr(mod, "__version__", None) if mod else None
        if version is None:
            try:
                version = metadata.version(DISTRIBUTIONS.get(name, name))
            except metadata.PackageNotFoundError:
                version = None
        out[name] = str(version) if version is not None else None
    return out


def machine() -> dict[str, Any]:
    """{"cpu": model, "cpus": CPUs this process may use, "platform": OS, "gpus": CUDA device names}.

    Timings differ between machines (and float results between CPU models), so every figure that
    carries a speed says where it was measured. "gpus" is listed only when torch is already imported
    (this module never imports it) and sees CUDA devices."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 0
    info: dict[str, Any] = {"cpu": _cpu_model(), "cpus": cpus, "platform": platform.platform()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def describe_machine(info: dict[str, Any] | None) -> str:
    """One line for logs: "AMD EPYC, 2 CPUs" or "..., 2 CPUs, 8x NVIDIA H100"; "" without a record."""
    if not info:
        return ""
    text = f"{info.get('cpu', 'unknown CPU')}, {info.get('cpus', '?')} CPUs"
    gpus = info.get("gpus") or []
    if gpus:
        names = sorted(set(gpus))
        text += ", " + ", ".join(f"{gpus.count(n)}x {n}" for n in names)
    return text


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
