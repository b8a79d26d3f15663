"""Dataset readers: ``root`` folder + split name -> ``list[Clip]``.

Use ``read_clips("mead", root, split="test")``; ``READERS.names()`` lists the datasets.
Each reader documents its expected tree in its module docstring and in docs/datasets.md; a missing
root or an unknown tree raises ``DatasetLayoutError`` with the expected tree.

How to add a dataset: write ``edtalk/data/readers/<name>.py`` with

    @READERS.register("<name>")
    def read_<name>(root: Path, split: str = "test") -> list[Clip]: ...

add fixture tests in tests/edtalk/data/, document its tree
in docs/datasets.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.registry import Registry, import_modules_of

Reader = Callable[[Path, str], list[Clip]]
READERS: Registry[Reader] = Registry("dataset reader")


def read_clips(name: str, root: str | Path, split: str = "test") -> list[Clip]:
    """The clips of dataset ``name`` (a registered reader) under ``root`` for ``split``."""
    return READERS.get(name)(Path(root), split)


# Importing the modules of this package registers the readers (each holds one @READERS.register).
import_modules_of(__name__)
from edtalk.data.readers.folder import pair_folders  # noqa: E402

__all__ = ["READERS", "Reader", "pair_folders", "read_clips"]
