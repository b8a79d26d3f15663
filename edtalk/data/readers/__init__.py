"""Datasets: a reader (``root`` folder + split name -> ``list[Clip]``) and the facts about the dataset
that the trainer, the metrics and the report use.

Use ``read_clips("mead", root, split="test")``; ``READERS.names()`` lists the datasets and
``READERS.get(name)`` gives its ``Dataset`` record. Each reader documents its expected tree in its
module docstring and in docs/datasets.md; a missing root or an unknown tree raises
``DatasetLayoutError`` with the expected tree.

How to add a dataset: write ``edtalk/data/readers/<name>.py`` with

    def read_<name>(root: Path, split: str = "test") -> list[Clip]: ...

    READERS.add("<name>", Dataset(read_<name>, title="<Name>", labels_every_clip=..., ...))

add fixture tests in tests/edtalk/data/, document its tree in docs/datasets.md (section "Adding a
dataset" has the whole template). A new dataset is one of real faces unless its record says
``rendered=True``: eval.run and the sweeps score it under the paper's ``eat`` protocol by default and
refuse ``--protocol synthtalk`` (``eval.run_checks.choose_protocol``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.registry import Registry, import_modules_of

Reader = Callable[[Path, str], list[Clip]]


@dataclass(frozen=True)
class Dataset:
    """One dataset: how to read it, and what the rest of the suite needs to know about it."""

    read: Reader
    title: str  # the name the paper's tables print (MEAD, HDTF, ...)
    labels_every_clip: bool = False  # every clip carries its emotion label: Acc_emo applies to each
    splits_by_identity: bool = False  # its splits hold out whole people: a held-out person's clip leaks
    # its faces are synthtalk's renders: scored under the synthtalk protocol by default. False (real
    # faces, the safe default for a new reader): the paper's eat protocol by default, and --protocol
    # synthtalk refused, since the synthtalk judges were trained on synthtalk's renders only
    rendered: bool = False


READERS: Registry[Dataset] = Registry("dataset reader")


def read_clips(name: str, root: str | Path, split: str = "test") -> list[Clip]:
    """The clips of dataset ``name`` (a registered reader) under ``root`` for ``split``."""
    return READERS.get(name).read(Path(root), split)


def dataset_title(name: str) -> str:
    """How tables name dataset ``name``: its registered title, or the name itself for an unknown one
    (a results file of a dataset whose reader this checkout lacks)."""
    return READERS.get(name).title if name in READERS else name


# Importing the modules of this package registers the datasets (each holds one READERS.add).
import_modules_of(__name__)
from edtalk.data.readers.folder import pair_folders  # noqa: E402

__all__ = ["READERS", "Dataset", "Reader", "dataset_title", "pair_folders", "read_clips"]
