"""The runner on a local Ray (one test: Ray start costs ~10 s) and a killed run that resumes."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.video import write_video
from eval.cache import ClipCache
from eval.results import read_clip_rows, read_results
from eval.run import main

REPO = Path(__file__).resolve().parents[2]


def make_synthtalk(root: Path, n: int, t: int = 10, size: int = 48) -> list[str]:
    """A minimal synthtalk tree (clips/<id>.mp4|wav|json, splits/test.txt)."""
    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    yy, xx = np.mgrid[0:size, 0:size]
    ids = []
    for i in range(n):
        cid = f"st{i:03d}#sad#level_2#00{i % 10}"
        frames = np.stack(
            [
                np.stack([(xx * 3 + k * 9 + i * 40) % 256, (yy * 2 + k) % 256, (xx + yy) % 256], -1)
                for k in range(t)
            ]
        ).astype(np.uint8)
        audio = np.zeros(16000 * t // 25, np.float32)
        write_video(root / "clips" / f"{cid}.mp4", frames, fps=25)
        sf.write(root / "clips" / f"{cid}.wav", audio, 16000)
        (root / "clips" / f"{cid}.json").write_text(json.dumps({"id": cid, "emotion": "sad", "level": 2}))
        ids.append(cid)
    (root / "splits" / "test.txt").write_text("\n".join(ids) + "\n")
    return ids


@pytest.mark.ray
def test_ray_run_equals_in_process_run(tmp_path):
    import ray

    root = tmp_path / "synthtalk"
    make_synthtalk(root, 3)
    common = [
        "--dataset",
        "synthtalk",
        "--root",
        str(root),
        "--method",
        "static",
        "--metrics",
        "psnr,ssim,l1",
        "--quiet",
    ]
    try:
        assert main([*common, "--workers", "2", "--chunk", "1", "--out", str(tmp_path / "ray")]) == 0
    finally:
        ray.shutdown()
    assert main([*common, "--workers", "0", "--out", str(tmp_path / "local")]) == 0
    # The two runs generate their own predictions; write_video is deterministic, so the files must
    # be the same bytes. If not, the difference is in generation (the encoder, or code that
    # changed on disk between this process's imports and the Ray workers' fresh imports in a
    # shared checkout), not in scoring: say so instead of failing on a PSNR digit.
    videos = {
        run: {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / run).rglob("videos/*.mp4")
        }
        for run in ("ray", "local")
    }
    assert len(videos["ray"]) == 3 and videos["ray"] == videos["local"], f"predictions differ: {videos}"
    a = read_results(tmp_path / "ray/synthtalk/static/synthtalk.json")["metrics"]
    b = read_results(tmp_path / "local/synthtalk/static/synthtalk.json")["metrics"]
    rows_a = read_clip_rows(tmp_path / "ray/synthtalk/static/synthtalk.json")
    rows_b = read_clip_rows(tmp_path / "local/synthtalk/static/synthtalk.json")
    assert [r["clip"] for r in rows_a] == [r["clip"] for r in rows_b]
    for ra, rb in zip(rows_a, rows_b, strict=True):  # per clip: names the clip that differs
        assert ra["values"] == pytest.approx(rb["values"], rel=1e-12), ra["clip"]
    for m in ("psnr", "ssim", "l1"):
        assert a[m]["n"] == b[m]["n"] and a[m]["value"] == pytest.approx(b[m]["value"], rel=1e-12)


@pytest.mark.ray
def test_a_dead_ray_worker_fails_its_clips_and_the_other_tasks_go_on():
    """A worker killed while scoring (out of memory, a crash in native code) cancelled nothing and
    ended the run with a WorkerCrashedError traceback; its clips are now failures and the rest done."""
    from types import SimpleNamespace

    import ray

    from eval.chunk_runner import run_chunks

    def work(chunk):
        if "bad" in chunk:
            os._exit(9)
        return {"done": chunk}

    args = SimpleNamespace(quiet=True, workers=2, address=None, device="cpu", allow_unverified_weights=False)
    try:
        outs = list(
            run_chunks(
                work, [["a"], ["bad", "c"], ["b"]], args, "t", lost=lambda c, why: {"lost": c, "why": why}
            )
        )
    finally:
        ray.shutdown()
    assert sorted(o["done"][0] for o in outs if "done" in o) == ["a", "b"]
    (lost,) = [o for o in outs if "lost" in o]
    assert lost["lost"] == ["bad", "c"] and lost["why"].startswith("lost: the Ray worker running it died (")


SLOW_RUNNER = textwrap.dedent(
    """
    import sys, time
    from dataclasses import dataclass
    import numpy as np
    from eval.metrics import METRICS
    from eval.metrics.base import MeanMetric
    from eval.protocols import PROTOCOLS, Protocol, spec

    @dataclass(frozen=True)
    class NoSettings:
        pass

    @METRICS.register("sleepy_l1")
    class SleepyL1(MeanMetric):
        id, label, higher_is_better, version, Settings = "sleepy_l1", "L1", False, "1", NoSettings

        def item_values(self, ctx):
            time.sleep(0.4)
            return np.abs(ctx.frames("gt")[:1].astype(float) - ctx.frames("pred")[:1]).mean(axis=(1, 2, 3))

    PROTOCOLS.add("sleepy", Protocol("sleepy", "test protocol with a slow metric", (spec("sleepy_l1"),)))
    from eval.run import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.slow
def test_killed_run_resumes_from_the_cache(tmp_path):
    root = tmp_path / "synthtalk"
    ids = make_synthtalk(root, 10)
    script = tmp_path / "slow_runner.py"
    script.write_text(SLOW_RUNNER)
    out = tmp_path / "res"
    cmd = [sys.executable, str(script), "--dataset", "synthtalk", "--root", str(root), "--method", "static",
           "--protocol", "sleepy", "--workers", "0", "--quiet", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cache_dirs = out / "synthtalk" / "static" / "cache"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cache_dirs.glob("*/*.pkl"))) < 3:
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_cached = len(list(cache_dirs.glob("*/*.pkl")))
    assert 3 <= n_cached < len(ids)
    assert not (out / "synthtalk/static/sleepy.json").exists()
    cache = ClipCache(next(cache_dirs.iterdir()))
    assert all(cache.load(i) is not None for i in ids[:n_cached])  # atomic: every visible row is whole

    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{n_cached} clips from the cache" in done.stdout
    data = read_results(out / "synthtalk/static/sleepy.json")
    assert data["n_from_cache"] == n_cached and data["metrics"]["sleepy_l1"]["n"] == len(ids)
    assert sum(r["from_cache"] for r in read_clip_rows(out / "synthtalk/static/sleepy.json")) == n_cached
