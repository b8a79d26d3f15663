"""eval.generation: the stamps that say which GT files a generated video was made from."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.video import write_video
from eval.generation import drop_videos_of_changed_inputs, generate_chunk, generation_stamp


def _frames(i: int) -> np.ndarray:
    return np.full((4, 16, 16, 3), 40 * i, np.uint8)


def _speech(n: int) -> np.ndarray:
    return (0.1 * np.sin(np.arange(n) * 0.05)).astype(np.float32)


class CopiesTheFirstFrame:
    def generate(self, clip, path):
        write_video(path, _frames(0), fps=25)


def test_a_video_is_generated_again_when_its_gt_audio_changes(tmp_path, capsys):
    """Catches a fingerprint of the GT video alone: an audio-driven method (edtalk_a) kept the video
    it made from the old speech after the wav was replaced, scored against the new GT."""
    gt = tmp_path / "gt"
    clips = []
    for i in range(3):
        write_video(gt / f"c{i}.mp4", _frames(i), fps=25)
        sf.write(gt / f"c{i}.wav", _speech(6400), 16000)
        clips.append(SimpleNamespace(id=f"c{i}", video=gt / f"c{i}.mp4", audio=gt / f"c{i}.wav"))
    out = {c.id: tmp_path / "videos" / f"{c.id}.mp4" for c in clips}
    assert generate_chunk([(c, out[c.id]) for c in clips], CopiesTheFirstFrame())["failures"] == []
    assert drop_videos_of_changed_inputs(clips, out) == 0  # nothing changed: every video kept

    sf.write(gt / "c1.wav", _speech(8000), 16000)  # new speech, same frames
    assert drop_videos_of_changed_inputs(clips, out) == 1
    assert not out["c1"].exists() and not generation_stamp(out["c1"]).exists()
    assert out["c0"].exists() and out["c2"].exists()
    assert "1 generated videos were made from other GT files" in capsys.readouterr().out


def test_videos_are_kept_when_the_same_gt_is_reached_by_another_path(tmp_path, monkeypatch, capsys):
    """The stamp held the GT paths as given: a rerun with --root data/x after --root /abs/data/x (or
    through a symlink, or after moving the dataset) said "3 generated videos were made from other GT
    files" and generated them all again. A stamp of an older run (absolute paths) is read by name."""
    gt = tmp_path / "data" / "gt"

    def clips_under(root):
        return [
            SimpleNamespace(id=f"c{i}", video=root / f"c{i}.mp4", audio=root / f"c{i}.wav") for i in range(3)
        ]

    for c in clips_under(gt):
        write_video(c.video, _frames(1), fps=25)
        sf.write(c.audio, _speech(6400), 16000)
    out = {f"c{i}": tmp_path / "videos" / f"c{i}.mp4" for i in range(3)}
    assert generate_chunk([(c, out[c.id]) for c in clips_under(gt)], CopiesTheFirstFrame())["failures"] == []
    stamp = json.loads(generation_stamp(out["c2"]).read_text())
    old_stamp = [
        [str(gt / name), *entry[1:]] for name, entry in zip(("c2.mp4", "c2.wav"), stamp, strict=True)
    ]
    generation_stamp(out["c2"]).write_text(json.dumps(old_stamp))  # as the old code wrote it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(gt)
    for root in (Path("data") / "gt", Path("link")):
        assert drop_videos_of_changed_inputs(clips_under(root), out) == 0, root
    os.rename(gt, tmp_path / "moved")
    assert drop_videos_of_changed_inputs(clips_under(tmp_path / "moved"), out) == 0
    assert all(v.exists() for v in out.values()) and "regenerating" not in capsys.readouterr().out
    sf.write(tmp_path / "moved" / "c2.wav", _speech(8000), 16000)  # a changed file is still seen
    assert drop_videos_of_changed_inputs(clips_under(tmp_path / "moved"), out) == 1 and not out["c2"].exists()


@pytest.mark.parametrize("kind", ["checkpoint", "config", "missing_weights"])
def test_an_error_of_the_checkpoint_or_weights_stops_generation_rather_than_failing_each_clip(tmp_path, kind):
    """CheckpointError and ConfigError are ValueErrors and a missing weight file a FileNotFoundError,
    so the per-clip clause before them caught them: every clip failed with the same message and the
    run went on to score nothing. They are the same for every clip: they stop the run."""
    from edtalk.config import ConfigError
    from edtalk.model import CheckpointError
    from edtalk.weights import MissingWeightsError

    error = {
        "checkpoint": CheckpointError("ckpt.pt: not an EDTalk checkpoint"),
        "config": ConfigError("bank size 0"),
        "missing_weights": MissingWeightsError("hubert.pt: not found"),
    }[kind]

    class Broken:
        def generate(self, clip, path):
            raise error

    clips = [SimpleNamespace(id=f"c{i}", video=tmp_path / f"c{i}.mp4", audio=None) for i in range(2)]
    with pytest.raises(type(error)):
        generate_chunk([(c, tmp_path / "videos" / f"{c.id}.mp4") for c in clips], Broken())


def test_a_clip_whose_input_is_missing_or_bad_is_that_clips_failure(tmp_path):
    """The guard: a plain FileNotFoundError or ValueError of one clip stays that clip's failure."""

    class Picky:
        def generate(self, clip, path):
            if clip.id == "c0":
                raise FileNotFoundError("c0.wav: no such file")
            if clip.id == "c1":
                raise ValueError("c1.mp4: 0 frames")
            write_video(path, _frames(1), fps=25)

    clips = [SimpleNamespace(id=f"c{i}", video=tmp_path / f"c{i}.mp4", audio=None) for i in range(3)]
    for c in clips:
        write_video(c.video, _frames(1), fps=25)
    out = generate_chunk([(c, tmp_path / "videos" / f"{c.id}.mp4") for c in clips], Picky())
    assert [cid for cid, _ in out["failures"]] == ["c0", "c1"]
