"""``python -m eval.run --method folder:DIR`` as a user scores their own videos: each per-clip row names
the video it was scored from (the report's video grid), a prediction of another shape fails its clip
as a whole (it failed some metrics and was stretched into the others), and ``--limit`` warns only about
videos that match no clip of the split (and refuses a folder with videos of none of the clips it scores)."""

import json
import logging
from pathlib import Path

import numpy as np

from edtalk.data.video import write_video
from eval.cache import ClipCache, escape_clip_id
from eval.results import read_clip_rows, read_results
from eval.run import main

FAST = ["--metrics", "psnr,l1", "--workers", "0", "--quiet"]


def frames_of(i: int, t: int = 10, height: int = 64, width: int | None = None) -> np.ndarray:
    """A moving colour pattern, different per clip."""
    yy, xx = np.mgrid[0:height, 0 : width or height]
    return np.stack(
        [
            np.stack([(xx * 3 + k * 9 + i * 40) % 256, (yy * 2 + k) % 256, (xx + yy) % 256], -1)
            for k in range(t)
        ]
    ).astype(np.uint8)


def make_synthtalk(root: Path, n: int) -> list[str]:
    """A minimal synthtalk tree of ``n`` test clips: clips/<id>.mp4|wav|json + splits/test.txt."""
    import soundfile as sf

    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    ids = [f"st{i:03d}#happy#level_1#001" for i in range(n)]
    for i, cid in enumerate(ids):
        write_video(root / "clips" / f"{cid}.mp4", frames_of(i), fps=25)
        sf.write(root / "clips" / f"{cid}.wav", np.zeros(6400, np.float32), 16000)
        meta = {"id": cid, "identity": f"st{i:03d}", "emotion": "happy", "level": 1}
        (root / "clips" / f"{cid}.json").write_text(json.dumps(meta))
    (root / "splits" / "test.txt").write_text("\n".join(ids) + "\n")
    return ids


def score_folder(root: Path, folder: Path, out: Path, *extra: str) -> int:
    args = ["--dataset", "synthtalk", "--root", str(root), "--method", f"folder:{folder}", "--out", str(out)]
    return main([*args, "--protocol", "synthtalk", *FAST, *extra])


def test_each_clip_row_names_the_video_it_was_scored_from_also_from_the_cache(tmp_path):
    """The report's video grid showed no column for a folder method: its rows named no video, and the
    folder's files (matched through name_map and %23 names) are not where eval.run writes videos."""
    from eval.report.html import collect_videos
    from eval.report.inputs import load_results

    root, mine = tmp_path / "st", tmp_path / "mine"
    ids = make_synthtalk(root, 4)
    write_video(mine / f"{ids[0]}.mp4", frames_of(0), fps=25)  # the clip id itself
    write_video(mine / f"{ids[1].replace('#', '%23')}.mp4", frames_of(1), fps=25)  # our cache spelling
    write_video(mine / "take2.mp4", frames_of(2), fps=25)  # named in name_map; ids[3] has no video
    prov = {"method": "mine", "driving": "audio", "name_map": {"take2": ids[2]}}
    (mine / "provenance.json").write_text(json.dumps(prov))
    out = tmp_path / "res"
    expected = {
        ids[0]: str(mine / f"{ids[0]}.mp4"),
        ids[1]: str(mine / f"{ids[1].replace('#', '%23')}.mp4"),
        ids[2]: str(mine / "take2.mp4"),
    }
    for from_cache in (False, True):
        assert score_folder(root, mine, out, "--allow-failures") == 0
        rows = {r["clip"]: r for r in read_clip_rows(out / "synthtalk/mine/synthtalk.json")}
        assert {c: r["video"] for c, r in rows.items() if "video" in r} == expected
        assert [rows[c]["from_cache"] for c in ids[:3]] == [from_cache] * 3
    grid = collect_videos(load_results(out))[("synthtalk", "synthtalk", "test")]
    assert {c: grid[c]["mine"] for c in ids[:3]} == {c: Path(v) for c, v in expected.items()}


def test_a_generated_video_is_named_relative_to_its_results_file(tmp_path):
    """eval.run's own videos (``<results>/<dataset>/<method>/videos/``) are named from the results
    file's folder, so the results tree still finds them when moved; the gt method names none (it is
    the grid's GT column)."""
    root = tmp_path / "st"
    ids = make_synthtalk(root, 2)
    out = tmp_path / "res"
    common = [
        "--dataset",
        "synthtalk",
        "--root",
        str(root),
        "--out",
        str(out),
        "--protocol",
        "synthtalk",
        *FAST,
    ]
    assert main([*common, "--method", "static"]) == 0
    assert main([*common, "--method", "gt"]) == 0
    static = {r["clip"]: r["video"] for r in read_clip_rows(out / "synthtalk/static/synthtalk.json")}
    assert static == {c: f"videos/{escape_clip_id(c)}.mp4" for c in ids}
    assert all("video" not in r for r in read_clip_rows(out / "synthtalk/gt/synthtalk.json"))


def test_a_prediction_of_another_shape_fails_its_clip_as_a_whole(tmp_path):
    """A 64 x 50 prediction of a 64 x 64 clip failed PSNR and L1 one by one ("another aspect ratio")
    while FID, LSE, Acc_emo and the judges stretched it; a 32 px one was upscaled and scored without a
    word. Both now fail their clip once; a 128 px prediction (same shape) is resized, as documented."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i, (name, h, w) in enumerate(
        (("wide", 64, 50), ("tiny", 32, 32), ("big", 128, 128), ("same", 64, 64))
    ):
        write_video(gt / f"{name}.mp4", frames_of(i), fps=25)
        write_video(pred / f"{name}.mp4", frames_of(i, height=h, width=w), fps=25)
    out = tmp_path / "res"
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
    assert main([*args, "--protocol", "canonical", *FAST]) == 1
    data = read_results(out / "folder/paired/canonical.json")
    failed = {f["clip"]: (f["metric"], f["reason"]) for f in data["failures"]}
    assert sorted(failed) == ["tiny", "wide"] and {m for m, _ in failed.values()} == {None}
    assert "50x64 and GT 64x64 (width x height): another aspect ratio" in failed["wide"][1]
    assert "32x32 and GT 64x64 (width x height): under the 64 px a side" in failed["tiny"][1]
    assert data["metrics"]["psnr"]["n_clips"] == data["metrics"]["l1"]["n_clips"] == 2


def test_score_clip_checks_the_shape_before_any_metric():
    """Every metric of a clip sees the same verdict: a metric that resizes whatever it gets (FID, the
    judges) no longer scores a prediction that the frame-paired metrics refuse. The eat protocol aligns
    a face crop in every frame, so another aspect ratio is its metrics' to handle."""
    from eval.context import ClipContext
    from eval.protocols import get_protocol
    from eval.scoring import Job, score_clip

    class Stretching:
        """Scores whatever frames it is given (as FID and the judges resize them)."""

        version = "1"

        def clip_state(self, ctx):
            return {"n": len(ctx.frames("pred"))}

    def score(gt_hw, pred_hw, protocol="synthtalk"):
        ctx = ClipContext.from_arrays(
            np.zeros((8, *gt_hw, 3), np.uint8), np.zeros((8, *pred_hw, 3), np.uint8)
        )
        job = Job(clip=ctx.clip, pred=Path("pred.mp4"), inputs=[], todo=["fid"])
        return score_clip(lambda *_: ctx, job, get_protocol(protocol), {"fid": Stretching()}, {"fid": "k"})

    wide = score((128, 128), (128, 100))
    assert "another aspect ratio" in wide["failure"] and wide["metrics"] == {}
    assert "under the 64 px a side" in score((128, 128), (32, 32))["failure"]
    for gt_hw, pred_hw, protocol in (
        ((128, 128), (64, 64), "synthtalk"),  # the tiny preset's output on synthtalk: resized
        ((48, 48), (48, 48), "canonical"),  # a small GT (noted before scoring), its prediction at its size
        ((128, 128), (128, 100), "eat"),  # aligned crops
    ):
        row = score(gt_hw, pred_hw, protocol)
        assert row["failure"] is None and row["metrics"]["fid"]["state"] == {"n": 8}


def test_a_row_cached_before_the_shape_check_is_rescored(tmp_path, monkeypatch):
    """A 32 px prediction scored (upscaled) and cached under clip rules 2 kept its scores on every
    resumed run; a clip that passes is still taken from the cache."""
    import eval.scoring

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i, (name, size) in enumerate((("ok", 64), ("tiny", 32))):
        write_video(gt / f"{name}.mp4", frames_of(i), fps=25)
        write_video(pred / f"{name}.mp4", frames_of(i, height=size), fps=25)
    out = tmp_path / "res"
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--protocol"]
    args += ["canonical", *FAST]
    with monkeypatch.context() as old_code:
        old_code.setattr(eval.scoring, "geometry_problem", lambda *_, **__: None, raising=False)
        assert main(args) == 0  # both clips scored and cached
    for folder in (out / "folder/paired/cache").iterdir():  # as the code of clip rules 2 stamped them
        cache = ClipCache(folder)
        for path in folder.glob("*.pkl"):
            cache.save(path.stem, {**cache.load(path.stem), "clip_rules": 2})

    assert main(args) == 1
    data = read_results(out / "folder/paired/canonical.json")
    assert [(f["clip"], f["metric"]) for f in data["failures"]] == [("tiny", None)]
    assert data["n_from_cache"] == 1


def test_limit_warns_only_about_videos_of_no_clip_of_the_split(tmp_path, caplog, capsys):
    """``--limit 1`` said "3 videos match none of the 1 clips and are ignored" of the videos of the
    split's other clips; only a video of no clip is warned about, the others are counted in a note."""
    root, mine = tmp_path / "st", tmp_path / "mine"
    ids = make_synthtalk(root, 3)
    for i, cid in enumerate(ids):
        write_video(mine / f"{cid}.mp4", frames_of(i), fps=25)
    write_video(mine / "stray.mp4", frames_of(0), fps=25)
    (mine / "provenance.json").write_text(json.dumps({"method": "mine"}))
    with caplog.at_level(logging.WARNING, logger="baselines.adapters"):
        assert score_folder(root, mine, tmp_path / "res", "--limit", "1") == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "baselines.adapters"]
    assert len(warnings) == 1 and "1 videos match none of the 3 clips" in warnings[0]
    assert "stray.mp4" in warnings[0]
    assert "2 more videos are of clips of the split left out by --limit (it takes" in capsys.readouterr().err
    rows = read_clip_rows(tmp_path / "res/synthtalk/mine/synthtalk.json")
    assert [r["clip"] for r in rows] == ids[:1]


def test_limit_with_videos_only_of_clips_past_it_is_one_usage_error(tmp_path, capsys):
    """Videos only of the clips ``--limit`` leaves out failed each scored clip as "no prediction video"
    and wrote a results file of failures; it is one error naming the folder and what to do."""
    root, mine = tmp_path / "st", tmp_path / "mine"
    ids = make_synthtalk(root, 3)
    for i, cid in enumerate(ids[1:], 1):
        write_video(mine / f"{cid}.mp4", frames_of(i), fps=25)
    assert score_folder(root, mine, tmp_path / "res", "--limit", "1") == 2
    err = capsys.readouterr().err
    assert str(mine) in err and "none of the 1 clips this run scores" in err and "--limit" in err
    assert not list((tmp_path / "res").rglob("*.json"))


def test_a_folder_datasets_rows_name_their_gt_video_for_the_grid(tmp_path):
    """``--dataset folder --gt G --pred P``: the grid's GT column stayed empty (no reader finds a pair's
    GT again from the results file); each row now names its GT video."""
    from eval.report.html import collect_videos
    from eval.report.inputs import load_results

    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "res"
    for i, name in enumerate(("a", "b")):
        write_video(gt / f"{name}.mp4", frames_of(i), fps=25)
        write_video(pred / f"{name}.mp4", frames_of(i + 5), fps=25)
    assert main(["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out), *FAST]) == 0
    [results] = list(out.rglob("*.json"))
    rows = {r["clip"]: r for r in read_clip_rows(results)}
    assert {c: (r["gt_video"], r["video"]) for c, r in rows.items()} == {
        c: (str(gt / f"{c}.mp4"), str(pred / f"{c}.mp4")) for c in ("a", "b")
    }
    [grid] = collect_videos(load_results(out)).values()
    assert {c: grid[c]["GT"] for c in ("a", "b")} == {c: gt / f"{c}.mp4" for c in ("a", "b")}
