"""``python -m edtalk.data.crop dataset`` on face videos without audio: cropped silent with no wav (the
readers then give a clip without audio, which the frame cache keeps as ``no_audio``), said so in the
summary, skipped on a re-run; clips with audio are written as before."""

import json
from pathlib import Path

import numpy as np
import pytest

from edtalk.data import crop

CANVAS = (240, 400)  # raw frames: height, width


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A 160 px synthtalk face (dlib's HOG detector finds it in the raw frames)."""
    import cv2

    from edtalk.data.synthtalk import render_frame, sample_identity
    from edtalk.data.synthtalk.expression import neutral_expression

    pose = dict(yaw=0.0, pitch=0.0, roll=0.0, tx=0.0, ty=0.0, scale=1.0, mouth_width=0.0, mouth_round=0.0)
    rendered = render_frame(sample_identity(np.random.default_rng(0)), pose, neutral_expression(), 128)[0]
    return cv2.resize(rendered, (160, 160), interpolation=cv2.INTER_CUBIC)


def _raw(face: np.ndarray, n_frames: int) -> np.ndarray:
    """Raw frames: the face pasted into a grey canvas, drifting right by 1 px a frame."""
    frames = np.full((n_frames, *CANVAS, 3), 70, np.uint8)
    for t in range(n_frames):
        frames[t, 40:200, 120 + t : 280 + t] = face
    return frames


def _tone(n_frames: int) -> np.ndarray:
    t = np.arange(n_frames * 640) / 16000
    return (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def _argv(dataset: str, raw, out, *more: str) -> list[str]:
    """``crop dataset`` of ``raw`` into ``out``, in this process, without a progress bar."""
    quiet = ["--workers", "1", "--quiet", *more]
    return ["dataset", "--dataset", dataset, "--root", str(raw), "--out", str(out), *quiet]


def test_a_silent_hdtf_video_is_cropped_with_no_wav_and_cached_as_a_clip_without_audio(
    tmp_path, capsys, face
):
    """Before: '<video>: no audio stream in the file', the clip refused, exit 1, though training takes
    clips without audio for its frames-only stages."""
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.data.video import probe_video, write_video

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    frames = _raw(face, 30)
    write_video(raw / "WDA_Loud_000.mp4", frames, 25.0, audio=_tone(30))
    write_video(raw / "WDA_Silent_000.mp4", frames, 25.0)
    stale = out / "split_5s_audio" / "WDA_Silent_000#1.wav"  # an older crop's: it would pair with the new
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"RIFF")
    assert crop.main(_argv("hdtf", raw, out, "--chunk-seconds", "1")) == 0
    printed = capsys.readouterr().out
    assert "2 of 2 source clips cropped into 2 clips" in printed
    assert "; 1 without audio (first: WDA_Silent_000), cropped silent with no wav" in printed
    assert "with notes" not in printed
    assert sorted(p.name for p in (out / "split_5s_audio").iterdir()) == ["WDA_Loud_000#1.wav"]
    report = {r["clip_id"]: r for r in json.loads((out / crop.REPORT).read_text())}
    assert report["WDA_Silent_000"]["problem"] is None
    assert report["WDA_Silent_000"]["notes"] == [crop.SILENT]

    loud, silent = read_clips("hdtf", out, "all")
    assert silent.id == "WDA_Silent_000#1" and silent.audio == silent.video
    assert not probe_video(silent.video).has_audio and loud.audio.suffix == ".wav"
    cache = load_frame_cache(build_frame_cache([silent], 32, tmp_path / "cache", progress=False))
    assert cache.clip_ids == ["WDA_Silent_000#1"] and cache.no_audio == ("WDA_Silent_000#1",)


def test_a_silent_mead_clip_is_cropped_and_skipped_by_the_next_run(tmp_path, capsys, face):
    """Raw MEAD with neither a wav nor an audio track: the crop goes to MEAD_front/video with no wav, its
    done record is reused by a re-run (still counted as without audio), and a crop that went is
    cut again."""
    from edtalk.data.readers import read_clips
    from edtalk.data.video import write_video

    raw, out = tmp_path / "raw", tmp_path / "out"
    video = raw / "M005" / "video" / "front" / "happy" / "level_2" / "001.mp4"
    video.parent.mkdir(parents=True)
    write_video(video, _raw(face, 15), 25.0)
    argv = _argv("mead", raw, out)
    assert crop.main(argv) == 0
    assert "1 without audio (first: M005#happy#level_2#001)" in capsys.readouterr().out
    (clip,) = read_clips("mead", out, "all")
    assert clip.video == out / "MEAD_front" / "video" / "M005#happy#level_2#001.mp4"
    assert clip.audio == clip.video and not (out / "MEAD_front" / "audio").exists()

    written = clip.video.stat().st_mtime_ns
    assert crop.main(argv) == 0
    printed = capsys.readouterr().out
    assert "clips to crop" not in printed and "1 without audio" in printed  # from the done record
    assert clip.video.stat().st_mtime_ns == written
    clip.video.unlink()
    assert crop.main(argv) == 0
    assert "1 of 1 clips to crop (0 done before)" in capsys.readouterr().out and clip.video.is_file()


def test_an_audio_file_or_track_that_cannot_be_read_still_fails_the_clip(tmp_path, monkeypatch, place):
    """Only a video with no audio track and no audio file is cropped silent: an empty wav of raw MEAD,
    or a track that does not decode, is the clip's problem, not a silent crop."""
    import edtalk.data.audio as audio
    from edtalk.data.errors import AudioReadError

    place(tmp_path / "v.mp4")  # a video with an audio track
    (tmp_path / "empty.wav").write_bytes(b"")
    given = crop.CropJob("v", str(tmp_path / "v.mp4"), str(tmp_path / "empty.wav"), str(tmp_path / "o"), None)
    assert "empty file (0 bytes)" in crop.crop_job(given).problem

    def broken(path, *a, **k):
        raise AudioReadError(path, "corrupt audio stream (test)")

    monkeypatch.setattr(audio, "load_audio", broken)
    own = crop.CropJob("v", str(tmp_path / "v.mp4"), None, str(tmp_path / "o"), str(tmp_path / "a"))
    outcome = crop.crop_job(own)
    assert outcome.problem == f"{tmp_path / 'v.mp4'}: corrupt audio stream (test)" and not outcome.written
    single = crop.CropJob("v", str(tmp_path / "v.mp4"), None, str(tmp_path / "s"), None)  # `crop video`
    outcome = crop.crop_job(single)
    assert outcome.problem == f"{tmp_path / 'v.mp4'}: corrupt audio stream (test)" and not outcome.written


def test_a_clip_with_audio_is_written_as_before(tmp_path, face):
    """Guard: the crop of a clip with audio is the mp4 with its audio muxed and the wav beside it, byte
    for byte what the crop and audio functions make of it."""
    from edtalk.data.audio import fit_to_frames, load_audio, write_wav
    from edtalk.data.face_crop import cut_crops, plan_crops
    from edtalk.data.video import iter_frames, write_video

    source = tmp_path / "talk.mp4"
    write_video(source, _raw(face, 20), 25.0, audio=_tone(20))
    job = crop.CropJob("talk", str(source), None, str(tmp_path / "v"), str(tmp_path / "a"))
    outcome = crop.crop_job(job)
    assert outcome.problem is None and outcome.notes == []
    assert outcome.written == [str(tmp_path / "v" / "talk.mp4"), str(tmp_path / "a" / "talk.wav")]

    fps, frames = iter_frames(source)
    plan = plan_crops(frames, fps)
    [(_, crops)] = list(cut_crops(iter_frames(source)[1], fps, plan))
    wav = fit_to_frames(load_audio(source), len(crops), 25.0)
    expected = (
        write_video(tmp_path / "expected.mp4", crops, 25.0, audio=wav),
        write_wav(tmp_path / "e.wav", wav),
    )
    assert [Path(p).read_bytes() for p in outcome.written] == [p.read_bytes() for p in expected]


def test_a_single_silent_video_is_still_cropped_silent_with_a_note(tmp_path, capsys, face):
    """Guard: `crop video` of a video without audio gave a silent crop and a note before this change."""
    from edtalk.data.video import probe_video, write_video

    write_video(tmp_path / "mute.mp4", _raw(face, 10), 25.0)
    assert crop.main(["video", str(tmp_path / "mute.mp4"), "--out", str(tmp_path / "drv.mp4")]) == 0
    assert "note: the video has no audio track: the crop is silent" in capsys.readouterr().err
    assert not probe_video(tmp_path / "drv.mp4").has_audio
