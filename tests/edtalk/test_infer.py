"""`python -m edtalk.infer` with a random-init tiny model: shape/length round trips and error messages.

These are shape tests (the model is untrained); no number here is a metric.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from edtalk import driving, driving_inputs, infer
from edtalk.config import ModelConfig
from edtalk.data.audio import mel_windows, melspectrogram
from edtalk.data.video import probe_video, read_video, write_video
from edtalk.model import EDTalk, load_checkpoint, save_checkpoint

CFG = ModelConfig.preset("tiny")
EMO = {"happy": [0.5] * CFG.n_expression}


@pytest.fixture(scope="module")
def files(tmp_path_factory, face_crop, noisy_faces):
    root = tmp_path_factory.mktemp("infer")
    torch.manual_seed(0)
    model = EDTalk(CFG)
    # A fresh EDTalk starts as "copy the identity frame" (zero flow head), so latent edits would not
    # show; random flow heads stand in for a trained generator whose output follows the latent.
    with torch.no_grad():
        for p in model.generator.to_flows.parameters():
            p.normal_()
    save_checkpoint(root / "ck.pt", model.state_dict(), CFG, {"emotion_weights": EMO})
    save_checkpoint(root / "noemo.pt", model.state_dict(), CFG, {})
    face = face_crop
    Image.fromarray(face).save(root / "face.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(
        root / "noise.png"
    )
    Image.fromarray(face[:, :100]).save(root / "wide.png")
    rng = np.random.default_rng(1)
    t = np.arange(int(0.4 * 16000)) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    write_video(root / "mouth.mp4", noisy_faces(rng, 10), audio=wav)
    write_video(root / "pose.mp4", noisy_faces(rng, 6))
    write_video(root / "expr.mp4", noisy_faces(rng, 4))
    import soundfile

    soundfile.write(root / "speech.wav", wav, 16000)
    return root


def _run(capsys, *argv):
    rc = infer.main([str(a) for a in argv])
    return rc, capsys.readouterr()


def _run_on(files, capsys, command, *argv):
    """``edtalk.infer <command>`` with the fixture's checkpoint and identity image, then ``argv``."""
    return _run(capsys, command, "--ckpt", files / "ck.pt", "--identity", files / "face.png", *argv)


def test_video_round_trip_writes_mp4_of_mouth_length_with_audio(files, capsys):
    out = files / "v.mp4"
    rc, cap = _run_on(
        files,
        capsys,
        "video",
        "--mouth",
        files / "mouth.mp4",
        "--pose",
        files / "pose.mp4",
        "--expression",
        files / "expr.mp4",
        "--out",
        out,
    )
    assert rc == 0, cap.err
    video = read_video(out)
    assert video.frames.shape == (10, 64, 64, 3)
    assert probe_video(out).has_audio
    assert "resized 128x128 -> 64x64" in cap.err


def test_audio_with_emotion_and_sampled_pose(files, capsys):
    out = files / "a.mp4"
    rc, cap = _run_on(
        files,
        capsys,
        "audio",
        "--audio",
        files / "speech.wav",
        "--sample-pose",
        "--seed",
        "3",
        "--emotion",
        "happy",
        "--out",
        out,
    )
    assert rc == 0, cap.err
    assert read_video(out).frames.shape[0] == 10  # 0.4 s at 25 fps


def test_drive_audio_pose_samples_depend_on_seed(files):
    """Sampled poses are reproducible by seed, differ between seeds, and differ from the identity's own
    pose: catches a fixed seed reaching the flow, or ``sample_pose`` being ignored."""
    model, _ = driving.load_generator(files / "ck.pt")
    face = np.asarray(Image.open(files / "face.png"))
    wav = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    a = driving.drive_audio(model, face, wav, sample_pose=True, seed=1)
    b = driving.drive_audio(model, face, wav, sample_pose=True, seed=1)
    assert a.shape == (12, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    other_seed = driving.drive_audio(model, face, wav, sample_pose=True, seed=2)
    own_pose = driving.drive_audio(model, face, wav, sample_pose=False, seed=1)
    # measured on this fixture: about 1.7 and 1.4 grey levels
    seed_diff, pose_diff = (np.abs(a.astype(float) - x).mean() for x in (other_seed, own_pose))
    assert seed_diff > 0.5, f"seed 1 vs seed 2: mean |diff| {seed_diff:.2f} grey levels"
    assert pose_diff > 0.5, f"sampled vs the identity's pose: mean |diff| {pose_diff:.2f} grey levels"
    # the codes themselves: W^p only when sampled, one per frame, and seed-dependent
    w1 = driving.audio_weights(model, wav, sample_pose=True, seed=1)["pose"]
    w2 = driving.audio_weights(model, wav, sample_pose=True, seed=2)["pose"]
    assert w1.shape == (12, CFG.n_weights("pose")) and not torch.allclose(w1, w2)
    assert "pose" not in driving.audio_weights(model, wav, sample_pose=False, seed=1)


def test_pose_temperature_scales_the_flows_noise(files, capsys, tmp_path):
    """The demo's flow samples a pose about eight times jerkier than real heads; --pose-temperature
    scales z (0: the flow's mode), as flows are sampled, and needs --sample-pose like --seed."""
    model, _ = driving.load_generator(files / "ck.pt")
    wav = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    mode = driving.audio_weights(model, wav, sample_pose=True, seed=1, pose_temperature=0.0)["pose"]
    f_a = model.audio_lip.encoder(torch.from_numpy(mel_windows(melspectrogram(wav), 12, 25.0)).float())
    torch.testing.assert_close(mode, model.pose_flow.decode(torch.zeros(1, 12, mode.shape[1]), f_a[None])[0])
    hot = driving.audio_weights(model, wav, sample_pose=True, seed=1)["pose"]
    warm = driving.audio_weights(model, wav, sample_pose=True, seed=1, pose_temperature=0.5)["pose"]
    assert (warm - mode).abs().mean() < (hot - mode).abs().mean()
    audio, out = ("audio", "--audio", files / "speech.wav"), ("--out", tmp_path / "o.mp4")
    with pytest.raises(SystemExit):
        _run_on(files, capsys, *audio, "--pose-temperature", "0.5", *out)
    assert "--pose-temperature scales only --sample-pose's flow samples" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run_on(files, capsys, *audio, "--sample-pose", "--pose-temperature", "-1", *out)
    rc, cap = _run_on(files, capsys, *audio, "--sample-pose", "--pose-temperature", "0.5", *out)
    assert rc == 0, cap.err


def test_drive_audio_makes_one_frame_per_frame_of_audio(files):
    """29 frames of audio at 25 fps (18560 samples) give 29 frames, not int(28.999...) = 28."""
    model, _ = driving.load_generator(files / "ck.pt")
    face = np.asarray(Image.open(files / "face.png"))
    wav = driving_inputs.fit_audio(
        np.random.default_rng(0).standard_normal(20000).astype(np.float32) * 0.1, 29
    )
    assert len(wav) == 18560
    assert driving.drive_audio(model, face, wav).shape[0] == 29


def test_interpolate_and_edit_base(files, capsys):
    rc, cap = _run_on(
        files,
        capsys,
        "interpolate",
        "--mouth",
        files / "mouth.mp4",
        "--expression-a",
        files / "expr.mp4",
        "--expression-b",
        files / "pose.mp4",
        "--alpha",
        "0.3",
        "--out",
        files / "i.mp4",
    )
    assert rc == 0, cap.err
    assert read_video(files / "i.mp4").frames.shape[0] == 10
    rc, cap = _run_on(
        files,
        capsys,
        "edit-base",
        "--bank",
        "mouth",
        "--index",
        "3",
        "--range",
        "-3",
        "3",
        "--steps",
        "5",
        "--out",
        files / "e.mp4",
    )
    assert rc == 0, cap.err
    frames = read_video(files / "e.mp4").frames
    assert frames.shape[0] == 5 and not np.array_equal(frames[0], frames[-1])


def test_an_emotion_the_checkpoint_lacks_is_named(files, capsys):
    rc, cap = _run_on(
        files,
        capsys,
        "audio",
        "--audio",
        files / "speech.wav",
        "--out",
        files / "x.mp4",
        "--emotion",
        "sad",
        "--no-face-check",
    )
    assert rc == 2 and "no expression weights for 'sad'" in cap.err


def test_input_errors_are_clear(files, capsys):
    base = ["video", "--mouth", files / "mouth.mp4", "--out", files / "x.mp4"]
    rc, cap = _run(capsys, *base, "--ckpt", files / "nope.pt", "--identity", files / "face.png")
    assert rc == 2 and "nope.pt: checkpoint not found" in cap.err
    rc, cap = _run(capsys, *base, "--ckpt", files / "ck.pt", "--identity", files / "noise.png")
    assert rc == 2 and "noise.png: no face found" in cap.err and "--no-face-check" in cap.err
    rc, cap = _run(
        capsys, *base, "--ckpt", files / "ck.pt", "--identity", files / "wide.png", "--no-face-check"
    )
    assert rc == 2 and "wide.png: 100x128 (width x height): EDTalk drives square face crops" in cap.err
    assert f"`python -m edtalk.data.crop image {files / 'wide.png'} --out CROP.png`" in cap.err
    wide = files / "wide_mouth.mp4"
    write_video(wide, np.zeros((3, 64, 96, 3), dtype=np.uint8))
    rc, cap = _run_on(files, capsys, "video", "--mouth", wide, "--out", files / "x.mp4")
    assert rc == 2 and "wide_mouth.mp4: 96x64 (width x height)" in cap.err
    assert f"`python -m edtalk.data.crop video {wide} --out CROP.mp4`" in cap.err
    rc, cap = _run(capsys, *base, "--ckpt", files / "ck.pt", "--identity", files / "missing.png")
    assert rc == 2 and "missing.png: missing" in cap.err
    rc, cap = _run_on(files, capsys, "edit-base", "--bank", "pose", "--index", "9", "--out", files / "x.mp4")
    assert rc == 2 and "--index must be in [0, 5]" in cap.err
    rc, cap = _run(
        capsys,
        "audio",
        "--ckpt",
        files / "noemo.pt",
        "--identity",
        files / "face.png",
        "--audio",
        files / "speech.wav",
        "--emotion",
        "happy",
        "--out",
        files / "x.mp4",
    )
    assert rc == 2 and "holds nothing" in cap.err


def test_outputs_and_checkpoints_that_cannot_be_used_are_refused_in_one_line(files, capsys, tmp_path):
    """An --out folder failed with IsADirectoryError after all the work; an --out naming an input
    overwrote that driving video; a checkpoint whose weights do not fit its config printed
    load_state_dict's traceback."""
    base = [
        "video",
        "--ckpt",
        files / "ck.pt",
        "--identity",
        files / "face.png",
        "--mouth",
        files / "mouth.mp4",
    ]
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(SystemExit):
        infer.main([str(a) for a in [*base, "--out", tmp_path / "out.mp4"]])
    assert "is a folder; give the path of the mp4 file to write" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.main([str(a) for a in [*base, "--out", files / "mouth.mp4"]])
    assert "is also --mouth: writing it would overwrite that input" in capsys.readouterr().err
    ckpt = torch.load(files / "ck.pt", weights_only=True)
    del ckpt["state_dict"][next(iter(ckpt["state_dict"]))]
    torch.save(ckpt, tmp_path / "edited.pt")
    swapped = [tmp_path / "edited.pt" if a == files / "ck.pt" else a for a in base]
    rc, cap = _run(capsys, *swapped, "--out", tmp_path / "x.mp4")
    assert (
        rc == 2
        and "edited.pt: its weights do not fit the model its config describes (keys missing)" in cap.err
    )


def test_audio_inputs_named_and_resampled(files, capsys):
    """An explicit --audio that cannot be read is an error (not a silent mute); other rates are noted."""
    (files / "junk.wav").write_bytes(b"not a wav file at all")
    rc, cap = _run_on(
        files,
        capsys,
        "video",
        "--mouth",
        files / "mouth.mp4",
        "--audio",
        files / "junk.wav",
        "--out",
        files / "x.mp4",
    )
    assert rc == 2 and "junk.wav" in cap.err and not (files / "x.mp4").exists()
    import soundfile

    t = np.arange(int(0.4 * 8000)) / 8000
    soundfile.write(files / "speech8k.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000)
    out = files / "a8k.mp4"
    rc, cap = _run_on(files, capsys, "audio", "--audio", files / "speech8k.wav", "--out", out)
    assert rc == 0, cap.err
    assert "speech8k.wav: audio resampled from 8000 Hz to 16000 Hz" in cap.err
    assert read_video(out).frames.shape[0] == 10 and probe_video(out).has_audio
    soundfile.write(files / "blip.wav", np.zeros(1000, np.float32), 16000)  # 0.06 s: no mel window
    rc, cap = _run_on(files, capsys, "audio", "--audio", files / "blip.wav", "--out", files / "blip.mp4")
    assert rc == 2 and "blip.wav: audio too short: 0.06 s" in cap.err and "Traceback" not in cap.err


def test_a_checkpoint_is_refused_for_what_its_stages_never_trained(files, capsys, tmp_path):
    """A mouth_pose checkpoint drives video, but its audio heads are at init: audio is refused by name."""
    ckpt = load_checkpoint(files / "ck.pt")
    meta = {**ckpt["meta"], "stages_done": ["eg_pretrain", "mouth_pose"]}
    save_checkpoint(tmp_path / "mp.pt", ckpt["state_dict"], CFG, meta)
    common = ["--ckpt", tmp_path / "mp.pt", "--identity", files / "face.png", "--out", tmp_path / "o.mp4"]
    rc, cap = _run(capsys, "video", *common, "--mouth", files / "mouth.mp4")
    assert rc == 0, cap.err
    rc, cap = _run(
        capsys, "video", *common, "--mouth", files / "mouth.mp4", "--expression", files / "expr.mp4"
    )
    assert rc == 2 and "mp.pt: the checkpoint has not been through the expression stage" in cap.err
    rc, cap = _run(capsys, "audio", *common, "--audio", files / "speech.wav")
    assert (
        rc == 2 and "not been through the audio_lip stage (stages done: eg_pretrain, mouth_pose)" in cap.err
    )


def test_the_library_refuses_what_a_checkpoints_stages_never_trained_and_float_frames(files, tmp_path):
    """``edtalk.driving`` (the Python API) drew 69 frames from a stage-1 checkpoint's untrained audio
    heads, and read float frames in [0, 1] as a black image (a uint8 cast): both are refused by name."""
    ckpt = load_checkpoint(files / "ck.pt")
    meta = {**ckpt["meta"], "stages_done": ["eg_pretrain", "mouth_pose"]}
    save_checkpoint(tmp_path / "mp.pt", ckpt["state_dict"], CFG, meta)
    model, _ = driving.load_generator(tmp_path / "mp.pt")
    face = np.asarray(Image.open(files / "face.png").convert("RGB"))
    mouth = read_video(files / "mouth.mp4").frames[:2]
    assert driving.drive_video(model, face, mouth).shape[0] == 2  # mouth_pose: trained
    with pytest.raises(
        driving_inputs.InferenceError, match="mp.pt: the checkpoint has not been through the expression"
    ):
        driving.drive_video(model, face, mouth, expression_frames=mouth)
    wav = driving_inputs.load_speech(files / "speech.wav")
    with pytest.raises(driving_inputs.InferenceError, match="not been through the audio_lip stage"):
        driving.drive_audio(model, face, wav)
    with pytest.raises(driving_inputs.InferenceError, match="expected uint8 RGB frames .0-255., got float32"):
        driving.drive_video(model, face.astype(np.float32) / 255, mouth)
    assert driving.audio_stages(sample_pose=True, predicted_expression=True) == [
        "audio_lip",
        "audio_pose",
        "audio_expression",
    ]


def test_driving_videos_at_another_rate_are_resampled_to_25_fps(files, capsys, noisy_faces):
    """A 50 fps mouth video of 10 frames lasts 0.2 s: 5 output frames, not 10 played at half speed."""
    rng = np.random.default_rng(2)
    write_video(files / "fast.mp4", noisy_faces(rng, 10), fps=50)
    out = files / "fast_out.mp4"
    rc, cap = _run_on(files, capsys, "video", "--mouth", files / "fast.mp4", "--out", out)
    assert rc == 0, cap.err
    assert "fast.mp4: 50.00 fps, resampled to 25 fps (as ffmpeg's fps filter does)" in cap.err
    assert read_video(out).frames.shape[0] == 5


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        infer.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert all(cmd in text for cmd in ("video", "audio", "interpolate", "edit-base"))


def test_one_video_driving_every_factor_is_encoded_once_with_the_same_codes(monkeypatch):
    torch.manual_seed(0)
    model = EDTalk(CFG).eval()
    rng = np.random.default_rng(2)
    clip = rng.integers(0, 255, (7, 64, 64, 3), dtype=np.uint8)
    other = rng.integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    frames_seen = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda x: frames_seen.append(len(x)) or encode(x))

    shared = driving.driving_weights(model, clip, clip, clip, batch_size=16)
    assert frames_seen == [7]  # one pass of E for the three factors
    frames_seen.clear()
    apart = driving.driving_weights(model, clip, clip.copy(), clip.copy(), batch_size=16)
    assert frames_seen == [7, 7, 7]
    assert list(shared) == ["mouth", "pose", "expression"]
    assert all(torch.allclose(shared[k], apart[k], atol=1e-6) for k in shared)

    frames_seen.clear()  # a shorter expression video: its 3 frames encoded, the codes looped to 7
    mixed = driving.driving_weights(model, clip, clip, other, batch_size=16)
    assert frames_seen == [7, 3] and mixed["expression"].shape[0] == 7
    assert torch.equal(mixed["pose"], shared["pose"])
    looped = driving.weights_of(model, driving.loop_to_length(other, 7), "expression", "looped", 16)
    assert torch.allclose(mixed["expression"], looped, atol=1e-6)  # as if the frames were looped


def test_device_is_chosen_or_refused_clearly(files, capsys):
    assert driving.resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert driving.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(
        driving_inputs.InferenceError, match="'gpu0': not a torch device \\(auto, cpu, cuda or cuda:N\\)"
    ):
        driving.resolve_device("gpu0")
    model, _ = driving.load_generator(files / "ck.pt", "auto")
    assert {p.device for p in model.parameters()} == {driving.resolve_device("auto")}
    if torch.cuda.is_available():
        return
    inputs = ["--ckpt", files / "ck.pt", "--identity", files / "face.png", "--mouth", files / "mouth.mp4"]
    rc, cap = _run(capsys, "video", *inputs, "--out", files / "x.mp4", "--device", "cuda")
    assert rc == 2 and "error: --device cuda: this machine has no CUDA GPU (use --device cpu)" in cap.err


def test_crop_cuts_wide_inputs_to_their_face_first(files, capsys):
    """--crop (the official demos' --need_crop_*): a photo and a driving video that are not square
    face crops are cut to the face's square by edtalk.data.face_crop instead of refused."""
    import skimage.data

    photo = skimage.data.astronaut()[:300]  # 512 x 300: wide, the face off-centre
    Image.fromarray(photo).save(files / "wide_photo.jpg")
    write_video(files / "wide_drive.mp4", np.repeat(photo[None, :, :400], 5, axis=0), fps=30.0)
    argv = ["video", "--ckpt", files / "ck.pt", "--identity", files / "wide_photo.jpg"]
    argv += ["--mouth", files / "wide_drive.mp4", "--out", files / "cropped.mp4"]
    rc, cap = _run(capsys, *argv)
    assert rc == 2 and "EDTalk drives square face crops" in cap.err
    assert "or pass --crop (`crop=True` from Python)" in cap.err
    rc, cap = _run(capsys, *argv, "--crop")
    assert rc == 0, cap.err
    assert f"{files / 'wide_drive.mp4'}: cut to the face's square crop (4 frames at 25 fps)" in cap.err
    assert read_video(files / "cropped.mp4").n_frames == 4
    Image.fromarray(np.full((100, 160, 3), 90, np.uint8)).save(files / "wall.png")
    rc, cap = _run(capsys, *argv[:4], files / "wall.png", *argv[5:], "--crop")
    assert rc == 2 and "wall.png: no face found by dlib's HOG detector (nothing to crop to)" in cap.err


def test_the_expression_predictor_reads_speech_in_the_groups_it_was_trained_on(monkeypatch):
    """The whole clip's mel went through E_S's attention at once: memory growing with the square of
    the length (9 GB for 5 minutes). E_S now sees K frames' mel windows side by side, as
    audio_expression trained it, and W^e is the mean over the groups."""
    torch.manual_seed(0)
    model = EDTalk(CFG).eval()
    model.checkpoint_meta = {"run": {"stage_config": {"window": 4}}}
    lengths = []
    semantics = model.expression_predictor.semantics.forward
    monkeypatch.setattr(
        model.expression_predictor.semantics,
        "forward",
        lambda mel: lengths.append(mel.shape) or semantics(mel),
    )
    wav = np.random.default_rng(0).normal(0, 0.1, 16000 * 6).astype(np.float32)  # 6 s: 150 frames
    face = np.zeros((64, 64, 3), np.uint8)
    frames = driving.drive_audio(model, face, wav, expression_from_audio=True, batch_size=64)
    assert len(frames) == 150
    assert {tuple(s[1:]) for s in lengths} == {(80, 4 * 16)} and sum(s[0] for s in lengths) == 150 // 4


def test_a_soundtrack_cut_or_padded_by_seconds_and_a_one_frame_mouth_are_noted(files, capsys, tmp_path):
    """--audio of a minute under a 0.4 s mouth video was cut to 0.4 s without a word; an image given
    as --mouth made a one-frame video silently."""
    import soundfile
    from PIL import Image

    soundfile.write(tmp_path / "long.wav", np.zeros(16000 * 3, np.float32), 16000)
    rc, cap = _run_on(
        files, capsys, "video", "--mouth", files / "mouth.mp4", "--audio", tmp_path / "long.wav",
        "--out", tmp_path / "a.mp4",
    )  # fmt: skip
    assert rc == 0 and "long.wav: 3.0 s of audio; the output follows the mouth video (0.4 s): cut" in cap.err
    Image.open(files / "face.png").save(tmp_path / "still.png")
    rc, cap = _run_on(files, capsys, "video", "--mouth", tmp_path / "still.png", "--out", tmp_path / "b.mp4")
    assert rc == 0 and "still.png: a single frame: the mouth video sets the output's length" in cap.err
