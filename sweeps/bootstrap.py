"""Start-up of the sweep scripts, stdlib only (importable by an interpreter without Ray): the repo
root on ``sys.path`` and ``PYTHONPATH``, and a re-run with the project's venv Python."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def ensure_project_python() -> None:
    """Re-run this script with the project's venv Python when started by another interpreter.

    ``ray job submit -- python sweeps/bank_size.py`` runs whatever ``python`` is first on the PATH
    of the Ray node (often not the venv); if that one cannot import Ray and ``<repo>/.venv`` exists,
    exec the same command line with ``<repo>/.venv/bin/python`` instead."""
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    if Path(sys.prefix).resolve() == (REPO_ROOT / ".venv").resolve() or not venv_python.is_file():
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        os.execv(str(venv_python), [str(venv_python), *sys.argv])


def ensure_repo_on_path() -> None:
    """``python sweeps/bank_size.py`` puts sweeps/ (not the repo) on sys.path; fix that, and pass it
    to Ray workers through PYTHONPATH (``ray job submit --working-dir .`` does the same)."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *parts])
