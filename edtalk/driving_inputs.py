"""The inputs of ``edtalk.driving`` read from files: identity images (``read_image``), driving videos at
25 fps (``read_frames``, or streamed a batch at a time as ``DrivingVideo``), dlib HOG face checks
(``check_face`` / ``check_video_face``), 16 kHz speech, the model's input (``load_speech``, ``fit_audio``,
``note_if_silent``), and the output's soundtrack at its own rate and channels (``load_track``,
``fit_track``); with ``InferenceError`` and ``note_once``, which both modules use.

Inputs must be square face crops: a non-square image or video is refused (``crop=True`` cuts it to its
face's square first), and so is an identity image under ``MIN_IMAGE_SIDE`` (64) px a side, or a driving
video when its reader is given that minimum (``min_side_for``). Transparent pixels, of an image or of a
video with an alpha channel, are composited over white, with a note.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from edtalk.data.errors import DataError
from edtalk.data.readers.common import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from edtalk.data.face_crop import CropPlan

FPS = 25.0
SAMPLE_RATE = 16000


class InferenceError(DataError):
    """Bad inference input (no face, wrong size, unknown emotion, missing emotion weights...)."""


_NOTED: set[str] = set()


def note_once(message: str) -> None:
    """Print a note on stderr, once per process (library callers generate many clips)."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"note: {message}", file=sys.stderr)


# The smallest side an identity image may have. The presets read 256 px (paper) and 64 px (tiny): a
# face under 64 px a side has eyes and mouth a few pixels wide, and the paper model would upscale it
# more than 4x, inventing the detail its likeness is made of (dlib's face check, too, finds such a
# face only after upscaling it). 64 is the tiny preset's own size, a quarter of paper's, and under
# every face crop a dataset or a photo gives (MEAD, HDTF and our crops: 256 px; synthtalk: 128), so
# no real face crop is refused. A custom model reading fewer than 64 px takes images of its own size
# (``infer`` passes ``min_side_for(image_size)``). Driving videos are held to the same minimum: the
# encoder reads their motion from as few pixels.
MIN_IMAGE_SIDE = 64


def min_side_for(image_size: int) -> int:
    """The smallest side an identity image or driving video may have for a model reading ``image_size``
    px: ``MIN_IMAGE_SIDE``, or the model's own size when that is smaller."""
    return min(MIN_IMAGE_SIDE, image_size)


def read_image(path: str | Path, crop: bool = False, min_side: int = MIN_IMAGE_SIDE) -> np.ndarray:
    """uint8 (H, W, 3) RGB from a square image file, or the first frame of a video file; with ``crop``,
    any image cut to its face's square 256 px crop first (``edtalk.data.face_crop``). An image with
    transparent pixels is composited over white, with a note (``edtalk.data.image.read_rgb_image``);
    one smaller than ``min_side`` px a side is refused (``MIN_IMAGE_SIDE``)."""
    path = Path(path)
    if path.is_dir():
        raise InferenceError(path, "is a folder; give an image file (or a video: its first frame)")
    if not path.is_file():
        raise InferenceError(path, "missing: no such file")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        image = _first_frame(path)
    else:
        from edtalk.data.image import ImageReadError, read_rgb_image

        try:
            image = read_rgb_image(path, note=note_once)
        except ImageReadError as err:
            raise InferenceError(path, err.problem) from None
    _check_size(image.shape[:2], path, min_side)
    if not crop:
        return square(image, path)
    from edtalk.data.face_crop import crop_image
    from edtalk.data.face_landmarks import NoFaceError

    try:
        return crop_image(image, path)
    except NoFaceError as err:
        raise InferenceError(path, f"{err.problem} (nothing to crop to)") from None


_TOO_FEW_PIXELS = {  # what an input under the minimum needs, and why
    "identity": ("an identity image", "the model draws the face from too few pixels"),
    "driving": ("a driving video", "the model reads the face's motion from too few pixels"),
}


def _check_size(size: tuple[int, int], path: str | Path, min_side: int, role: str = "identity") -> None:
    """Refuse an image or video of ``size`` (height, width) under ``min_side`` px a side, naming its size
    and the minimum: the model would upscale it (or its face crop) silently, from too few pixels to
    keep a likeness (``role`` "identity") or follow the face's motion ("driving")."""
    h, w = size
    if min(h, w) < min_side:
        what, why = _TOO_FEW_PIXELS[role]
        raise InferenceError(
            path,
            f"{w}x{h} px (width x height) is too small: {what} needs at least {min_side} px a side, or "
            f"{why}; give a larger face crop",
        )


def _first_frame(path: Path) -> np.ndarray:
    """The first frame of a video, decoding nothing after it."""
    frames = decoded_frames(path)[1]
    try:
        first = next(frames, None)
    finally:
        frames.close()
    if first is None:
        raise InferenceError(path, "the video has no frames")
    return first


def decoded_frames(path: str | Path) -> tuple[float, Iterator[np.ndarray]]:
    """``edtalk.data.video.iter_frames``: (fps, a video's uint8 RGB frames one at a time, raising
    ``VideoReadError`` where ``read_video`` would), with transparent pixels composited over white, with
    a note, as an identity image's are (``edtalk.data.image.over_background``). Dropping the alpha, as
    ``read_video`` does, showed whatever colour the transparent pixels held. One decoding pass reads
    both the colour and the alpha (libvpx's, for a WebM VP8/VP9 stream with alpha)."""
    from edtalk.data.video import iter_frames

    return iter_frames(path, over_white=True, note=note_once)


def square(frames: np.ndarray, path: str | Path) -> np.ndarray:
    """``frames`` ((H, W, 3) or (T, H, W, 3)) when square; else an error naming the file and its size."""
    _check_square(*frames.shape[-3:-1], path)
    return frames


def _check_square(h: int, w: int, path: str | Path) -> None:
    """Raise ``square``'s error for frames of ``h`` x ``w`` read from ``path`` unless h == w."""
    if h != w:
        kind = "image" if Path(path).suffix.lower() in IMAGE_SUFFIXES else "video"
        raise InferenceError(
            path,
            f"{w}x{h} (width x height): EDTalk drives square face crops; make one with "
            f"`python -m edtalk.data.crop {kind} {path} --out CROP{'.mp4' if kind == 'video' else '.png'}`, "
            "or pass --crop (`crop=True` from Python)",
        )


def read_frames(path: str | Path, crop: bool = False) -> np.ndarray:
    """The frames of a driving video at 25 fps (other rates resampled as ffmpeg's fps filter does, with a
    note, so that motion keeps its speed and stays in step with the audio); with ``crop``, cut to the square
    256 px crop of the face followed through the clip first (``edtalk.data.face_crop``). All of
    ``DrivingVideo(path, crop)``, held in memory."""
    return np.concatenate(list(DrivingVideo(path, crop).batches(256)))


class DrivingVideo:
    """A driving video file read as a stream: ``read_frames``'s frames (25 fps; square, or cut to the
    face's square with ``crop``; transparent pixels over white, ``decoded_frames``) a batch at a time,
    decoded afresh by each ``batches``. Opening it checks what can be checked before any work: the
    header (a missing or unreadable file, a non-square one, one under ``min_side`` px a side:
    ``infer`` passes ``min_side_for(image_size)``, 0 takes any size) and, with ``length_check``, that the
    file holds the frames its header announces (``check_video_length``: demuxed, not decoded, in the
    one pass that reads a variable frame rate's frame times, ``read_packets``); then,
    with ``face_check``, that a face is there (``check_video_face``: a few frames looked at) or, with
    ``crop``, the detect pass of ``edtalk.data.crop`` (one square for the whole clip; decoded,
    streamed, nothing kept).

    After each ``batches`` pass, ``n_read`` is the number of frames it gave and ``cut`` whether the
    video had more than its ``limit`` (what a caller fitting it to another length reports)."""

    def __init__(
        self,
        path: str | Path,
        crop: bool = False,
        face_check: bool = False,
        min_side: int = 0,
        length_check: bool = False,
    ) -> None:
        from edtalk.data.video import check_video_length, probe_video, read_packets

        self.path = path
        self.plan: CropPlan | None = None
        self.n_read: int | None = None  # None until a ``batches`` pass
        self.cut = False
        self.length_checked = length_check
        info = probe_video(path)
        if not crop:
            _check_square(*info.size, path)
        _check_size(info.size, path, min_side, "driving")
        packets = read_packets(path)
        if length_check:
            check_video_length(path, info.n_frames, packets)
        if face_check and not crop:
            check_video_face(path, info.n_frames)
        self.times = packets.times  # a variable-frame-rate video's frame times (None: constant)
        if crop:
            from edtalk.data.face_crop import plan_crops
            from edtalk.data.face_landmarks import NoFaceError

            fps, frames = decoded_frames(path)
            try:
                self.plan = plan_crops(frames, fps, times=self.times)
            except NoFaceError as err:
                raise InferenceError(path, f"{err.problem} (nothing to crop to)") from None
            note_once(f"{path}: cut to the face's square crop ({self.plan.n_frames} frames at {FPS:.0f} fps)")

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[np.ndarray]:
        """uint8 (b, H, W, 3) batches of the first ``limit`` frames (all when None). Decoding stops at
        the frame after them (which tells ``cut``) when the file's length was checked on opening
        (``length_check``); otherwise the rest of the file is still decoded (not kept), so a truncated
        file fails as ``read_video`` would."""
        from edtalk.data.face_crop import crop_frame, retimed

        fps, decoded = decoded_frames(self.path)
        frames = decoded
        if self.plan is not None:  # the cut pass of edtalk.data.crop (face_crop.cut_crops), one clip
            retimed_frames = retimed(decoded, fps, FPS, self.times)
            frames = (crop_frame(frame, self.plan.boxes[0]) for frame in retimed_frames)
        elif self.times is not None:
            note_once(f"{self.path}: variable frame rate, resampled to {FPS:.0f} fps by frame times")
            frames = retimed(decoded, fps, FPS, self.times)
        elif abs(fps - FPS) > 0.01:
            note_once(f"{self.path}: {fps:.2f} fps, resampled to {FPS:.0f} fps (as ffmpeg's fps filter does)")
            frames = retimed(decoded, fps, FPS)  # edtalk.data.video.retime, a frame at a time
        self.n_read, self.cut = 0, False
        try:
            first = itertools.islice(frames, limit)
            while batch := list(itertools.islice(first, batch_size)):
                self.n_read += len(batch)
                yield square(np.stack(batch), self.path)
            if limit is not None and self.n_read == limit:
                self.cut = next(frames, None) is not None  # a frame past ``limit``: the video was cut
            if not self.length_checked:
                for _ in decoded:  # the frames past ``limit``: a cut-off file is found only at its end
                    pass
        finally:
            decoded.close()


Frames = np.ndarray | DrivingVideo  # driving frames: uint8 (T, H, W, 3) in memory, or streamed


def has_face(frame: np.ndarray) -> bool:
    """Whether dlib's HOG detector finds a face in an RGB frame (upscaled to >= 256 px first)."""
    import cv2

    img = np.ascontiguousarray(frame)
    side = max(img.shape[:2])
    if side < 256:
        scale = 256.0 / side
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    from edtalk.data.face_landmarks import face_detector

    return len(face_detector()(img, 1)) > 0


def check_face(frame: np.ndarray, path: str | Path) -> None:
    """Raise if dlib's HOG detector finds no face (the image is upscaled to >= 256 px first)."""
    if not has_face(frame):
        raise InferenceError(
            path,
            "no face found by the dlib HOG detector; pass a face crop, or --no-face-check to skip this check",
        )


def check_video_face(path: str | Path, n_frames: int | None = None) -> None:
    """Raise unless ``check_face``'s detector finds a face in one of a driving video's first, middle
    and last frames (``n_frames``: its length as the header gives it). Cheap: decoding stops at the
    first frame with a face, so only a video without one is decoded to its end."""
    from edtalk.data.video import probe_video

    n = probe_video(path).n_frames if n_frames is None else n_frames
    wanted = sorted({0, n // 2, max(n - 1, 0)})
    looked, last, j = 0, None, -1
    frames = decoded_frames(path)[1]
    try:
        for j, frame in enumerate(frames):
            last = frame
            if j in wanted:
                looked += 1
                if has_face(frame):
                    return
                if j == wanted[-1]:
                    break
        else:  # fewer frames than the header said: the last one decoded stands for the last frame
            if last is not None and j not in wanted:
                looked += 1
                if has_face(last):
                    return
    finally:
        frames.close()
    if last is None:
        raise InferenceError(path, "the video has no frames")
    raise InferenceError(
        path,
        f"no face found by the dlib HOG detector in any of the {looked} frame(s) looked at (first, middle, "
        "last); pass a face crop video, or --no-face-check to skip this check",
    )


MIN_SPEECH_S = 0.2  # one mel window of the audio encoder (16 mel frames at 80 Hz)


def check_speech_length(wav: np.ndarray, path: str | Path | None = None) -> None:
    """Refuse audio shorter than one 0.2 s mel window, naming ``path`` when given."""
    if len(wav) < MIN_SPEECH_S * SAMPLE_RATE:
        raise InferenceError(
            path,
            f"audio too short: {len(wav) / SAMPLE_RATE:.2f} s; the audio encoder needs at least "
            f"{MIN_SPEECH_S} s (one 16-frame mel window)",
        )


def load_speech(path: str | Path) -> np.ndarray:
    """Mono samples of ``path`` at 16 kHz (a note on stderr when the file had another rate).

    Raises ``AudioReadError`` (a DataError naming the file) for a missing, corrupt or empty file.
    """
    from edtalk.data.audio import load_audio

    return load_audio(path, SAMPLE_RATE, note=lambda text: note_once(f"{text} for the model's input"))


# Silent speech: a peak under -60 dBFS (0.001 of full scale). Quiet real speech peaks far above it
# (about -30 dBFS for a distant, unamplified voice); a 16-bit file's own noise floor is at -96 dBFS.
SILENT_PEAK_DBFS = -60.0


def note_if_silent(wav: np.ndarray, path: str | Path) -> None:
    """Say when the speech at ``path`` is silent or nearly so (peak under ``SILENT_PEAK_DBFS``): the
    mouth would follow nothing."""
    peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
    if peak < 10.0 ** (SILENT_PEAK_DBFS / 20.0):
        level = "all samples zero" if peak == 0.0 else f"peak {20.0 * math.log10(peak):.0f} dBFS"
        note_once(
            f"{path}: the speech is silent ({level}, under {SILENT_PEAK_DBFS:.0f} dBFS): the mouth will "
            "barely move; check the file holds the speech"
        )


class Track(NamedTuple):
    """An output video's soundtrack: float32 samples (n, channels) at ``rate`` Hz."""

    samples: np.ndarray
    rate: int


def load_track(path: str | Path) -> Track:
    """The audio of ``path`` at its own sample rate and channel count, as the output's AAC track: a rate
    AAC cannot encode is resampled to the next one it can (``edtalk.data.video.AAC_RATES``, 7.35 to
    96 kHz) and more channels than it takes here are mixed down to mono, each with a note.
    ``AudioReadError`` as ``load_speech``."""
    from edtalk.data.audio import load_audio_channels, resample
    from edtalk.data.video import AAC_LAYOUTS, AAC_RATES

    samples, rate = load_audio_channels(path)
    if samples.shape[1] not in AAC_LAYOUTS:
        note_once(
            f"{path}: {samples.shape[1]} audio channels; the output's AAC track takes 1 to "
            f"{max(AAC_LAYOUTS)} here: mixed down to mono"
        )
        samples = samples.mean(axis=1, keepdims=True)
    if rate not in AAC_RATES:
        target = min((r for r in AAC_RATES if r >= rate), default=max(AAC_RATES))
        note_once(
            f"{path}: AAC cannot encode {rate} Hz audio: the output's track is resampled to {target} Hz"
        )
        samples, rate = resample(samples, rate, target), target
    return Track(np.ascontiguousarray(samples, dtype=np.float32), rate)


def fit_track(track: Track, n_frames: int, fps: float = FPS) -> Track:
    """``track`` cut or padded with silence to ``n_frames`` video frames at ``fps`` (the fewest samples
    covering them, as ``fit_audio``: ``edtalk.data.audio.fit_to_frames``)."""
    from edtalk.data.audio import fit_to_frames

    return Track(fit_to_frames(track.samples, n_frames, fps, track.rate), track.rate)


def fit_audio(wav: np.ndarray, n_frames: int, fps: float = FPS) -> np.ndarray:
    """``wav`` (16 kHz) cut or zero-padded to exactly ``n_frames`` video frames at ``fps``."""
    from edtalk.data.audio import fit_to_frames

    return fit_to_frames(wav, n_frames, fps, SAMPLE_RATE)
