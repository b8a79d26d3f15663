"""`python -m edtalk.infer`: four bad inputs, each now a one-line error or a note naming the file (before:
a video upscaled or its transparency dropped without a word, a traceback, work thrown away). A
random-init tiny model; no number here is a metric."""

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from edtalk import driving_inputs, infer
from edtalk.config import ModelConfig
from edtalk.data import video as video_io
from edtalk.data.errors import VideoReadError
from edtalk.data.image import ImageReadError, read_rgb_image
from edtalk.data.video import iter_frames, read_video, write_video
from edtalk.model import EDTalk, save_checkpoint

CFG = ModelConfig.preset("tiny")


@pytest.fixture(scope="module")
def files(tmp_path_factory, face_crop, noisy_faces):
    import soundfile

    root = tmp_path_factory.mktemp("infer_bad_inputs")
    torch.manual_seed(0)
    save_checkpoint(root / "ck.pt", EDTalk(CFG).state_dict(), CFG, {})
    Image.fromarray(face_crop).save(root / "face.png")
    t = np.arange(int(0.4 * 16000)) / 16000
    soundfile.write(root / "speech.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    write_video(root / "mouth.mp4", noisy_faces(np.random.default_rng(1), 10))
    return root


def run(capsys, *argv):
    """``infer.main`` on ``argv``: (exit status, captured out/err), with notes said afresh."""
    driving_inputs._NOTED.clear()
    rc = infer.main([str(a) for a in argv])
    return rc, capsys.readouterr()


def on(files, command, *argv):
    return [command, "--ckpt", files / "ck.pt", "--identity", files / "face.png", *argv]


def one_line_error(cap) -> str:
    """The run's one ``error:`` line when stderr holds nothing else but notes (no traceback)."""
    lines = [line for line in cap.err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    return lines[0]


@pytest.fixture
def decoded(monkeypatch):
    """The videos ``edtalk.data.video.iter_frames`` was asked to decode, in order."""
    paths = []
    real = video_io.iter_frames
    monkeypatch.setattr(video_io, "iter_frames", lambda path: paths.append(Path(path)) or real(path))
    return paths


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


def _write_rgba(path: Path, codec: str, pix_fmt: str, frames: np.ndarray) -> None:
    """uint8 (T, H, W, 4) RGBA ``frames`` written with ``codec`` in ``pix_fmt`` at 25 fps."""
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV's FFmpeg has no {codec} encoder")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if codec == "libvpx-vp9":
            stream.options = {"lossless": "1"}
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
    assert driving_inputs._alpha_decoder(tmp_path / "opaque.mov") == "qtrle"
    assert driving_inputs._alpha_decoder(tmp_path / "plain.mp4") is None  # no second pass
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
    driving_inputs.check_video_length(tmp_path / "long.mp4")
    rgba = np.concatenate(
        [noisy_faces(np.random.default_rng(9), 3), np.full((3, 128, 128, 1), 255, np.uint8)], -1
    )
    _write_rgba(tmp_path / "count.mkv", "ffv1", "yuva420p", rgba)
    driving_inputs.check_video_length(tmp_path / "count.mkv")
