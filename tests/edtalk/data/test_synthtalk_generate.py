"""synthtalk dataset writer: determinism, disjoint identity splits, sidecar schema, media durations."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.clip import EMOTIONS
from edtalk.data.readers import read_clips
from edtalk.data.synthtalk import FACTOR_KEYS, generate
from edtalk.data.synthtalk.presets import SPLITS, Preset
from edtalk.data.video import probe_video, read_video

QUICK = Preset("quick", 64, (1, 1, 1), 1, 2.0, 2.2, emotions=("happy", "sad"), levels=(1, 3))
NON_DETERMINISTIC = ("card.json", "card.md")  # only their build block (wall time, workers) varies


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in NON_DETERMINISTIC
    }


def _card(root: Path) -> dict:
    card = json.loads((root / "card.json").read_text())
    card.pop("build")
    return card


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthtalk") / "a"
    generate(root, QUICK, seed=0, workers=1, progress=False)
    return root


def test_same_seed_gives_same_bytes_with_any_worker_count(dataset, tmp_path):
    again = tmp_path / "b"
    generate(again, QUICK, seed=0, workers=2, progress=False)
    assert _hashes(dataset) == _hashes(again)
    assert _card(dataset) == _card(again)


def test_different_seed_gives_different_clips(dataset, tmp_path):
    other = tmp_path / "c"
    generate(other, QUICK, seed=1, workers=1, progress=False)
    mine, theirs = _hashes(dataset), _hashes(other)
    assert mine.keys() == theirs.keys()
    clips = [k for k in mine if k.startswith("clips/")]
    assert all(mine[k] != theirs[k] for k in clips)


def test_splits_are_identity_disjoint_and_cover_every_clip(dataset):
    ids = {s: (dataset / "splits" / f"{s}.txt").read_text().split() for s in SPLITS}
    people = {s: {i.split("#")[0] for i in v} for s, v in ids.items()}
    assert all(people.values())
    assert not (
        people["train"] & people["judge"]
        or people["train"] & people["test"]
        or people["judge"] & people["test"]
    )
    listed = sorted(i for v in ids.values() for i in v)
    assert listed == sorted(p.stem for p in (dataset / "clips").glob("*.json"))
    per_identity = len(QUICK.emotions) * len(QUICK.levels)
    assert len(listed) == QUICK.n_identities * per_identity
    card = json.loads((dataset / "card.json").read_text())
    assert card["counts"]["clips_total"] == len(listed) and card["size_bytes"] > 0
    assert (dataset / "contact_sheet.png").stat().st_size > 0 and (dataset / "card.md").is_file()


def test_sidecar_schema(dataset):
    for path in sorted((dataset / "clips").glob("*.json")):
        meta = json.loads(path.read_text())
        identity, emotion, level, number = meta["id"].split("#")
        assert meta["id"] == path.stem and meta["identity"] == identity
        assert meta["emotion"] == emotion in EMOTIONS and level == f"level_{meta['level']}"
        assert meta["split"] in SPLITS and meta["transcript"] and number == "001"
        assert meta["fps"] == 25.0 and meta["sample_rate"] == 16000 and meta["size"] == 64
        t = meta["n_frames"]
        assert t >= 50  # at least 2 s
        assert set(FACTOR_KEYS) <= set(meta["factors"])
        assert all(len(v) == t for v in meta["factors"].values())
        lm = np.asarray(meta["landmarks"])
        assert lm.shape == (t, 68, 2) and (lm > 0).all() and (lm < 64).all()
        visemes = meta["visemes"]
        assert visemes[0]["start"] == 0 and visemes[-1]["end"] == pytest.approx(t / 25)
        assert {"viseme", "start", "end"} <= set(visemes[0])
        assert meta["identity_params"]["skin"] and "brow_inner_raise" in meta["expression"]


def test_video_and_wav_agree_and_readers_see_the_dataset(dataset):
    clips = read_clips("synthtalk", dataset, "test")
    assert len(clips) == len(QUICK.emotions) * len(QUICK.levels)
    for clip in clips[:2]:
        video = read_video(clip.video)
        wav, rate = sf.read(clip.audio)
        assert rate == 16000 and wav.ndim == 1
        assert video.frames.shape[1:] == (64, 64, 3) and video.fps == 25.0
        assert abs(video.duration - len(wav) / rate) <= 0.04
        assert probe_video(clip.video).has_audio
        meta = json.loads(clip.sidecar.read_text())
        assert video.n_frames == meta["n_frames"] and clip.emotion == meta["emotion"]


def test_existing_dataset_is_kept_unless_forced_or_incomplete(dataset, tmp_path):
    root = tmp_path / "d"
    generate(root, QUICK, seed=0, workers=1, progress=False)
    clip = next((root / "clips").glob("*.mp4"))
    clip.write_bytes(b"stale")  # a kept dataset is not rewritten ...
    generate(root, QUICK, seed=0, workers=1, progress=False)
    assert clip.read_bytes() == b"stale"
    generate(root, QUICK, seed=0, workers=1, progress=False, force=True)  # ... unless forced
    assert _hashes(root) == _hashes(dataset)
    clip.unlink()  # an incomplete dataset is regenerated
    generate(root, QUICK, seed=0, workers=1, progress=False)
    assert _hashes(root) == _hashes(dataset)


def test_an_out_holding_another_dataset_or_other_files_is_refused_unless_forced(dataset, tmp_path, capsys):
    """`--seed 3` into the demo's data/synthtalk (seed 0) rewrote its clips one by one, and a folder of
    someone's videos got a synthtalk written into it; both are refused now, before any file is written."""
    from edtalk.data.errors import DatasetLayoutError
    from edtalk.data.synthtalk.__main__ import main

    before = _hashes(dataset)
    with pytest.raises(
        DatasetLayoutError, match="holds synthtalk preset 'quick' seed 0; generating preset 'quick' seed 3"
    ):
        generate(dataset, QUICK, seed=3, workers=1, progress=False)
    assert _hashes(dataset) == before
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "mine.mp4").write_bytes(b"not synthtalk")
    assert main(["--out", str(videos), "--no-progress"]) == 2
    assert "not empty and not a synthtalk dataset (holds mine.mp4)" in capsys.readouterr().err
    assert sorted(p.name for p in videos.iterdir()) == ["mine.mp4"]
    generate(videos, QUICK, seed=0, workers=1, progress=False, force=True)  # --force writes anyway
    assert (videos / "mine.mp4").is_file() and (videos / "card.json").is_file()
