"""``python -m eval.run`` in this process (``--workers 0``) on tiny synthtalk-layout fixtures."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edtalk.data.video import read_video, write_video
from eval.results import clips_path, read_clip_rows, read_results, validate
from eval.run import build_parser, main

FAST = ["--metrics", "psnr,ssim,l1", "--workers", "0", "--quiet"]


def frames_of(i: int, t: int = 10, size: int = 48) -> np.ndarray:
    """A moving colour pattern, different per clip."""
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack(
        [
            np.stack([(xx * 3 + k * 9 + i * 40) % 256, (yy * 2 + k * 3) % 256, (xx + yy + k * 7) % 256], -1)
            for k in range(t)
        ]
    ).astype(np.uint8)


def make_synthtalk(root: Path, n: int = 3, t: int = 10) -> list[str]:
    """A minimal synthtalk tree: clips/<id>.mp4|wav|json + splits/test.txt."""
    import soundfile as sf

    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    ids = []
    for i in range(n):
        cid = f"st{i:03d}#happy#level_1#001"
        audio = (0.1 * np.sin(np.arange(16000 * t // 25) * 0.05)).astype(np.float32)
        write_video(root / "clips" / f"{cid}.mp4", frames_of(i, t), fps=25, audio=audio)
        sf.write(root / "clips" / f"{cid}.wav", audio, 16000)
        (root / "clips" / f"{cid}.json").write_text(
            json.dumps({"id": cid, "identity": f"st{i:03d}", "emotion": "happy", "level": 1})
        )
        ids.append(cid)
    (root / "splits" / "test.txt").write_text("\n".join(ids) + "\n")
    return ids


@pytest.fixture
def synth(tmp_path):
    root = tmp_path / "synthtalk"
    return root, make_synthtalk(root)


def run(root, out, *extra, method="gt"):
    return main(
        [
            "--dataset",
            "synthtalk",
            "--root",
            str(root),
            "--method",
            method,
            "--protocol",
            "synthtalk",
            "--out",
            str(out),
            *FAST,
            *extra,
        ]
    )


def test_gt_against_gt_is_ideal(synth, tmp_path):
    root, ids = synth
    assert run(root, tmp_path / "res") == 0
    data = read_results(tmp_path / "res/synthtalk/gt/synthtalk.json")
    m = data["metrics"]
    # Convention (eval/protocols.py): PSNR of identical frames is +inf, so gt-vs-GT PSNR is +inf.
    assert m["psnr"]["value"] == math.inf and m["psnr"]["n"] == 30
    assert m["ssim"]["value"] == pytest.approx(1.0) and m["l1"]["value"] == 0.0 and m["l1"]["n"] == 3
    rows = read_clip_rows(tmp_path / "res/synthtalk/gt/synthtalk.json")
    assert [r["clip"] for r in rows] == ids and all(r["values"]["ssim"] == pytest.approx(1.0) for r in rows)


def test_results_schema(synth, tmp_path):
    root, _ = synth
    run(root, tmp_path / "res", "--limit", "2")
    data = json.loads((tmp_path / "res/synthtalk/gt/synthtalk.json").read_text())
    validate(data)
    assert data["dataset"] == "synthtalk" and data["method"] == "gt" and data["split"] == "test"
    assert data["protocol"]["name"] == "synthtalk" and len(data["protocol"]["hash"]) == 16
    assert data["protocol"]["settings"]["metrics"]["psnr"]["pooling"] == "frames"
    for entry in data["metrics"].values():
        assert {"value", "n", "spread", "higher_is_better", "label"} <= set(entry)
    assert (
        data["metrics"]["psnr"]["higher_is_better"] is True
        and data["metrics"]["l1"]["higher_is_better"] is False
    )
    assert data["versions"]["metrics"] == {"psnr": "1", "ssim": "1", "l1": "1"}
    assert data["versions"]["libraries"]["numpy"] == np.__version__
    assert "commit" in data["git"] and data["config"]["limit"] == 2 and data["n_clips"] == 2
    assert data["unverified"] is False and data["failures"] == [] and data["provenance"]["method"] == "gt"
    assert data["timing"]["machine"]["cpus"] >= 1 and data["timing"]["machine"]["cpu"]  # where it was timed
    with pytest.raises(ValueError, match="missing field"):
        validate({k: v for k, v in data.items() if k != "git"})


def test_static_generates_once_and_scores_below_gt(synth, tmp_path):
    root, ids = synth
    assert run(root, tmp_path / "res", method="static") == 0
    videos = sorted((tmp_path / "res/synthtalk/static/videos").glob("*.mp4"))
    assert len(videos) == 3
    v = read_video(videos[0]).frames
    d = np.abs(v.astype(int) - v[:1])
    assert len(v) == 10 and d.mean() < 0.5 and d.max() <= 8  # one frame repeated (H.264 noise only)
    mtimes = [p.stat().st_mtime_ns for p in videos]
    data = read_results(tmp_path / "res/synthtalk/static/synthtalk.json")
    assert 5 < data["metrics"]["psnr"]["value"] < 60 and data["metrics"]["ssim"]["value"] < 1
    assert data["provenance"]["source_frame"] == "first frame of the GT clip"
    (tmp_path / "res/synthtalk/static/synthtalk.json").unlink()
    assert run(root, tmp_path / "res", method="static") == 0
    assert [p.stat().st_mtime_ns for p in videos] == mtimes  # present predictions are kept


def test_rerun_takes_every_clip_from_the_cache(synth, tmp_path, capsys):
    root, _ = synth
    out = tmp_path / "res"
    run(root, out, method="static")
    first = read_results(out / "synthtalk/static/synthtalk.json")
    assert [r["from_cache"] for r in read_clip_rows(out / "synthtalk/static/synthtalk.json")] == [False] * 3
    (out / "synthtalk/static/synthtalk.json").unlink()
    capsys.readouterr()
    assert run(root, out, method="static") == 0
    assert "3 clips from the cache" in capsys.readouterr().out
    second = read_results(out / "synthtalk/static/synthtalk.json")
    assert second["n_from_cache"] == 3 and second["metrics"] == first["metrics"]
    assert all(r["from_cache"] for r in read_clip_rows(out / "synthtalk/static/synthtalk.json"))


def test_a_new_metric_reuses_cached_states_of_the_others(synth, tmp_path):
    root, _ = synth
    out = tmp_path / "res"
    base = [
        "--dataset",
        "synthtalk",
        "--root",
        str(root),
        "--method",
        "gt",
        "--out",
        str(out),
        "--workers",
        "0",
        "--quiet",
    ]
    results = out / "synthtalk/gt/synthtalk.json"
    assert main([*base, "--metrics", "ssim"]) == 0
    assert [r["from_cache"] for r in read_clip_rows(results)] == [False] * 3  # first run: all scored
    assert main([*base, "--metrics", "ssim,l1"]) == 0
    assert read_results(results)["n_from_cache"] == 0  # l1 was missing
    # a clip re-scored for one metric is not "from the cache", though its ssim state was
    assert [r["from_cache"] for r in read_clip_rows(results)] == [False] * 3
    assert main([*base, "--metrics", "l1"]) == 0
    assert read_results(results)["n_from_cache"] == 3
    assert [r["from_cache"] for r in read_clip_rows(results)] == [True] * 3


def test_corrupt_clip_is_recorded_and_the_others_scored(synth, tmp_path, capsys):
    root, ids = synth
    bad = root / "clips" / f"{ids[1]}.mp4"
    bad.write_bytes(b"not a video at all")
    assert run(root, tmp_path / "res") == 1
    data = read_results(tmp_path / "res/synthtalk/gt/synthtalk.json")
    assert [f["clip"] for f in data["failures"]] == [ids[1]]
    assert str(bad.name) in data["failures"][0]["reason"]
    assert data["metrics"]["ssim"]["n"] == 20  # two good clips x 10 frames
    assert "exit code 1" in capsys.readouterr().out
    assert run(root, tmp_path / "res", "--allow-failures") == 0


def test_length_mismatch_fails_beyond_two_frames_and_is_trimmed_within(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for name, t_gt, t_pred, fps in (
        ("same", 10, 10, 25),
        ("short2", 10, 8, 25),
        ("short3", 10, 7, 25),
        ("rate30", 20, 24, 30),  # the same 0.8 s at another rate
    ):
        write_video(gt / f"{name}.mp4", frames_of(1, t_gt), fps=25)
        write_video(pred / f"{name}.mp4", frames_of(1, t_pred), fps=fps)
    out = tmp_path / "res"
    code = main(
        [
            "--dataset",
            "folder",
            "--gt",
            str(gt),
            "--pred",
            str(pred),
            "--protocol",
            "canonical",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 1
    path = out / "folder/paired/canonical.json"
    data = read_results(path)
    assert [f["clip"] for f in data["failures"]] == ["rate30", "short3"]
    assert "more than 2 apart" in data["failures"][1]["reason"] and "fps" not in data["failures"][1]["reason"]
    assert "the prediction is at 30 fps, GT at 25: resample it" in data["failures"][0]["reason"]
    assert data["metrics"]["ssim"]["n"] == 10 + 8  # trimmed to the shorter side
    assert clips_path(path).is_file()


def test_folder_mode_pairs_by_name(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i, name in enumerate(("a", "b")):
        write_video(gt / f"{name}.mp4", frames_of(i), fps=25)
        write_video(pred / f"{name}.mp4", frames_of(i if name == "a" else 3), fps=25)
    write_video(pred / "orphan.mp4", frames_of(0), fps=25)
    out = tmp_path / "res"
    assert main(["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out), *FAST]) == 0
    rows = {r["clip"]: r for r in read_clip_rows(out / "folder/paired/synthtalk.json")}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["values"]["ssim"] > 0.99 > rows["b"]["values"]["ssim"]


def test_usage_errors_exit_2(synth, tmp_path, capsys):
    root, _ = synth
    assert run(root, tmp_path / "r", "--metrics", "nope") == 2
    assert "not in protocol" in capsys.readouterr().err
    assert (
        main(
            [
                "--dataset",
                "synthtalk",
                "--root",
                str(tmp_path / "missing"),
                "--method",
                "gt",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert (
        main(["--dataset", "synthtalk", "--root", str(root), "--method", "nosuch", "--out", str(tmp_path)])
        == 2
    )
    assert "unknown method" in capsys.readouterr().err
    assert (
        main(
            [
                "--dataset",
                "synthtalk",
                "--root",
                str(root),
                "--method",
                "edtalk_v",
                "--out",
                str(tmp_path),
                *FAST,
            ]
        )
        == 2
    )
    assert "--ckpt" in capsys.readouterr().err


def test_a_device_this_run_cannot_use_is_refused_before_any_clip(synth, tmp_path, capsys, monkeypatch):
    """--device cuda on a machine without a GPU crashed in every clip's first metric (and with a local
    Ray would wait for a GPU forever); a misspelt device crashed the same way."""
    import torch

    root, _ = synth
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run(root, tmp_path / "r", "--device", "cuda") == 2
    assert "error: --device cuda: this machine has no CUDA GPU (use --device cpu)" in capsys.readouterr().err
    assert run(root, tmp_path / "r", "--device", "gpu0") == 2
    assert "--device 'gpu0': not a torch device" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_numbered_gpu_is_refused_with_ray_workers_which_see_theirs_as_cuda_0(monkeypatch):
    """A Ray task books one GPU and sees it as cuda:0: --device cuda:1 failed in every task ("this
    machine has 1 CUDA GPU(s)"); it is refused before any work, and kept for --workers 0."""
    import argparse

    import torch

    from eval.run_checks import UsageError, check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for workers, address in ((None, None), (2, None), (0, "ray://head:10001")):
        args = argparse.Namespace(device="cuda:1", workers=workers, address=address)
        with pytest.raises(UsageError, match="--device cuda:1 with Ray workers: .* use --device cuda"):
            check_device(args)
    for device, workers in (("cuda:1", 0), ("cuda:0", None), ("cuda", 2)):
        args = argparse.Namespace(device=device, workers=workers, address=None)
        check_device(args)
        assert args.device == device


def test_under_ray_job_submit_scoring_joins_the_jobs_cluster_unless_in_process(
    synth, tmp_path, capsys, monkeypatch
):
    """`ray job submit -- python -m eval.run ...` sets RAY_ADDRESS: the run scores on that cluster
    (here nothing answers, so it is refused naming it) instead of a private Ray on the head node;
    --workers 0 still scores in this process."""
    import socket

    root, _ = synth
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    assert run(root, tmp_path / "r", "--workers", "2") == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert run(root, tmp_path / "r") == 0  # FAST: --workers 0


def test_help_explains_flags_with_examples():
    text = build_parser().format_help()
    for flag in (
        "--dataset",
        "--method",
        "--protocol",
        "--ckpt",
        "--metrics",
        "--workers",
        "--limit",
        "--address",
        "--allow-unverified-weights",
        "--allow-failures",
        "--gt",
        "--pred",
        "--out",
    ):
        assert flag in text
    assert "examples:" in text and "folder:" in text


COUNTED_LANDMARKS = "counted_test_landmarks"
LANDMARK_CALLS: list[int] = []


def _counted_landmarks(frames, device):
    """A deterministic stand-in landmarker (a grid moved by each frame's mean colour) that counts calls."""
    LANDMARK_CALLS.append(len(frames))
    grid = np.stack(np.meshgrid(np.arange(17.0), np.arange(4.0)), -1).reshape(-1, 2)[:68]
    return grid[None] + frames.reshape(len(frames), -1).mean(1)[:, None, None] / 10.0


def _landmark_protocol() -> str:
    from eval.backbones.landmarks import LANDMARKERS
    from eval.protocols import PROTOCOLS, Protocol, spec

    name = "gt_store_test"
    if COUNTED_LANDMARKS not in LANDMARKERS:
        LANDMARKERS.add(COUNTED_LANDMARKS, _counted_landmarks)
    if name not in PROTOCOLS:
        lmd = {"landmarks": COUNTED_LANDMARKS, "pairing": "truncate"}
        PROTOCOLS.add(
            name,
            Protocol(
                name, "m_lmd/f_lmd on a counting landmarker", (spec("m_lmd", **lmd), spec("f_lmd", **lmd))
            ),
        )
    return name


def test_second_method_reuses_the_gt_side_features(synth, tmp_path):
    """GT landmarks are computed once per clip and dataset: the second method (gt after static)
    detects only its own side, with the same numbers as a run that computes everything."""
    root, ids = synth
    protocol = _landmark_protocol()
    common = [
        "--dataset",
        "synthtalk",
        "--root",
        str(root),
        "--protocol",
        protocol,
        "--workers",
        "0",
        "--quiet",
    ]
    LANDMARK_CALLS.clear()
    assert main([*common, "--method", "static", "--out", str(tmp_path / "shared")]) == 0
    assert len(LANDMARK_CALLS) == 2 * len(ids)  # GT + prediction of each clip
    assert len(list((tmp_path / "shared/synthtalk/gt_features").glob("*/*.pkl"))) == len(ids)
    LANDMARK_CALLS.clear()
    assert main([*common, "--method", "gt", "--out", str(tmp_path / "shared")]) == 0
    assert len(LANDMARK_CALLS) == len(ids)  # the GT side came from the store
    assert main([*common, "--method", "gt", "--out", str(tmp_path / "fresh")]) == 0
    shared = read_results(tmp_path / "shared/synthtalk/gt" / f"{protocol}.json")["metrics"]
    fresh = read_results(tmp_path / "fresh/synthtalk/gt" / f"{protocol}.json")["metrics"]
    assert {m: (e["value"], e["n"]) for m, e in shared.items()} == {
        m: (e["value"], e["n"]) for m, e in fresh.items()
    }
    assert shared["m_lmd"]["value"] == 0.0  # gt vs itself
    static = read_results(tmp_path / "shared/synthtalk/static" / f"{protocol}.json")["metrics"]
    assert static["f_lmd"]["value"] > 0.0


def test_videos_of_another_checkpoint_are_regenerated(tmp_path):
    from eval.generation import drop_stale_videos

    videos = tmp_path / "videos"
    assert drop_stale_videos(videos, {"method": "edtalk_v", "checkpoint_sha256": "aaa"}) == 0
    (videos / "c1.mp4").write_bytes(b"x")
    # same checkpoint: kept; retrained checkpoint: dropped, and the new provenance is recorded
    assert drop_stale_videos(videos, {"method": "edtalk_v", "checkpoint_sha256": "aaa"}) == 0
    assert (videos / "c1.mp4").exists()
    assert drop_stale_videos(videos, {"method": "edtalk_v", "checkpoint_sha256": "bbb"}) == 1
    assert not (videos / "c1.mp4").exists()
    assert '"bbb"' in (videos / "provenance.json").read_text()
    # the same checkpoint named by another path is the same provenance (before: every video deleted)
    (videos / "c1.mp4").write_bytes(b"x")
    rel = {"method": "edtalk_a", "checkpoint": "runs/x/final.pt", "checkpoint_sha256": "ccc"}
    assert drop_stale_videos(videos, rel) == 1  # from bbb
    (videos / "c1.mp4").write_bytes(b"x")
    assert drop_stale_videos(videos, {**rel, "checkpoint": "/abs/runs/x/final.pt"}) == 0
    # the resolution now recorded beside the checkpoint it comes from: videos stamped before it are kept
    assert drop_stale_videos(videos, {**rel, "resolution": [64, 64]}) == 0
    assert (videos / "c1.mp4").exists()


def test_each_generated_video_is_stamped_as_soon_as_it_is_written(tmp_path, capsys):
    """Before: the driver stamped a chunk's videos when the whole chunk came back, so a run killed
    mid-chunk left finished videos unstamped, and the rerun deleted them as "made from other GT files"."""
    from types import SimpleNamespace

    from eval.generation import drop_videos_of_changed_inputs, generate_chunk, generation_stamp

    gt = tmp_path / "gt"
    clips = []
    for i in range(3):
        write_video(gt / f"c{i}.mp4", frames_of(i), fps=25)
        clips.append(SimpleNamespace(id=f"c{i}", video=gt / f"c{i}.mp4", audio=None))
    out = {c.id: tmp_path / "videos" / f"{c.id}.mp4" for c in clips}

    class DiesOnTheSecond:
        def generate(self, clip, path):
            if clip.id == "c1":
                raise KeyboardInterrupt  # the run is stopped here
            write_video(path, frames_of(0), fps=25)

    with pytest.raises(KeyboardInterrupt):
        generate_chunk([(c, out[c.id]) for c in clips], DiesOnTheSecond())
    assert generation_stamp(out["c0"]).is_file()
    assert drop_videos_of_changed_inputs(clips, out) == 0 and out["c0"].exists()
    generation_stamp(out["c0"]).unlink()  # killed between the video and its stamp
    assert drop_videos_of_changed_inputs(clips, out) == 1
    assert "no record of the GT files they were made from (an interrupted run?)" in capsys.readouterr().out


def test_device_reaches_generating_methods(synth, tmp_path, monkeypatch, capsys, method_devices):
    """``--device`` is where EDTalk's generator runs too, not only the metric backbones."""
    root, _ = synth
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)  # passes check_device on any machine
    argv = ["--dataset", "synthtalk", "--root", str(root), "--method", "edtalk_v", "--out", str(tmp_path)]
    assert main([*argv, "--device", "cuda:1", *FAST]) == 2  # no --ckpt: stops before any work
    assert main([*argv, "--device", "auto", *FAST]) == 2  # auto, as for edtalk.infer: this machine's GPU
    assert method_devices == ["cuda:1", "cuda"]


def test_ray_tasks_run_from_the_drivers_folder(tmp_path, monkeypatch):
    """On a cluster (--address) a worker starts in the folder `ray start` ran in: `--root data/x`
    made every clip 'missing: no such file'. Tasks now enter the driver's folder when it exists."""
    import os

    from eval.chunk_runner import _run_in

    driver, elsewhere = tmp_path / "driver", tmp_path / "worker"
    driver.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _run_in(str(driver), lambda chunk, extra: (os.getcwd(), chunk, extra), [1], "x") == (
        str(driver),
        [1],
        "x",
    )
    monkeypatch.chdir(elsewhere)
    assert _run_in(str(tmp_path / "not-here"), lambda chunk: os.getcwd(), []) == str(elsewhere)


def _crash_on(monkeypatch, metric_id: str, clip_id: str) -> None:
    """Make ``metric_id`` raise an unexpected RuntimeError on ``clip_id`` (a bug met on one clip)."""
    from eval.metrics import METRICS, load_all

    load_all()
    cls = METRICS.get(metric_id)
    real = cls.clip_state

    def clip_state(self, ctx):
        if ctx.clip.id == clip_id:
            raise RuntimeError("simulated backbone bug")
        return real(self, ctx)

    monkeypatch.setattr(cls, "clip_state", clip_state)


def test_a_crashing_metric_fails_its_clip_only(synth, tmp_path, monkeypatch, capsys):
    """An unexpected exception in one clip's metric escaped score_chunk: its chunk-mates' rows were
    never cached, no results were written and the run died. Now it is that clip's failure."""
    from eval.cache import ClipCache

    root, ids = synth
    out = tmp_path / "res"
    _crash_on(monkeypatch, "psnr", ids[1])
    assert run(root, out, "--chunk", "3") == 1  # one chunk: the crash shares it with both other clips
    data = read_results(out / "synthtalk/gt/synthtalk.json")
    [failure] = data["failures"]
    assert (failure["clip"], failure["metric"]) == (ids[1], "psnr")
    assert failure["reason"] == "crashed: RuntimeError: simulated backbone bug"
    assert "Traceback" in failure["traceback"] and "simulated backbone bug" in failure["traceback"]
    err = capsys.readouterr().err
    assert err.count("Traceback") == 1 and f"clip {ids[1]}, metric psnr" in err
    m = data["metrics"]
    assert (m["psnr"]["n_clips"], m["ssim"]["n_clips"], m["l1"]["n_clips"]) == (2, 3, 3)
    assert m["ssim"]["n"] == 30 and m["psnr"]["n"] == 20
    rows = [ClipCache(p).load(c) for p in (out / "synthtalk/gt/cache").iterdir() for c in ids]
    assert [sorted(r["metrics"]) for r in rows] == [
        ["l1", "psnr", "ssim"],
        ["l1", "ssim"],
        ["l1", "psnr", "ssim"],
    ]
    assert run(root, out, "--chunk", "3", "--allow-failures") == 0
    monkeypatch.undo()  # the bug is fixed: the crashed metric is scored again, the rest comes from the cache
    assert run(root, out) == 0
    data = read_results(out / "synthtalk/gt/synthtalk.json")
    assert data["failures"] == [] and data["n_from_cache"] == 2 and data["metrics"]["psnr"]["n_clips"] == 3


def test_a_crash_outside_the_metrics_fails_its_clip_only(synth, tmp_path, monkeypatch):
    from eval.context import ClipContext

    root, ids = synth
    real = ClipContext.frames

    def frames(self, side):
        if self.clip.id == ids[0]:
            raise IndexError("decoder bug")
        return real(self, side)

    monkeypatch.setattr(ClipContext, "frames", frames)
    assert run(root, tmp_path / "res", "--chunk", "3") == 1
    data = read_results(tmp_path / "res/synthtalk/gt/synthtalk.json")
    assert [(f["clip"], f["metric"], f["reason"]) for f in data["failures"]] == [
        (ids[0], None, "crashed: IndexError: decoder bug")
    ]
    assert data["metrics"]["ssim"]["n_clips"] == 2


def test_a_corrupt_cache_row_is_rescored(synth, tmp_path):
    """A cache file pickle.load chokes on (OverflowError here) crashed the whole run."""
    import struct

    root, ids = synth
    out = tmp_path / "res"
    assert run(root, out) == 0
    [row] = [p for p in (out / "synthtalk/gt/cache").glob("*/*.pkl") if p.name.startswith("st001")]
    row.write_bytes(b"\x8e" + struct.pack("<Q", 2**63))
    assert run(root, out) == 0
    assert read_results(out / "synthtalk/gt/synthtalk.json")["n_from_cache"] == 2
    assert run(root, out) == 0
    assert read_results(out / "synthtalk/gt/synthtalk.json")["n_from_cache"] == 3  # rewritten


def test_a_changed_sidecar_rescores_its_clip(synth, tmp_path):
    """disentangle_* read the sidecar: a clip whose sidecar changed must not come from the cache."""
    root, ids = synth
    out = tmp_path / "res"
    assert run(root, out) == 0
    sidecar = root / "clips" / f"{ids[2]}.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "level": 2}))
    assert run(root, out) == 0
    assert read_results(out / "synthtalk/gt/synthtalk.json")["n_from_cache"] == 2


def test_generated_videos_are_remade_when_their_gt_changes(synth, tmp_path):
    """static (like edtalk_v / edtalk_a) builds its video from the GT frames: a replaced GT clip
    left the old prediction in place, scored against the new GT."""
    root, ids = synth
    out = tmp_path / "res"
    assert run(root, out, method="static") == 0
    videos = {i: out / "synthtalk/static/videos" / f"{i}.mp4" for i in ids}
    kept = {i: videos[i].stat().st_mtime_ns for i in ids[1:]}
    write_video(root / "clips" / f"{ids[0]}.mp4", frames_of(7), fps=25)
    assert run(root, out, method="static") == 0
    first = read_video(videos[ids[0]]).frames[0].astype(int)
    assert np.abs(first - frames_of(7)[0]).mean() < 3  # made from the new GT
    assert {i: videos[i].stat().st_mtime_ns for i in ids[1:]} == kept
    assert read_results(out / "synthtalk/static/synthtalk.json")["n_from_cache"] == 2


def test_generated_videos_are_remade_when_their_gt_audio_changes(synth, tmp_path):
    """Catches a stamp of the GT frames alone (eval.generation.generation_inputs): a replaced wav
    left audio-driven predictions made from the old speech in place."""
    import soundfile as sf

    root, ids = synth
    out = tmp_path / "res"
    assert run(root, out, method="static") == 0
    videos = {i: out / "synthtalk/static/videos" / f"{i}.mp4" for i in ids}
    before = {i: videos[i].stat().st_mtime_ns for i in ids}
    sf.write(root / "clips" / f"{ids[0]}.wav", np.zeros(16000 * 12 // 25, np.float32), 16000)  # new speech
    assert run(root, out, method="static") == 0
    after = {i: videos[i].stat().st_mtime_ns for i in ids}
    assert after[ids[0]] != before[ids[0]]  # generated again
    assert {i: after[i] for i in ids[1:]} == {i: before[i] for i in ids[1:]}  # the others kept


def test_rescoring_keeps_cached_entries_of_metrics_not_asked_for(synth, tmp_path):
    """Scoring l1 alone rewrote each row with l1 only: psnr and ssim were computed again next time."""
    root, _ = synth
    out = tmp_path / "res"
    assert run(root, out, "--metrics", "psnr,ssim") == 0
    assert run(root, out, "--metrics", "l1") == 0
    assert run(root, out, "--metrics", "psnr,ssim") == 0
    assert read_results(out / "synthtalk/gt/synthtalk.json")["n_from_cache"] == 3


def test_a_result_of_unverified_weights_stays_marked_when_its_row_is_rewritten(synth, tmp_path, monkeypatch):
    """The row-wide mark was replaced by the rewriting run's: psnr computed with unverified weights,
    then l1 added with verified ones, and psnr from the cache was no longer marked."""
    import edtalk.weights
    from eval.metrics import METRICS, load_all

    load_all()
    monkeypatch.setattr(METRICS.get("psnr"), "weights", ("test_weights",))
    root, _ = synth
    out = tmp_path / "res"
    with monkeypatch.context() as patch:
        patch.setattr(edtalk.weights, "unverified_in_use", lambda: {"test_weights": "sha256 mismatch"})
        assert run(root, out, "--metrics", "psnr") == 0
    assert read_results(out / "synthtalk/gt/synthtalk.json")["unverified_weights"] == {
        "test_weights": "sha256 mismatch"
    }
    for _ in range(2):  # adds l1 (rewrites every row), then all from the cache
        assert run(root, out, "--metrics", "psnr,l1") == 0
        data = read_results(out / "synthtalk/gt/synthtalk.json")
        assert data["unverified"] is True and data["unverified_weights"] == {
            "test_weights": "sha256 mismatch"
        }
    assert data["n_from_cache"] == 3


def test_a_generation_that_crashes_on_one_clip_fails_that_clip_only(synth, tmp_path, monkeypatch, capsys):
    """An unexpected exception while generating one clip ended the run for every clip."""
    from baselines.runnable import StaticFrame

    root, ids = synth
    real = StaticFrame.generate

    def crash_on_second(self, clip, out_path):
        if clip.id == ids[1]:
            raise RuntimeError("odd tensor shape")
        return real(self, clip, out_path)

    monkeypatch.setattr(StaticFrame, "generate", crash_on_second)
    assert run(root, tmp_path / "res", method="static") == 1
    data = read_results(tmp_path / "res/synthtalk/static/synthtalk.json")
    assert [(f["clip"], f["reason"]) for f in data["failures"]] == [
        (ids[1], "generation crashed: RuntimeError: odd tensor shape")
    ]
    assert data["metrics"]["psnr"]["n_clips"] == 2
    assert "RuntimeError: odd tensor shape" in capsys.readouterr().err  # the traceback, for a developer


def test_duplicate_clip_ids_are_named_with_their_files(tmp_path, monkeypatch, capsys):
    """The error said only "duplicate clip ids": not which id, nor which two files (a.mp4 + a.avi)."""
    import edtalk.data.readers as readers
    from edtalk.data.clip import Clip

    def clip(cid, name):
        return Clip(id=cid, dataset="hdtf", split="test", video=tmp_path / name)

    clips = [clip("a#1", "a#1.mp4"), clip("b#1", "b#1.mp4"), clip("a#1", "a#1.avi")]
    monkeypatch.setattr(readers, "read_clips", lambda name, root, split: clips)
    argv = ["--dataset", "hdtf", "--root", str(tmp_path), "--method", "gt", "--out", str(tmp_path / "r")]
    assert main([*argv, "--protocol", "canonical", *FAST]) == 2  # canonical has l1; eat, hdtf's default, not
    err = capsys.readouterr().err
    assert "duplicate clip ids in split 'test'" in err and "'a#1'" in err and "'b#1'" not in err
    assert str(tmp_path / "a#1.mp4") in err and str(tmp_path / "a#1.avi") in err


def make_hdtf(root: Path, n: int = 2, t: int = 10) -> list[str]:
    """A minimal HDTF tree: split_5s_video/<video>#<k>.mp4 + split_5s_audio/<video>#<k>.wav."""
    import soundfile as sf

    ids = []
    for i in range(n):
        cid = f"RD_Radio{i}_000#1"
        audio = (0.1 * np.sin(np.arange(16000 * t // 25) * 0.05)).astype(np.float32)
        write_video(root / "split_5s_video" / f"{cid}.mp4", frames_of(i, t), fps=25, audio=audio)
        (root / "split_5s_audio").mkdir(exist_ok=True)
        sf.write(root / "split_5s_audio" / f"{cid}.wav", audio, 16000)
        ids.append(cid)
    return ids


def test_hdtf_clips_share_the_gt_feature_store(tmp_path):
    """HDTF clips carry ``extra={"chunk": k}``, which turned the GT store off: a second method
    recomputed every GT landmark. Only extra keys that change a GT feature do that now."""
    root = tmp_path / "hdtf"
    ids = make_hdtf(root)
    common = ["--dataset", "hdtf", "--root", str(root), "--split", "all", "--protocol", _landmark_protocol()]
    common += ["--workers", "0", "--quiet", "--out", str(tmp_path / "res")]
    LANDMARK_CALLS.clear()
    assert main([*common, "--method", "static"]) == 0
    assert len(LANDMARK_CALLS) == 2 * len(ids)
    assert len(list((tmp_path / "res/hdtf/gt_features").glob("*/*.pkl"))) == len(ids)
    LANDMARK_CALLS.clear()
    assert main([*common, "--method", "gt"]) == 0
    assert len(LANDMARK_CALLS) == len(ids)  # the prediction side only


NA_SCORES = "na_test_scores"


def _emotion_protocol() -> str:
    """psnr + acc_emo with a stand-in classifier that always answers 'happy' (no weights)."""
    from eval.metrics import load_all
    from eval.metrics.acc_emo import VIDEO_EMOTION
    from eval.protocols import PROTOCOLS, Protocol, spec

    load_all()
    if NA_SCORES not in VIDEO_EMOTION:
        VIDEO_EMOTION.add(NA_SCORES, lambda ctx, side, settings: np.eye(8)[4])  # EMOTIONS[4] = happy
    name = "na_test"
    if name not in PROTOCOLS:
        psnr = spec("psnr", pooling="frames", crop="none", pairing="truncate", max_length_diff=2)
        PROTOCOLS.add(
            name, Protocol(name, "psnr + a stand-in acc_emo", (psnr, spec("acc_emo", classifier=NA_SCORES)))
        )
    return name


def test_a_metric_that_does_not_apply_is_not_a_failure(tmp_path, capsys):
    """Acc_emo failed every clip of a dataset without emotion labels (HDTF, LRW, VoxCeleb2, folder),
    so the README's `--dataset hdtf --protocol eat` exited 1 and real failures hid among them."""
    from eval.report.formats import to_markdown
    from eval.report.inputs import read_result
    from eval.report.tables import build_tables

    root = tmp_path / "hdtf"
    ids = make_hdtf(root)
    out = tmp_path / "res"
    argv = ["--dataset", "hdtf", "--root", str(root), "--split", "all", "--method", "gt"]
    argv += ["--protocol", _emotion_protocol(), "--workers", "0", "--quiet", "--out", str(out)]
    for attempt in range(2):  # scored, then from the cache: the same answer
        assert main(argv) == 0
        path = out / "hdtf/gt/na_test.all.json"  # a split other than test: beside, not over, test scores
        data = read_results(path)
        acc = data["metrics"]["acc_emo"]
        assert data["failures"] == [] and (acc["value"], acc["n"], acc["n_clips"]) == (None, 0, 0)
        assert acc["not_applicable"] == {"n_clips": 2, "reason": "the dataset has no emotion labels"}
        assert data["metrics"]["psnr"]["n_clips"] == 2 and data["n_from_cache"] == 2 * attempt
        rows = read_clip_rows(path)
        assert [r["not_applicable"] for r in rows] == [{"acc_emo": "the dataset has no emotion labels"}] * 2
        assert all("acc_emo" not in r["values"] and r["failures"] == {} for r in rows)
        summary = capsys.readouterr().out
        assert "not applicable to 2 clips: the dataset has no emotion labels" in summary
        assert "0 with failures" in summary and "exit code 1" not in summary
    [table] = [t for t in build_tables([read_result(path)]) if t.sources]  # "other metrics on HDTF"
    text = to_markdown(table)
    assert "| n/a |" in text and text.count("the dataset has no emotion labels") == 1
    assert "Acc\\_emo n/a, not applicable (the dataset has no emotion labels): gt (hdtf)" in text
    assert f"Clips scored: {len(ids)} of hdtf all" in text and "failed" not in text


def _real_emotion_protocol() -> str:
    """psnr + acc_emo with its real classifier, Emotion-FAN (whose weights no test folder has)."""
    from eval.metrics import load_all
    from eval.protocols import PROTOCOLS, Protocol, spec

    load_all()
    name = "na_fan_test"
    if name not in PROTOCOLS:
        psnr = spec("psnr", pooling="frames", crop="none", pairing="truncate", max_length_diff=2)
        PROTOCOLS.add(name, Protocol(name, "psnr + acc_emo (Emotion-FAN)", (psnr, spec("acc_emo"))))
    return name


def test_emotion_fan_weights_are_not_asked_for_where_acc_emo_does_not_apply(
    synth, tmp_path, monkeypatch, capsys
):
    """On HDTF (no emotion labels: Acc_emo shows n/a) a run stopped before any work for want of
    Emotion-FAN's weights, a manual Google Drive download of a file it never loads. A labelled
    dataset still needs them."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "no_weights"))
    root = tmp_path / "hdtf"
    make_hdtf(root)
    common = ["--method", "gt", "--protocol", _real_emotion_protocol(), "--workers", "0", "--quiet"]
    argv = ["--dataset", "hdtf", "--root", str(root), "--split", "all", *common, "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    acc = read_results(tmp_path / "r/hdtf/gt/na_fan_test.all.json")["metrics"]["acc_emo"]
    assert acc["value"] is None and acc["not_applicable"]["reason"] == "the dataset has no emotion labels"
    synth_root, _ = synth
    argv = ["--dataset", "synthtalk", "--root", str(synth_root), *common, "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    assert "emotion_fan_mead8" in capsys.readouterr().err


def test_a_labelled_clip_with_a_bad_label_still_fails_acc_emo(synth, tmp_path):
    root, ids = synth
    sidecar = root / "clips" / f"{ids[1]}.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "emotion": "joyful"}))
    sidecar = root / "clips" / f"{ids[2]}.json"
    sidecar.write_text(
        json.dumps({k: v for k, v in json.loads(sidecar.read_text()).items() if k != "emotion"})
    )
    argv = [
        "--dataset",
        "synthtalk",
        "--root",
        str(root),
        "--method",
        "gt",
        "--protocol",
        _emotion_protocol(),
    ]
    assert main([*argv, "--workers", "0", "--quiet", "--out", str(tmp_path / "res")]) == 1
    data = read_results(tmp_path / "res/synthtalk/gt/na_test.json")
    acc = data["metrics"]["acc_emo"]
    assert (acc["value"], acc["n_clips"]) == (100.0, 1) and "not_applicable" not in acc
    assert [(f["clip"], f["metric"]) for f in data["failures"]] == [(ids[1], "acc_emo"), (ids[2], "acc_emo")]
    assert "'joyful' is not one of" in data["failures"][0]["reason"]
    assert "no emotion label" in data["failures"][1]["reason"]


def test_results_record_what_drove_the_mouth(synth, tmp_path, capsys):
    """The report keeps audio-driven results out of Table 5 (face reenactment) by this field; a
    folder's provenance.json may set it, and a bad value is refused before any clip."""
    root, ids = synth
    assert run(root, tmp_path / "res", method="static") == 0
    assert read_results(tmp_path / "res/synthtalk/static/synthtalk.json")["driving"] is None
    out = tmp_path / "audio_method"
    out.mkdir()
    for cid in ids:
        (out / f"{cid}.mp4").symlink_to(root / "clips" / f"{cid}.mp4")
    (out / "provenance.json").write_text(json.dumps({"method": "wav2lip", "driving": "audio"}))
    assert run(root, tmp_path / "res", method=f"folder:{out}") == 0
    assert read_results(tmp_path / "res/synthtalk/wav2lip/synthtalk.json")["driving"] == "audio"
    (out / "provenance.json").write_text(json.dumps({"method": "wav2lip", "driving": "text"}))
    assert run(root, tmp_path / "res2", method=f"folder:{out}") == 2
    assert "driving 'text' is not one of audio, video" in capsys.readouterr().err
    assert not (tmp_path / "res2").exists()


def test_another_split_is_written_beside_the_test_scores_not_over_them(synth, tmp_path):
    """``--split judge`` wrote <protocol>.json too, replacing the test split's scores."""
    root, ids = synth
    (root / "splits" / "judge.txt").write_text(ids[0] + "\n")
    assert run(root, tmp_path / "res") == 0
    assert run(root, tmp_path / "res", "--split", "judge") == 0
    folder = tmp_path / "res/synthtalk/gt"
    assert read_results(folder / "synthtalk.json")["n_clips"] == 3
    judge = read_results(folder / "synthtalk.judge.json")
    assert judge["split"] == "judge" and judge["n_clips"] == 1
    assert len(read_clip_rows(folder / "synthtalk.judge.json")) == 1


def test_two_folders_of_one_name_do_not_share_a_results_file(synth, tmp_path, capsys):
    """folder:/x/eat/videos and folder:/y/sadtalker/videos were both 'folder-videos': the second
    silently replaced the first's scores; a provenance.json naming one of the suite's own methods
    would replace that method's."""
    root, ids = synth
    folders = [tmp_path / name / "videos" for name in ("eat", "sadtalker")]
    for folder in folders:
        folder.mkdir(parents=True)
        for cid in ids:
            (folder / f"{cid}.mp4").symlink_to(root / "clips" / f"{cid}.mp4")
    assert run(root, tmp_path / "res", method=f"folder:{folders[0]}") == 0
    assert run(root, tmp_path / "res", method=f"folder:{folders[0]}") == 0  # the same folder again
    assert run(root, tmp_path / "res", method=f"folder:{folders[1]}") == 2
    err = capsys.readouterr().err
    assert f"holds the scores of another folder, {folders[0]}" in err and "provenance.json" in err
    assert read_results(tmp_path / "res/synthtalk/folder-videos/synthtalk.json")["provenance"][
        "folder"
    ] == str(folders[0])
    (folders[1] / "provenance.json").write_text(json.dumps({"method": "edtalk_a"}))
    assert run(root, tmp_path / "res", method=f"folder:{folders[1]}") == 2
    assert "is the name of this suite's own method 'edtalk_a'" in capsys.readouterr().err


def test_a_prediction_at_another_frame_rate_fails_even_within_the_length_gate(tmp_path):
    """The GT's 20 frames labelled 30 fps (and 19 at 24 fps) passed the 2-frame gate and were scored as
    if frame i showed the GT's instant i / 25: LSE-C 0.18 where the same frames at 25 fps gave 0.79. A
    29.97 fps copy of a 30 fps GT drifts less than half a frame and is scored."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for name, t_gt, gt_fps, t_pred, pred_fps in (
        ("at30", 20, 25, 20, 30),
        ("at24", 20, 25, 19, 24),
        ("ntsc", 20, 30, 20, 30000 / 1001),
    ):
        write_video(gt / f"{name}.mp4", frames_of(1, t_gt), fps=gt_fps)
        write_video(pred / f"{name}.mp4", frames_of(1, t_pred), fps=pred_fps)
    out = tmp_path / "res"
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
    assert main([*args, "--protocol", "canonical", "--metrics", "psnr", "--workers", "0", "--quiet"]) == 1
    data = read_results(out / "folder/paired/canonical.json")
    failures = {f["clip"]: f["reason"] for f in data["failures"]}
    assert sorted(failures) == ["at24", "at30"] and data["metrics"]["psnr"]["n"] == 20
    assert "the prediction is at 30 fps, GT at 25: resample it" in failures["at30"]
    assert "the prediction is at 24 fps, GT at 25: resample it" in failures["at24"]


def test_eat_pairs_any_two_lengths_as_eat_does_but_not_another_frame_rate(tmp_path):
    """EAT's test scripts pair any two lengths with linspace; before, the eat protocol failed a
    clip more than 2 frames off, so methods with shorter outputs were averaged over fewer clips."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for name, t_gt, t_pred, fps in (("short3", 10, 7, 25), ("rate30", 20, 24, 30)):
        write_video(gt / f"{name}.mp4", frames_of(1, t_gt), fps=25)
        write_video(pred / f"{name}.mp4", frames_of(1, t_pred), fps=fps)
    out = tmp_path / "res"
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
    main([*args, "--protocol", "eat", "--metrics", "psnr", "--workers", "0", "--quiet"])
    failures = {f["clip"]: f["reason"] for f in read_results(out / "folder/paired/eat.json")["failures"]}
    assert "resample it" in failures["rate30"]
    # short3 reaches the metric (these frames have no face for EAT's crop), not the length check
    assert "frames" not in failures["short3"] and "no face found" in failures["short3"]


def test_a_folder_pair_subset_runs_and_missing_videos_are_reported_in_the_console(tmp_path, capsys):
    """Before: another --pred silently replaced the first pair's results, a --limit/--metrics run
    replaced a fuller file without a word, a missing prediction did not say where it was looked
    for, and the console showed only failure counts."""
    gt, pred, other = tmp_path / "gt", tmp_path / "pred", tmp_path / "other"
    for i, name in enumerate(("a", "b", "c")):
        write_video(gt / f"{name}.mp4", frames_of(i), fps=25)
        if name != "c":
            write_video(pred / f"{name}.mp4", frames_of(i), fps=25)
    write_video(other / "a.mp4", frames_of(0), fps=25)
    out = tmp_path / "res"
    pair = ["--dataset", "folder", "--gt", str(gt), "--out", str(out), "--workers", "0", "--quiet"]
    assert main([*pair, "--pred", str(pred), "--metrics", "psnr,ssim"]) == 1
    console = capsys.readouterr().out
    assert f"failed: c: no prediction video for this clip in {pred}: name it c.mp4" in console
    assert main([*pair, "--pred", str(pred), "--metrics", "psnr", "--limit", "1"]) == 0
    assert "had 3 clips and metrics ssim that this run replaced" in capsys.readouterr().out
    assert main([*pair, "--pred", str(other), "--metrics", "psnr"]) == 2
    assert f"holds the scores of --pred {pred}" in capsys.readouterr().err
    # the other half of the pair: the same --pred against another --gt (catches a --pred-only check)
    other_gt = tmp_path / "other_gt"
    write_video(other_gt / "a.mp4", frames_of(0), fps=25)
    other_pair = ["--dataset", "folder", "--gt", str(other_gt), *pair[4:]]  # --out, --workers, --quiet
    assert main([*other_pair, "--pred", str(pred), "--metrics", "psnr"]) == 2
    assert f"holds the scores of --gt {gt}; this run's --gt is {other_gt}" in capsys.readouterr().err


def test_ctrl_c_says_how_to_resume(monkeypatch, capsys):
    import eval.run as run_module

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "run", interrupted)
    assert main(["--dataset", "synthtalk", "--method", "gt"]) == 130
    assert "the same command resumes from them" in capsys.readouterr().err


def test_gt_that_is_not_a_square_25_fps_face_crop_gets_a_note_before_scoring(tmp_path, capsys):
    """Raw MEAD (1920x1080 at 30 fps) pointed at by mistake was scored whole and without a word; the
    first GT headers are read and a note says what the protocols expect and how to crop."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_video(gt / "raw.mp4", np.zeros((8, 72, 96, 3), np.uint8), fps=30)
    write_video(pred / "raw.mp4", np.zeros((8, 72, 96, 3), np.uint8), fps=30)
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(tmp_path / "res")]
    main([*args, "--protocol", "canonical", *FAST])
    err = capsys.readouterr().err
    assert f"note: {gt / 'raw.mp4'}: 96x72 px at 30 fps, not a square face crop of at least 64 px" in err
    assert "python -m edtalk.data.crop dataset" in err
    for folder in (gt, pred):  # the same clip as a 64 px square crop at 25 fps
        write_video(folder / "raw.mp4", frames_of(0, 8, size=64), fps=25)
    main([*args, "--protocol", "canonical", *FAST])
    assert "not a square face crop" not in capsys.readouterr().err


def test_ctrl_c_while_eval_run_is_still_loading_is_exit_130_not_a_traceback(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the seconds main() spent importing torch (before its handler) printed a traceback."""
    import builtins

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "edtalk.model":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert main(["--dataset", "synthtalk", "--root", str(tmp_path), "--method", "gt", "--quiet"]) == 130
    assert "interrupted: the clips scored so far are cached" in capsys.readouterr().err
