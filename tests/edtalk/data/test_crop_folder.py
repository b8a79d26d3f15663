"""``python -m edtalk.data.crop dataset --dataset folder``: a researcher's own folder of talking videos
(any names, subfolders) cropped into the plain folder of videos the ``folder`` reader takes, ``<id>.mp4``
+ ``<id>.wav``, with its split lists copied."""

import json
import shutil
import unicodedata

import numpy as np
import pytest

from edtalk.data import crop

CANVAS = (240, 400)  # raw frames: height, width


@pytest.fixture(scope="module")
def raw_frames() -> np.ndarray:
    """12 raw frames: a 160 px synthtalk face (dlib's HOG detector finds it) drifting across a grey canvas."""
    import cv2

    from edtalk.data.synthtalk import render_frame, sample_identity
    from edtalk.data.synthtalk.expression import neutral_expression

    pose = dict(yaw=0.0, pitch=0.0, roll=0.0, tx=0.0, ty=0.0, scale=1.0, mouth_width=0.0, mouth_round=0.0)
    rendered = render_frame(sample_identity(np.random.default_rng(0)), pose, neutral_expression(), 128)[0]
    face = cv2.resize(rendered, (160, 160), interpolation=cv2.INTER_CUBIC)
    frames = np.full((12, *CANVAS, 3), 70, np.uint8)
    for t in range(len(frames)):
        frames[t, 40:200, 120 + t : 280 + t] = face
    return frames


def _tone(n_frames: int, level: float = 0.3) -> np.ndarray:
    t = np.arange(n_frames * 640) / 16000
    return (level * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def _argv(raw, out) -> list[str]:
    """``crop dataset --dataset folder`` of ``raw`` into ``out``, in this process, without a progress bar."""
    return [
        "dataset",
        "--dataset",
        "folder",
        "--root",
        str(raw),
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]


def test_a_folder_of_own_videos_is_cropped_into_the_folder_readers_layout(tmp_path, capsys, raw_frames):
    """Before: `--dataset folder` was no choice (exit 2); each video needed a `crop video` of its own."""
    from edtalk.data.audio import load_audio, write_wav
    from edtalk.data.readers import read_clips
    from edtalk.data.video import probe_video, read_video, write_video

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    n = len(raw_frames)
    write_video(raw / "a.mp4", raw_frames, 25.0, audio=_tone(n))  # audio: its own track
    (raw / "spk1").mkdir()
    write_video(raw / "spk1" / "take2.mp4", raw_frames, 25.0, audio=np.zeros(n * 640, np.float32))
    (raw / "spk1" / "take2.mp4").rename(raw / "spk1" / "take2.mov")
    write_wav(raw / "spk1" / "take2.wav", _tone(n))  # audio: the file beside it, not the silent track
    (raw / "spk2").mkdir()
    write_video(raw / "spk2" / "mute.mp4", raw_frames, 25.0)  # no audio at all: cropped silent
    for hidden in (raw / ".cache" / "partial.mp4", raw / "._a.mp4"):  # not videos: would fail the run
        hidden.parent.mkdir(exist_ok=True)
        hidden.write_bytes(b"not a video")
    (raw / "lists").mkdir()
    (raw / "lists" / "test.txt").write_text("# held out\nspk1#take2\n")
    (raw / "lists" / "train.json").write_text('["a", "spk2#mute"]')

    assert crop.main(_argv(raw, out)) == 0
    printed = capsys.readouterr().out
    assert f"[crop] split lists copied to {out / 'lists'} (their ids must be the crops' ids)" in printed
    assert "3 of 3 source clips cropped into 3 clips" in printed
    assert "1 without audio (first: spk2#mute)" in printed and f"--data folder:{out}" in printed
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "a.mp4",
        "a.wav",
        crop.REPORT,
        "lists",
        "spk1#take2.mp4",
        "spk1#take2.wav",
        "spk2#mute.mp4",
    ]
    for name in ("test.txt", "train.json"):
        assert (out / "lists" / name).read_bytes() == (raw / "lists" / name).read_bytes()

    clips = read_clips("folder", out, "all")
    assert [(c.id, c.audio.name) for c in clips] == [
        ("a", "a.wav"),
        ("spk1#take2", "spk1#take2.wav"),
        ("spk2#mute", "spk2#mute.mp4"),  # no wav: the reader's clip without audio
    ]
    assert not probe_video(clips[2].video).has_audio
    assert all(read_video(c.video).size == (256, 256) for c in clips)
    assert all(np.abs(load_audio(c.audio)).max() > 0.2 for c in clips[:2])
    assert [c.id for c in read_clips("folder", out, "test")] == ["spk1#take2"]
    assert [c.id for c in read_clips("folder", out, "train")] == ["a", "spk2#mute"]
    report = json.loads((out / crop.REPORT).read_text())
    assert [(r["clip_id"], r["problem"]) for r in report] == [(c.id, None) for c in clips]

    written = clips[0].video.stat().st_mtime_ns
    assert crop.main(_argv(raw, out)) == 0  # a re-run: every clip done before
    printed = capsys.readouterr().out
    assert "clips to crop" not in printed and "3 of 3 source clips cropped" in printed
    assert clips[0].video.stat().st_mtime_ns == written


@pytest.mark.parametrize(
    ("first", "second", "clip_id"),
    [("a.mp4", "a.MOV", "a"), ("x#y.mp4", "x/y.mkv", "x#y")],
)
def test_two_videos_of_one_clip_id_are_a_usage_error_naming_both_before_any_crop(
    tmp_path, capsys, first, second, clip_id
):
    """Two sources would write one ``<id>.mp4``: refused before cropping, naming both files."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    for name in (first, second):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(b"not a video")  # never opened: the ids clash before any crop
    assert crop.main(_argv(raw, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(raw / first) in err and str(raw / second) in err and f"clip id {clip_id!r}" in err
    assert not out.exists()


def test_ids_that_differ_only_in_case_are_a_usage_error_naming_both(tmp_path, capsys):
    """``Take1.mp4`` and ``take1.mp4`` crop to one file on a case-insensitive disk (macOS, Windows)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    for name in ("spk/Take1.mp4", "spk/take1.mp4"):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(b"not a video")
    assert crop.main(_argv(raw, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(raw / "spk/Take1.mp4") in err and str(raw / "spk/take1.mp4") in err
    assert "differ only in case" in err and not out.exists()


def test_folder_jobs_name_clips_by_path_take_the_audio_beside_and_skip_hidden_files_and_the_out(tmp_path):
    """Ids in NFC as the reader gives them; an audio file of the stem beside a video (any case of its
    suffix) is its audio; hidden files and folders, and crops of an out folder inside the root, skipped."""
    raw = tmp_path / "raw"
    nfd = unicodedata.normalize("NFD", "café")
    for name in (f"{nfd}.mp4", "s 1/take.one.webm", "s 1/take.one.WAV", "s 1/.take.mp4", ".git/x.mp4"):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(b"x")
    (raw / "crops").mkdir()
    (raw / "crops" / "café.mp4").write_bytes(b"a crop")
    (raw / "notes.txt").write_text("not a video")
    jobs = crop.folder_jobs(raw, raw / "crops")
    assert [(j.clip_id, j.video, j.audio) for j in jobs] == [
        ("café", str(raw / f"{nfd}.mp4"), None),
        ("s 1#take.one", str(raw / "s 1" / "take.one.webm"), str(raw / "s 1" / "take.one.WAV")),
    ]
    out = str((raw / "crops").resolve())
    assert all(j.video_dir == j.audio_dir == out and j.chunk_seconds is None for j in jobs)


def test_a_folder_root_without_videos_or_missing_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty" / "lists").mkdir(parents=True)
    assert crop.main(_argv(tmp_path / "empty", tmp_path / "out")) == 2
    assert f"error: {tmp_path / 'empty'}: no videos (.mp4, .avi" in capsys.readouterr().err
    assert crop.main(_argv(tmp_path / "none", tmp_path / "out")) == 2
    assert "folder root folder does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # the lists are copied only once the jobs stand


def test_hdtf_still_refuses_one_video_name_in_two_folders(tmp_path, capsys):
    """Guard: the hdtf job builder shares the raw-video scan with the folder one, and keeps its rule."""
    for name in ("p1/RD_A_000.mp4", "p2/RD_A_000.mp4"):
        (tmp_path / "raw" / name).parent.mkdir(parents=True)
        (tmp_path / "raw" / name).write_bytes(b"x")
    argv = ["dataset", "--dataset", "hdtf", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "o")]
    assert crop.main(argv) == 2
    assert "video names repeat in different folders (RD_A_000): ids would clash" in capsys.readouterr().err


def test_the_lists_copy_overwrites_older_copies_and_keeps_the_files_bytes(tmp_path):
    (tmp_path / "raw" / "lists").mkdir(parents=True)
    (tmp_path / "raw" / "lists" / "test.txt").write_bytes(b"\xef\xbb\xbfclip\r\n")  # a BOM, CRLF: as is
    (tmp_path / "out" / "lists").mkdir(parents=True)
    (tmp_path / "out" / "lists" / "test.txt").write_text("older")
    (tmp_path / "out" / "lists" / "val.txt").write_text("a list the root no longer has")
    assert crop.copy_lists(tmp_path / "raw", tmp_path / "out") == tmp_path / "out" / "lists"
    assert (tmp_path / "out" / "lists" / "test.txt").read_bytes() == b"\xef\xbb\xbfclip\r\n"
    assert sorted(p.name for p in (tmp_path / "out" / "lists").iterdir()) == ["test.txt"]  # a mirror
    assert not list((tmp_path / "out").glob(".lists.*"))
    shutil.rmtree(tmp_path / "raw" / "lists")
    assert crop.copy_lists(tmp_path / "raw", tmp_path / "out") is None


def _lengths_noted(outcome_notes: list[str]) -> list[str]:
    return [n for n in outcome_notes if n.startswith(crop.LENGTHS_DIFFER)]


def test_an_audio_file_longer_or_shorter_than_its_video_is_noted_not_hidden(tmp_path, capsys, raw_frames):
    """The crop cut or padded the audio to the frames without a word, so the dataset doctor, which flags
    the raw clip (length_mismatch), passed its crop. Within the doctor's 0.1 s it says nothing."""
    from edtalk.data.audio import audio_info, write_wav
    from edtalk.data.video import write_video

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    for name, seconds in (("short", 0.2), ("long", 1.0), ("near", 0.4)):  # video 0.48 s; near: 0.08 s short
        write_video(raw / f"{name}.mp4", raw_frames, 25.0)
        write_wav(raw / f"{name}.wav", _tone(round(seconds * 25)))
    assert crop.main(_argv(raw, out)) == 0
    printed = capsys.readouterr()
    assert "3 of 3 source clips cropped" in printed.out
    assert "; 2 whose audio and video lengths differ (first: long, short)" in printed.out
    assert "with notes" not in printed.out  # the length notes are not counted twice
    report = {r["clip_id"]: r for r in json.loads((out / crop.REPORT).read_text())}
    short, long = _lengths_noted(report["short"]["notes"]), _lengths_noted(report["long"]["notes"])
    assert short == [
        f"{crop.LENGTHS_DIFFER}: {raw / 'short.wav'} is 0.200 s, the video 0.480 s (12 frames at 25 fps), "
        "more than 0.1 s apart: the crop's audio is padded with silence to the video's length"
    ]
    assert long == [
        f"{crop.LENGTHS_DIFFER}: {raw / 'long.wav'} is 1.000 s, the video 0.480 s (12 frames at 25 fps), "
        "more than 0.1 s apart: the crop's audio is cut at the video's end"
    ]
    assert _lengths_noted(report["near"]["notes"]) == []
    noted = [line for line in printed.err.splitlines() if crop.LENGTHS_DIFFER in line]
    assert sorted(noted) == sorted(f"[crop] note: {note}" for note in (*long, *short))  # one line each
    assert audio_info(out / "short.wav").duration == pytest.approx(0.48)  # still written, padded
    assert audio_info(out / "long.wav").duration == pytest.approx(0.48)

    assert crop.main(_argv(raw, out)) == 0  # a re-run: done before, the summary still counts them
    printed = capsys.readouterr()
    assert (
        "; 2 whose audio and video lengths differ" in printed.out and crop.LENGTHS_DIFFER not in printed.err
    )


def test_crop_video_notes_an_audio_of_another_length(tmp_path, capsys, raw_frames):
    """``crop video --audio`` with a 0.2 s, 22050 Hz wav for a 0.48 s video: padded with silence, silently."""
    import soundfile as sf

    from edtalk.data.video import write_video

    write_video(tmp_path / "talk.mp4", raw_frames, 25.0)
    sf.write(tmp_path / "speech.wav", np.full(4410, 0.1, np.float32), 22050)
    argv = ["video", str(tmp_path / "talk.mp4"), "--audio", str(tmp_path / "speech.wav")]
    assert crop.main([*argv, "--out", str(tmp_path / "crop.mp4")]) == 0
    err = capsys.readouterr().err
    assert f"note: {crop.LENGTHS_DIFFER}: {tmp_path / 'speech.wav'} is 0.200 s, the video 0.480 s" in err
    assert "padded with silence" in err and err.count(crop.LENGTHS_DIFFER) == 1


def test_audio_left_out_with_the_frames_a_chunking_drops_is_no_length_mismatch(tmp_path, capsys, raw_frames):
    """Guard: HDTF chunks drop the source's last, shorter chunk, audio and frames together: only the
    source's own audio and video lengths are compared (a track 0.5 s longer than its video is noted)."""
    from edtalk.data.video import write_video

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    frames = np.concatenate([raw_frames] * 3)  # 36 frames, 1.44 s: 3 chunks of 0.4 s, 0.24 s dropped
    write_video(raw / "even.mp4", frames, 25.0, audio=_tone(36))
    write_video(raw / "over.mp4", frames, 25.0, audio=_tone(36 + 12))
    argv = ["dataset", "--dataset", "hdtf", "--root", str(raw), "--out", str(out), "--chunk-seconds", "0.4"]
    assert crop.main([*argv, "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "2 of 2 source clips cropped into 6 clips" in printed.out
    report = {r["clip_id"]: r for r in json.loads((out / crop.REPORT).read_text())}
    assert _lengths_noted(report["even"]["notes"]) == []
    (over,) = _lengths_noted(report["over"]["notes"])
    assert f"the audio track of {raw / 'over.mp4'} is 1.920 s, the video 1.440 s (36 frames" in over
    assert over.endswith("the crops' audio is cut at the video's end")
    assert printed.err.count(crop.LENGTHS_DIFFER) == 1
