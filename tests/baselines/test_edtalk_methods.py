"""EDTalk methods generate through edtalk.driving: wiring test with a seeded, untrained tiny model
(the frames are meaningless; only shapes, lengths and files are checked)."""

import numpy as np
import pytest
import soundfile as sf
import torch

from baselines import make_method
from edtalk.config import ModelConfig
from edtalk.data.clip import Clip
from edtalk.data.video import read_video, write_video
from edtalk.model import EDTalk, save_checkpoint


@pytest.fixture
def tiny_ckpt(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    return save_checkpoint(tmp_path / "tiny.pt", EDTalk(cfg).state_dict(), cfg), cfg


@pytest.mark.parametrize("name", ["edtalk_v", pytest.param("edtalk_a", marks=pytest.mark.slow)])
def test_generates_one_frame_per_gt_frame(name, tiny_ckpt, tmp_path):
    ckpt, cfg = tiny_ckpt
    size, t = cfg.image_size, 29  # 29 frames of audio once read as int(28.999...) = 28 frames
    yy, xx = np.mgrid[0:size, 0:size]
    frames = np.stack([np.stack([xx * 2 + k, yy * 2, xx + yy], -1) for k in range(t)]).astype(np.uint8)
    write_video(tmp_path / "c.mp4", frames, fps=25)
    sf.write(tmp_path / "c.wav", np.zeros(16000 * t // 25 - 100, np.float32), 16000)  # a bit short
    clip = Clip(id="c", dataset="t", split="test", video=tmp_path / "c.mp4", audio=tmp_path / "c.wav")
    method = make_method(name, ckpt=str(ckpt))
    method.prepare([clip])
    out = method.prediction_path(clip, tmp_path / "videos")
    method.generate(clip, out)
    pred = read_video(out).frames
    assert pred.shape == (t, size, size, 3)
    assert method.provenance()["checkpoint_sha256"] and method.provenance()["version"] == method.version


def _gradient_video(size: int, t: int) -> np.ndarray:
    """``t`` frames of smooth gradients, each shifted in red and blue: no two frames are alike."""
    yy, xx = np.mgrid[0:size, 0:size]
    frames = [np.stack([xx * 2 + 12 * k, yy * 2, xx + yy + 9 * k], -1) for k in range(t)]
    return np.stack(frames).astype(np.uint8)


def test_edtalk_v_redraws_every_gt_frame_from_the_first_one(tmp_path, monkeypatch):
    """EDTalkV.generate: one frame per GT frame, at the GT's fps, drawn by the generator from GT frame 0
    driven by the clip, and not the GT video itself (which would score GT-perfect in every table).
    Small random flow heads make the untrained generator warp its source frame."""
    from baselines import edtalk_methods
    from edtalk.driving import drive_video, load_generator

    monkeypatch.setattr(edtalk_methods, "_GENERATORS", {})
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    model = EDTalk(cfg)
    with torch.no_grad():  # a fresh EDTalk has a zero flow head; the output still depends on I^s
        for p in model.generator.to_flows.parameters():
            p.normal_(0.0, 0.1)
    ckpt = save_checkpoint(tmp_path / "flows.pt", model.state_dict(), cfg)
    t, fps = 6, 20
    write_video(tmp_path / "c.mp4", _gradient_video(cfg.image_size, t), fps=fps)
    clip = Clip(id="c", dataset="t", split="test", video=tmp_path / "c.mp4")
    gt = read_video(clip.video)
    method = make_method("edtalk_v", ckpt=str(ckpt))
    out = method.prediction_path(clip, tmp_path / "videos")
    method.generate(clip, out)
    pred = read_video(out)
    assert pred.frames.shape == gt.frames.shape == (t, cfg.image_size, cfg.image_size, 3)
    assert pred.fps == pytest.approx(fps)
    diff = np.abs(pred.frames.astype(float) - gt.frames.astype(float)).mean(axis=(1, 2, 3))
    assert (diff > 10).all(), f"per-frame mean |pred - GT| {diff.round(2)}: the GT passed through?"
    # what generate wrote is drive_video with GT frame 0 as I^s and the GT driving every factor
    # (mp4 compression apart); another source frame gives a clearly different video
    model, _ = load_generator(ckpt)
    expected = drive_video(model, gt.frames[0], gt.frames, gt.frames, gt.frames)
    other = drive_video(model, gt.frames[-1], gt.frames, gt.frames, gt.frames)
    err = np.abs(pred.frames.astype(float) - expected).mean()
    err_other = np.abs(pred.frames.astype(float) - other).mean()
    assert err < 3 and err_other > err + 5, (err, err_other)


def test_the_generator_loads_on_the_methods_device(tiny_ckpt, monkeypatch):
    from baselines import edtalk_methods
    from edtalk import driving

    ckpt, _ = tiny_ckpt
    seen = []
    real = driving.load_generator

    def recording(path, device="cpu"):
        seen.append(device)
        return real(path, "cpu")

    monkeypatch.setattr(driving, "load_generator", recording)
    monkeypatch.setattr(edtalk_methods, "_GENERATORS", {})
    method = make_method("edtalk_v", ckpt=str(ckpt), device="cuda:1")
    assert method.generator() is method.generator()  # loaded once per (checkpoint, device)
    assert seen == ["cuda:1"] and method.device == "cuda:1"
    assert make_method("gt").device == "cpu"


def test_a_checkpoint_rewritten_in_place_is_loaded_again(tiny_ckpt, monkeypatch):
    """A notebook that scored, trained on into the same file and scored again got the first weights
    (cached by path), recorded under the new file's sha256."""
    import os

    from baselines import edtalk_methods

    ckpt, _ = tiny_ckpt
    monkeypatch.setattr(edtalk_methods, "_GENERATORS", {})
    method = make_method("edtalk_v", ckpt=str(ckpt))
    first = method.generator()
    state = first.state_dict()
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name] + 1.0
    save_checkpoint(ckpt, state, first.cfg)
    st = os.stat(ckpt)
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a coarse clock: a newer mtime for sure
    second = method.generator()
    assert second is not first and torch.equal(second.state_dict()[name], state[name])
    assert len(edtalk_methods._GENERATORS) == 1  # the old version's model is dropped


def test_a_checkpoint_is_not_scored_on_stages_it_skipped(tmp_path):
    """edtalk_a from a mouth_pose checkpoint would score audio heads at init: refused before any clip."""
    from edtalk.driving_inputs import InferenceError

    cfg = ModelConfig.preset("tiny")
    state = EDTalk(cfg).state_dict()
    early = save_checkpoint(tmp_path / "mp.pt", state, cfg, {"stages_done": ["eg_pretrain", "mouth_pose"]})
    with pytest.raises(InferenceError, match="mp.pt: the checkpoint has not been through the audio_lip"):
        make_method("edtalk_a", ckpt=str(early)).prepare([])
    with pytest.raises(InferenceError, match="not been through the expression stage"):
        make_method("edtalk_v", ckpt=str(early)).prepare([])
    lip = ModelConfig.preset("tiny", components="lip_pose")  # no expression bank: mouth_pose suffices
    lip_ckpt = save_checkpoint(
        tmp_path / "lp.pt", EDTalk(lip).state_dict(), lip, {"stages_done": ["mouth_pose"]}
    )
    make_method("edtalk_v", ckpt=str(lip_ckpt)).prepare([])


def test_a_checkpoint_is_not_scored_on_clips_it_trained_on(tmp_path):
    """eval.run's edtalk methods check the checkpoint's ``trained_on`` record before generating."""
    from edtalk.data.readers import read_clips
    from edtalk.model import CheckpointError

    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"")
    cfg = ModelConfig.preset("tiny", components="lip_pose")
    trained = [{"stage": "mouth_pose", "data": f"folder:{folder}", "split": "train"}]
    meta = {"stages_done": ["mouth_pose"], "trained_on": trained}
    ckpt = save_checkpoint(tmp_path / "lp.pt", EDTalk(cfg).state_dict(), cfg, meta)
    with pytest.raises(CheckpointError, match="lp.pt: trained on 1 of the 1 clips to score"):
        make_method("edtalk_v", ckpt=str(ckpt)).prepare(read_clips("folder", folder, "test"))


def test_the_provenance_records_the_size_the_model_draws_at(tiny_ckpt):
    """The report names it: a 64 px model is scored at the GT's size, resized."""
    ckpt, cfg = tiny_ckpt
    state = EDTalk(cfg).state_dict()
    meta = {"stages_done": ["eg_pretrain", "mouth_pose", "expression"]}
    path = save_checkpoint(ckpt.parent / "trained.pt", state, cfg, meta)
    method = make_method("edtalk_v", ckpt=str(path))
    assert "resolution" not in method.provenance()
    method.prepare([])
    assert method.provenance()["resolution"] == [cfg.image_size, cfg.image_size]
