"""``python -m eval.run`` as a researcher extends the suite: a new dataset reader gets the real-face
protocol unless its record says its faces are synthtalk renders, a new method does not replace the
scores of a folder that had its name, and ``--help`` lists what the registries hold."""

import json

import numpy as np
import pytest

from baselines import METHODS, load_all
from baselines.runnable import GroundTruth
from edtalk.data.clip import Clip
from edtalk.data.readers import READERS, Dataset
from edtalk.data.video import write_video
from eval.protocols import PROTOCOLS, Protocol
from eval.results import read_results
from eval.run import build_parser, main
from eval.run_checks import UsageError, choose_protocol

QUIET = ["--metrics", "psnr", "--workers", "0", "--quiet"]


def frames_of(i: int, t: int = 8, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack(
        [np.stack([(xx * 3 + k * 9 + i * 40) % 256, yy * 2 % 256, (xx + yy) % 256], -1) for k in range(t)]
    ).astype(np.uint8)


def read_tiny(root, split="test"):
    """A reader as docs/datasets.md's template has it: one clip per video of ``root``."""
    return [
        Clip(id=v.stem, dataset="tiny", split=split, video=v, audio=v) for v in sorted(root.glob("*.mp4"))
    ]


@pytest.fixture
def tiny_reader(monkeypatch, tmp_path):
    """A new reader registered with the record's defaults (nothing said about its faces)."""
    monkeypatch.setitem(READERS._items, "tiny", Dataset(read_tiny, title="Tiny"))
    root = tmp_path / "tiny"
    for i in range(2):
        write_video(root / f"c{i}.mp4", frames_of(i), fps=25)
    return root


# -- a new dataset: real faces unless its record says otherwise --------------------------------------------


def test_a_new_reader_gets_the_papers_protocol_and_is_refused_the_synthtalk_judges(
    tiny_reader, tmp_path, capsys
):
    """REAL_FACE_DATASETS was a list kept by hand: a reader added as the docs show was scored by the
    synthtalk judges (trained on rendered faces) by default, and --protocol synthtalk was accepted."""
    assert choose_protocol("tiny", None) == ("eat", None)
    with pytest.raises(UsageError, match="--protocol synthtalk with --dataset tiny: the synthtalk judges"):
        choose_protocol("tiny", "synthtalk")
    argv = ["--dataset", "tiny", "--root", str(tiny_reader), "--method", "gt", "--out", str(tmp_path / "r")]
    assert main([*argv, "--protocol", "synthtalk", *QUIET]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --protocol synthtalk with --dataset tiny:") and err.count("\n") == 1
    assert main([*argv, *QUIET, "--allow-failures"]) == 0  # eat, the default (its crops find no face here)
    assert (tmp_path / "r/tiny/gt/eat.json").is_file()


def test_a_reader_of_synthtalk_renders_says_so_in_its_record(monkeypatch):
    monkeypatch.setitem(READERS._items, "tiny", Dataset(read_tiny, title="Tiny", rendered=True))
    assert choose_protocol("tiny", None) == ("synthtalk", None)
    assert choose_protocol("tiny", "synthtalk") == ("synthtalk", None)


def test_the_shipped_readers_keep_their_protocols():
    """Guard: synthtalk and folder (synthtalk-generated pairs in the tests and docs) default to the
    synthtalk judges, the four real-face datasets to eat; the records say which."""
    assert {name for name in READERS.names() if READERS.get(name).rendered} == {"synthtalk", "folder"}
    for name in ("mead", "hdtf", "lrw", "voxceleb2"):
        assert choose_protocol(name, None) == ("eat", None)
    assert choose_protocol("synthtalk", None) == ("synthtalk", None)
    assert choose_protocol("folder", None)[0] == "synthtalk"


# -- a new method named as an earlier folder -----------------------------------------------------------------


class Darken(GroundTruth):
    name = "darken"


def test_a_new_method_does_not_replace_a_folders_scores_of_its_name(
    tiny_reader, tmp_path, monkeypatch, capsys
):
    """folder:DIR scored as "darken" (its provenance.json), then baselines/darken.py added and run: its
    scores silently replaced the folder's (the reverse order is refused by provenance_method)."""
    videos = tmp_path / "darken_out"
    videos.mkdir()
    for video in tiny_reader.glob("*.mp4"):
        (videos / video.name).symlink_to(video)
    (videos / "provenance.json").write_text(json.dumps({"method": "darken"}))
    out = tmp_path / "r"
    argv = [
        "--dataset",
        "tiny",
        "--root",
        str(tiny_reader),
        "--out",
        str(out),
        "--protocol",
        "canonical",
        *QUIET,
    ]
    assert main([*argv, "--method", f"folder:{videos}"]) == 0
    load_all()
    monkeypatch.setitem(METHODS._items, "darken", Darken)
    assert main([*argv, "--method", "darken"]) == 2
    err = capsys.readouterr().err
    results = out / "tiny/darken/canonical.json"
    assert err.count("\n") == 1 and err.startswith(
        f"error: {results} holds the scores of the videos in {videos}"
    )
    assert "another --out" in err and f"{videos / 'provenance.json'}" in err
    assert read_results(results)["provenance"]["folder"] == str(videos)
    assert main([*argv, "--method", "darken", "--out", str(tmp_path / "r2")]) == 0
    assert main([*argv, "--method", "darken", "--out", str(tmp_path / "r2")]) == 0  # its own file: rescored
    capsys.readouterr()
    assert main(argv) == 2  # no --method: the error lists the registered ones, the new one too
    assert "--method is required: darken |" in capsys.readouterr().err


# -- --help lists the registries ---------------------------------------------------------------------------


def test_help_lists_every_registered_method_and_protocol(monkeypatch):
    """--method and --protocol's help were fixed strings: a new method or protocol was not listed."""
    load_all()
    monkeypatch.setitem(METHODS._items, "darken", Darken)
    monkeypatch.setitem(PROTOCOLS._items, "mine", Protocol(name="mine", description="a new one", metrics=()))
    monkeypatch.setitem(READERS._items, "tiny", Dataset(read_tiny, title="Tiny"))
    text = " ".join(build_parser().format_help().split())
    assert "darken |" in text and "folder:DIR (a folder of a method's output videos" in text
    listed = text.split("--protocol PROTOCOL ")[1].split(" (default:")[0].split(" | ")
    assert {"canonical", "eat", "mine", "synthtalk"} <= set(listed)  # other tests may register more
    assert "(default: synthtalk for --dataset folder and synthtalk, eat for" in text
    assert "eat for the real faces of hdtf, lrw, mead, tiny and voxceleb2 and any new reader, where" in text
