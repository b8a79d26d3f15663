"""Runnable baselines: ``gt`` points at the GT file, ``static`` repeats the first GT frame."""

from pathlib import Path

import numpy as np
import pytest

from baselines import METHODS, make_method
from baselines.runnable import static_frames
from edtalk.data.clip import Clip
from edtalk.data.video import read_video, write_video


def test_static_frames_repeats_the_first_frame():
    frames = np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3)
    out = static_frames(frames)
    assert out.shape == frames.shape and (out == frames[0]).all()


def test_registry_and_specs():
    assert {"gt", "static", "edtalk_v", "edtalk_a", "folder", "paired"} <= set(
        make_method("gt") and METHODS.names()
    )
    with pytest.raises(KeyError, match="Did you mean 'static'"):
        make_method("statik")
    with pytest.raises(ValueError, match="folder:DIR"):
        make_method("folder")
    assert make_method("folder:/x/eat").folder == Path("/x/eat")


def test_gt_prediction_is_the_gt_file(tmp_path):
    clip = Clip(id="a#1", dataset="t", split="test", video=tmp_path / "a.mp4")
    m = make_method("gt")
    assert not m.generates and m.prediction_path(clip, tmp_path / "videos") == tmp_path / "a.mp4"


def test_static_generates_the_source_frame_with_audio(tmp_path):
    import soundfile as sf

    yy, xx = np.mgrid[0:32, 0:32]
    first = np.stack([xx * 6, yy * 6, (xx + yy) * 3], -1).astype(np.uint8)  # smooth: H.264 keeps it
    frames = np.repeat(first[None], 6, axis=0)
    frames[1:] = 255 - frames[1:]  # every later frame differs from the first
    write_video(tmp_path / "a.mp4", frames, fps=25)
    sf.write(tmp_path / "a.wav", np.zeros(16000 * 6 // 25, np.float32), 16000)
    clip = Clip(id="x/a#1", dataset="t", split="test", video=tmp_path / "a.mp4", audio=tmp_path / "a.wav")
    m = make_method("static")
    out = m.prediction_path(clip, tmp_path / "videos")
    assert m.generates and out.parent == tmp_path / "videos" and "/" not in out.name
    m.generate(clip, out)
    gt, pred = read_video(tmp_path / "a.mp4").frames, read_video(out).frames
    assert len(pred) == len(gt)
    assert np.abs(pred.astype(int) - gt[:1]).mean() < 3 < np.abs(pred[1:].astype(int) - gt[1:]).mean()


def test_static_with_unreadable_audio_still_gives_its_frames(tmp_path):
    """A missing or empty wav failed the static prediction's generation, so PSNR, SSIM and L1 of the
    clip were lost with LSE; now only the metrics that read the speech fail on it."""
    write_video(tmp_path / "a.mp4", np.full((6, 32, 32, 3), 90, np.uint8), fps=25)
    (tmp_path / "empty.wav").write_bytes(b"")
    for audio in (tmp_path / "missing.wav", tmp_path / "empty.wav"):
        clip = Clip(id="a#1", dataset="t", split="test", video=tmp_path / "a.mp4", audio=audio)
        out = tmp_path / "videos" / f"{audio.stem}.mp4"
        make_method("static").generate(clip, out)
        assert len(read_video(out).frames) == 6


def test_edtalk_methods_need_a_checkpoint(tmp_path):
    for name in ("edtalk_v", "edtalk_a"):
        with pytest.raises(FileNotFoundError, match="--ckpt"):
            make_method(name).prepare([])
        with pytest.raises(FileNotFoundError, match="does not exist"):
            make_method(name, ckpt=str(tmp_path / "none.pt")).prepare([])
