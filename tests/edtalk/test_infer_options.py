"""`python -m edtalk.infer`: a second review's findings. --text alone is text-only (the audio masked);
a factor option an ablation's model has no bank for is refused; the soundtrack keeps its source's rate
and channels; a failed run leaves no folders; silent speech is noted; loading E_T draws no progress
bar. A random-init tiny model; no number here is a metric."""

import av
import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from edtalk import driving, driving_inputs, infer
from edtalk.config import ModelConfig
from edtalk.data.audio import load_audio_channels
from edtalk.data.video import VideoWriter, write_video
from edtalk.model import EDTalk, save_checkpoint
from edtalk.modules import expression_predictor

CFG = ModelConfig.preset("tiny")
TEXT = "I am so happy today"
ABLATION_STAGES = ["eg_pretrain", "mouth_pose", "audio_lip"]  # never the expression stage: no bank for it


def _tone(seconds: float, rate: int, hz: float, peak: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (peak * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory, face_crop, noisy_faces):
    root = tmp_path_factory.mktemp("infer_options")
    for name, cfg, meta in (
        ("ck.pt", CFG, {"emotion_weights": {"happy": [0.5] * CFG.n_expression}}),
        ("lip.pt", CFG.replace(components="lip"), {"stages_done": ABLATION_STAGES}),
        ("lip_pose.pt", CFG.replace(components="lip_pose"), {"stages_done": ABLATION_STAGES}),
        ("notext.pt", CFG.replace(text_encoder="none"), {}),
        ("no_audio_mask.pt", CFG.replace(mask_audio_p=0.0), {}),
        ("no_text_mask.pt", CFG.replace(mask_text_p=0.0), {}),
    ):  # an ablation's model: components changed, as sweeps/ablations.py changes them
        torch.manual_seed(0)
        save_checkpoint(root / name, EDTalk(cfg).state_dict(), cfg, meta)
    Image.fromarray(face_crop).save(root / "face.png")
    soundfile.write(root / "speech.wav", _tone(0.8, 16000, 220), 16000)
    stereo = np.stack([_tone(1.3, 44100, 220), _tone(1.3, 44100, 330, 0.2)], axis=1)
    soundfile.write(root / "stereo44.wav", stereo, 44100)
    rng = np.random.default_rng(1)
    write_video(root / "mouth.mp4", noisy_faces(rng, 10))  # 0.4 s, no audio track
    write_video(root / "pose.mp4", noisy_faces(rng, 6))
    track = np.stack([_tone(0.4, 48000, 220), _tone(0.4, 48000, 440)], axis=1)
    with VideoWriter(root / "mouth48.mp4", audio=track, sample_rate=48000, keep_channels=True) as out:
        out.write(noisy_faces(rng, 10))
    return root


def run(capsys, *argv):
    """``infer.main`` on ``argv``: (exit status, captured out/err), with notes said afresh."""
    driving_inputs._NOTED.clear()
    rc = infer.main([str(a) for a in argv])
    return rc, capsys.readouterr()


def on(files, command, ckpt="ck.pt", *argv):
    return [command, "--ckpt", files / ckpt, "--identity", files / "face.png", "--device", "cpu", *argv]


def one_error_line(cap) -> str:
    lines = [line for line in cap.err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    return lines[0]


# --- 1. --text alone is text-only ------------------------------------------------------------------
def test_text_alone_masks_the_audio_and_the_audio_joins_only_when_asked(files, capsys, monkeypatch):
    """Before: --text always fed the audio too, so --text and --text --expression-from-audio gave the
    same W^e (byte-identical videos)."""
    seen = []
    render = driving.iter_render
    monkeypatch.setattr(driving, "iter_render", lambda m, i, w, b: seen.append(w) or render(m, i, w, b))
    audio = on(files, "audio", "ck.pt", "--audio", files / "speech.wav", "--no-face-check")
    for extra in (["--text", TEXT], ["--text", TEXT, "--expression-from-audio"], ["--expression-from-audio"]):
        rc, cap = run(capsys, *audio, *extra, "--out", files / "t.mp4")
        assert rc == 0, cap.err
    text_only, both, audio_only = (w["expression"] for w in seen)
    assert not torch.allclose(text_only, both) and not torch.allclose(both, audio_only)
    assert not torch.allclose(text_only, audio_only)
    model, _ = driving.load_generator(files / "ck.pt")
    with torch.no_grad():
        features = expression_predictor.encode_text([TEXT], CFG.text_encoder)
        alone = model.expression_predictor(audio=None, text_features=features)
    assert torch.allclose(text_only, alone.expand_as(text_only))


def test_text_for_a_model_without_a_text_encoder_is_refused(files, capsys):
    """Before: the transcript was dropped without a word (the W^e came from the audio alone)."""
    rc, cap = run(capsys, *on(files, "audio", "notext.pt", "--audio", files / "speech.wav", "--text", TEXT,
                              "--no-face-check", "--out", files / "n.mp4"))  # fmt: skip
    assert rc == 2 and "--text: the model has no text encoder (text_encoder='none')" in one_error_line(cap)


@pytest.mark.parametrize(
    ("ckpt", "flags", "masked"),
    [
        ("no_audio_mask.pt", ["--text", TEXT], "mask_audio_p=0"),
        ("no_text_mask.pt", ["--expression-from-audio"], "mask_text_p=0"),
    ],
)
def test_one_modality_alone_needs_the_others_mask_trained(files, capsys, ckpt, flags, masked):
    """A predictor trained with a masking probability of 0 never learned its mask embedding: W^e from
    one modality alone came from an untrained (zero) mask, without a word. Both together still run."""
    speech = ["--audio", files / "speech.wav", "--no-face-check", "--out", files / "m.mp4"]
    rc, cap = run(capsys, *on(files, "audio", ckpt, *speech, *flags))
    assert rc == 2 and f"trained with {masked}, so it never learned to do without" in one_error_line(cap)
    rc, cap = run(capsys, *on(files, "audio", ckpt, *speech, "--text", TEXT, "--expression-from-audio"))
    assert rc == 0, cap.err


# --- 2. ablation checkpoints refuse the options they have no bank for ------------------------------
@pytest.mark.parametrize(
    ("ckpt", "command", "argv", "flag", "has"),
    [
        ("lip.pt", "video", ["--mouth", "mouth.mp4", "--pose", "pose.mp4"], "--pose", "mouth"),
        ("lip.pt", "video", ["--mouth", "mouth.mp4", "--expression", "pose.mp4"], "--expression", "mouth"),
        ("lip.pt", "audio", ["--audio", "speech.wav", "--sample-pose"], "--sample-pose", "mouth"),
        ("lip.pt", "audio", ["--audio", "speech.wav", "--pose", "pose.mp4"], "--pose", "mouth"),
        ("lip.pt", "audio", ["--audio", "speech.wav", "--emotion", "happy"], "--emotion", "mouth"),
        ("lip_pose.pt", "audio", ["--audio", "speech.wav", "--expression", "pose.mp4"], "--expression",
         "mouth, pose"),
        ("lip_pose.pt", "video", ["--mouth", "mouth.mp4", "--expression", "pose.mp4"], "--expression",
         "mouth, pose"),
        ("lip_pose.pt", "audio", ["--audio", "speech.wav", "--text", TEXT], "--text", "mouth, pose"),
        ("lip.pt", "interpolate", ["--mouth", "mouth.mp4", "--expression-a", "pose.mp4", "--expression-b",
                                   "mouth.mp4"], "--expression-a", "mouth"),
    ],
)  # fmt: skip
def test_a_factor_option_the_ablation_has_no_bank_for_is_refused(
    files, capsys, ckpt, command, argv, flag, has
):
    """Before: lip.pt dropped --pose/--sample-pose/--emotion without a word (rc 0); lip_pose.pt refused
    --expression as 'has not been through the expression stage', which no stage adds."""
    paths = [files / a if a.endswith((".mp4", ".wav")) else a for a in argv]
    rc, cap = run(capsys, *on(files, command, ckpt, *paths, "--no-face-check", "--out", files / "l.mp4"))
    line = one_error_line(cap)
    assert rc == 2 and not (files / "l.mp4").exists()
    assert f"{ckpt}: {flag} drives the " in line and f"(has: {has}; components=" in line
    assert "an ablation without that bank" in line and "stage" not in line


def test_an_ablation_drives_the_banks_it_has(files, capsys):
    """Guard: lip_pose.pt takes --pose."""
    argv = ["--mouth", files / "mouth.mp4", "--pose", files / "pose.mp4", "--no-face-check"]
    rc, cap = run(capsys, *on(files, "video", "lip_pose.pt", *argv, "--out", files / "lp.mp4"))
    assert rc == 0, cap.err


# --- 3. the soundtrack keeps its rate and channels -------------------------------------------------
def _audio_stream(path) -> tuple[int, int, float, float]:
    """(sample rate, channels, audio seconds, video seconds) of an mp4."""
    with av.open(str(path)) as container:
        a, v = container.streams.audio[0], container.streams.video[0]
        return a.sample_rate, a.channels, float(a.duration * a.time_base), float(v.duration * v.time_base)


@pytest.mark.parametrize(
    ("command", "argv", "rate"),
    [
        ("video", ["--mouth", "mouth.mp4", "--audio", "stereo44.wav"], 44100),  # cut to 0.4 s
        ("audio", ["--audio", "stereo44.wav"], 44100),  # 1.3 s: 32 frames
        ("video", ["--mouth", "mouth48.mp4"], 48000),  # the mouth video's own track
        ("interpolate", ["--mouth", "mouth48.mp4", "--expression-a", "pose.mp4", "--expression-b",
                         "mouth.mp4"], 48000),
    ],
)  # fmt: skip
def test_the_soundtrack_keeps_its_sources_rate_and_channels(files, capsys, command, argv, rate):
    """Before: every output track was the model's 16 kHz mono input."""
    paths = [files / a if a.endswith((".mp4", ".wav")) else a for a in argv]
    out = files / f"s_{command}_{rate}.mp4"
    rc, cap = run(capsys, *on(files, command, "ck.pt", *paths, "--no-face-check", "--out", out))
    assert rc == 0, cap.err
    got_rate, channels, audio_s, video_s = _audio_stream(out)
    assert (got_rate, channels) == (rate, 2)
    assert abs(audio_s - video_s) <= 1024 / rate  # one AAC frame
    left, right = load_audio_channels(out)[0].T
    assert np.abs(left - right).max() > 0.1  # two tracks, not one copied


def test_a_rate_aac_cannot_encode_is_resampled_to_the_next_one_with_a_note(files, capsys, tmp_path):
    soundfile.write(tmp_path / "odd.wav", _tone(0.8, 37000, 220), 37000)
    out = tmp_path / "odd.mp4"
    rc, cap = run(capsys, *on(files, "audio", "ck.pt", "--audio", tmp_path / "odd.wav", "--out", out))
    assert rc == 0, cap.err
    assert "odd.wav: AAC cannot encode 37000 Hz audio: the output's track is resampled to 44100 Hz" in cap.err
    assert _audio_stream(out)[:2] == (44100, 1)


# --- 4. a failed run leaves no folders -------------------------------------------------------------
def test_a_failed_run_makes_no_folders_and_a_run_that_writes_makes_them(files, capsys, tmp_path):
    """Before: --out's folders were made before the inputs were checked, and left empty on an error."""
    out = tmp_path / "new" / "sub" / "o.mp4"
    argv = ["audio", "--ckpt", files / "ck.pt", "--audio", files / "speech.wav", "--out", out]
    rc, cap = run(capsys, *argv, "--identity", tmp_path / "none.png")
    assert rc == 2 and "none.png: missing: no such file" in one_error_line(cap)
    assert list(tmp_path.iterdir()) == []
    rc, cap = run(capsys, *argv, "--identity", files / "face.png")
    assert rc == 0 and out.is_file(), cap.err
    assert [p.name for p in out.parent.iterdir()] == ["o.mp4"]  # no temp file left beside it


def test_an_out_under_a_file_is_still_refused_before_the_model_loads(files, capsys, monkeypatch):
    """Guard: the check of the nearest existing folder still finds a file in the way."""
    monkeypatch.setattr(driving, "load_generator", lambda *a, **k: pytest.fail("the model loaded"))
    argv = on(files, "audio", "ck.pt", "--audio", files / "speech.wav")
    rc, cap = run(capsys, *argv, "--out", files / "face.png" / "sub" / "o.mp4")
    assert rc == 2 and "face.png is a file, not a folder" in one_error_line(cap)


# --- 5. silent speech is noted ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "wav", "level"),
    [
        ("zeros.wav", np.zeros(32000, np.float32), "all samples zero"),
        (
            "hiss.wav",
            np.random.default_rng(0).uniform(-3e-4, 3e-4, 32000).astype(np.float32),
            "peak -70 dBFS",
        ),
    ],
)
def test_silent_speech_is_noted(files, capsys, tmp_path, name, wav, level):
    """Before: a wav of zeros drove the mouth without a word."""
    soundfile.write(tmp_path / name, wav, 16000, subtype="FLOAT")
    rc, cap = run(
        capsys, *on(files, "audio", "ck.pt", "--audio", tmp_path / name, "--out", tmp_path / "z.mp4")
    )
    assert rc == 0, cap.err
    assert f"note: {tmp_path / name}: the speech is silent ({level}, under -60 dBFS)" in cap.err


def test_quiet_speech_is_not_called_silent(files, capsys, tmp_path):
    """Guard: a tone peaking at -40 dBFS, quieter than any real recording of speech, drives without a note."""
    soundfile.write(tmp_path / "quiet.wav", _tone(0.8, 16000, 220, peak=0.01), 16000)
    argv = on(files, "audio", "ck.pt", "--audio", tmp_path / "quiet.wav", "--out", tmp_path / "q.mp4")
    rc, cap = run(capsys, *argv)
    assert rc == 0 and "silent" not in cap.err, cap.err


# --- minor: no progress bar when E_T loads ---------------------------------------------------------
def test_loading_the_text_encoder_draws_no_progress_bar(capsys):
    """Before: transformers printed 'Loading weights: 0%|...| 100%' on stderr for each --text run."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    expression_predictor._load_text_model.__wrapped__("minilm")  # not the process's cached copy
    assert "Loading weights" not in capsys.readouterr().err
    assert hf_logging.is_progress_bar_enabled() == was_on  # the setting is back as it was
