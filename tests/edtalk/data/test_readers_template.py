"""docs/datasets.md "Adding a dataset": its reader template runs as written (imports included), refuses
a split it has no list for, and the dataset it registers is scored as real faces."""

import re
from pathlib import Path

import numpy as np
import pytest

from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, read_clips
from edtalk.data.video import write_video
from eval.run_checks import UsageError, choose_protocol

DOC = Path(__file__).resolve().parents[3] / "docs" / "datasets.md"


def template() -> str:
    """The template's code, for a dataset named ``tinyset``."""
    section = DOC.read_text(encoding="utf-8").split("## Adding a dataset", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return code.replace("<name>", "tinyset").replace("<Name>", "TinySet")


@pytest.fixture
def tinyset(monkeypatch, tmp_path):
    """The template registered (in a copy of the registry) and a tree of two clips, one listed."""
    monkeypatch.setattr(READERS, "_items", dict(READERS._items))
    exec(compile(template(), "edtalk/data/readers/tinyset.py", "exec"), {"__name__": "tinyset"})
    root = tmp_path / "tiny"
    frames = np.zeros((8, 64, 64, 3), np.uint8)
    for name in ("a_001", "b_001"):
        write_video(root / "videos" / f"{name}.mp4", frames, fps=25)
    (root / "lists").mkdir()
    (root / "lists" / "test.txt").write_text("b_001.mp4\nmissing_001\n")
    return root


def test_the_template_reads_its_split_list(tinyset):
    [clip] = read_clips("tinyset", tinyset, "test")
    assert clip.id == "b_001" and clip.dataset == "tinyset" and clip.video == tinyset / "videos/b_001.mp4"
    assert [c.id for c in read_clips("tinyset", tinyset, "all")] == ["a_001", "b_001"]
    assert READERS.get("tinyset").title == "TinySet"


def test_the_template_refuses_a_split_it_has_no_list_for(tinyset):
    """Returning every clip for `judge` made training refuse every clip as held out."""
    with pytest.raises(DatasetLayoutError, match="no list for split 'judge'"):
        read_clips("tinyset", tinyset, "judge")
    with pytest.raises(DatasetLayoutError, match="does not look like a tinyset dataset"):
        read_clips("tinyset", tinyset / "videos", "test")


def test_a_dataset_added_from_the_template_is_scored_as_real_faces(tinyset):
    assert choose_protocol("tinyset", None) == ("eat", None)
    with pytest.raises(UsageError, match="--protocol synthtalk with --dataset tinyset"):
        choose_protocol("tinyset", "synthtalk")
