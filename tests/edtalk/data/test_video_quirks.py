"""Quirks of real recordings that decode without an error but would give wrong frames: a phone's
rotation, kept as a display matrix beside the stored (landscape) pictures."""

import av
import numpy as np
import pytest

from edtalk.data.video import iter_frames, read_video, verify_video


def asymmetric(n: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames no turn or mirror maps onto themselves: a red top band, a blue left band, a grey level."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    frames[:, : height // 4, :, 0] = 200
    frames[:, :, : width // 4, 2] = 200
    frames[..., 1] = (40 * np.arange(n))[:, None, None]
    return frames


def write_phone_video(path, frames: np.ndarray, rotation: int = 0, hflip: bool = False):
    """An H.264 mp4 of ``frames`` as stored, with a display matrix turning them ``rotation`` degrees
    counterclockwise (then mirrored with ``hflip``), as a phone held upright records."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "0", "threads": "1"}
        if rotation or hflip:
            stream.set_display_rotation(rotation, hflip=hflip)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("rotation", "hflip", "upright"),
    [
        (-90, False, lambda f: np.rot90(f, -1, axes=(1, 2))),  # a phone in portrait: turned clockwise
        (90, False, lambda f: np.rot90(f, 1, axes=(1, 2))),
        (180, False, lambda f: f[:, ::-1, ::-1]),
        (0, True, lambda f: f[:, :, ::-1]),  # mirrored only
    ],
)
def test_a_phone_video_is_read_upright_by_its_display_matrix(tmp_path, rotation, hflip, upright):
    """A portrait phone video stores landscape pictures and a display matrix that turns them (ffmpeg's
    CLI applies it by default): read_video gave them on their side, so dlib found no face in them and
    the crop tool named the video faceless, and a phone ground truth was scored on its side against an
    upright prediction."""
    frames = asymmetric(4)
    stored = read_video(write_phone_video(tmp_path / "stored.mp4", frames)).frames
    path = write_phone_video(tmp_path / "phone.mp4", frames, rotation, hflip)
    shown = read_video(path).frames
    np.testing.assert_array_equal(shown, upright(stored))
    assert shown.flags.c_contiguous
    np.testing.assert_array_equal(np.stack(list(iter_frames(path)[1])), shown)
    assert verify_video(path).size == shown.shape[1:3]


def test_a_video_without_a_display_matrix_is_read_as_stored(tmp_path):
    frames = asymmetric(3)
    video = read_video(write_phone_video(tmp_path / "plain.mp4", frames))
    assert video.frames.shape == (3, 48, 64, 3)
    assert np.abs(video.frames.astype(int) - frames).mean() < 3  # only H.264's 4:2:0 rounding


def test_the_crop_tool_finds_the_face_of_a_portrait_phone_video(tmp_path):
    """Stored on its side, the face was no face to dlib: 'no face found' for every portrait phone video."""
    import cv2
    from skimage.data import astronaut

    from edtalk.data import crop

    upright = cv2.resize(astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    display = np.repeat(np.pad(upright, ((0, 0), (40, 40), (0, 0)), constant_values=90)[None], 5, axis=0)
    stored = np.ascontiguousarray(np.rot90(display, 1, axes=(1, 2)))  # turned back clockwise on show
    path = write_phone_video(tmp_path / "portrait.mp4", stored, rotation=-90)
    outcome = crop.crop_job(crop.CropJob("portrait", str(path), None, str(tmp_path / "v"), None))
    assert outcome.problem is None, outcome.problem
    assert read_video(tmp_path / "v" / "portrait.mp4").frames.shape == (5, 256, 256, 3)
