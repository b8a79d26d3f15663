"""Cached rows written before a clip check existed (``eval.scoring.CLIP_RULES``): reused only for
clips that plainly pass the current checks, rescored otherwise."""

import json

import numpy as np

from edtalk.data.clip import Clip
from edtalk.data.video import write_video
from eval.cache import ClipCache
from eval.results import read_clip_rows, read_results
from eval.run import main
from eval.scoring import passes_clip_rules


def frames(t: int, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack([np.stack([(xx * 3 + k * 9) % 256, yy * 2 % 256, (xx + yy) % 256], -1) for k in range(t)])


def as_the_old_code_wrote_them(cache_dir) -> None:
    """Drop the clip-rules stamp from every row under ``cache_dir``: rows of the code before it."""
    for folder in cache_dir.iterdir():
        cache = ClipCache(folder)
        for path in folder.glob("*.pkl"):
            row = cache.load(path.stem)
            row.pop("clip_rules", None)
            cache.save(path.stem, row)


def test_a_row_cached_before_the_rate_check_is_rescored_and_the_others_reused(tmp_path, monkeypatch):
    """A prediction at 30 fps scored (and cached) by the code before ``rates_drift_apart`` kept its
    wrong scores on every resumed run; a 25 fps clip's old row is still reused."""
    import eval.scoring

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for name, pred_fps in (("ok", 25), ("at30", 30)):
        write_video(gt / f"{name}.mp4", frames(20).astype(np.uint8), fps=25)
        write_video(pred / f"{name}.mp4", frames(20).astype(np.uint8), fps=pred_fps)
    out = tmp_path / "res"
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
    args += ["--protocol", "canonical", "--metrics", "psnr", "--workers", "0", "--quiet"]
    with monkeypatch.context() as old_code:
        old_code.setattr(eval.scoring, "rates_drift_apart", lambda *_: False)
        assert main(args) == 0  # both clips scored and cached
    as_the_old_code_wrote_them(out / "folder/paired/cache")

    assert main(args) == 1
    data = read_results(out / "folder/paired/canonical.json")
    assert [f["clip"] for f in data["failures"]] == ["at30"]
    assert "the prediction is at 30 fps, GT at 25: resample it" in data["failures"][0]["reason"]
    assert {r["clip"]: r["from_cache"] for r in read_clip_rows(out / "folder/paired/canonical.json")} == {
        "at30": False,
        "ok": True,
    }
    assert main(args) == 1 and read_results(out / "folder/paired/canonical.json")["n_from_cache"] == 1


def test_passes_clip_rules_reads_rates_and_the_sidecar_length(tmp_path):
    video, pred, at30 = tmp_path / "gt.mp4", tmp_path / "pred.mp4", tmp_path / "at30.mp4"
    for path, fps in ((video, 25), (pred, 25), (at30, 30)):
        write_video(path, frames(10).astype(np.uint8), fps=fps)

    def clip_with_sidecar(n_rows: int) -> Clip:
        sidecar = tmp_path / f"sidecar{n_rows}.json"
        rows = {"factors": {"yaw": [0.0] * n_rows, "mouth_open": [0.1] * n_rows}, "landmarks": [[]] * n_rows}
        sidecar.write_text(json.dumps(rows))
        return Clip(id="c", dataset="synthtalk", split="test", video=video, sidecar=sidecar)

    plain = Clip(id="c", dataset="folder", split="test", video=video)
    assert passes_clip_rules(plain, pred) and passes_clip_rules(clip_with_sidecar(10), pred)
    assert not passes_clip_rules(clip_with_sidecar(8), pred)  # mouth/pose now fail: shorter sidecar
    assert not passes_clip_rules(plain, at30)  # rate drift; LSE not at 25 fps
    assert not passes_clip_rules(plain, None) and not passes_clip_rules(plain, tmp_path / "missing.mp4")
