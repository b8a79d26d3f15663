"""`python -m edtalk.infer` streams: driving videos are decoded, encoded by E and rendered a batch at a
time, and the mp4 is written as the frames come, with the bytes the whole-array path gives
(read_video + retime, drive_video / drive_audio / render, write_video)."""

import numpy as np
import pytest
import torch
from PIL import Image

from edtalk import driving, driving_inputs, infer
from edtalk.config import ModelConfig
from edtalk.data import video as video_io
from edtalk.data.errors import VideoReadError
from edtalk.data.video import VideoWriter, read_video, retime, write_video
from edtalk.model import EDTalk, load_checkpoint, save_checkpoint
from edtalk.pretrained import resolve

BATCH = 4  # smaller than every clip, and dividing none of their lengths


def clip(n: int, side: int, seed: int) -> np.ndarray:
    """Smooth moving colour waves (H.264 keeps them close, so codes follow the motion)."""
    y, x = np.mgrid[0:side, 0:side] / side
    phase = np.random.default_rng(seed).uniform(0, 6, 3)
    t = np.arange(n)[:, None, None, None]
    waves = np.sin(6 * x[..., None] + 4 * y[..., None] * np.arange(1, 4) + phase + 0.3 * t)
    return (128 + 100 * waves).astype(np.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import skimage.data
    import soundfile

    root = tmp_path_factory.mktemp("stream")
    shipped = load_checkpoint(resolve("pretrained:tiny_synthtalk_eg"))
    # its stage history dropped: hand-made checkpoints are trusted, and `infer video` takes it
    meta = {k: v for k, v in shipped["meta"].items() if k != "stages_done"}
    save_checkpoint(root / "shipped.pt", shipped["state_dict"], shipped["config"], meta)
    cfg = ModelConfig.preset("tiny")
    torch.manual_seed(0)
    model = EDTalk(cfg)
    with torch.no_grad():  # random flow heads: the output follows every code (a fresh G copies I^i)
        for p in model.generator.to_flows.parameters():
            p.normal_()
    save_checkpoint(root / "random.pt", model.state_dict(), cfg, {})
    face = np.asarray(Image.fromarray(skimage.data.astronaut()[:400, 60:460]).resize((128, 128)))
    Image.fromarray(face).save(root / "face.png")
    t = np.arange(int(1.3 * 16000)) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    soundfile.write(root / "speech.wav", wav, 16000)
    write_video(root / "mouth.mp4", clip(23, 128, 1), audio=wav[: 23 * 640])
    write_video(root / "pose.mp4", clip(6, 128, 2))  # shorter than the mouth: its codes ping-pong
    write_video(root / "expr30.mp4", clip(40, 96, 3), fps=30.0)  # 33 frames at 25 fps, then cut to 23
    return root


def held(path) -> np.ndarray:
    """A driving video decoded whole and resampled to 25 fps: what read_frames returned before streaming."""
    video = read_video(path)
    return video.frames if video.fps == 25.0 else retime(video.frames, video.fps, 25.0)


def streamed(*argv):
    """Run infer.main with nothing decoded whole; also the frames per batch that E and the writer got."""
    seen = {"encoded": [], "written": []}

    def whole(path):
        raise AssertionError(f"{path} decoded whole")

    encode_input, write = driving.model_input, VideoWriter.write
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(video_io, "read_video", whole)
        patch.setattr(driving_inputs, "_NOTED", set())  # notes said by an earlier run are said again
        patch.setattr(
            driving,
            "model_input",
            lambda x, *a, **k: (
                seen["encoded"].append(len(x) if x.ndim == 4 else 1) or encode_input(x, *a, **k)
            ),
        )
        patch.setattr(VideoWriter, "write", lambda self, x: seen["written"].append(len(x)) or write(self, x))
        rc = infer.main([str(a) for a in argv])
    return rc, seen


@pytest.mark.parametrize("ckpt", ["shipped.pt", "random.pt"])
def test_infer_video_streams_the_bytes_of_drive_video_on_whole_frames(files, capsys, ckpt):
    out = files / f"v_{ckpt}.mp4"
    rc, seen = streamed(
        "video", "--ckpt", files / ckpt, "--identity", files / "face.png", "--no-face-check",
        "--batch-size", BATCH, "--mouth", files / "mouth.mp4", "--pose", files / "pose.mp4",
        "--expression", files / "expr30.mp4", "--out", out,
    )  # fmt: skip
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert f"wrote {out} (23 frames, 64x64, with audio)" in cap.out
    assert "expr30.mp4: 30.00 fps, resampled to 25 fps (as ffmpeg's fps filter does)" in cap.err
    assert max(seen["encoded"]) == max(seen["written"]) == BATCH  # never more than a batch at a time
    assert sum(seen["written"]) == 23 and sum(seen["encoded"]) == 1 + 23 + 6 + 23  # I^i, mouth, pose, expr

    model, _ = driving.load_generator(files / ckpt)
    identity = driving_inputs.read_image(files / "face.png")
    mouth, pose, expr = (held(files / name) for name in ("mouth.mp4", "pose.mp4", "expr30.mp4"))
    frames = driving.drive_video(model, identity, mouth, pose, expr, batch_size=BATCH)
    track = driving_inputs.fit_audio(driving_inputs.load_speech(files / "mouth.mp4"), len(frames))
    ref = write_video(files / f"ref_{ckpt}.mp4", frames, audio=track)
    assert np.array_equal(read_video(out).frames, read_video(ref).frames)
    assert out.read_bytes() == ref.read_bytes()


def test_infer_audio_and_interpolate_stream_the_bytes_of_the_array_path(files, capsys):
    common = ["--ckpt", files / "random.pt", "--identity", files / "face.png", "--no-face-check"]
    common += ["--batch-size", BATCH]
    rc, seen = streamed(
        "audio", *common, "--audio", files / "speech.wav", "--pose", files / "pose.mp4",
        "--expression", files / "expr30.mp4", "--out", files / "a.mp4",
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert max(seen["encoded"]) == max(seen["written"]) == BATCH
    model, _ = driving.load_generator(files / "random.pt")
    identity = driving_inputs.read_image(files / "face.png")
    wav = driving_inputs.load_speech(files / "speech.wav")
    pose, expr = held(files / "pose.mp4"), held(files / "expr30.mp4")
    frames = driving.drive_audio(model, identity, wav, pose, expression_frames=expr, batch_size=BATCH)
    ref = write_video(files / "a_ref.mp4", frames, audio=driving_inputs.fit_audio(wav, len(frames)))
    assert len(frames) == 32 and (files / "a.mp4").read_bytes() == ref.read_bytes()

    rc, seen = streamed(
        "interpolate", *common, "--mouth", files / "mouth.mp4", "--expression-a", files / "expr30.mp4",
        "--expression-b", files / "pose.mp4", "--alpha", "0.3", "--out", files / "i.mp4",
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert max(seen["encoded"]) == max(seen["written"]) == BATCH
    mouth = held(files / "mouth.mp4")
    weights = {"mouth": driving.weights_of(model, mouth, "mouth", "mouth", BATCH)}
    w1 = driving.weights_of(model, expr, "expression", "a", BATCH, len(mouth))
    w2 = driving.weights_of(model, pose, "expression", "b", BATCH, len(mouth))
    weights["expression"] = 0.3 * w1 + 0.7 * w2
    frames = driving.render(model, identity, weights, BATCH)
    track = driving_inputs.fit_audio(driving_inputs.load_speech(files / "mouth.mp4"), len(frames))
    ref = write_video(files / "i_ref.mp4", frames, audio=track)
    assert (files / "i.mp4").read_bytes() == ref.read_bytes()


@pytest.mark.parametrize("fps", [25.0, 30.0, 50.0, 12.5])
def test_a_driving_video_streams_the_frames_read_whole_at_25_fps(tmp_path, fps):
    write_video(tmp_path / "d.mp4", clip(17, 32, 5), fps=fps)
    whole = held(tmp_path / "d.mp4")
    video = driving_inputs.DrivingVideo(tmp_path / "d.mp4")
    for size, limit in [(4, None), (5, 7), (64, 3), (3, 1000)]:
        batches = list(video.batches(size, limit))
        assert all(len(b) == size for b in batches[:-1]) and 0 < len(batches[-1]) <= size
        assert np.array_equal(np.concatenate(batches), whole[:limit])
    assert np.array_equal(driving_inputs.read_frames(tmp_path / "d.mp4"), whole)


def test_a_driving_video_is_checked_on_opening_and_decoded_to_its_end(tmp_path, files):
    """A non-square or missing file fails before any work; a truncated one fails although only its
    first frames are needed (a pose video longer than the mouth's), as read_video did."""
    write_video(tmp_path / "wide.mp4", np.zeros((3, 32, 48, 3), np.uint8))
    with pytest.raises(
        driving_inputs.InferenceError, match="48x32 \\(width x height\\): EDTalk drives square"
    ):
        driving_inputs.DrivingVideo(tmp_path / "wide.mp4")
    with pytest.raises(VideoReadError, match="missing"):
        driving_inputs.DrivingVideo(tmp_path / "none.mp4")
    write_video(tmp_path / "long.mp4", clip(60, 32, 6))
    data = (tmp_path / "long.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    video = driving_inputs.DrivingVideo(tmp_path / "cut.mp4")
    with pytest.raises(VideoReadError, match="truncated"):
        list(video.batches(4, limit=5))
    argv = ["video", "--ckpt", files / "random.pt", "--identity", files / "face.png", "--no-face-check"]
    argv += ["--mouth"]
    argv += [files / "mouth.mp4", "--pose", tmp_path / "cut.mp4", "--out", tmp_path / "o.mp4"]
    rc = infer.main([str(a) for a in argv])
    assert rc == 2 and not (tmp_path / "o.mp4").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_crop_streams_the_crops_of_the_detect_and_cut_passes(tmp_path):
    """--crop: the face's square found once when the video is opened, then cut a batch at a time."""
    import skimage.data

    from edtalk.data.face_crop import cut_crops, plan_crops
    from edtalk.data.video import iter_frames

    photo = skimage.data.astronaut()[:300, :400]  # wide, the face off-centre
    moving = np.stack([np.roll(photo, 3 * t, axis=1) for t in range(9)])
    write_video(tmp_path / "wide.mp4", moving, fps=30.0)
    fps, frames = iter_frames(tmp_path / "wide.mp4")
    plan = plan_crops(frames, fps)
    whole = next(cut_crops(iter_frames(tmp_path / "wide.mp4")[1], fps, plan))[1]
    video = driving_inputs.DrivingVideo(tmp_path / "wide.mp4", crop=True)
    assert video.plan == plan and len(whole) == 8  # 9 frames at 30 fps: 8 at 25
    batches = list(video.batches(3))
    assert [len(b) for b in batches] == [3, 3, 2] and np.array_equal(np.concatenate(batches), whole)
    assert np.array_equal(np.concatenate(list(video.batches(5, limit=6))), whole[:6])
    write_video(tmp_path / "wall.mp4", np.full((4, 64, 96, 3), 90, np.uint8))
    with pytest.raises(driving_inputs.InferenceError, match="no face found .* \\(nothing to crop to\\)"):
        driving_inputs.DrivingVideo(tmp_path / "wall.mp4", crop=True)


def test_driving_leaves_each_modules_mode_as_it_was_and_refuses_an_unknown_bank():
    """drive_video / audio_weights switched the whole model to eval for good (a preview inside a
    training loop turned its training mode off), and render drew the identity's own codes for a
    mistyped bank name (a helper's library-API review)."""
    from edtalk.driving import drive_video, render

    torch.manual_seed(0)
    model = EDTalk(ModelConfig.preset("tiny"))
    model.train()
    model.encoder.eval()  # a frozen part a training loop keeps in eval
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    seen = []
    hook = model.generator.register_forward_hook(lambda m, i, o: seen.append(m.training))
    drive_video(model, frames[0], frames)
    hook.remove()
    assert seen and not any(seen)  # drawn in eval mode
    assert model.training and model.generator.training and not model.encoder.training
    with pytest.raises(ValueError, match="weights for mouht: this model's banks are mouth, pose, expression"):
        render(model, frames[0], {"mouht": torch.zeros(2, model.cfg.n_mouth)})
    assert model.training


def test_load_generator_checks_a_torch_device_as_it_checks_a_name(tmp_path):
    """A torch.device skipped resolve_device's check: 'meta' loaded without a word."""
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    with pytest.raises(driving_inputs.InferenceError, match="EDTalk runs on the CPU or a CUDA GPU"):
        driving.load_generator(ckpt, torch.device("meta"))
    model, _ = driving.load_generator(ckpt, torch.device("cpu"))
    assert driving.model_device(model).type == "cpu"


def test_render_names_the_bank_of_a_misshapen_code_and_the_library_gives_the_edit_codes():
    """A W^* of the wrong width or length was a torch shape error deep in compose (or, for unequal
    lengths, a broadcast error a batch later); `interpolate` and `edit-base` had no library function
    (a helper's library-API review)."""
    from edtalk.driving import base_edit_weights, blended_expression, model_input, render

    torch.manual_seed(0)
    model = EDTalk(ModelConfig.preset("tiny"))
    frame = np.zeros((64, 64, 3), np.uint8)
    km, kp = model.cfg.n_mouth, model.cfg.n_weights("pose")
    with pytest.raises(ValueError, match=rf"W\^m \(mouth\) must be \[T, {km}\] .* got \[3, {km + 1}\]"):
        render(model, frame, {"mouth": torch.zeros(3, km + 1)})
    with pytest.raises(ValueError, match=rf"W\^p \(pose\) must be \[T, {kp}\] .* got \[{kp}\]"):
        render(model, frame, {"pose": torch.zeros(kp)})
    with pytest.raises(ValueError, match="different lengths \\(mouth 20, pose 3 frames\\)"):
        render(model, frame, {"mouth": torch.zeros(20, km), "pose": torch.zeros(3, kp)})
    two = {"mouth": torch.zeros(2, km), "pose": torch.zeros(2, kp)}
    assert render(model, frame, two).shape == (2, 64, 64, 3)

    a, b = torch.ones(4, 10), torch.zeros(4, 10)
    assert torch.equal(blended_expression(a, b, 0.25), torch.full((4, 10), 0.25))
    with pytest.raises(ValueError, match="one shape"):
        blended_expression(a, b[:3], 0.5)

    edit = base_edit_weights(model, frame, "pose", 2, [-1.0, 0.0, 3.0])
    with torch.no_grad():
        own = model.navigate(model.encode(model_input(frame, 64))[0])["pose"]
    assert list(edit) == ["pose"] and edit["pose"].shape == (3, kp)
    assert torch.equal(edit["pose"][:, 2], torch.tensor([-1.0, 0.0, 3.0]))
    others = [i for i in range(kp) if i != 2]
    assert torch.allclose(edit["pose"][:, others], own[:, others].expand(3, -1), atol=1e-5)
    with pytest.raises(ValueError, match="index must be in \\[0, 5\\] for the pose bank, got 6"):
        base_edit_weights(model, frame, "pose", 6, [0.0])
