"""`python -m edtalk.infer`: the problems a review reproduced, each now a one-line error, a note or a
help line (tracebacks, work thrown away, inputs used without a word). A random-init tiny model; no
number here is a metric."""

import os
import re
import tempfile
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from edtalk import driving, driving_inputs, infer
from edtalk.config import ModelConfig
from edtalk.data import video as video_io
from edtalk.data.errors import VideoReadError
from edtalk.data.image import ImageReadError, read_rgb_image
from edtalk.data.video import VideoWriter, iter_frames, probe_video, read_video, write_video
from edtalk.model import CheckpointError, EDTalk, load_checkpoint, save_checkpoint

CFG = ModelConfig.preset("tiny")
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def files(tmp_path_factory, face_crop, noisy_faces):
    import soundfile

    root = tmp_path_factory.mktemp("infer_review")
    torch.manual_seed(0)
    model = EDTalk(CFG)
    save_checkpoint(root / "ck.pt", model.state_dict(), CFG, {"emotion_weights": {"happy": [0.5] * 10}})
    Image.fromarray(face_crop).save(root / "face.png")
    t = np.arange(int(0.4 * 16000)) / 16000
    soundfile.write(root / "speech.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    write_video(root / "mouth.mp4", noisy_faces(np.random.default_rng(1), 10))
    write_video(root / "short.mp4", noisy_faces(np.random.default_rng(2), 4))
    write_video(root / "long.mp4", noisy_faces(np.random.default_rng(3), 14))
    write_video(root / "grey.mp4", np.full((6, 128, 128, 3), 128, np.uint8))  # no face in any frame
    return root


def run(capsys, *argv):
    """``infer.main`` on ``argv``: (exit status, captured out/err), with notes said afresh."""
    driving_inputs._NOTED.clear()
    rc = infer.main([str(a) for a in argv])
    return rc, capsys.readouterr()


def on(files, command, *argv):
    return [command, "--ckpt", files / "ck.pt", "--identity", files / "face.png", *argv]


def one_line_error(cap) -> str:
    """The run's one ``error:`` line when stderr holds nothing else but notes (no traceback), else a
    failed assertion."""
    lines = [line for line in cap.err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    return lines[0]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the checkpoint is loaded: an error meant to come before any work."""

    def load(*args, **kwargs):
        raise AssertionError("the model was loaded before the error")

    monkeypatch.setattr(driving, "load_generator", load)


# --- 1. an --out that cannot be written ------------------------------------------------------------
def test_an_out_that_cannot_be_written_is_one_line_before_the_model_loads(files, capsys, no_model, tmp_path):
    """Before: FileExistsError / OSError 'File name too long' tracebacks, after all the work."""
    edit = on(files, "edit-base", "--bank", "mouth", "--index", "3", "--steps", "2")
    rc, cap = run(capsys, *edit, "--out", files / "face.png" / "x.mp4")
    assert rc == 2
    assert (
        f"{files / 'face.png' / 'x.mp4'}: cannot write the output here ({files / 'face.png'} is a file"
        in (one_line_error(cap))
    )
    rc, cap = run(capsys, *edit, "--out", tmp_path / ("a" * 300 + ".mp4"))
    assert rc == 2 and "cannot write the output here (File name too long)" in one_line_error(cap)
    rc, cap = run(capsys, *edit, "--out", tmp_path / ("a" * 300) / "x.mp4")
    assert rc == 2 and "cannot write the output here (File name too long)" in one_line_error(cap)
    assert not any(tmp_path.iterdir())


def test_an_out_folder_without_write_permission_is_one_line_before_the_model_loads(
    files, capsys, no_model, tmp_path, monkeypatch
):
    locked = tmp_path / "locked"
    locked.mkdir()
    edit = on(files, "edit-base", "--bank", "mouth", "--index", "3", "--steps", "2", "--out")
    if os.geteuid() != 0:  # root writes anywhere: there, the refusal is simulated below
        locked.chmod(0o500)
        try:
            rc, cap = run(capsys, *edit, locked / "x.mp4")
        finally:
            locked.chmod(0o700)
        assert rc == 2 and "cannot write the output here (Permission denied)" in one_line_error(cap)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    rc, cap = run(capsys, *edit, locked / "x.mp4")
    assert rc == 2
    assert f"{locked / 'x.mp4'}: cannot write the output here (Permission denied)" in one_line_error(cap)


def test_an_os_error_while_writing_is_one_line_and_leaves_nothing(files, capsys, tmp_path, monkeypatch):
    """The disk filling up mid-video: one line naming --out, not a traceback; no temp file left."""

    def full(self, frames):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(VideoWriter, "write", full)
    out = tmp_path / "o.mp4"
    rc, cap = run(
        capsys, *on(files, "edit-base", "--bank", "mouth", "--index", "3", "--steps", "2"), "--out", out
    )
    assert rc == 2
    assert f"{out}: cannot write the video here (No space left on device)" in one_line_error(cap)
    assert list(tmp_path.iterdir()) == []


# --- 2. driving videos are checked for a face ------------------------------------------------------
@pytest.mark.parametrize(
    "command, argv",
    [
        ("video", ["--mouth", "GREY"]),
        ("video", ["--mouth", "mouth.mp4", "--pose", "GREY"]),
        ("video", ["--mouth", "mouth.mp4", "--expression", "GREY"]),
        ("audio", ["--audio", "speech.wav", "--pose", "GREY"]),
        ("audio", ["--audio", "speech.wav", "--expression", "GREY"]),
        ("interpolate", ["--mouth", "mouth.mp4", "--expression-a", "GREY", "--expression-b", "short.mp4"]),
        ("interpolate", ["--mouth", "mouth.mp4", "--expression-a", "short.mp4", "--expression-b", "GREY"]),
    ],
)
def test_a_driving_video_without_a_face_is_refused_unless_no_face_check(
    files, capsys, tmp_path, command, argv
):
    """Before: a flat grey driving video exited 0 with a meaningless video."""
    argv = [
        files / "grey.mp4" if a == "GREY" else files / a if a.endswith((".mp4", ".wav")) else a for a in argv
    ]
    rc, cap = run(capsys, *on(files, command, *argv), "--out", tmp_path / "o.mp4")
    assert rc == 2
    line = one_line_error(cap)
    assert (
        f"{files / 'grey.mp4'}: no face found by the dlib HOG detector" in line and "--no-face-check" in line
    )
    assert not (tmp_path / "o.mp4").exists()
    rc, cap = run(capsys, *on(files, command, *argv), "--out", tmp_path / "o.mp4", "--no-face-check")
    assert rc == 0, cap.err


def test_the_driving_video_face_check_looks_at_first_middle_last_and_stops_at_a_face(
    files, monkeypatch, tmp_path, face_crop
):
    """Cheap: a face in the first frame ends the check there; a video is refused only when none of its
    first, middle and last frames has a face (the identity's check, ``has_face``, on each)."""
    looked = []
    has_face = driving_inputs.has_face
    monkeypatch.setattr(
        driving_inputs, "has_face", lambda frame: looked.append(frame.mean()) or has_face(frame)
    )
    driving_inputs.check_video_face(files / "mouth.mp4")
    assert len(looked) == 1
    looked.clear()
    with pytest.raises(driving_inputs.InferenceError, match="in any of the 3 frame\\(s\\) looked at"):
        driving_inputs.check_video_face(files / "grey.mp4")
    assert len(looked) == 3
    frames = np.full((9, 128, 128, 3), 128, np.uint8)
    frames[4] = face_crop  # only the middle frame shows the face
    write_video(tmp_path / "middle.mp4", frames)
    looked.clear()
    driving_inputs.check_video_face(tmp_path / "middle.mp4")
    assert len(looked) == 2


# --- 3. a bad config or meta inside a checkpoint ---------------------------------------------------
def _edited(files, tmp_path, name: str, edit) -> Path:
    payload = torch.load(files / "ck.pt", weights_only=True)
    edit(payload)
    torch.save(payload, tmp_path / name)
    return tmp_path / name


CONFIG_EDITS = {
    "unknown_key.pt": (lambda p: p["config"].update(foo=1), "unknown ModelConfig key 'foo'"),
    "bad_type.pt": (lambda p: p["config"].update(image_size="abc"), "image_size must be an integer"),
    "config_none.pt": (lambda p: p.update(config=None), "its config is None, not a mapping"),
    "meta_list.pt": (lambda p: p.update(meta=[1]), "its meta is a list, not a mapping"),
    "stages_str.pt": (
        lambda p: p["meta"].update(stages_done="expression"),
        "meta['stages_done'] is 'expression', not a list of stage names",
    ),
}


@pytest.mark.parametrize("name", list(CONFIG_EDITS))
def test_a_bad_config_or_meta_is_one_line_naming_the_checkpoint(files, capsys, tmp_path, name):
    """Before: errors that did not name the file (unknown key, wrong type) or tracebacks (config None:
    TypeError; meta a list: AttributeError)."""
    edit, message = CONFIG_EDITS[name]
    ckpt = _edited(files, tmp_path, name, edit)
    with pytest.raises(CheckpointError, match=re.escape(f"{ckpt}: ")):
        load_checkpoint(ckpt)
    argv = ["edit-base", "--ckpt", ckpt, "--identity", files / "face.png", "--bank", "mouth", "--index", "1"]
    rc, cap = run(capsys, *argv, "--out", tmp_path / "o.mp4")
    line = one_line_error(cap)
    assert rc == 2 and line.startswith(f"error: {ckpt}: ") and message in line


EMOTION_EDITS = {
    "emo_str.pt": ({"happy": "abc"}, "emotion weights for 'happy' are 'abc', not a list of 10 numbers"),
    "emo_nested.pt": ({"happy": [[1.0]]}, "not a list of 10 numbers"),
    "emo_short.pt": ({"happy": [1.0, 2.0]}, "emotion weights for 'happy' have 2 entries, model expects 10"),
    "emo_list.pt": ([1, 2], "meta['emotion_weights'] is a list, not a mapping"),
    "emo_none.pt": ({}, "has no expression weights for 'happy'"),
}


@pytest.mark.parametrize("name", list(EMOTION_EDITS))
def test_bad_emotion_weights_are_one_line_naming_the_checkpoint(files, capsys, tmp_path, name):
    """Before: 'TypeError: new(): invalid data type' for non-numeric weights; the other errors said
    'the checkpoint' without naming --ckpt."""
    table, message = EMOTION_EDITS[name]
    ckpt = _edited(files, tmp_path, name, lambda p: p["meta"].update(emotion_weights=table))
    argv = ["audio", "--ckpt", ckpt, "--identity", files / "face.png", "--audio", files / "speech.wav"]
    rc, cap = run(capsys, *argv, "--emotion", "happy", "--out", tmp_path / "o.mp4")
    line = one_line_error(cap)
    assert rc == 2 and line.startswith(f"error: {ckpt}: ") and message in line


# --- 4. --device and --seed ------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["mps", "meta"])
def test_a_device_torch_knows_but_edtalk_cannot_run_on_is_one_line(files, capsys, no_model, tmp_path, device):
    """Before: 'PyTorch is not linked with support for mps devices' / 'Cannot copy out of meta tensor'."""
    argv = on(files, "edit-base", "--bank", "mouth", "--index", "1", "--out", tmp_path / "o.mp4")
    rc, cap = run(capsys, *argv, "--device", device)
    assert rc == 2
    assert f"--device {device}: EDTalk runs on the CPU or a CUDA GPU" in one_line_error(cap)


def test_a_gpu_index_the_machine_lacks_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert driving.resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(driving_inputs.InferenceError, match="--device cuda:1: this machine has 1 CUDA GPU"):
        driving.resolve_device("cuda:1")


@pytest.mark.parametrize(
    "value, message",
    [
        (str(2**64), "--seed: must be at most 2**64 - 1"),
        ("-1", "--seed: must be at least 0"),
        ("x", "--seed"),
    ],
)
def test_a_seed_beyond_64_bits_is_a_usage_error(files, capsys, tmp_path, value, message):
    """Before: 'ValueError: Overflow when unpacking long long' from the flow's generator, after the work."""
    argv = on(files, "audio", "--audio", files / "speech.wav", "--sample-pose", "--out", tmp_path / "o.mp4")
    with pytest.raises(SystemExit) as exc:
        infer.main([str(a) for a in [*argv, f"--seed={value}"]])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert infer.seed(str(2**64 - 1)) == 2**64 - 1


@pytest.mark.parametrize(
    ("command", "option", "message"),
    [
        ("audio", ["--emotion", "hapy"], "--emotion: unknown emotion 'hapy'; did you mean 'happy'?"),
        ("interpolate", ["--alpha", "1.5"], "--alpha: must lie in [0, 1], got 1.5"),
        ("interpolate", ["--alpha", "nan"], "--alpha: must be a finite number"),
    ],
)
def test_an_unknown_emotion_or_alpha_out_of_range_is_a_usage_error(
    files, capsys, no_model, command, option, message
):
    """Before: both were checked after the checkpoint was loaded (seconds at `paper`, and a missing
    checkpoint was reported instead of the mistyped option)."""
    inputs = {
        "audio": ["--audio", files / "speech.wav"],
        "interpolate": ["--mouth", files / "mouth.mp4"]
        + ["--expression-a", files / "mouth.mp4"]
        + ["--expression-b", files / "mouth.mp4"],
    }[command]
    argv = [command, "--ckpt", files / "missing.pt", "--identity", files / "face.png", *inputs, *option]
    with pytest.raises(SystemExit) as exc:
        infer.main([str(a) for a in [*argv, "--out", files / "o.mp4"]])
    assert exc.value.code == 2 and message in capsys.readouterr().err


# --- 5. drivers fitted to the output's length ------------------------------------------------------
def test_pose_and_expression_videos_of_another_length_are_noted(files, capsys, tmp_path):
    """Before: a short pose video was ping-pong looped, a long one cut, without a word."""
    argv = ["--mouth", files / "mouth.mp4", "--pose", files / "short.mp4", "--expression", files / "long.mp4"]
    rc, cap = run(capsys, *on(files, "video", *argv, "--no-face-check", "--out", tmp_path / "v.mp4"))
    assert rc == 0, cap.err
    assert f"{files / 'short.mp4'}: the pose video has 4 frame(s) at 25 fps, ping-pong looped" in cap.err
    assert "to the mouth video's 10 frames" in cap.err
    assert f"{files / 'long.mp4'}: the expression video is longer than the mouth video (10 frames" in cap.err
    argv = [
        "--audio",
        files / "speech.wav",
        "--pose",
        files / "long.mp4",
        "--expression",
        files / "short.mp4",
    ]
    rc, cap = run(capsys, *on(files, "audio", *argv, "--no-face-check", "--out", tmp_path / "a.mp4"))
    assert rc == 0, cap.err
    assert f"{files / 'long.mp4'}: the pose video is longer than the audio (10 frames" in cap.err
    assert f"{files / 'short.mp4'}: the expression video has 4 frame(s)" in cap.err
    argv = ["--mouth", files / "mouth.mp4", "--expression-a", files / "short.mp4", "--expression-b"]
    rc, cap = run(capsys, *on(files, "interpolate", *argv, files / "mouth.mp4", "--out", tmp_path / "i.mp4"))
    assert rc == 0, cap.err
    assert f"{files / 'short.mp4'}: the expression-a video has 4 frame(s)" in cap.err
    assert "expression-b" not in cap.err  # as long as the mouth video: nothing to say
    assert [line for line in cap.err.splitlines() if "ping-pong" in line or "longer than" in line] == [
        f"note: {files / 'short.mp4'}: the expression-a video has 4 frame(s) at 25 fps, ping-pong looped "
        "(forward, backward, ...) to the mouth video's 10 frames"
    ]


def test_a_driving_video_longer_than_the_output_is_decoded_only_as_far_as_the_output_needs(
    files, capsys, tmp_path, passes
):
    """Before: a pose video longer than the mouth video was decoded to its end, its last frames thrown
    away (its length is checked on opening, from its packets). Now decoding stops at the frame after
    the last one used, which tells that the video was cut; the frames used are the same."""
    argv = ["--mouth", files / "mouth.mp4", "--pose", files / "long.mp4", "--no-face-check"]
    passes.clear()
    rc, cap = run(capsys, *on(files, "video", *argv, "--out", tmp_path / "v.mp4"))
    assert rc == 0, cap.err
    assert [p for p in passes if p[1] == "decode"] == [
        ["mouth.mp4", "decode", 10],
        ["long.mp4", "decode", 11],
    ]
    assert f"{files / 'long.mp4'}: the pose video is longer than the mouth video (10 frames" in cap.err
    video = driving_inputs.DrivingVideo(files / "long.mp4", length_check=True)
    whole = read_video(files / "long.mp4").frames
    for limit, cut in [(10, True), (13, True), (14, False), (20, False)]:
        passes.clear()
        np.testing.assert_array_equal(np.concatenate(list(video.batches(4, limit))), whole[:limit])
        assert video.cut == cut and passes[-1] == ["long.mp4", "decode", min(limit + 1, 14)]


def test_a_driving_video_the_model_never_read_gets_no_length_note(files, capsys):
    """A pose video given to a model without a pose bank is not encoded: nothing was looped or cut."""
    driving_inputs._NOTED.clear()
    video = driving_inputs.DrivingVideo(files / "short.mp4")
    infer._note_fitted(video, "pose", 10, "the audio")
    assert capsys.readouterr().err == ""
    list(video.batches(4, limit=10))
    infer._note_fitted(video, "pose", 10, "the audio")
    assert "the pose video has 4 frame(s) at 25 fps" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["video", "audio", "interpolate"])
def test_help_says_drivers_are_looped_or_cut(capsys, command):
    with pytest.raises(SystemExit):
        infer.main([command, "--help"])
    assert "ping-pong looped or cut to the" in " ".join(capsys.readouterr().out.split())


# --- 6. ~ in paths ---------------------------------------------------------------------------------
def test_a_tilde_in_any_path_is_the_home_folder(files, capsys, tmp_path, monkeypatch):
    """Before: --out=~/o.mp4 (which bash does not expand) wrote ./~/o.mp4; --identity ~/face.png was
    'missing'."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    for name in ("ck.pt", "face.png", "mouth.mp4", "short.mp4"):
        (home / name).write_bytes((files / name).read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    argv = ["video", "--ckpt=~/ck.pt", "--identity=~/face.png", "--mouth=~/mouth.mp4", "--pose=~/short.mp4"]
    rc, cap = run(capsys, *argv, "--out=~/out/o.mp4")
    assert rc == 0, cap.err
    assert read_video(home / "out" / "o.mp4").n_frames == 10
    assert list(cwd.iterdir()) == []


# --- 7. messages -----------------------------------------------------------------------------------
def test_a_folder_as_identity_or_checkpoint_is_called_a_folder(files, capsys, tmp_path):
    """Before: 'missing: no such file' and 'checkpoint not found (no such file)'."""
    edit = ["edit-base", "--bank", "mouth", "--index", "1", "--out", tmp_path / "o.mp4"]
    rc, cap = run(capsys, *edit, "--ckpt", files / "ck.pt", "--identity", tmp_path)
    assert rc == 2 and f"{tmp_path}: is a folder; give an image file" in one_line_error(cap)
    rc, cap = run(capsys, *edit, "--ckpt", tmp_path, "--identity", files / "face.png")
    assert rc == 2 and f"{tmp_path}: is a folder; give the checkpoint file" in one_line_error(cap)


def test_seed_without_sample_pose_is_refused_by_the_audio_subcommand(files, capsys, tmp_path):
    """Before: silently ignored. The audio subcommand's usage, not the top level's, goes with it."""
    argv = on(files, "audio", "--audio", files / "speech.wav", "--seed", "3", "--out", tmp_path / "o.mp4")
    with pytest.raises(SystemExit) as exc:
        infer.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert (
        exc.value.code == 2 and "python -m edtalk.infer audio: error: --seed seeds only --sample-pose" in err
    )
    argv = on(files, "audio", "--audio", files / "speech.wav", "--text", " ", "--out", tmp_path / "o.mp4")
    with pytest.raises(SystemExit):
        infer.main([str(a) for a in argv])
    assert "python -m edtalk.infer audio: error: --text is empty" in capsys.readouterr().err


def _help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        infer.main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_help_says_what_the_defaults_and_the_range_mean(capsys):
    audio = _help(capsys, "audio")
    assert (
        "the identity's own pose throughout" in audio and "the identity's own expression throughout" in audio
    )
    edit = _help(capsys, "edit-base")
    assert "they replace the identity's own w_k (not offsets from it)" in edit
    assert "--no-face-check skip the dlib face check on --identity and on the driving videos" in edit
    top = " ".join(infer.__doc__.split())
    assert "other sizes are resized" not in top and "a non-square one is refused unless ``--crop``" in top


def test_range_values_replace_the_identitys_own_weight(files, capsys, tmp_path, monkeypatch):
    """What --range's help says: the swept w_k takes the values LO..HI whatever the identity's own is."""
    seen = {}
    render = driving.iter_render
    monkeypatch.setattr(driving, "iter_render", lambda m, i, w, b: seen.update(w) or render(m, i, w, b))
    argv = on(files, "edit-base", "--bank", "pose", "--index", "2", "--range", "-1", "1", "--steps", "3")
    rc, cap = run(capsys, *argv, "--out", tmp_path / "e.mp4")
    assert rc == 0, cap.err
    assert torch.allclose(seen["pose"][:, 2].cpu(), torch.tensor([-1.0, 0.0, 1.0]))


# --- 8. README -------------------------------------------------------------------------------------
def test_readme_says_edit_base_writes_no_audio_track(files, capsys, tmp_path):
    """README's Inference section said every output is an H.264/AAC mp4; edit-base has no audio."""
    text = README.read_text()
    section = " ".join(text[text.index("## Inference") : text.index("## Scoring")].split())
    assert "always a 25 fps H.264/AAC mp4" not in section
    assert "`edit-base` writes no audio track" in section
    rc, cap = run(
        capsys, *on(files, "edit-base", "--bank", "mouth", "--index", "1", "--out", tmp_path / "e.mp4")
    )
    assert rc == 0 and not probe_video(tmp_path / "e.mp4").has_audio


# --- 9. numbers, images and videos read the wrong way ----------------------------------------------
@pytest.mark.parametrize(
    ("lo", "hi"),
    [("-3e0", "3"), ("-1e-1", "2.5"), ("-3", "3"), ("0", "3"), ("-.5", "1E1"), ("-1_000.5", "-2.")],
)
def test_range_takes_any_number_float_reads_negative_exponents_included(files, tmp_path, lo, hi):
    """Before: argparse took '-3e0' and '-1e-1' for options ('--range: expected 2 arguments'); it
    knew only '-3' and '-.5' as negative numbers."""
    argv = on(files, "edit-base", "--bank", "pose", "--index", "2", "--range", lo, hi, "--steps", "3")
    args = infer.build_parser().parse_args([str(a) for a in [*argv, "--out", tmp_path / "e.mp4"]])
    assert args.range == [float(lo), float(hi)] and args.steps == 3


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--range", "-inf", "3"], "--range: must be a finite number, got -inf"),
        (["--range", "-3e0"], "--range: expected 2 arguments"),  # the next token is an option
        (["--range", "-3e0", "3", "--stepz", "3"], "unrecognized arguments: --stepz 3"),
    ],
)
def test_a_range_that_is_not_two_finite_numbers_is_still_a_usage_error(
    files, capsys, tmp_path, option, message
):
    argv = on(files, "edit-base", "--bank", "pose", "--index", "2", *option, "--out", tmp_path / "e.mp4")
    with pytest.raises(SystemExit) as exc:
        infer.main([str(a) for a in argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "token",
    ["-3", "-3.", "-.5", "-3e0", "-1e-1", "-1E+2", "-1_000", "-1_0.2_5e1_0", "-inf", "-Infinity", "-nan"]
    + ["-", "-e1", "-.", "-.e1", "-1e", "-1__0", "-_1", "-1_", "-1e1.5", "--3", "-h", "-x1", "-3 3"],
)
def test_the_negative_number_matcher_takes_exactly_what_float_reads(token):
    from edtalk.cli import NEGATIVE_NUMBER

    try:
        float(token)
        number = " " not in token  # argparse takes a token with a space for a value anyway
    except ValueError:
        number = False
    assert bool(NEGATIVE_NUMBER.match(token)) == number


def _rgba_face(face: np.ndarray) -> np.ndarray:
    """The face crop as a cut-out: its outer ring transparent, a half-transparent band inside it, the
    rest opaque; black under the transparent pixels, as cut-out tools leave them."""
    alpha = np.full(face.shape[:2], 255, np.uint8)
    alpha[:, :24], alpha[:, 24:32] = 0, 128
    rgb = face.copy()
    rgb[alpha == 0] = 0
    return np.dstack([rgb, alpha])


def test_a_transparent_identity_is_composited_over_white_with_a_note(files, capsys, tmp_path, face_crop):
    """Before: the alpha channel was dropped, and the black under the transparent pixels became part of
    the identity, without a word."""
    Image.fromarray(_rgba_face(face_crop)).save(tmp_path / "cutout.png")
    driving_inputs._NOTED.clear()
    frame = driving_inputs.read_image(tmp_path / "cutout.png")
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    assert (frame[:, :24] == 255).all()  # transparent: the white background
    np.testing.assert_array_equal(frame[:, 32:], face_crop[:, 32:])  # opaque: as it was
    half = np.rint(face_crop[:, 24:32] * (128 / 255) + 255 * (127 / 255)).astype(np.uint8)
    assert np.abs(frame[:, 24:32].astype(int) - half).max() <= 1
    said = "transparent pixels (alpha channel) composited over a white background"
    note = f"note: {tmp_path / 'cutout.png'}: {said}"
    assert note in capsys.readouterr().err
    # through the command line: one note, and the run goes on
    argv = ["edit-base", "--ckpt", files / "ck.pt", "--identity", tmp_path / "cutout.png", "--bank", "pose"]
    rc, cap = run(capsys, *argv, "--index", "0", "--steps", "1", "--out", tmp_path / "e.mp4")
    assert rc == 0 and cap.err.count(note) == 1, cap.err
    # an alpha channel with every pixel opaque changes nothing and says nothing
    Image.fromarray(np.dstack([face_crop, np.full((128, 128), 255, np.uint8)])).save(tmp_path / "opaque.png")
    driving_inputs._NOTED.clear()
    np.testing.assert_array_equal(driving_inputs.read_image(tmp_path / "opaque.png"), face_crop)
    assert "note" not in capsys.readouterr().err


def _grey(face: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(face).convert("L"))


@pytest.mark.parametrize(
    "kind",
    [
        "grey",
        "grey16",
        "dark16",
        "rgb16",
        "rgba16",
        "palette",
        "palette_tRNS",
        "grey_alpha",
        "bw",
        "float",
        "cmyk",
    ],
)
def test_grey_palette_16_bit_and_float_identities_read_as_their_tones(tmp_path, face_crop, kind):
    """Every kind of PNG/TIFF/JPEG a researcher may hand over comes out as 8-bit RGB with its tones.
    Before: a palette PNG's transparent entry was dropped, a float TIFF in [0, 1] came out black and a
    dark 16-bit PNG (values under 256) came out 257 times too bright."""
    import cv2

    grey = _grey(face_crop)
    grey16 = grey.astype(np.uint16) * 257
    path = tmp_path / f"{kind}.png"
    expected = np.repeat(grey[..., None], 3, -1)
    if kind == "grey":
        Image.fromarray(grey).save(path)
    elif kind == "grey16":
        Image.fromarray(grey16).save(path)
    elif kind == "dark16":  # a 16-bit image whose every value is under 256: nearly black, not bright
        Image.fromarray((grey16 // 1024).astype(np.uint16)).save(path)
        expected = np.rint(np.repeat((grey16 // 1024)[..., None], 3, -1) / 257.0).astype(np.uint8)
    elif kind in ("rgb16", "rgba16"):  # 48/64-bit colour PNGs (cv2 writes BGR)
        bgr16 = face_crop[..., ::-1].astype(np.uint16) * 257
        alpha = [np.full(grey.shape, 65535, np.uint16)] if kind == "rgba16" else []
        cv2.imwrite(str(path), np.dstack([bgr16, *alpha]))
        expected = face_crop
    elif kind == "palette":
        Image.fromarray(grey).convert("P").save(path)
        expected = np.asarray(Image.open(path).convert("RGB"))
    elif kind == "palette_tRNS":  # palette entry 0 transparent: those pixels over white
        image = Image.fromarray(grey).quantize(16)
        image.save(path, transparency=0)
        expected = np.asarray(Image.open(path).convert("RGB")).copy()
        expected[np.asarray(image) == 0] = 255
    elif kind == "grey_alpha":
        Image.fromarray(np.dstack([grey, np.full(grey.shape, 255, np.uint8)]), "LA").save(path)
    elif kind == "bw":
        Image.fromarray(grey).convert("1").save(path)
        expected = np.repeat(np.asarray(Image.open(path)).astype(np.uint8)[..., None] * 255, 3, -1)
    elif kind == "float":
        path = tmp_path / "float.tiff"
        Image.fromarray(grey.astype(np.float32) / 255.0).save(path)
    elif kind == "cmyk":
        path = tmp_path / "cmyk.tiff"  # lossless, unlike a CMYK JPEG
        Image.fromarray(face_crop).convert("CMYK").save(path)
        expected = np.asarray(Image.fromarray(face_crop).convert("CMYK").convert("RGB"))
    frame = driving_inputs.read_image(path)
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    assert np.abs(frame.astype(int) - expected).max() <= 1


def test_an_identity_image_below_64_px_is_refused_naming_its_size(files, capsys, tmp_path, face_crop):
    """Before: a 16x16 identity image was upscaled to the model's size without a word."""
    small = tmp_path / "small.png"
    Image.fromarray(face_crop).resize((16, 16)).save(small)
    argv = ["edit-base", "--ckpt", files / "ck.pt", "--identity", small, "--bank", "pose", "--index", "0"]
    rc, cap = run(capsys, *argv, "--no-face-check", "--out", tmp_path / "e.mp4")
    assert rc == 2
    assert one_line_error(cap) == (
        f"error: {small}: 16x16 px (width x height) is too small: an identity image needs at least 64 px a "
        "side, or the model draws the face from too few pixels; give a larger face crop"
    )
    assert not (tmp_path / "e.mp4").exists()
    # the tiny preset's own 64 px is taken; 63 is not, nor a wide photo 63 px high with --crop
    Image.fromarray(face_crop).resize((64, 64)).save(tmp_path / "64.png")
    assert driving_inputs.read_image(tmp_path / "64.png").shape == (64, 64, 3)
    Image.fromarray(face_crop).resize((63, 63)).save(tmp_path / "63.png")
    with pytest.raises(driving_inputs.InferenceError, match=r"63\.png: 63x63 px .* at least 64 px"):
        driving_inputs.read_image(tmp_path / "63.png")
    Image.fromarray(face_crop).resize((200, 63)).save(tmp_path / "wide.png")
    with pytest.raises(driving_inputs.InferenceError, match=r"wide\.png: 200x63 px"):
        driving_inputs.read_image(tmp_path / "wide.png", crop=True)
    # a video's first frame is held to the same minimum
    write_video(tmp_path / "small.mp4", np.asarray(Image.fromarray(face_crop).resize((32, 32)))[None])
    with pytest.raises(driving_inputs.InferenceError, match=r"small\.mp4: 32x32 px"):
        driving_inputs.read_image(tmp_path / "small.mp4")


def test_a_model_reading_fewer_than_64_px_takes_identities_of_its_own_size(tmp_path, face_crop):
    from argparse import Namespace

    Image.fromarray(face_crop).resize((32, 32)).save(tmp_path / "32.png")
    args = Namespace(identity=tmp_path / "32.png", crop=False, no_face_check=True)
    assert infer._identity(args, 32).shape == (32, 32, 3)
    with pytest.raises(driving_inputs.InferenceError, match="at least 64 px"):
        infer._identity(args, 64)


# Four bad inputs: a driving video under 64 px or with an alpha channel, an identity over Pillow's
# decompression-bomb limit, a cut-off driving video.


@pytest.fixture
def decoded(monkeypatch):
    """The videos ``edtalk.data.video.iter_frames`` was asked to decode, in order."""
    paths = []
    real = video_io.iter_frames
    monkeypatch.setattr(
        video_io, "iter_frames", lambda path, **kwargs: paths.append(Path(path)) or real(path, **kwargs)
    )
    return paths


class _Logged:
    """An opened ``av`` container whose passes over its packets go to ``log``: [file name, "demux"] or
    [file name, "decode", frames it gave]."""

    def __init__(self, container, name: str, log: list) -> None:
        self.container, self.name, self.log = container, name, log

    def __getattr__(self, attr):
        return getattr(self.container, attr)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    def demux(self, *args, **kwargs):
        self.log.append([self.name, "demux"])
        return self.container.demux(*args, **kwargs)

    def decode(self, *args, **kwargs):
        entry = [self.name, "decode", 0]
        self.log.append(entry)
        for frame in self.container.decode(*args, **kwargs):
            entry[2] += 1
            yield frame


@pytest.fixture
def passes(monkeypatch):
    """The passes over videos' packets (``_Logged``), in order: clear it before the part measured."""
    log: list = []
    real = av.open
    monkeypatch.setattr(av, "open", lambda file, *a, **k: _Logged(real(file, *a, **k), Path(file).name, log))
    return log


def _resized(frames: np.ndarray, side: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).resize((side, side))) for f in frames])


# --- 1. a driving video under 64 px a side ---------------------------------------------------------
@pytest.mark.parametrize(
    "command, argv",
    [
        ("video", ["--mouth", "SMALL"]),
        ("video", ["--mouth", "mouth.mp4", "--expression", "SMALL"]),
        ("audio", ["--audio", "speech.wav", "--pose", "SMALL"]),
    ],
)
@pytest.mark.parametrize("face_check", [False, True])
def test_a_driving_video_below_64_px_is_refused_naming_its_size_before_any_frame_is_decoded(
    files, capsys, tmp_path, noisy_faces, decoded, command, argv, face_check
):
    """Before: a 32x32 driving video was upscaled to the model's size without a word with
    --no-face-check (an identity image of that size was refused), and said to have no face without
    it. Now the identity's rule, from the stream's header: no frame of it is decoded."""
    small = tmp_path / "small.mp4"
    write_video(small, _resized(noisy_faces(np.random.default_rng(4), 6), 32))
    argv = [small if a == "SMALL" else files / a if a.endswith((".mp4", ".wav")) else a for a in argv]
    argv += [] if face_check else ["--no-face-check"]
    rc, cap = run(capsys, *on(files, command, *argv), "--out", tmp_path / "o.mp4")
    assert rc == 2
    assert one_line_error(cap) == (
        f"error: {small}: 32x32 px (width x height) is too small: a driving video needs at least 64 px a "
        "side, or the model reads the face's motion from too few pixels; give a larger face crop"
    )
    assert small not in decoded and not (tmp_path / "o.mp4").exists()


def test_driving_videos_follow_the_identity_images_minimum_side(tmp_path, noisy_faces):
    """One rule for both (``driving_inputs.min_side_for``): 64 px taken, 62 refused (H.264 sides are
    even), a wide video 62 px high refused with --crop too; a model reading fewer than 64 px takes
    videos of its own size."""
    from argparse import Namespace

    faces = noisy_faces(np.random.default_rng(5), 3)
    for side in (64, 62, 32):
        write_video(tmp_path / f"{side}.mp4", _resized(faces, side))
    write_video(tmp_path / "wide.mp4", np.zeros((3, 62, 200, 3), np.uint8))
    args = Namespace(crop=False, no_face_check=True)
    assert infer._reader(args, 64)(tmp_path / "64.mp4").n_read is None  # opened
    with pytest.raises(driving_inputs.InferenceError, match=r"62\.mp4: 62x62 px .* at least 64 px"):
        infer._reader(args, 64)(tmp_path / "62.mp4")
    with pytest.raises(driving_inputs.InferenceError, match=r"wide\.mp4: 200x62 px .* at least 64 px"):
        infer._reader(Namespace(crop=True, no_face_check=True), 64)(tmp_path / "wide.mp4")
    infer._reader(args, 32)(tmp_path / "32.mp4")
    with pytest.raises(driving_inputs.InferenceError, match=r"32\.mp4: 32x32 px .* at least 64 px"):
        infer._reader(args, 256)(tmp_path / "32.mp4")
    assert driving_inputs.min_side_for(256) == 64 and driving_inputs.min_side_for(32) == 32
    # the library's DrivingVideo takes any size unless given the minimum
    driving_inputs.DrivingVideo(tmp_path / "32.mp4")


# --- 2. a driving video with an alpha channel ------------------------------------------------------
ALPHA_CODECS = [  # (file, codec, pixel format): lossless ones and WebM's VP9 with alpha (lossy)
    ("qtrle.mov", "qtrle", "argb"),
    ("png.mov", "png", "rgba"),
    ("ffv1.mkv", "ffv1", "yuva420p"),
    ("ffv1_bgra.mkv", "ffv1", "bgra"),
    ("vp9.webm", "libvpx-vp9", "yuva420p"),
]


def _write_rgba(path: Path, codec: str, pix_fmt: str, frames: np.ndarray, lossless: bool = True) -> None:
    """uint8 (T, H, W, 4) RGBA ``frames`` written with ``codec`` in ``pix_fmt`` at 25 fps (VP9
    ``lossless`` or not)."""
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV's FFmpeg has no {codec} encoder")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if codec == "libvpx-vp9" and lossless:
            stream.options = {"lossless": "1"}
        elif codec == "libvpx":  # VP8 codes an alpha channel only without alternate reference frames
            stream.options = {"auto-alt-ref": "0"}
        for rgba in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba), "rgba")))
        container.mux(stream.encode(None))


def _cutouts(faces: np.ndarray) -> np.ndarray:
    """The faces as cut-outs: 24 columns on the left transparent, black under them, as cut-out tools
    leave them; the rest opaque."""
    alpha = np.full(faces.shape[:3], 255, np.uint8)
    alpha[:, :, :24] = 0
    rgb = faces.copy()
    rgb[:, :, :24] = 0
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


@pytest.mark.parametrize("name, codec, pix_fmt", ALPHA_CODECS)
def test_a_driving_video_with_an_alpha_channel_is_composited_over_white_with_a_note(
    capsys, tmp_path, noisy_faces, name, codec, pix_fmt
):
    """Before: its alpha was dropped, and the driving frames showed the black under the transparent
    pixels, without a word. Now as an identity image: over white, one note; opaque pixels as they were."""
    path = tmp_path / name
    _write_rgba(path, codec, pix_fmt, _cutouts(noisy_faces(np.random.default_rng(6), 5)))
    opaque = np.stack(list(iter_frames(path)[1]))  # edtalk.data.video's RGB: the alpha dropped
    driving_inputs._NOTED.clear()
    frames = driving_inputs.read_frames(path)
    assert frames.shape == (5, 128, 128, 3) and frames.dtype == np.uint8
    lossy = codec == "libvpx-vp9"  # its alpha is coded on its own, lossily near the edge
    assert (frames[:, :, : 24 - 4 * lossy] >= 255 - 2 * lossy).all()  # transparent: the white background
    np.testing.assert_array_equal(frames[:, :, 32:], opaque[:, :, 32:])  # opaque: as decoded
    note = f"note: {path}: transparent pixels (alpha channel) composited over a white background"
    assert capsys.readouterr().err.count(note) == 1
    # a video as the identity: its first frame, the same way
    first = driving_inputs.read_image(path)
    np.testing.assert_array_equal(first, frames[0])


def test_an_alpha_driving_video_goes_through_the_command_line_with_one_note(
    files, capsys, tmp_path, noisy_faces
):
    """The face check, the codes and the output read the composited frames; one note for the run."""
    path = tmp_path / "cutout.mov"
    _write_rgba(path, "png", "rgba", _cutouts(noisy_faces(np.random.default_rng(7), 6)))
    rc, cap = run(capsys, *on(files, "video", "--mouth", path, "--pose", path), "--out", tmp_path / "o.mp4")
    assert rc == 0, cap.err
    note = f"note: {path}: transparent pixels (alpha channel) composited over a white background"
    assert cap.err.count(note) == 1 and read_video(tmp_path / "o.mp4").n_frames == 6


def _two_pass(path: Path) -> np.ndarray:
    """What a driving video gave when its alpha came from a decoding pass of its own: ``iter_frames``'s
    RGB (the alpha dropped), each frame over white by the alpha of a second pass, libvpx's for a WebM
    VP8/VP9 stream with alpha (FFmpeg's own decoders drop it); an all-opaque frame as it is."""
    from edtalk.data.image import over_background

    rgb = list(iter_frames(path)[1])
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.metadata.get("alpha_mode") == "1":
            libvpx = {"vp8": "libvpx", "vp9": "libvpx-vp9"}[stream.codec_context.name]
            codec = av.CodecContext.create(libvpx, "r")
            frames = [f for p in container.demux(stream) for f in codec.decode(p if p.size else None)]
        else:
            frames = list(container.decode(stream))
        alphas = [frame.reformat(format="rgba").to_ndarray()[..., 3] for frame in frames]
    return np.stack(
        [f if (a == 255).all() else over_background(f, a) for f, a in zip(rgb, alphas, strict=True)]
    )


@pytest.mark.parametrize(
    "name, codec, pix_fmt",
    [*ALPHA_CODECS, ("vp8.webm", "libvpx", "yuva420p"), ("lossy.webm", "libvpx-vp9", "yuva420p")]
    + [("opaque.mov", "qtrle", "argb"), ("plain.mp4", "libx264", "yuv420p")],
)
def test_a_driving_video_is_decoded_once_into_the_frames_an_alpha_pass_of_its_own_gave(
    tmp_path, noisy_faces, passes, name, codec, pix_fmt
):
    """Before: a video with an alpha channel was decoded twice, the second pass for its alpha only. Now
    one decode gives both, and the frames are the two passes' to the byte: half-transparent pixels, an
    all-opaque frame among transparent ones, lossy VP8/VP9 alpha; an opaque video as it was."""
    path = tmp_path / name
    rgba = _cutouts(noisy_faces(np.random.default_rng(10), 5))
    rgba[:, :, 24:32, 3] = 128  # half transparent
    rgba[2, :, :, 3] = 255  # an opaque frame
    if name == "opaque.mov":
        rgba[..., 3] = 255
    if codec == "libx264":
        write_video(path, rgba[..., :3])
    else:
        _write_rgba(path, codec, pix_fmt, rgba, lossless=name != "lossy.webm")
    passes.clear()
    list(iter_frames(path)[1])  # the RGB alone, the alpha dropped
    plain = len(passes)
    passes.clear()
    frames = np.stack(list(driving_inputs.decoded_frames(path)[1]))
    assert len(passes) == plain  # compositing takes no pass of its own
    np.testing.assert_array_equal(frames, _two_pass(path))


def test_an_opaque_alpha_channel_or_an_opaque_video_changes_nothing_and_says_nothing(
    capsys, tmp_path, noisy_faces
):
    faces = noisy_faces(np.random.default_rng(8), 4)
    rgba = np.concatenate([faces, np.full((*faces.shape[:3], 1), 255, np.uint8)], axis=-1)
    _write_rgba(tmp_path / "opaque.mov", "qtrle", "argb", rgba)
    write_video(tmp_path / "plain.mp4", faces)
    driving_inputs._NOTED.clear()
    for path in (tmp_path / "opaque.mov", tmp_path / "plain.mp4"):
        frames = driving_inputs.read_frames(path)
        np.testing.assert_array_equal(frames, read_video(path).frames)
    assert "note" not in capsys.readouterr().err


# --- 3. an identity image over Pillow's decompression-bomb limit -----------------------------------
@pytest.mark.parametrize("limit", [8000, 10000])  # 128 x 128 = 16384 pixels: over 2x, between 1x and 2x
def test_an_identity_over_the_decompression_bomb_limit_is_one_line_naming_its_pixels(
    files, capsys, tmp_path, monkeypatch, limit
):
    """Before: over twice the limit, PIL's DecompressionBombError came out as a traceback; between once
    and twice, Pillow's warning (a source line) and a photo the face check upsamples whole. Both are
    now refused, naming the file, its pixel count and what to do."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    face = files / "face.png"
    problem = (
        f"16384 pixels (0.0164 megapixels) is too large to read: over Pillow's decompression-bomb limit of "
        f"{limit} pixels; downscale it (the model reads a face crop of 256 px a side)"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageReadError) as err:
            read_rgb_image(face)
    assert str(err.value) == f"{face}: {problem}"
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    argv = on(files, "edit-base", "--bank", "pose", "--index", "0", "--steps", "1", "--no-face-check")
    rc, cap = run(capsys, *argv, "--out", tmp_path / "e.mp4")
    assert rc == 2 and one_line_error(cap) == f"error: {face}: {problem}"
    assert "DecompressionBomb" not in cap.err and not (tmp_path / "e.mp4").exists()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 128 * 128)  # at the limit: read
    assert read_rgb_image(face).shape == (128, 128, 3)


# --- 4. a truncated driving video ------------------------------------------------------------------
def test_a_truncated_driving_video_is_refused_on_opening_before_any_frame_is_decoded(
    files, capsys, tmp_path, noisy_faces, decoded
):
    """Before: a cut-off pose video was found only when decoded to its end, after the mouth video had
    been decoded and encoded. Now its packets are counted against the header when it is opened
    (demuxing only), with decoding's message but for the count (a cut file's last packets may not
    decode)."""
    write_video(tmp_path / "long.mp4", noisy_faces(np.random.default_rng(9), 40))
    data = (tmp_path / "long.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(VideoReadError) as when_decoded:
        read_video(cut)
    argv = ["--mouth", files / "mouth.mp4", "--pose", cut, "--no-face-check", "--out", tmp_path / "o.mp4"]
    rc, cap = run(capsys, *on(files, "video", *argv))
    assert rc == 2 and decoded == []  # not a frame decoded, of either video
    line = one_line_error(cap)
    assert line.startswith(f"error: {cut}: truncated: the file holds at most ")
    assert line.endswith("of the 40 frames the header announces")
    assert str(when_decoded.value).startswith(f"{cut}: truncated: decoded ")
    assert str(when_decoded.value).endswith("of the 40 frames the header announces")
    assert not (tmp_path / "o.mp4").exists()
    # a whole file passes; so does one whose header announces no count (Matroska: packets counted)
    video_io.check_video_length(tmp_path / "long.mp4")
    rgba = np.concatenate(
        [noisy_faces(np.random.default_rng(9), 3), np.full((3, 128, 128, 1), 255, np.uint8)], -1
    )
    _write_rgba(tmp_path / "count.mkv", "ffv1", "yuva420p", rgba)
    video_io.check_video_length(tmp_path / "count.mkv")


def test_a_driving_video_is_demuxed_once_for_its_length_check_and_its_frame_times(files, tmp_path, passes):
    """Before: its packets were read twice on opening, counted against the header, then for their
    timestamps (``video_io.frame_times``). Now one pass gives both; a cut-off file fails as before."""
    passes.clear()
    video = driving_inputs.DrivingVideo(files / "long.mp4", length_check=True)
    assert passes == [["long.mp4", "demux"]] and video.times is None
    data = (files / "long.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    passes.clear()
    with pytest.raises(VideoReadError, match=r"cut\.mp4: truncated: the file holds at most \d+ of the 14"):
        driving_inputs.DrivingVideo(tmp_path / "cut.mp4", length_check=True)
    assert passes == [["cut.mp4", "demux"]]
