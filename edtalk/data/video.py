"""Video IO with PyAV: decode a clip once into uint8 RGB frames, write H.264 mp4 with muxed audio.

Every reader, metric and training loader goes through ``read_video`` so a video is decoded the same
way everywhere (PyAV's default BT.601 YUV->RGB conversion). ``write_video`` is deterministic (same
frames in, same bytes out) and atomic (temp file + rename), so a half-written file never looks done.
For clips too long to hold decoded: ``iter_frames`` reads one frame at a time, ``VideoWriter``
writes ``write_video``'s file a batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.codec.context import Flags
from av.video.reformatter import VideoReformatter

from edtalk.atomic import atomic_path
from edtalk.data.errors import VideoReadError
from edtalk.data.image import over_background, transparency_note

_FFMPEG_ERRORS = (av.error.FFmpegError, OSError, ValueError, IndexError)


@dataclass(frozen=True)
class VideoData:
    """A decoded clip: ``frames`` uint8 (T, H, W, 3) RGB and the frame rate ``fps``."""

    frames: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Length in seconds (n_frames / fps)."""
        return self.n_frames / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class Packets:
    """What one demuxing pass over a video stream tells, without decoding: ``held``, the frames the file
    holds (its packets with data, ``check_video_length``'s count), and ``times``, ``frame_times``'s."""

    held: int
    times: np.ndarray | None


@dataclass(frozen=True)
class VideoInfo:
    """Header facts about a video, read without decoding its frames."""

    fps: float
    n_frames: int  # from the container header; counted from packets when the header has none
    size: tuple[int, int]  # (height, width)
    duration: float  # seconds
    has_audio: bool


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VideoReadError(path, "missing: no such file")
    if path.is_dir():
        raise VideoReadError(path, "unreadable: is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "unreadable: empty file (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except _FFMPEG_ERRORS as err:
        raise VideoReadError(
            path, f"unreadable or truncated: the container cannot be opened ({err.__class__.__name__}: {err})"
        ) from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoReadError(path, "no video stream in the file")
    return container.streams.video[0]


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    return float(rate) if rate else 0.0


def _announced_frames(stream: av.video.stream.VideoStream, fps: float) -> int:
    """The frames the header says will be shown (0: it does not say). ``stream.frames`` counts stored
    samples, which in a stream-copy cut (``ffmpeg -ss T -c copy``) include the pre-roll its edit list
    hides; the stream's duration counts only what is shown, so the smaller of the two is taken."""
    stored = int(stream.frames or 0)
    if not stored or stream.duration is None or stream.time_base is None or fps <= 0:
        return stored
    shown = int(round(float(stream.duration * stream.time_base) * fps))
    return min(stored, shown) if shown > 0 else stored


def probe_video(path: str | Path) -> VideoInfo:
    """fps, frame count, size, duration and audio presence from the header (no frame decoding).

    When the header has no frame count, packets are counted (demuxing only, still no decoding).
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        fps = _stream_fps(stream)
        n_frames = _announced_frames(stream, fps)
        if n_frames == 0:
            n_frames = _read_packets(container, stream, path).held
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif fps > 0:
            duration = n_frames / fps
        else:
            duration = (container.duration or 0) / av.time_base
        return VideoInfo(
            fps=fps,
            n_frames=n_frames,
            size=(int(stream.height), int(stream.width)),
            duration=duration,
            has_audio=bool(container.streams.audio),
        )
    finally:
        container.close()


def read_packets(path: str | Path) -> Packets:
    """``Packets`` of ``path``'s video stream: one demuxing pass, no decoding."""
    path = Path(path)
    container = _open(path)
    try:
        return _read_packets(container, _video_stream(container, path), path)
    finally:
        container.close()


def _read_packets(container: av.container.InputContainer, stream, path: Path) -> Packets:
    """``Packets`` of ``stream``, from one pass over its packets (demuxing only, no decoding)."""
    fps, start = _stream_fps(stream), stream.start_time or 0
    expected = _announced_frames(stream, fps)
    held, pts = 0, []
    try:
        for packet in container.demux(stream):
            if packet.size:
                held += 1
                if packet.pts is not None and packet.pts >= start:
                    pts.append(packet.pts)
    except _FFMPEG_ERRORS as err:
        raise VideoReadError(path, f"corrupt: demuxing failed ({err})") from None
    time_base = float(stream.time_base) if stream.time_base else 0.0
    return Packets(held, _variable_times(pts, fps, time_base, expected))


def check_video_length(
    path: str | Path, announced: int | None = None, packets: Packets | None = None
) -> None:
    """Raise ``VideoReadError`` when a video's stream holds fewer frames (packets with data) than its
    header announces (``announced``: ``probe_video``'s count): cut off, as a half-copied download is.
    Demuxing only, no decoding, so it comes before any work: decoding finds it only at the file's end
    ("truncated: decoded N of the M frames the header announces", ``_decoded_frames``), after the
    frames before it were decoded and encoded. N can be a little lower there: the last packets of a
    cut file may not decode. ``packets``: the file's ``read_packets``, when already read."""
    path = Path(path)
    announced = probe_video(path).n_frames if announced is None else announced
    held = (packets or read_packets(path)).held
    if held < announced:
        raise VideoReadError(
            path, f"truncated: the file holds at most {held} of the {announced} frames the header announces"
        )


def _decoded_frames(
    path: Path,
    to_rgb: bool,
    meta: dict,
    over_white: bool = False,
    note: Callable[[str], None] | None = None,
):
    """Yield each frame in turn (an RGB array when ``to_rgb``, else None), then check for truncation;
    ``meta`` receives the stream's fps, size and audio presence on opening and the decoded count at
    the end. Raises ``VideoReadError`` where decoding fails. With ``over_white``, the RGB of a stream
    with an alpha channel (``_alpha_decoder``) is composited over white as decoded (``_OverWhite``)."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream)
        expected = _announced_frames(stream, fps)
        meta.update(
            fps=fps, size=(int(stream.height), int(stream.width)), has_audio=bool(container.streams.audio)
        )
        count = 0
        to_rgb24 = VideoReformatter()  # one converter for the whole clip (a new one per frame is slow)
        decoder = _alpha_decoder(stream) if to_rgb and over_white else None
        composite = _OverWhite(path, note) if decoder is not None else None
        try:
            for frame in _decode_stream(container, stream, decoder):
                count += 1
                turn = _display_turn(frame)
                if count == 1 and turn is not None and turn[0]:  # shown on its side: height <-> width
                    meta["size"] = meta["size"][::-1]
                rgb = to_rgb24.reformat(frame, format="rgb24").to_ndarray() if to_rgb else None
                rgb = rgb if composite is None else composite(frame, rgb)
                yield rgb if rgb is None or turn is None else _turned(rgb, turn)
        except _FFMPEG_ERRORS as err:
            raise VideoReadError(
                path, f"corrupt or truncated: decoding stopped after {count} frames ({err})"
            ) from None
    finally:
        container.close()
    meta["n_frames"] = count
    if count == 0:
        raise VideoReadError(path, "empty or truncated: no frame could be decoded")
    if expected and count < expected:
        raise VideoReadError(
            path, f"truncated: decoded {count} of the {expected} frames the header announces"
        )
    if fps <= 0:
        raise VideoReadError(path, "unreadable: the video stream has no frame rate")


_DISPLAYMATRIX = av.sidedata.sidedata.Type.DISPLAYMATRIX


def _display_turn(frame: av.VideoFrame) -> tuple[bool, bool, bool] | None:
    """(transpose, flip rows, flip columns) that show ``frame`` upright, as its display matrix (a phone's
    rotation, FFmpeg's (x', y') = (a x + c y, b x + d y)) says and as ffmpeg's CLI turns it by default;
    None without one, for the identity, or for a turn that is not a multiple of 90 degrees."""
    matrix = frame.side_data.get(_DISPLAYMATRIX)
    if matrix is None:
        return None
    a, b, _, c, d = (int(v) for v in np.sign(np.frombuffer(bytes(matrix), np.int32)[:5]))
    if b == c == 0 and a and d:
        turn = (False, d < 0, a < 0)
    elif a == d == 0 and b and c:
        turn = (True, b < 0, c < 0)
    else:
        return None
    return turn if any(turn) else None


def _turned(rgb: np.ndarray, turn: tuple[bool, bool, bool]) -> np.ndarray:
    """``rgb`` (H, W, 3) transposed and flipped as ``_display_turn`` says."""
    transpose, flip_rows, flip_columns = turn
    rgb = rgb.transpose(1, 0, 2) if transpose else rgb
    return np.ascontiguousarray(rgb[:: -1 if flip_rows else 1, :: -1 if flip_columns else 1])


_VPX_ALPHA = {"vp8": "libvpx", "vp9": "libvpx-vp9"}  # FFmpeg's own VP8/VP9 decoders drop a WebM's alpha


def _alpha_decoder(stream: av.video.stream.VideoStream) -> str | None:
    """The decoder that reads the alpha channel of a video ``stream``, from its header: the stream's own
    for a pixel format with alpha (qtrle argb, PNG rgba, FFV1 yuva420p or bgra, ProRes 4444...) or a
    palette (which may have transparent entries); libvpx's for a WebM VP8/VP9 stream marked
    ``alpha_mode`` 1. None for an opaque stream, or when this FFmpeg has no libvpx."""
    name, fmt = stream.codec_context.name, stream.codec_context.format
    if stream.metadata.get("alpha_mode") == "1" and name in _VPX_ALPHA:
        try:
            return av.Codec(_VPX_ALPHA[name], "r").name
        except (av.error.FFmpegError, ValueError):  # an FFmpeg built without libvpx: alpha unread
            return None
    if fmt is not None and (fmt.has_palette or any(c.is_alpha for c in fmt.components)):
        return name
    return None


def _decode_stream(container: av.container.InputContainer, stream, decoder: str | None) -> Iterator:
    """The frames of ``stream``, decoded by its own decoder, or by ``decoder`` when another (libvpx, fed
    the stream's packets: their side data holds a WebM's alpha)."""
    if decoder is None or decoder == stream.codec_context.name:
        return container.decode(stream)
    codec = av.CodecContext.create(decoder, "r")
    return (f for packet in container.demux(stream) for f in codec.decode(packet if packet.size else None))


class _OverWhite:
    """Decoded frames of a stream with an alpha channel composited over white by it, as an image's are
    (``edtalk.data.image.over_background``); an all-opaque frame as it is. ``note``, when given, is
    told so (``transparency_note``) on the first transparent frame."""

    def __init__(self, path: Path, note: Callable[[str], None] | None) -> None:
        self.path, self.note, self.noted = path, note, False
        self.to_rgba = VideoReformatter()

    def __call__(self, frame: av.VideoFrame, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` (``frame`` as RGB) composited by ``frame``'s alpha."""
        alpha = self.to_rgba.reformat(frame, format="rgba").to_ndarray()[..., 3]
        if (alpha == 255).all():
            return rgb
        if self.note is not None and not self.noted:
            self.note(transparency_note(self.path))
            self.noted = True
        return over_background(rgb, alpha)


def _decode(path: Path, to_rgb: bool) -> tuple[list[np.ndarray], VideoInfo]:
    """Decode every frame (as RGB arrays when ``to_rgb``, else only counted); check for truncation."""
    meta: dict = {}
    frames = [f for f in _decoded_frames(path, to_rgb, meta) if to_rgb]
    fps, count = meta["fps"], meta["n_frames"]
    info = VideoInfo(
        fps=fps,
        n_frames=count,
        size=meta["size"],
        duration=count / fps if fps > 0 else 0.0,
        has_audio=meta["has_audio"],
    )
    return frames, info


def iter_frames(
    path: str | Path, *, over_white: bool = False, note: Callable[[str], None] | None = None
) -> tuple[float, Iterator[np.ndarray]]:
    """(fps, frames one at a time as uint8 (H, W, 3) RGB): ``read_video`` for videos too long to hold
    decoded. The header's fps; the iterator raises ``VideoReadError`` where ``read_video`` would.

    With ``over_white``, a video with an alpha channel has its transparent pixels composited over
    white, and ``note`` told so, as an image's are (``edtalk.data.image.read_rgb_image``); its one
    decoding pass reads the alpha too. Without, the alpha is dropped, as ``read_video`` drops it."""
    path = Path(path)
    fps = probe_video(path).fps
    if fps <= 0:
        raise VideoReadError(path, "unreadable: the video stream has no frame rate")
    return fps, _decoded_frames(path, True, {}, over_white, note)


def read_video(path: str | Path) -> VideoData:
    """Decode every frame of ``path`` into uint8 (T, H, W, 3) RGB; raise ``VideoReadError`` if bad.
    Frames are turned upright by the stream's display matrix (a phone's rotation), as ffmpeg shows them.

    Truncation is detected by comparing the decoded frame count with the header's count.
    """
    frames, info = _decode(Path(path), to_rgb=True)
    return VideoData(frames=np.stack(frames), fps=info.fps)


# A source frame's time times the output rate, rounded: exact halves (24 fps frame 12 lands on 12.5)
# must round up whatever float error the division left; true rational rates miss a half by far more.
_HALF_TOLERANCE = 1e-7


def output_slots(times: np.ndarray, target_fps: float) -> np.ndarray:
    """The output frame at ``target_fps`` where each source frame (shown at ``times`` seconds from the
    first) starts: t * target_fps rounded to the nearest, halves up, as ffmpeg's fps filter rounds
    timestamps (its default ``round=near``, AV_ROUND_NEAR_INF)."""
    return np.floor(np.asarray(times, dtype=np.float64) * target_fps + 0.5 + _HALF_TOLERANCE).astype(np.int64)


def output_count(duration: float, target_fps: float) -> int:
    """Frames at ``target_fps`` of a clip lasting ``duration`` seconds (its last frame's end), rounded
    as ``output_slots`` rounds; at least 1."""
    return max(1, int(output_slots(np.array([duration]), target_fps)[0]))


def fps_filter_index(times: np.ndarray, target_fps: float, n_out: int) -> np.ndarray:
    """ffmpeg's fps filter as source indices: output frame j shows the latest source frame whose slot
    (``output_slots``) is at or before j. A frame is repeated until the next one's slot, and of two
    frames landing on one slot the later is kept (the earlier is dropped). Checked against
    libavfilter's ``fps`` filter (tests/edtalk/data/test_video.py)."""
    slots = output_slots(times, target_fps)
    return np.searchsorted(slots, np.arange(n_out), side="right") - 1


def retime(frames: np.ndarray, fps: float, target_fps: float, times: np.ndarray | None = None) -> np.ndarray:
    """Resample a clip from ``fps`` to ``target_fps`` as ffmpeg's fps filter does (``fps_filter_index``),
    keeping its duration: n frames give round(n * target_fps / fps) (halves up, at least 1).
    ``times``: a variable-frame-rate clip's frame times (``frame_times``), which place its frames
    instead of ``fps``."""
    if fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {fps} -> {target_fps}")
    if times is not None:
        return frames[np.minimum(timed_index(times, target_fps), len(frames) - 1)]
    n = len(frames)
    return frames[fps_filter_index(np.arange(n) / fps, target_fps, output_count(n / fps, target_fps))]


def frame_times(path: str | Path) -> np.ndarray | None:
    """Seconds from the first shown frame to each shown frame of a variable-frame-rate video (phones
    lower the rate in dim light), from its packets' timestamps (demuxing only, no decoding); None for
    a constant-rate video (every frame within a quarter frame of i / fps), which its rate retimes.
    Averaging over a 30-then-15 fps video put its middle 1.7 s away from the audio.

    None, too, for a file holding fewer frames than its header announces, which decoding reports as
    truncated: a cut-off file ends in decoding order, so a reference frame stored ahead of the B-frames
    shown before it is there without them, and that gap was taken for a variable rate (a note on it
    came before the error). ``read_packets(path).times``: the same demuxing pass counts the frames."""
    return read_packets(path).times


def _variable_times(pts: list[int], fps: float, time_base: float, expected: int) -> np.ndarray | None:
    """``frame_times`` from a stream's shown packets' ``pts`` (in ``time_base`` seconds), its ``fps``
    and the frames its header announces (``expected``)."""
    if len(pts) < max(2, expected) or fps <= 0 or time_base <= 0:
        return None
    times = (np.sort(np.asarray(pts, dtype=np.float64)) - min(pts)) * time_base
    if np.abs(times - np.arange(len(times)) / fps).max() < 0.25 / fps:
        return None
    return times


def timed_index(times: np.ndarray, target_fps: float) -> np.ndarray:
    """For each output frame at ``target_fps``, the source frame a variable-frame-rate clip shows there
    (``fps_filter_index`` of its ``frame_times``). The last frame lasts as long as the one before it
    (the rate where the clip ends), as every frame of a constant-rate clip does."""
    last = float(times[-1] - times[-2]) if len(times) > 1 else 1.0 / target_fps
    return fps_filter_index(times, target_fps, output_count(float(times[-1]) + last, target_fps))


def verify_video(path: str | Path) -> VideoInfo:
    """Decode every frame without keeping it (cheap on memory); the decoded count is ``n_frames``.

    Raises ``VideoReadError`` exactly where ``read_video`` would (missing, corrupt, truncated ...).
    """
    return _decode(Path(path), to_rgb=False)[1]


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) array, got shape {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(
            f"H.264 yuv420p needs even height and width, got {frames.shape[1]}x{frames.shape[2]}"
        )
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating):
            raise ValueError("frames must be uint8 RGB in [0, 255]; convert floats explicitly before writing")
        frames = np.clip(frames, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frames)


def _check_audio(audio: np.ndarray) -> np.ndarray:
    from edtalk.data.audio import float_samples

    audio = np.asarray(float_samples(audio), dtype=np.float32)
    if audio.ndim == 2:  # (n, channels) or (channels, n): mix down to mono
        audio = audio.mean(axis=0 if audio.shape[0] < audio.shape[1] else 1)
    if audio.ndim != 1:
        raise ValueError(f"audio must be a mono 1-D float array, got shape {audio.shape}")
    return np.ascontiguousarray(audio)


# What PyAV's AAC encoder takes: its sample rates, and a layout for each channel count (FFmpeg's default
# layout for it; PyAV's from_ndarray fails on 7.1's eight channels, 6.1 has no name)
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 5: "5.0", 6: "5.1"}


def _check_channels(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32 (n, channels), a channel count AAC_LAYOUTS names (a 1-D array: one channel)."""
    from edtalk.data.audio import float_samples

    audio = np.asarray(float_samples(audio), dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in AAC_LAYOUTS:
        raise ValueError(
            f"audio must be (n, channels) with 1 to {len(AAC_LAYOUTS)} channels, got {audio.shape}"
        )
    return np.ascontiguousarray(audio)


class VideoWriter:
    """``write_video`` a batch at a time: ``with VideoWriter(path, fps, audio) as out: out.write(batch)``.

    Same encoder settings, same bytes for the same frames (however they are batched), same atomicity:
    a temp file beside ``path``, renamed over it when the ``with`` block ends without error, removed
    when it raises. Only the encoder's own buffers are held, not the frames. ``audio`` (mono float32 at
    ``sample_rate``, small next to frames) comes whole up front and is encoded after the last frame, the
    layout write_video's files always had (fed alongside the video, it decodes the same but the file
    differs past 10 s); meanwhile the muxer holds back at most 10 s of video packets (its interleaving
    window, ``max_interleave_delta``). With ``keep_channels``, ``audio`` is (n, channels) and keeps
    its channels (``AAC_LAYOUTS``; ``sample_rate`` one of ``AAC_RATES``) instead of being mixed to mono.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float = 25.0,
        audio: np.ndarray | None = None,
        sample_rate: int = 16000,
        crf: int = 17,
        *,
        keep_channels: bool = False,
    ) -> None:
        self.path = Path(path)
        self.rate = Fraction(fps).limit_denominator(1001)
        if self.rate <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        check = _check_channels if keep_channels else _check_audio
        self.audio = None if audio is None else check(audio)
        self.sample_rate, self.crf = int(sample_rate), crf
        self.n_frames = 0
        self.size: tuple[int, int] | None = None  # (height, width), set by the first batch
        self._target: str | None = None
        self._container = self._vstream = self._astream = None

    def __enter__(self) -> VideoWriter:
        self._session = self._writing()
        return self._session.__enter__()

    def __exit__(self, *exc) -> bool | None:
        return self._session.__exit__(*exc)

    @contextmanager
    def _writing(self) -> Iterator[VideoWriter]:
        with atomic_path(self.path, suffix=".tmp.mp4") as tmp:
            self._target = str(tmp)
            try:
                yield self
                self._finish()
            except BaseException:
                self._close(quiet=True)
                raise
            finally:
                self._target = None
            self._close()

    def write(self, frames: np.ndarray) -> None:
        """Encode uint8 (T, H, W, 3) RGB ``frames``, the next T frames of the video."""
        if self._target is None:
            raise RuntimeError("VideoWriter.write outside its `with` block")
        frames = _check_frames(frames)
        if self._container is None:
            self._open(frames.shape[1], frames.shape[2])
        elif frames.shape[1:3] != self.size:
            raise ValueError(
                f"frames of {frames.shape[1]}x{frames.shape[2]} after {self.size[0]}x{self.size[1]}"
            )
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = self.n_frames
            self._container.mux(self._vstream.encode(frame))
            self.n_frames += 1

    def _open(self, height: int, width: int) -> None:
        # +faststart puts the index first; +bitexact keeps encoder/version strings out of the file.
        self._container = av.open(
            self._target, mode="w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"}
        )
        self.size = (height, width)
        vstream = self._vstream = self._container.add_stream("libx264", rate=self.rate)
        vstream.width, vstream.height = width, height
        vstream.pix_fmt = "yuv420p"
        vstream.time_base = 1 / self.rate
        # mbtree=0: with x264's macroblock-tree rate control on, identical calls gave different
        # bytes for small frames (32 px: 7 of 60 files; 64 px: 3 variants in 25), a read of
        # uninitialised memory in its SIMD path (asm=0 also fixed it, at 3-4x the time).
        # Without it, 250 of 250 writes matched at 32, 48 and 64 px, for +15-25% encode time.
        vstream.options = {
            "crf": str(self.crf),
            "preset": "medium",
            "threads": "1",
            "x264-params": "mbtree=0",
        }
        vstream.codec_context.flags |= Flags.bitexact
        if self.audio is not None:
            channels = 1 if self.audio.ndim == 1 else self.audio.shape[1]
            self._astream = self._container.add_stream(
                "aac", rate=self.sample_rate, layout=AAC_LAYOUTS[channels]
            )
            self._astream.bit_rate = 96_000 if channels == 1 else 64_000 * channels
            self._astream.codec_context.flags |= Flags.bitexact

    def _finish(self) -> None:
        """Flush the video encoder, then encode and mux the whole audio track."""
        if self._container is None:
            raise ValueError("no frames were written: a video needs at least one frame")
        self._container.mux(self._vstream.encode(None))
        if self._astream is not None:
            planes = self.audio[None, :] if self.audio.ndim == 1 else np.ascontiguousarray(self.audio.T)
            aframe = av.AudioFrame.from_ndarray(planes, format="fltp", layout=AAC_LAYOUTS[len(planes)])
            aframe.sample_rate = self.sample_rate
            aframe.pts = 0
            self._container.mux(self._astream.encode(aframe))
            self._container.mux(self._astream.encode(None))

    def _close(self, quiet: bool = False) -> None:
        """Close the container (writing the trailer); ``quiet``: after an error, whose cause matters more."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.close()
        except _FFMPEG_ERRORS:
            if not quiet:
                raise


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float = 25.0,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    crf: int = 17,
) -> Path:
    """Write uint8 (T, H, W, 3) RGB ``frames`` as H.264 yuv420p mp4, with ``audio`` muxed as AAC.

    ``audio`` is mono float32 in [-1, 1] at ``sample_rate``. Deterministic encoder settings
    (libx264 crf ``crf``, preset medium, one thread, macroblock-tree off, bitexact). Atomic:
    written to a temp file in the same folder, then renamed over ``path``. Returns ``path``.
    ``VideoWriter`` writes the same file a batch at a time.
    """
    frames = _check_frames(frames)
    with VideoWriter(path, fps, audio, sample_rate, crf) as out:
        out.write(frames)
    return out.path
