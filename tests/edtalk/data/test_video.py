"""Video IO: round trip, determinism, atomic writes, probe, and clear errors for bad files."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest

from edtalk.data.audio import load_audio
from edtalk.data.errors import VideoReadError
from edtalk.data.video import (
    VideoData,
    VideoWriter,
    probe_video,
    read_video,
    retime,
    verify_video,
    write_video,
)


def gradient_frames(n: int = 8, h: int = 32, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    frames = np.stack([np.stack([x * 6 + t * 3, y * 6, (x + y) * 3], -1) for t in range(n)])
    return np.clip(frames + 20, 0, 255).astype(np.uint8)


def sine(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def test_round_trip_keeps_shape_fps_and_pixels(tmp_path):
    frames = gradient_frames()
    path = write_video(tmp_path / "a.mp4", frames, fps=25.0)
    video = read_video(path)
    assert isinstance(video, VideoData)
    assert video.frames.dtype == np.uint8 and video.frames.shape == (8, 32, 32, 3)
    assert video.fps == 25.0 and video.n_frames == 8 and video.size == (32, 32)
    assert video.duration == pytest.approx(0.32)
    # H.264 at crf 17 on smooth gradients: small error, and frame order is preserved.
    err = np.abs(video.frames.astype(int) - frames.astype(int))
    assert err.mean() < 3 and err.max() < 25
    assert np.argmin([np.abs(video.frames[3].astype(int) - f).mean() for f in frames]) == 3


def test_write_is_deterministic_and_atomic(tmp_path):
    frames, audio = gradient_frames(), sine(0.32)
    a = write_video(tmp_path / "a.mp4", frames, audio=audio)
    b = write_video(tmp_path / "b.mp4", frames, audio=audio)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]  # no temp files left
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", gradient_frames(h=31))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]


def test_repeated_writes_of_small_textured_frames_give_identical_bytes(tmp_path):
    # x264's macroblock tree made about 1 in 8 such writes differ (64 px: 3 variants in 25 files);
    # generated tiny-model videos are 64 px, and provenance and caches rely on equal bytes.
    rng = np.random.default_rng(1)
    frames = np.resize(gradient_frames(n=1)[0], (64, 64, 3)).astype(int)
    frames = frames[None] + rng.integers(-5, 6, (25, 64, 64, 3)) + np.arange(25)[:, None, None, None]
    frames = np.clip(frames, 0, 255).astype(np.uint8)
    digests = set()
    for i in range(30):
        digests.add(hashlib.sha256(write_video(tmp_path / f"{i}.mp4", frames).read_bytes()).digest())
        _ = [np.random.bytes(10_000) for _ in range(50)]  # reshuffle the heap between writes
    assert len(digests) == 1


def test_audio_is_muxed_and_probe_reads_the_header(tmp_path):
    path = write_video(tmp_path / "v.mp4", gradient_frames(n=10), fps=30.0, audio=sine(10 / 30))
    info = probe_video(path)
    assert info.fps == 30.0 and info.n_frames == 10 and info.size == (32, 32) and info.has_audio
    assert info.duration == pytest.approx(10 / 30, abs=0.01)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and abs(len(audio) - 16000 * 10 / 30) < 200
    ref = sine(10 / 30)
    n = min(len(ref), len(audio))
    assert np.corrcoef(audio[:n], ref[:n])[0, 1] > 0.95  # aligned, not just present
    assert not probe_video(write_video(tmp_path / "mute.mp4", gradient_frames())).has_audio


def test_a_stereo_array_written_with_a_video_is_mixed_down_over_its_channels(tmp_path):
    """``write_video`` takes (n, channels) audio and mixes it down. No test passed 2-D audio, and
    averaging over the other axis passed: a 2-sample audio track."""
    stereo = np.stack([sine(1.0), 0.5 * sine(1.0)], 1)  # (16000, 2)
    audio = load_audio(write_video(tmp_path / "v.mp4", gradient_frames(n=25), audio=stereo))
    assert abs(len(audio) - 16000) < 200


def test_non_square_and_fractional_fps(tmp_path):
    path = write_video(tmp_path / "wide.mp4", gradient_frames(h=32, w=48), fps=29.97)
    video = read_video(path)
    assert video.size == (32, 48)
    assert video.fps == pytest.approx(29.97, abs=1e-3)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(VideoReadError, match="missing") as info:
        read_video(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(info.value) and info.value.path == tmp_path / "nope.mp4"


def test_truncated_file_is_reported_as_truncated(tmp_path):
    path = write_video(tmp_path / "v.mp4", gradient_frames(n=25))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match="truncated") as info:
        read_video(cut)
    assert "cut.mp4" in str(info.value)
    with pytest.raises(VideoReadError, match="truncated"):
        verify_video(cut)


def test_a_file_missing_only_its_last_frame_is_reported_as_truncated(tmp_path):
    """Cut at the last video packet: 24 of 25 frames decode. The other truncation tests cut files in
    half, and letting one frame short pass as complete went unnoticed."""
    import av

    src = write_video(tmp_path / "v.mp4", gradient_frames(n=25))
    with av.open(str(src)) as container:
        last = max(p.pos for p in container.demux(container.streams.video[0]) if p.size)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[:last])
    with pytest.raises(VideoReadError, match="truncated: decoded 24 of the 25 frames"):
        read_video(cut)


def test_a_stream_copy_cut_reads_the_frames_its_edit_list_shows(tmp_path):
    """`ffmpeg -ss T -c copy` keeps the packets before T (to decode from the keyframe) at negative
    times and hides them with an edit list: the header's sample count is larger than what is shown,
    and such valid files were refused as 'truncated: decoded 20 of the 30 frames'."""
    import av

    source = write_video(tmp_path / "source.mp4", gradient_frames(n=30))
    cut, hidden = tmp_path / "cut.mp4", 10
    with av.open(str(source)) as inp, av.open(str(cut), "w", format="mp4") as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        step = int(round(1 / (stream_in.average_rate * stream_in.time_base)))
        for packet in inp.demux(stream_in):
            if packet.dts is None:
                continue
            packet.pts -= hidden * step
            packet.dts -= hidden * step
            packet.stream = stream_out
            out.mux(packet)
    with av.open(str(cut)) as check:
        assert check.streams.video[0].frames == 30  # the stored samples, pre-roll included
    assert probe_video(cut).n_frames == 20
    video = read_video(cut)
    assert video.n_frames == 20
    assert np.abs(video.frames[0].astype(int) - read_video(source).frames[hidden]).mean() < 3


def test_garbage_empty_and_audio_only_files(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoReadError, match="unreadable"):
        read_video(garbage)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty"):
        probe_video(empty)
    import soundfile as sf

    sf.write(tmp_path / "only.wav", sine(0.2), 16000)
    with pytest.raises(VideoReadError, match="no video stream"):
        read_video(tmp_path / "only.wav")


def test_verify_video_counts_decoded_frames(tmp_path):
    path = write_video(tmp_path / "v.mp4", gradient_frames(n=12))
    info = verify_video(path)
    assert info.n_frames == 12 and info.fps == 25.0 and info.duration == pytest.approx(0.48)


def test_bad_frame_arrays_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="T, H, W, 3"):
        write_video(tmp_path / "x.mp4", np.zeros((8, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "x.mp4", np.zeros((8, 32, 32, 3), np.float32))


def test_retime_keeps_the_duration_and_picks_the_nearest_frame():
    frames = np.arange(30)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    at25 = retime(frames, 30.0, 25.0)  # 1 s of MEAD-rate video -> 25 frames
    assert len(at25) == 25 and at25[0, 0, 0, 0] == 0
    assert [int(f[0, 0, 0]) for f in at25[:6]] == [0, 1, 2, 4, 5, 6]  # i * 1.2, rounded
    assert [int(f[0, 0, 0]) for f in retime(frames[:10], 50.0, 25.0)] == [0, 2, 4, 6, 8]
    assert len(retime(frames[:10], 12.5, 25.0)) == 20  # slower video: frames repeat
    with pytest.raises(ValueError, match="positive"):
        retime(frames, 0.0, 25.0)


def libavfilter_fps(pts: list[int], time_base: Fraction, target_fps: int = 25) -> list[int]:
    """The source index of each frame that libavfilter's ``fps`` filter (ffmpeg's own code, through
    PyAV) gives for frames shown at ``pts``; each frame lasts until the next, the last as long as the
    one before it."""
    from av.filter import Graph

    graph = Graph()
    source = graph.add_buffer(width=16, height=16, format="gray16le", time_base=time_base)
    fps_filter, sink = graph.add("fps", f"fps={target_fps}"), graph.add("buffersink")
    source.link_to(fps_filter)
    fps_filter.link_to(sink)
    graph.configure()
    shown: list[int] = []

    def drain() -> None:
        while True:
            try:
                shown.append(int(sink.pull().to_ndarray()[0, 0]))
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    for i, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(np.full((16, 16), i, np.uint16), format="gray16le")
        frame.pts, frame.time_base = p, time_base
        frame.duration = pts[i + 1] - p if i + 1 < len(pts) else p - pts[i - 1]
        source.push(frame)
        drain()
    source.push(None)
    drain()
    return shown


RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30)]
RATES += [Fraction(50), Fraction(60), Fraction(25, 2), Fraction(15)]


@pytest.mark.parametrize("fps", RATES, ids=lambda r: f"{float(r):g}fps")
def test_retime_gives_the_frames_ffmpegs_fps_filter_gives(fps):
    """Frame for frame and in count, for every length up to 2 s and a 601-frame one. Nearest-in-source-
    time rounding (rint(j * fps / 25), half to even) picked another frame than ffmpeg for 4 % of a
    24 fps clip's frames, 10 % at 29.97 fps and 60 % at 60 fps, and repeated 12.5 fps frames unevenly
    (0, 0, 1, 2, 2, 2, ...)."""
    from edtalk.data.face_crop import retimed

    for n in [*range(2, int(2 * fps) + 1), 601]:
        expected = libavfilter_fps(list(range(n)), 1 / fps)
        frames = np.arange(n)
        assert retime(frames, float(fps), 25.0).tolist() == expected, n
        assert [int(f) for f in retimed(iter(frames), float(fps))] == expected, n


def test_a_variable_frame_rate_clip_is_retimed_as_ffmpegs_fps_filter_does():
    """Frame times (``timed_index``) in four time bases with gaps of phone frame rates; the nearest frame
    by time (ties to the earlier) differed from ffmpeg where a frame lands half-way between slots and
    where two frames land on one slot (ffmpeg keeps the later)."""
    from edtalk.data.video import timed_index

    rng = np.random.default_rng(0)
    for trial in range(60):
        time_base = Fraction(1, int(rng.choice([600, 1000, 30000, 90000])))
        gaps = rng.choice([1 / 60, 1 / 30, 1 / 24, 1 / 15, 0.04, 0.1, 0.02], size=int(rng.integers(2, 80)))
        pts = sorted({round(t / time_base) for t in np.concatenate([[0.0], np.cumsum(gaps)])})
        times = (np.array(pts, dtype=np.float64) - pts[0]) * float(time_base)
        assert timed_index(times, 25.0).tolist() == libavfilter_fps(pts, time_base), trial


def one_shot_mux(path, frames: np.ndarray, audio: np.ndarray | None, fps: int = 25, crf: int = 17) -> None:
    """The muxing of write_video before VideoWriter, kept as the reference: every frame encoded and
    muxed, then the whole audio track as one frame."""
    import av
    from av.codec.context import Flags

    container = av.open(
        str(path), "w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"}
    )
    try:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = frames.shape[2], frames.shape[1]
        video.pix_fmt, video.time_base = "yuv420p", Fraction(1, fps)
        video.options = {"crf": str(crf), "preset": "medium", "threads": "1", "x264-params": "mbtree=0"}
        video.codec_context.flags |= Flags.bitexact
        if audio is not None:
            sound = container.add_stream("aac", rate=16000, layout="mono")
            sound.bit_rate = 96_000
            sound.codec_context.flags |= Flags.bitexact
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            track = av.AudioFrame.from_ndarray(audio[None], format="fltp", layout="mono")
            track.sample_rate, track.pts = 16000, 0
            container.mux(sound.encode(track))
            container.mux(sound.encode(None))
    finally:
        container.close()


@pytest.mark.parametrize("n", [9, 300])  # 300 frames: 12 s, past the muxer's 10 s interleaving window
def test_video_writer_writes_the_bytes_of_the_one_shot_mux_whatever_the_batches(tmp_path, n):
    """Streamed frames with the audio muxed after the last one: the file write_video always wrote
    (audio fed alongside the video decodes the same but lays the file out differently past 10 s)."""
    rng = np.random.default_rng(n)
    frames = np.clip(gradient_frames(n=n).astype(int) + rng.integers(-4, 5, (n, 32, 32, 3)), 0, 255)
    frames, audio = frames.astype(np.uint8), sine(n / 25 + 0.05)
    one_shot_mux(tmp_path / "ref.mp4", frames, audio)
    reference = (tmp_path / "ref.mp4").read_bytes()
    assert write_video(tmp_path / "whole.mp4", frames, audio=audio).read_bytes() == reference
    for size in (1, 7, 64):
        with VideoWriter(tmp_path / f"by{size}.mp4", fps=25.0, audio=audio) as out:
            for i in range(0, n, size):
                out.write(frames[i : i + size])
        assert out.n_frames == n and out.size == (32, 32)
        assert out.path.read_bytes() == reference, f"batches of {size}"
    one_shot_mux(tmp_path / "mute_ref.mp4", frames, None)
    with VideoWriter(tmp_path / "mute.mp4") as out:
        out.write(frames[:5])
        out.write(frames[5:])
    assert out.path.read_bytes() == (tmp_path / "mute_ref.mp4").read_bytes()
    decoded = read_video(tmp_path / "by7.mp4")
    assert np.array_equal(decoded.frames, read_video(tmp_path / "ref.mp4").frames)
    assert np.array_equal(load_audio(tmp_path / "by7.mp4"), load_audio(tmp_path / "ref.mp4"))


def test_video_writer_is_atomic_and_checks_each_batch(tmp_path):
    """Nothing appears at the path (and an older file stays) unless the `with` block ends cleanly."""
    frames = gradient_frames(n=6)
    target = tmp_path / "v.mp4"
    target.write_bytes(b"the previous take")

    class Stop(Exception):
        pass

    with pytest.raises(Stop), VideoWriter(target, audio=sine(0.24)) as out:
        out.write(frames[:3])
        raise Stop
    with pytest.raises(ValueError, match="frames of 32x48 after 32x32"), VideoWriter(target) as out:
        out.write(frames[:3])
        out.write(gradient_frames(n=2, w=48))
    with pytest.raises(ValueError, match="even"), VideoWriter(target) as out:
        out.write(gradient_frames(n=2, h=31))
    with pytest.raises(ValueError, match="no frames"), VideoWriter(target):
        pass
    with pytest.raises(ValueError, match="positive"):
        VideoWriter(target, fps=0)
    assert target.read_bytes() == b"the previous take"
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temp file left behind
    with pytest.raises(RuntimeError, match="with"):
        out.write(frames)  # after its block
    with VideoWriter(target) as out:
        out.write(frames)
    assert read_video(target).n_frames == 6 and [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def write_vfr(path, times: list[float], size: int = 32):
    """An H.264 mp4 whose frame i (grey level 3 * i) is shown at ``times[i]`` seconds (a phone's
    variable frame rate), written with millisecond timestamps."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        stream.options = {"crf": "0"}
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), 3 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_a_variable_frame_rate_video_is_retimed_by_its_frame_times(tmp_path):
    """2 s at 30 fps then 2 s at 10 fps: by the average rate (20 fps) the frame shown at 2.0 s landed
    at 1.5 s of the output, half a second away from its audio."""
    from edtalk.data.face_crop import retimed
    from edtalk.data.video import frame_times

    times = [i / 30 for i in range(60)] + [2 + i / 10 for i in range(20)]
    video = read_video(write_vfr(tmp_path / "phone.mp4", times))
    shown = frame_times(tmp_path / "phone.mp4")
    np.testing.assert_allclose(shown, times, atol=1e-3)
    out = retime(video.frames, video.fps, 25.0, shown)
    assert len(out) == 100  # 4 s at 25 fps
    source = np.rint(out[:, 16, 16, 0] / 3).astype(int)
    nearest = [int(np.argmin(np.abs(np.array(times) - j / 25))) for j in range(100)]
    assert np.abs(source - nearest).max() <= 1 and source[50] in (60, 59)  # 2.0 s shows the 2.0 s frame
    np.testing.assert_array_equal(np.stack(list(retimed(iter(video.frames), video.fps, 25.0, shown))), out)
    # a constant-rate video has no frame times to follow: its rate retimes it, as before
    assert frame_times(write_video(tmp_path / "cfr.mp4", gradient_frames(n=12), fps=30.0)) is None


def test_inference_drives_with_a_variable_frame_rate_video_by_its_frame_times(tmp_path, capsys):
    from edtalk.data.video import frame_times
    from edtalk.driving_inputs import read_frames

    times = [i / 30 for i in range(30)] + [1 + i / 10 for i in range(10)]
    path = write_vfr(tmp_path / "phone.mp4", times)
    video = read_video(path)
    np.testing.assert_array_equal(read_frames(path), retime(video.frames, video.fps, 25.0, frame_times(path)))
    assert "variable frame rate, resampled to 25 fps by frame times" in capsys.readouterr().err


def test_a_truncated_file_is_called_truncated_not_variable_frame_rate(tmp_path, capsys):
    """A file cut off after a reference frame that is stored before the B-frames shown ahead of it
    holds that frame's later timestamp without theirs: the gap was read as a variable frame rate, and
    inference noted 'variable frame rate, resampled ...' before saying the file was truncated. Now
    frame_times says constant rate and decoding alone speaks."""
    import av

    from edtalk.data.video import frame_times
    from edtalk.driving_inputs import read_frames

    source = write_video(tmp_path / "v.mp4", gradient_frames(n=25))
    with av.open(str(source)) as container:
        packets = [(p.pts, p.pos + p.size) for p in container.demux(container.streams.video[0]) if p.size]
    # the first reference frame after the first few whose B-frames follow it in the file
    end = next(e for i, (pts, e) in enumerate(packets[:-1]) if i >= 3 and pts > packets[i + 1][0])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[:end])
    with pytest.raises(VideoReadError, match=r"cut\.mp4: truncated: decoded \d+ of the 25 frames"):
        read_frames(cut)
    assert "variable frame rate" not in capsys.readouterr().err
    assert frame_times(cut) is None and frame_times(source) is None
