"""Face crops of raw videos (edtalk.data.face_crop, python -m edtalk.data.crop): the square follows
the face, raw MEAD and HDTF trees become the layouts their readers take, bad clips are named while
the others are cropped, a re-run skips finished clips, and training refuses frames that are not
square crops."""

import json

import numpy as np
import pytest

from edtalk.data import crop
from edtalk.data.face_crop import (
    SIDE,
    crop_frame,
    follow_face,
    iou,
    plan_crops,
    retimed,
    square_around,
)
from edtalk.data.video import retime

CANVAS = (240, 400)  # raw frames: height, width
FACE = 160  # the rendered face crop is scaled to this side and pasted at (x, 40), drifting right


def test_boxes_overlap_follow_and_grow_into_a_square_inside_the_frame():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    face, bigger_elsewhere, stranger = (100, 100, 160, 170), (300, 0, 400, 100), (300, 200, 330, 230)
    track = follow_face(
        [[], [face], [(104, 100, 164, 170), stranger], [bigger_elsewhere], [(110, 102, 170, 172)]]
    )
    assert track == [None, (0, face), (0, (104, 100, 164, 170)), None, (0, (110, 102, 170, 172))]
    assert follow_face([[stranger, face]])[0] == (0, face)  # it starts at the largest face
    # lost for 2 frames looked at in a row, it starts a new tube at the largest face there
    jumped = follow_face([[face], [], [], [bigger_elsewhere], [bigger_elsewhere]], lost_after=2)
    assert jumped == [(0, face), None, None, (1, bigger_elsewhere), (1, bigger_elsewhere)]
    # back where it was after as long (a head turned away): the same tube, though a larger face is in view
    back = follow_face([[face], [], [], [bigger_elsewhere, (102, 100, 162, 170)]], lost_after=2)
    assert back[-1] == (0, (102, 100, 162, 170))
    # union 100..170 x 100..172 -> 72 px, grown 20 % each side -> 100.8 px square around (135, 136)
    box = square_around([face, (110, 102, 170, 172)], 480, 640)
    assert box == pytest.approx((135 - 50.4, 136 - 50.4, 135 + 50.4, 136 + 50.4))
    assert square_around([(0, 0, 60, 60)], 480, 640) == pytest.approx((0, 0, 84, 84))  # moved inside
    assert square_around([(0, 10, 100, 90)], 100, 640)[1] == pytest.approx(50 - 70)  # larger: centred
    assert square_around([face], 480, 640, grow=0.1)[2] - 100 == pytest.approx(72)  # the official 10 %


def test_a_crop_outside_the_frame_is_padded_black_and_scaled():
    frame = np.full((100, 100, 3), 200, np.uint8)
    out = crop_frame(frame, (-50, 0, 50, 100), side=64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:, :30].max() == 0 and out[:, 34:].min() == 200


@pytest.mark.parametrize("fps", [30.0, 29.97, 25.0, 24.0, 50.0, 60.0, 12.5, 10.0])
def test_streamed_resampling_gives_the_frames_retime_gives(fps):
    """Every length: the streamed count used to differ by one frame (30 fps, 3 frames: 3 vs 2), and a
    2 s video at 10 fps lost its last frame, too short for a 2 s chunk."""
    for n in range(1, 130):
        frames = np.arange(n).reshape(n, 1, 1, 1)
        np.testing.assert_array_equal(np.stack(list(retimed(iter(frames), fps))), retime(frames, fps, 25.0))


def _rendered_face(n_frames: int, seed: int = 0):
    """(frames (T, 128, 128, 3), true landmarks (T, 68, 2)) of a synthtalk face turning a little."""
    from edtalk.data.synthtalk import render_frame, sample_identity
    from edtalk.data.synthtalk.expression import neutral_expression

    identity = sample_identity(np.random.default_rng(seed))
    pose = dict(yaw=0.0, pitch=0.0, roll=0.0, tx=0.0, ty=0.0, scale=1.0, mouth_width=0.0, mouth_round=0.0)
    out = [
        render_frame(
            identity,
            {**pose, "yaw": 3.0 * np.sin(t / 5), "mouth_open": (t % 10) / 10},
            neutral_expression(),
            128,
        )
        for t in range(n_frames)
    ]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def _raw(n_frames: int, seed: int = 0):
    """A raw frame sequence: the face pasted into a grey 400x240 canvas, drifting right by 1 px a frame;
    and its true landmarks in the canvas's pixels."""
    import cv2

    faces, landmarks = _rendered_face(n_frames, seed)
    frames = np.full((n_frames, *CANVAS, 3), 70, np.uint8)
    points = landmarks * (FACE / 128)
    for t in range(n_frames):
        x = 120 + t
        frames[t, 40 : 40 + FACE, x : x + FACE] = cv2.resize(
            faces[t], (FACE, FACE), interpolation=cv2.INTER_CUBIC
        )
        points[t] += (x, 40)
    return frames, points


def test_the_square_holds_the_face_of_a_moving_head():
    frames, points = _raw(40)
    plan = plan_crops(iter(frames), 25.0)
    assert plan.n_frames == 40 and plan.size == CANVAS and list(plan.boxes) == [0]
    assert plan.followed == plan.sampled == 8
    x0, y0, x1, y1 = plan.boxes[0]
    assert x1 - x0 == pytest.approx(y1 - y0)
    inner = points[:, 17:]  # brows, eyes, nose, mouth, and the jaw below them
    assert (inner[..., 0] > x0).all() and (inner[..., 0] < x1).all()
    assert (inner[..., 1] > y0).all() and (inner[..., 1] < y1).all()
    centre = points.reshape(-1, 2).mean(0)
    assert np.abs(centre - ((x0 + x1) / 2, (y0 + y1) / 2)).max() < 0.12 * (x1 - x0)
    assert 0.8 * FACE < x1 - x0 < 1.5 * FACE  # the face, not the canvas
    chunked = plan_crops(iter(frames), 25.0, chunk_frames=15)  # two whole chunks; the last 10 frames dropped
    assert sorted(chunked.boxes) == [0, 1] and chunked.boxes[1][0] > chunked.boxes[0][0]  # it moved right


def test_a_scene_cut_leaves_out_the_chunks_no_one_square_fits():
    """HDTF videos have cuts: the face jumps across the frame. Before, the track never found it again
    and every later chunk was left out (or cropped where the face no longer was)."""
    import cv2

    faces, _ = _rendered_face(120)
    frames = np.full((120, *CANVAS, 3), 70, np.uint8)
    for t in range(120):
        x = 20 if t < 60 else 220  # the cut at frame 60
        frames[t, 40 : 40 + FACE, x : x + FACE] = cv2.resize(
            faces[t], (FACE, FACE), interpolation=cv2.INTER_CUBIC
        )
    per_second = plan_crops(iter(frames), 25.0, chunk_frames=25)
    assert per_second.jumps == 1 and per_second.jumped_clips == 0
    # seconds 0-1 on the left; second 2 holds the cut at frame 60, the face followed in 2 of its 5
    # frames looked at: left out; second 3 on the right, found again 1 s after the cut
    assert sorted(per_second.boxes) == [0, 1, 3]
    centre = {k: (b[0] + b[2]) / 2 for k, b in per_second.boxes.items()}
    assert abs(centre[0] - 100) < 15 and abs(centre[1] - 100) < 15 and abs(centre[3] - 300) < 15
    two_seconds = plan_crops(iter(frames), 25.0, chunk_frames=50)
    assert sorted(two_seconds.boxes) == [0] and two_seconds.jumped_clips == 1  # 50-99 holds both tubes
    whole = plan_crops(iter(frames), 25.0)
    assert abs((whole.boxes[0][0] + whole.boxes[0][2]) / 2 - 100) < 15  # the longest stretch: the left


def _write_raw_mead(root, speaker: str, frames, fps=30.0, rate=48000):
    from edtalk.data.audio import write_wav
    from edtalk.data.video import write_video

    video = root / speaker / "video" / "front" / "happy" / "level_2" / "001.mp4"
    video.parent.mkdir(parents=True)
    write_video(video, frames, fps)
    wav = root / speaker / "audio" / "happy" / "level_2" / "001.wav"
    wav.parent.mkdir(parents=True)
    t = np.arange(int(len(frames) / fps * rate)) / rate
    write_wav(wav, 0.3 * np.sin(2 * np.pi * 220 * t), rate)
    return video


def _dataset_argv(dataset: str, raw, out) -> list[str]:
    """``crop dataset`` of ``raw`` into ``out``, in this process, without a progress bar."""
    return [
        "dataset",
        "--dataset",
        dataset,
        "--root",
        str(raw),
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]


def test_raw_mead_becomes_edtalks_flattened_layout_and_a_faceless_clip_is_named(tmp_path, capsys):
    from edtalk.data.audio import audio_info
    from edtalk.data.readers import read_clips
    from edtalk.data.video import read_video

    raw, out = tmp_path / "raw", tmp_path / "cropped"
    frames, _ = _raw(36)
    _write_raw_mead(raw, "M005", frames)
    blank = _write_raw_mead(raw, "W011", np.full((12, *CANVAS, 3), 90, np.uint8))
    late = frames.copy()
    late[:12] = 90  # the face comes in at the 13th frame: cropped, with a note
    _write_raw_mead(raw, "M007", late)
    argv = _dataset_argv("mead", raw, out)
    assert crop.main(argv) == 1  # one clip could not be cropped
    printed = capsys.readouterr()
    assert f"{blank}: no face found by dlib's HOG detector" in printed.err
    assert "2 of 3 source clips cropped into 2 clips" in printed.out and "; 1 with notes" in printed.out
    clips = read_clips("mead", out, "all")
    assert [c.id for c in clips] == ["M005#happy#level_2#001", "M007#happy#level_2#001"]
    video = read_video(clips[0].video)
    assert video.size == (SIDE, SIDE) and video.fps == 25.0 and video.n_frames == 30  # 36 at 30 fps
    info = audio_info(clips[0].audio)
    assert info.sample_rate == 16000 and info.duration == pytest.approx(30 / 25, abs=0.01)
    report = {r["clip_id"]: r for r in json.loads((out / crop.REPORT).read_text())}
    assert report["M005#happy#level_2#001"]["problem"] is None
    assert report["M007#happy#level_2#001"]["notes"] == ["face followed in 4 of 6 frames looked at"]
    assert "no face found" in report["W011#happy#level_2#001"]["problem"]

    written = clips[0].video.stat().st_mtime_ns
    assert crop.main(argv) == 1  # the done clip is skipped, the faceless one tried again
    assert "1 of 3 clips to crop (2 done before)" in capsys.readouterr().out
    assert clips[0].video.stat().st_mtime_ns == written


def test_a_long_hdtf_video_is_cut_into_chunks_with_their_audio(tmp_path, capsys):
    from edtalk.data.audio import load_audio
    from edtalk.data.readers import read_clips
    from edtalk.data.video import read_video, write_video

    raw = tmp_path / "raw"
    out = raw / "cropped"  # inside the raw tree: its chunks are not taken for raw videos on a re-run
    frames, _ = _raw(60)
    t = np.arange(60 * 640) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 200 * t) * (t < 1.0)).astype(np.float32)  # sound in the first second
    raw.mkdir()
    write_video(raw / "WDA_Someone_000.mp4", frames, 25.0, audio=audio)
    argv = ["dataset", "--dataset", "hdtf", "--root", str(raw), "--out", str(out), "--chunk-seconds", "1"]
    assert crop.main([*argv, "--workers", "1", "--quiet"]) == 0
    clips = read_clips("hdtf", out, "all")
    assert [c.id for c in clips] == [
        "WDA_Someone_000#1",
        "WDA_Someone_000#2",
    ]  # 2.4 s: the last 0.4 s dropped
    assert all(read_video(c.video).n_frames == 25 for c in clips)
    loud = [np.abs(load_audio(c.audio)).max() for c in clips]
    assert loud[0] > 0.2 and loud[1] < 0.05  # each chunk carries its own second of audio
    assert "train on it with --data hdtf:" in capsys.readouterr().out
    assert crop.main([*argv, "--workers", "1", "--quiet"]) == 0
    assert "1 of 1 source clips cropped into 2 clips" in capsys.readouterr().out


def test_single_image_and_video_crops_and_their_errors(tmp_path, capsys):
    from PIL import Image

    from edtalk.data.video import read_video, write_video

    frames, _ = _raw(10)
    Image.fromarray(frames[0]).save(tmp_path / "photo.jpg")
    assert crop.main(["image", str(tmp_path / "photo.jpg"), "--out", str(tmp_path / "id.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "id.png")).shape == (SIDE, SIDE, 3)
    assert "note:" not in capsys.readouterr().err
    cutout = np.dstack([frames[0], np.full(frames[0].shape[:2], 255, np.uint8)])
    cutout[:4, :, 3] = 0  # a transparent band at the top: composited over white, and said so
    Image.fromarray(cutout, "RGBA").save(tmp_path / "cutout.png")
    assert crop.main(["image", str(tmp_path / "cutout.png"), "--out", str(tmp_path / "id2.png")]) == 0
    assert f"note: {tmp_path / 'cutout.png'}: transparent pixels" in capsys.readouterr().err
    write_video(tmp_path / "talk.mp4", frames, 25.0)
    assert crop.main(["video", str(tmp_path / "talk.mp4"), "--out", str(tmp_path / "drv.mp4")]) == 0
    assert read_video(tmp_path / "drv.mp4").frames.shape == (10, SIDE, SIDE, 3)
    capsys.readouterr()

    Image.new("RGB", (300, 200), (90, 90, 90)).save(tmp_path / "wall.png")
    assert crop.main(["image", str(tmp_path / "wall.png"), "--out", str(tmp_path / "x.png")]) == 2
    assert f"error: {tmp_path / 'wall.png'}: no face found" in capsys.readouterr().err
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    assert crop.main(["video", str(tmp_path / "bad.mp4"), "--out", str(tmp_path / "y.mp4")]) == 2
    assert f"error: {tmp_path / 'bad.mp4'}: unreadable" in capsys.readouterr().err
    assert crop.main(["video", str(tmp_path / "talk.mp4"), "--out", str(tmp_path / "y.avi")]) == 2
    assert "give an .mp4 path" in capsys.readouterr().err
    assert crop.main(["image", str(tmp_path / "photo.jpg"), "--out", str(tmp_path / "id.gif")]) == 2
    assert "give an image path (.bmp, .jpeg, .jpg, .png" in capsys.readouterr().err
    assert (
        crop.main(["dataset", "--dataset", "hdtf", "--root", str(tmp_path / "no"), "--out", str(tmp_path)])
        == 2
    )
    assert "hdtf root folder does not exist" in capsys.readouterr().err


def test_training_refuses_frames_that_are_not_square_crops_and_names_the_crop_command(tmp_path, monkeypatch):
    """Before: a raw 1920x1080 MEAD clip was squashed to a 64 px square without a word."""
    import dataclasses

    import edtalk.data.training as training
    from edtalk.data.clip import Clip
    from edtalk.data.errors import DataError
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.data.video import write_video

    frames, _ = _raw(6)
    write_video(tmp_path / "raw.mp4", frames, 25.0)
    square, _ = _rendered_face(6)
    write_video(tmp_path / "ok.mp4", square, 25.0)
    clips = [
        Clip(id=f"{name}#0", dataset="hdtf", split="train", video=tmp_path / f"{name}.mp4", identity=name)
        for name in ("raw", "ok")
    ]
    cache = load_frame_cache(build_frame_cache(clips, 64, tmp_path / "cache", progress=False))
    assert cache.clip_ids == ["ok#0"]
    ((clip, reason),) = cache.skipped
    assert clip == "raw#0" and "frames are 400x240 (width x height), not square face crops" in reason
    assert "python -m edtalk.data.crop dataset --dataset hdtf --root RAW --out CROPPED" in reason

    # a split that is raw video throughout stops at the sampled headers, before any clip is decoded
    monkeypatch.setattr(training, "decode_clips", lambda *a: pytest.fail("decoded a raw split"))
    raw_only = [clips[0], dataclasses.replace(clips[0], id="raw#1")]
    with pytest.raises(DataError, match=r"raw\.mp4: frames are 400x240 .* --dataset hdtf --root RAW"):
        build_frame_cache(raw_only, 64, tmp_path / "cache", progress=False)


def test_an_unforeseen_failure_on_one_clip_is_its_problem_not_the_runs_end(tmp_path, monkeypatch):
    import edtalk.data.face_crop as face_crop
    from edtalk.data.video import write_video

    write_video(tmp_path / "a.mp4", _raw(3)[0], 25.0, audio=np.zeros(3 * 640, np.float32))

    def broken(*a, **k):
        raise RuntimeError("odd frame")

    monkeypatch.setattr(face_crop, "plan_crops", broken)
    job = crop.CropJob("a", str(tmp_path / "a.mp4"), None, str(tmp_path / "out"), None)
    outcome = crop.crop_job(job)
    assert (
        outcome.problem == f"{tmp_path / 'a.mp4'}: failed (RuntimeError: odd frame)" and not outcome.written
    )


def test_paths_expand_the_home_folder_as_a_cluster_job_gives_them(tmp_path, monkeypatch):
    """docs/cluster.md submits `--root '~/raw/MEAD'` quoted, for the node's shell-less expansion."""
    monkeypatch.setenv("HOME", str(tmp_path))
    args = crop.build_parser().parse_args(
        ["dataset", "--dataset", "mead", "--root", "~/raw", "--out", "~/out"]
    )
    assert (args.root, args.out) == (tmp_path / "raw", tmp_path / "out")


def test_a_phone_photo_is_read_upright_by_its_exif_orientation(tmp_path, capsys):
    """A portrait shot stored sideways with Orientation=6 was read lying down: 'no face found'."""
    from PIL import Image

    from edtalk.driving_inputs import read_image

    frames, _ = _raw(1)
    image = Image.fromarray(np.ascontiguousarray(np.rot90(frames[0], 1)))  # the pixels as stored
    exif = image.getexif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: upright
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    assert crop.main(["image", str(tmp_path / "phone.jpg"), "--out", str(tmp_path / "id.png")]) == 0
    assert read_image(tmp_path / "phone.jpg", crop=True).shape == (SIDE, SIDE, 3)


def test_a_video_crop_is_written_under_the_name_it_was_given(tmp_path, capsys):
    from edtalk.data.video import write_video

    write_video(tmp_path / "talk.mp4", _raw(4)[0], 25.0)
    assert crop.main(["video", str(tmp_path / "talk.mp4"), "--out", str(tmp_path / "Driver.MP4")]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.stem == "Driver"] == ["Driver.MP4"]


def test_audio_is_aligned_when_the_video_stream_starts_later_than_the_audio(tmp_path):
    """A remuxed download whose pictures start 0.4 s into its audio: the crop's sound lagged 10 frames
    (and so did inference's mouth video's own track, and every reader of a clip's audio)."""
    from fractions import Fraction

    import av

    from edtalk.data.audio import load_audio

    frames = _raw(30)[0]
    path = tmp_path / "late.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = CANVAS[1], CANVAS[0], "yuv420p"
        sound = out.add_stream("aac", rate=16000, layout="mono")
        for i, rgb in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            picture.pts, picture.time_base = i + 10, Fraction(1, 25)  # first picture at 0.4 s
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        wav = np.zeros(int(16000 * 1.6), np.float32)
        wav[6400:7040] = 0.8  # a click heard with the first picture
        samples = av.AudioFrame.from_ndarray(wav[None], format="fltp", layout="mono")
        samples.sample_rate, samples.pts = 16000, 0
        out.mux(sound.encode(samples))
        out.mux(sound.encode(None))
    job = crop.CropJob("late", str(path), None, str(tmp_path / "v"), str(tmp_path / "a"))
    outcome = crop.crop_job(job)
    assert outcome.problem is None
    for wav in (load_audio(path), load_audio(tmp_path / "a" / "late.wav")):  # the source, its crop
        assert np.argmax(np.abs(wav) > 0.3) / 16000 < 0.02  # at the first frame, not 0.4 s later


def _hdtf_video(tmp_path) -> list[str]:
    """A raw HDTF tree ``tmp_path/raw`` of one silent 2 s video, WDA_A_000.mp4; the ``crop dataset``
    arguments that crop it into ``tmp_path/out``."""
    from edtalk.data.video import write_video

    raw = tmp_path / "raw"
    raw.mkdir()
    write_video(raw / "WDA_A_000.mp4", _raw(50)[0], 25.0, audio=np.zeros(50 * 640, np.float32))
    return _dataset_argv("hdtf", raw, tmp_path / "out")


def test_hdtf_redoes_clips_cropped_with_other_settings_or_whose_files_went(tmp_path, capsys):
    from edtalk.data.readers import read_clips

    argv, out = _hdtf_video(tmp_path), tmp_path / "out"
    assert crop.main([*argv, "--chunk-seconds", "2"]) == 0
    assert [c.id for c in read_clips("hdtf", out, "all")] == ["WDA_A_000#1"]
    assert crop.main([*argv, "--chunk-seconds", "1"]) == 0  # other chunks: cropped again, the old gone
    assert [c.id for c in read_clips("hdtf", out, "all")] == ["WDA_A_000#1", "WDA_A_000#2"]
    (out / "split_5s_video" / "WDA_A_000#2.mp4").unlink()
    capsys.readouterr()
    assert crop.main([*argv, "--chunk-seconds", "1"]) == 0
    assert "1 of 1 clips to crop (0 done before)" in capsys.readouterr().out
    assert (out / "split_5s_video" / "WDA_A_000#2.mp4").is_file()
    assert crop.main([*argv, "--chunk-seconds", "0.01"]) == 2  # 0 frames: chunking silently went off
    assert "--chunk-seconds 0.01: shorter than one frame at 25 fps" in capsys.readouterr().err


def test_a_longer_chunk_length_removes_the_chunks_the_shorter_one_wrote(tmp_path):
    """1 s chunks (#1, #2), then 2 s chunks (#1): the stale #2 must go, or the reader and training pick
    it up beside the new chunk. Only the other direction (new chunks overwriting the old names) was
    tested, and leaving the old chunks in place passed."""
    argv = _hdtf_video(tmp_path)
    assert crop.main([*argv, "--chunk-seconds", "1"]) == 0
    assert crop.main([*argv, "--chunk-seconds", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "split_5s_video").iterdir()) == ["WDA_A_000#1.mp4"]
    assert sorted(p.name for p in (tmp_path / "out" / "split_5s_audio").iterdir()) == ["WDA_A_000#1.wav"]


def _crop_job(tmp_path) -> crop.CropJob:
    """The job of one (fake) source video in ``tmp_path``: enough for ``crop_settings``."""
    (tmp_path / "v.mp4").write_bytes(b"x")
    return crop.CropJob("v", str(tmp_path / "v.mp4"), None, str(tmp_path), None)


def test_a_raw_video_replaced_under_its_name_by_one_of_another_size_is_cropped_again(tmp_path):
    """A re-downloaded video (a corrupt one replaced) keeps its name: its size in the done key makes
    its clip cropped again. Dropping the size passed, and the old crops were kept silently."""
    job = _crop_job(tmp_path)
    before = crop.crop_settings(job)
    (tmp_path / "v.mp4").write_bytes(b"the whole video")
    assert crop.crop_settings(job) != before


@pytest.mark.parametrize(
    "setting",
    ["GROW", "SIDE", "FPS", "MIN_IOU", "LOST_AFTER", "DETECT_EVERY", "DETECT_LONG_SIDE", "RESAMPLING"],
)
def test_a_clips_done_key_holds_every_crop_and_detector_setting(tmp_path, monkeypatch, setting):
    """Crops made with another setting are not reused; the detector's settings had no test, and
    leaving them out of the done key passed."""
    from edtalk.data import face_crop

    job = _crop_job(tmp_path)
    before = crop.crop_settings(job)
    monkeypatch.setattr(face_crop, setting, getattr(face_crop, setting) * 2)
    assert crop.crop_settings(job) != before


def test_a_worker_process_that_dies_fails_its_clip_only(tmp_path, monkeypatch):
    """A cropping process killed (out of memory, a crash in dlib or the decoder) broke the pool: a
    BrokenProcessPool traceback, no report, and every re-run died at the same clip."""
    (tmp_path / "killer.py").write_text(
        "import os\n"
        "from edtalk.data.crop import CropOutcome\n"
        "def crop(job):\n"
        "    if job.clip_id == 'bad':\n"
        "        os._exit(9)\n"
        "    return CropOutcome(job.clip_id, job.video, written=[job.video])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # the spawned workers import killer from here too
    import killer

    for name in "abcde":
        (tmp_path / f"{name}.mp4").write_bytes(b"x")
    jobs = [
        crop.CropJob(name, str(tmp_path / f"{name}.mp4"), None, str(tmp_path), None)
        for name in ("a", "b", "bad", "c", "d")
    ]
    outcomes = crop.crop_dataset(jobs, tmp_path / "out", workers=2, progress=False, crop=killer.crop)
    assert [o.clip_id for o in outcomes] == ["a", "b", "bad", "c", "d"]
    assert [o.problem is None for o in outcomes] == [True, True, False, True, True]
    assert "its cropping process died" in outcomes[2].problem
    report = json.loads((tmp_path / "out" / crop.REPORT).read_text())
    assert [r["clip_id"] for r in report if r["problem"]] == ["bad"]


def test_the_crop_passes_place_a_variable_rate_videos_frames_by_their_times():
    """30 frames at 30 fps then 10 at 10 fps (2 s): by the average rate (20 fps) the crops came out
    with the wrong frames at the wrong times; with the frame times, the frames the times place."""
    from edtalk.data.face_crop import cut_crops
    from edtalk.data.video import timed_index

    frames, _ = _raw(40)
    times = np.array([i / 30 for i in range(30)] + [1 + i / 10 for i in range(10)])
    plan = plan_crops(iter(frames), 20.0, times=times)
    index = timed_index(times, 25.0)
    assert plan.n_frames == len(index) == 50 and list(plan.boxes) == [0]
    [(_, crops)] = list(cut_crops(iter(frames), 20.0, plan))
    expected = np.stack([crop_frame(frames[i], plan.boxes[0]) for i in index])
    np.testing.assert_array_equal(crops, expected)


def test_hdtf_jobs_skip_videos_in_hidden_folders(tmp_path, place):
    """Before: only a hidden file name was skipped, so .cache/partial_download.mp4 was cropped."""
    from edtalk.data.crop import hdtf_jobs

    place(tmp_path / "raw" / "RD_Radio1_000.mp4")
    place(tmp_path / "raw" / ".cache" / "partial_download.mp4")
    place(tmp_path / "raw" / "._RD_Radio1_000.mp4")
    jobs = hdtf_jobs(tmp_path / "raw", tmp_path / "out", 5.0)
    assert [j.clip_id for j in jobs] == ["RD_Radio1_000"]


def test_a_raw_video_replaced_by_one_of_the_same_size_is_cropped_again_a_copy_is_not(tmp_path):
    """The done key knew a source by name and size: a re-download of the same length (a corrupt video
    replaced, a re-encode) kept the old crops. Its ends now count; a copy elsewhere still matches."""
    import shutil

    job = _crop_job(tmp_path)
    (tmp_path / "v.mp4").write_bytes(b"a" * 200_000)
    before = crop.crop_settings(job)
    (tmp_path / "v.mp4").write_bytes(b"b" + b"a" * 199_999)
    assert not crop.same_settings(before, crop.crop_settings(job))
    (tmp_path / "v.mp4").write_bytes(b"a" * 199_999 + b"b")
    assert not crop.same_settings(before, crop.crop_settings(job))
    (tmp_path / "v.mp4").write_bytes(b"a" * 200_000)
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "v.mp4", tmp_path / "copy" / "v.mp4")  # a new modification time
    copied = crop.CropJob("v", str(tmp_path / "copy" / "v.mp4"), None, str(tmp_path), None)
    assert crop.same_settings(before, crop.crop_settings(copied))


def test_done_records_of_name_and_size_only_are_still_reused(tmp_path):
    """Records written before the digest are kept when name and size match: an upgrade does not crop
    a whole dataset again; another size still does."""
    job = _crop_job(tmp_path)
    older = {**crop.crop_settings(job), "sources": [["v.mp4", 1]]}
    assert crop.same_settings(older, crop.crop_settings(job))
    assert not crop.same_settings({**older, "sources": [["v.mp4", 2]]}, crop.crop_settings(job))
    assert not crop.same_settings({**older, "chunk_seconds": 9}, crop.crop_settings(job))
    assert not crop.same_settings(None, crop.crop_settings(job))
