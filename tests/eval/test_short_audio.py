"""``eval.run`` notes GT clips whose audio is shorter than their video (LSE then covers only the
frames the audio covers, as syncnet_python does), naming the file and both lengths."""

import numpy as np
import soundfile as sf

from edtalk.data.clip import Clip
from edtalk.data.video import write_video
from eval.run import main
from eval.run_checks import note_short_audio

CLIP = np.zeros((10, 64, 64, 3), np.uint8)  # 0.4 s at 25 fps


def clip_with_wav(tmp_path, name: str, seconds: float) -> Clip:
    video = write_video(tmp_path / f"{name}.mp4", CLIP, fps=25)
    sf.write(tmp_path / f"{name}.wav", np.zeros(int(16000 * seconds), np.float32), 16000)
    return Clip(id=name, dataset="folder", split="test", video=video, audio=tmp_path / f"{name}.wav")


def test_audio_short_by_more_than_a_frame_is_noted_with_both_lengths(tmp_path):
    short = clip_with_wav(tmp_path, "short", 0.2)
    within = clip_with_wav(tmp_path, "within", 0.4 - 0.03)  # less than a frame (0.04 s) short
    note = note_short_audio([within, short])
    assert note.startswith("1 GT clip(s) with audio shorter than the video by more than a frame")
    assert f"{short.audio} has 0.20 s of audio for 0.40 s of video ({short.video})" in note
    assert "within" not in note and note_short_audio([within]) is None


def test_audio_inside_the_video_is_measured_too(tmp_path):
    video = write_video(tmp_path / "muxed.mp4", CLIP, fps=25, audio=np.zeros(1600, np.float32))  # 0.1 s
    muxed = Clip(id="muxed", dataset="folder", split="test", video=video, audio=video)
    assert f"{video} has 0.10 s of audio for 0.40 s of video;" in note_short_audio([muxed]) + ";"


def test_eval_run_notes_short_audio_of_the_clips_it_scores_with_lse(tmp_path, monkeypatch, capsys):
    """Before, nothing was said. Checked for the clips scored with a sync metric (from the cache: no)."""
    import eval.run
    from eval.metrics.lse import SyncScore

    monkeypatch.setattr(eval.run, "check_weights", lambda *args: None)  # no SyncNet weights,
    monkeypatch.setattr(SyncScore, "item_values", lambda self, ctx: np.array([0.5]))  # nor its maths
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    clip_with_wav(gt, "short", 0.2)
    write_video(pred / "short.mp4", CLIP, fps=25)
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(tmp_path / "res")]
    args += ["--protocol", "canonical", "--workers", "0", "--quiet", "--metrics"]
    assert main([*args, "psnr"]) == 0
    assert "audio shorter" not in capsys.readouterr().err  # no sync metric: the audio is not read
    assert main([*args, "psnr,lse_c"]) == 0
    err = capsys.readouterr().err
    assert "note: 1 GT clip(s) with audio shorter than the video by more than a frame; LSE takes only" in err
    assert f"{gt / 'short.wav'} has 0.20 s of audio for 0.40 s of video ({gt / 'short.mp4'})" in err
    assert main([*args, "psnr,lse_c"]) == 0
    assert "audio shorter" not in capsys.readouterr().err  # every clip from the cache
