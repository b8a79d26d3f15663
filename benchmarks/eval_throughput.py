"""``python -m benchmarks.eval_throughput``: scoring speed, each figure a ratio against a reference run
in the same process and under the same conditions.

1. **Ours vs the reference chain** on PSNR + SSIM + LPIPS + FID features, same frames, same
   weights, same torch thread count: ours = the suite's metrics (``eval.metrics``: batched
   tensors, one context per clip, mergeable states); reference = what a typical evaluation script
   does: skimage's ``peak_signal_noise_ratio`` / ``structural_similarity`` per frame,
   ``lpips.LPIPS`` per frame pair, pytorch-fid's ``InceptionV3`` (batches of 50) + mean/``np.cov``.
   Both sides build their networks before any timing (load seconds are printed apart) and are
   warmed up on one clip; then each metric is timed ``--repeats`` times on each side, the two
   sides alternating, and the median is kept. FID is timed as features + set statistics (ours:
   merged moments; reference: mean and covariance); the Frechet distance itself (the same
   ``scipy.linalg.sqrtm`` on both sides) is not timed. The values must agree (checked, printed).
   **LPIPS and FID run with seeded RANDOM weights here** (these machines cannot download the
   official ones): this is a SPEED benchmark and those values are not metric results.
2. **The full ``synthtalk`` protocol** (every metric of ``eval.protocols`` "synthtalk", judges from
   the weights manager) in this process: frames/s on GT-vs-GT clips of ``--data`` after a warm-up
   clip (judge loading is printed apart), with seconds per metric (a shared backbone pass counts
   in the first metric that needs it). Skipped with the reason when the judges are not installed
   (``python -m eval.zoo install --data data/synthtalk``).
3. **Ray scaling**: ``eval.run``'s own Ray path (``--method gt --protocol synthtalk``) on the first
   ``--ray-clips`` test clips, on a private local Ray with 1 and then 2 CPUs (= workers); each
   Ray session is warmed up by one untimed run (worker start, imports, judge loading) and each
   run writes to a fresh folder (no cache hits). Clips/s of the scoring phase and the speedup.

Threads: ``--threads`` (default 1) is the torch intra-op thread count of this process, the same for
both chains; Ray workers run with one thread each, as ``eval.run`` sets them. On a 2-core machine
shared with other jobs, more torch threads than free cores makes every parallel torch op wait for
a descheduled thread (measured here: our batched SSIM 25x slower with 2 threads at load 6, while
skimage, which is numpy, does not notice); raise it only on an otherwise idle machine.

Wall times on shared CPUs are noisy: the 1-minute load average is printed beside every figure;
the ratios (both sides in one process, alternating) are what to read. ``--smoke`` runs a
seconds-long version (tests use it; no figure from it means anything).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from benchmarks import load_average
from edtalk.atomic import write_text
from edtalk.cli import non_negative_int, positive_int, report_error
from edtalk.provenance import describe_machine, machine

RANDOM_WEIGHTS_NOTE = "LPIPS/FID with seeded RANDOM weights: speed benchmark only, not metric values"
METRIC_IDS = ("psnr", "ssim", "lpips", "fid")


# -- inputs ---------------------------------------------------------------------------------------


def load_pairs(data: Path | None, n_clips: int, max_frames: int | None, size: int, seed: int = 0):
    """(GT, prediction) uint8 frame pairs: GT clips of synthtalk's test split when ``data`` has
    them, else seeded synthetic videos; the prediction is the GT blurred with light noise."""
    import cv2

    rng = np.random.default_rng(seed)
    gts = []
    if data is not None and (Path(data) / "splits" / "test.txt").is_file():
        from edtalk.data.readers import read_clips
        from edtalk.data.video import read_video

        clips = read_clips("synthtalk", data, split="test")
        for i in np.linspace(0, len(clips), min(n_clips, len(clips)), endpoint=False).astype(int):
            frames = read_video(clips[i].video).frames
            gts.append(frames[:max_frames] if max_frames else frames)
        source = f"synthtalk test clips from {data}"
    else:
        t = max_frames or 50
        for _ in range(n_clips):
            base = rng.integers(0, 255, (1, size, size, 3))
            gts.append(np.clip(base + rng.integers(-40, 41, (t, size, size, 3)), 0, 255).astype(np.uint8))
        source = "seeded synthetic frames"
    preds = []
    for g in gts:
        blurred = np.stack([cv2.GaussianBlur(f, (5, 5), 1.0) for f in g]).astype(np.int16)
        preds.append(np.clip(blurred + rng.integers(-6, 7, g.shape), 0, 255).astype(np.uint8))
    return gts, preds, source


@contextmanager
def seeded_weights_dir():
    """A temporary weights directory holding seeded random AlexNet and FID-Inception files,
    imported through the weights manager (unverified: they are not the official files)."""
    import torchvision

    from edtalk import weights
    from eval.backbones import clear_cache
    from eval.backbones.inception_fid import build_fid_inception

    old = {k: os.environ.get(k) for k in ("EDTALK_BENCH_WEIGHTS", "EDTALK_BENCH_ALLOW_UNVERIFIED")}
    with tempfile.TemporaryDirectory(prefix="bench-weights-") as tmp:
        os.environ["EDTALK_BENCH_WEIGHTS"] = tmp
        os.environ["EDTALK_BENCH_ALLOW_UNVERIFIED"] = "1"
        clear_cache()
        torch.manual_seed(0)
        state = {
            "torchvision_alexnet": torchvision.models.alexnet(weights=None).state_dict(),
            "pytorch_fid_inception": build_fid_inception().state_dict(),
        }
        for name, sd in state.items():
            src = Path(tmp) / f"seeded-{name}.pth"
            torch.save(sd, src)
            with mock.patch("warnings.warn"):
                weights.import_file(name, src, allow_unverified=True)
        try:
            yield state
        finally:
            clear_cache()
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# -- ours -----------------------------------------------------------------------------------------

OUR_SETTINGS = {
    "psnr": {"pooling": "frames"},
    "ssim": {"pooling": "frames"},
    "lpips": {"pooling": "frames"},
    "fid": {"backbone": "pytorch_fid"},  # + dims: 2048 (pool3); --smoke uses 64
}


class OurChain:
    """The suite's four metrics; ``load`` builds their networks (outside any timing)."""

    def __init__(self, dims: int) -> None:
        from eval.metrics import get_metric

        self.dims = dims
        self.metrics = {
            m: get_metric(m)(**OUR_SETTINGS[m], **({"dims": dims} if m == "fid" else {})) for m in METRIC_IDS
        }

    def load(self) -> None:
        from eval.backbones import get_backbone

        get_backbone("lpips_alex")
        get_backbone("pytorch_fid", dims=self.dims)

    def state(self, mid: str, gts, preds):
        """The merged state of one metric over all clips (fresh contexts: nothing memoised)."""
        from eval.context import ClipContext

        metric = self.metrics[mid]
        state = metric.empty_state()
        for i, (g, p) in enumerate(zip(gts, preds, strict=True)):
            state = metric.merge(state, metric.clip_state(ClipContext.from_arrays(g, p, clip_id=f"c{i}")))
        return state

    def value(self, mid: str, state) -> float:
        return float(self.metrics[mid].compute(state)["value"])


# -- the reference chain --------------------------------------------------------------------------


class ReferenceChain:
    """The same four numbers the way common evaluation scripts compute them, frame by frame."""

    def __init__(self, state: dict, dims: int) -> None:
        self.weights, self.dims = state, dims

    def load(self) -> None:
        import lpips
        from pytorch_fid import inception as pfi

        net = lpips.LPIPS(pretrained=True, net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
        alex = self.weights["torchvision_alexnet"]
        net.net.load_state_dict(
            {n: alex[f"features.{n.split('.')[1]}.{n.split('.')[2]}"] for n, _ in net.net.named_parameters()}
        )
        self.lpips = net
        with mock.patch.object(
            pfi, "load_state_dict_from_url", lambda *a, **k: self.weights["pytorch_fid_inception"]
        ):
            self.inception = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[self.dims]]).eval()

    def state(self, mid: str, gts, preds):
        from skimage.metrics import peak_signal_noise_ratio, structural_similarity

        pairs = [(g[t], p[t]) for g, p in zip(gts, preds, strict=True) for t in range(min(len(g), len(p)))]
        if mid == "psnr":
            return [peak_signal_noise_ratio(g, p, data_range=255) for g, p in pairs]
        if mid == "ssim":
            return [structural_similarity(g, p, channel_axis=-1, data_range=255) for g, p in pairs]
        if mid == "lpips":
            import lpips

            with torch.no_grad():
                return [float(self.lpips(lpips.im2tensor(p), lpips.im2tensor(g))) for g, p in pairs]
        if mid == "fid":
            a1, a2 = self._activations(gts), self._activations(preds)
            return (a1.mean(0), np.cov(a1, rowvar=False), a2.mean(0), np.cov(a2, rowvar=False))
        raise ValueError(mid)

    def _activations(self, videos) -> np.ndarray:
        frames = np.concatenate(videos)
        out = []
        with torch.no_grad():
            for i in range(0, len(frames), 50):  # pytorch-fid's default batch size
                x = torch.from_numpy(frames[i : i + 50]).permute(0, 3, 1, 2).float() / 255.0
                a = self.inception(x)[0]
                if a.shape[2] != 1:  # pytorch-fid pools blocks below pool3 to 1 x 1
                    a = torch.nn.functional.adaptive_avg_pool2d(a, (1, 1))
                out.append(a.squeeze(3).squeeze(2).double().numpy())
        return np.concatenate(out)

    def value(self, mid: str, state) -> float:
        if mid == "fid":
            from pytorch_fid.fid_score import calculate_frechet_distance

            with mock.patch("warnings.warn"):  # "Matrix is singular" on tiny sets
                return float(calculate_frechet_distance(*state))
        return float(np.mean(state))


TOLERANCE = {"psnr": 1e-6, "ssim": 1e-6, "lpips": 1e-4, "fid": 1e-3}  # relative


def compare(ours: dict, ref: dict) -> dict[str, bool]:
    return {m: bool(np.isclose(ours[m], ref[m], rtol=TOLERANCE[m], atol=1e-9)) for m in ref}


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _fid_statistics_difference(ours_state: dict, ref_state: tuple) -> dict:
    """FID itself can be ~0 on both sides (tiny sets, random weights), so the set statistics
    (mean and covariance of each side) are compared too, relative to each array's largest value."""
    from eval.metrics.functional.fid import mean_cov

    ours = [*mean_cov(ours_state["gt"]), *mean_cov(ours_state["pred"])]  # merged: moments
    worst = max(
        float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))
        for a, b in zip(ours, ref_state, strict=True)
    )
    return {"equal": worst <= TOLERANCE["fid"], "max_relative_difference": worst}


def versus_reference(gts, preds, weights_state: dict, dims: int, repeats: int) -> dict:
    """Both chains on the same frames: load (timed apart), warm up, then ``repeats`` alternating
    timed passes per metric; medians, ratios and the values of each side."""
    chains = {"ours": OurChain(dims), "reference": ReferenceChain(weights_state, dims)}
    load_s = {side: timed(chain.load)[1] for side, chain in chains.items()}
    for chain in chains.values():  # warm-up: first calls, allocator, lazy imports
        for mid in METRIC_IDS:
            chain.state(mid, gts[:1], preds[:1])
    seconds = {side: {m: [] for m in METRIC_IDS} for side in chains}
    states = {side: {} for side in chains}
    load_before = load_average()
    for r in range(repeats):
        order = ("ours", "reference") if r % 2 == 0 else ("reference", "ours")
        for mid in METRIC_IDS:
            for side in order:
                states[side][mid], dt = timed(chains[side].state, mid, gts, preds)
                seconds[side][mid].append(dt)
    values = {side: {m: chains[side].value(m, states[side][m]) for m in METRIC_IDS} for side in chains}
    fid_stats = _fid_statistics_difference(states["ours"]["fid"], states["reference"]["fid"])
    med = {side: {m: statistics.median(seconds[side][m]) for m in METRIC_IDS} for side in chains}
    n_frames = sum(min(len(g), len(p)) for g, p in zip(gts, preds, strict=True))
    total = {side: sum(med[side].values()) for side in chains}
    return {
        "ours": values["ours"],
        "reference": values["reference"],
        "equal": {**compare(values["ours"], values["reference"]), "fid_statistics": fid_stats["equal"]},
        "fid_statistics_max_relative_difference": fid_stats["max_relative_difference"],
        "repeats": repeats,
        "seconds_all": seconds,
        "seconds_ours": med["ours"],
        "seconds_reference": med["reference"],
        "load_seconds": load_s,
        "speed_ratio": {m: med["reference"][m] / med["ours"][m] for m in METRIC_IDS},
        "speed_ratio_total": total["reference"] / total["ours"],
        "frames_per_s_ours": n_frames / total["ours"],
        "frames_per_s_reference": n_frames / total["reference"],
        "load_average": [load_before, load_average()],
    }


# -- the full synthtalk protocol -------------------------------------------------------------------


def protocol_throughput(data: Path, n_clips: int) -> dict:
    """frames/s of every metric of the synthtalk protocol on GT-vs-GT clips (judges installed),
    after one untimed warm-up clip that loads the judges."""
    from edtalk.data.readers import read_clips
    from edtalk.experts.store import JUDGE_NAMES, resolve_judge
    from edtalk.weights import MissingWeightsError
    from eval.context import ClipContext
    from eval.protocols import get_protocol

    try:
        for name in JUDGE_NAMES.values():
            resolve_judge(name)
    except MissingWeightsError as err:
        return {"skipped": str(err)}
    if not (Path(data) / "splits" / "test.txt").is_file():
        return {"skipped": f"{data}: no synthtalk test split"}
    protocol = get_protocol("synthtalk")
    available, missing = protocol.available()
    metrics, unusable = {}, dict.fromkeys(missing, "not registered")
    for mid in available:
        try:
            metrics[mid] = protocol.build([mid])[mid]
        except (TypeError, ValueError, KeyError) as err:
            unusable[mid] = f"{type(err).__name__}: {err}"
    all_clips = read_clips("synthtalk", data, split="test")
    picks = np.linspace(0, len(all_clips), min(n_clips, len(all_clips)), endpoint=False).astype(int)
    clips = [all_clips[i] for i in picks]
    warm_clip = all_clips[-1] if len(all_clips) - 1 not in picks else all_clips[0]

    def score(clip, states, seconds, failures) -> int:
        ctx = ClipContext(clip, pred_video=clip.video)  # GT vs GT: the upper bound row
        t0 = time.perf_counter()
        n = len(ctx.frames("gt"))
        ctx.frames("pred")
        seconds["decode"] = seconds.get("decode", 0.0) + time.perf_counter() - t0
        for mid, metric in metrics.items():
            t0 = time.perf_counter()
            try:
                states[mid] = metric.merge(states[mid], metric.clip_state(ctx))
            except Exception as err:  # a metric that cannot run here is reported, not fatal
                failures.setdefault(mid, f"{type(err).__name__}: {err}")
            seconds[mid] = seconds.get(mid, 0.0) + time.perf_counter() - t0
        return n

    t0 = time.perf_counter()
    score(warm_clip, {m: metrics[m].empty_state() for m in metrics}, {}, {})
    warmup_s = time.perf_counter() - t0
    states = {m: metrics[m].empty_state() for m in metrics}
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    load_before = load_average()
    t0 = time.perf_counter()
    frames = sum(score(clip, states, seconds, failures) for clip in clips)
    values = {}
    for m in metrics:
        if m in failures:
            continue
        value = metrics[m].compute(states[m])["value"]
        values[m] = None if value is None else float(value)
    total = time.perf_counter() - t0
    return {
        "clips": len(clips),
        "frames": frames,
        "seconds": total,
        "frames_per_s": frames / total,
        "warmup_seconds": warmup_s,
        "seconds_per_metric": seconds,
        "metrics_scored": sorted(values),
        "values_gt_vs_gt": values,
        "not_scored": {**unusable, **failures},
        "load_average": [load_before, load_average()],
    }


# -- Ray scaling (eval.run's Ray path) ------------------------------------------------------------


def _eval_run(data: Path, n_clips: int, workers: int, out: Path) -> dict:
    """One ``python -m eval.run --method gt --protocol synthtalk`` in this process (its output is
    captured); returns the results JSON plus the wall seconds around it."""
    from eval.run import main as eval_main

    argv = [
        "--dataset", "synthtalk", "--root", str(data), "--split", "test", "--limit", str(n_clips),
        "--method", "gt", "--protocol", "synthtalk", "--workers", str(workers), "--out", str(out),
        "--device", "cpu", "--quiet",  # CPU workers, as section 2 measures (auto would take a GPU here)
    ]  # fmt: skip
    captured = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(captured):
        rc = eval_main(argv)
    wall = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"eval.run {' '.join(argv)} exited {rc}:\n{captured.getvalue()[-2000:]}")
    result = json.loads((out / "synthtalk" / "gt" / "synthtalk.json").read_text())
    return {"wall_s": wall, **result}


def ray_scaling(data: Path, n_clips: int) -> dict:
    """clips/s of eval.run's Ray path with 1 and 2 workers (a private local Ray of that many CPUs,
    warmed up by one untimed run, then one timed run on ``n_clips`` clips into a fresh folder)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from edtalk.ray_setup import start_ray
    from eval.chunk_runner import _worker_env
    from eval.run import build_parser

    if not (Path(data) / "splits" / "test.txt").is_file():
        return {"skipped": f"{data}: no synthtalk test split"}
    if ray.is_initialized():
        return {"skipped": "Ray is already initialised in this process (the benchmark needs its own)"}
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        for workers in (1, 2):
            env = _worker_env(
                build_parser().parse_args(["--dataset", "synthtalk", "--workers", str(workers)])
            )
            t0 = time.perf_counter()
            start_ray(None, num_cpus=workers, env_vars=env, log_to_driver=False)
            try:
                start_s = time.perf_counter() - t0
                warm = _eval_run(data, workers, workers, Path(tmp) / f"warm{workers}")
                load_before = load_average()
                run = _eval_run(data, n_clips, workers, Path(tmp) / f"run{workers}")
            finally:
                ray.shutdown()
            score_s = run["timing"]["score_s"]
            out[f"workers_{workers}"] = {
                "clips": run["n_clips"],
                "frames": run["metrics"]["psnr"]["n"],
                "score_seconds": score_s,
                "wall_seconds": run["wall_s"],
                "clips_per_s": run["n_clips"] / score_s,
                "frames_per_s": run["metrics"]["psnr"]["n"] / score_s,
                "ray_start_seconds": start_s,
                "warmup_wall_seconds": warm["wall_s"],
                "metrics": sorted(run["metrics"]),
                "failures": run["failures"],
                "load_average": [load_before, load_average()],
            }
    out["speedup_2_over_1"] = out["workers_2"]["clips_per_s"] / out["workers_1"]["clips_per_s"]
    return out


# -- the command -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(max(1, args.threads))
    gts, preds, source = load_pairs(args.data, args.clips, args.frames, args.size)
    report = {
        "command": "python -m benchmarks.eval_throughput " + " ".join(shlex.quote(a) for a in args.argv),
        "inputs": {
            "source": source,
            "clips": len(gts),
            "frames": sum(len(g) for g in gts),
            "size": int(gts[0].shape[1]),
        },
        "threads": torch.get_num_threads(),
        "machine": machine(),
        "load_average_start": load_average(),
        "note": RANDOM_WEIGHTS_NOTE,
    }
    with seeded_weights_dir() as state:
        report["reference"] = versus_reference(gts, preds, state, args.fid_dims, args.repeats)
    if args.protocol:
        report["protocol_synthtalk"] = protocol_throughput(args.data, args.protocol_clips)
    if args.ray:
        report["ray"] = ray_scaling(args.data, args.ray_clips)
    report["load_average_end"] = load_average()
    return report


def _load(la: list[float]) -> str:
    return f"load {la[0]:.1f}->{la[1]:.1f}"


def format_report(r: dict) -> str:
    ref = r["reference"]
    lines = [
        f"$ {r['command']}",
        f"inputs: {r['inputs']['clips']} clips, {r['inputs']['frames']} frame pairs, "
        f"{r['inputs']['size']} px ({r['inputs']['source']}); torch threads {r['threads']} on "
        f"{describe_machine(r['machine'])}; load average {r['load_average_start']:.1f} at start, "
        f"{r['load_average_end']:.1f} at end",
        f"NOTE: {r['note']}",
        "",
        f"1. ours vs reference chain: median of {ref['repeats']} alternating runs per metric "
        f"({_load(ref['load_average'])}); networks built before timing (ours "
        f"{ref['load_seconds']['ours']:.2f} s, reference {ref['load_seconds']['reference']:.2f} s); "
        "FID = features + mean/cov, the distance not timed",
        f"{'metric':<7} {'ours':>12} {'reference':>12} {'equal':>6} {'ours s':>8} {'ref s':>8} "
        f"{'ref/ours':>9}",
    ]
    for m in METRIC_IDS:
        lines.append(
            f"{m:<7} {ref['ours'][m]:>12.6g} {ref['reference'][m]:>12.6g} {str(ref['equal'][m]):>6} "
            f"{ref['seconds_ours'][m]:>8.3f} {ref['seconds_reference'][m]:>8.3f} "
            f"{ref['speed_ratio'][m]:>8.2f}x"
        )
    lines.append(
        f"FID statistics (mean, covariance of each side): equal {ref['equal']['fid_statistics']} "
        f"(max relative difference {ref['fid_statistics_max_relative_difference']:.1e})"
    )
    lines.append(
        f"total: ours {ref['frames_per_s_ours']:.1f} frame pairs/s, reference "
        f"{ref['frames_per_s_reference']:.1f} frame pairs/s -> speed ratio {ref['speed_ratio_total']:.2f}x"
    )
    if "protocol_synthtalk" in r:
        p = r["protocol_synthtalk"]
        lines.append("")
        if "skipped" in p:
            lines.append(f"2. synthtalk protocol: skipped ({p['skipped']})")
        else:
            lines.append(
                f"2. synthtalk protocol in this process ({len(p['metrics_scored'])} metrics, GT vs GT): "
                f"{p['frames_per_s']:.1f} frames/s ({p['frames']} frames, {p['clips']} clips, "
                f"{p['seconds']:.1f} s; {_load(p['load_average'])}); warm-up clip incl. judge "
                f"loading {p['warmup_seconds']:.1f} s"
            )
            per = sorted(p["seconds_per_metric"].items(), key=lambda kv: -kv[1])
            lines.append("   seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in per))
            for m, why in p["not_scored"].items():
                lines.append(f"   not scored: {m}: {why}")
    if "ray" in r:
        ray = r["ray"]
        lines.append("")
        if "skipped" in ray:
            lines.append(f"3. Ray scaling: skipped ({ray['skipped']})")
        else:
            w1, w2 = ray["workers_1"], ray["workers_2"]
            lines.append(
                f"3. Ray scaling, eval.run --method gt --protocol synthtalk ({len(w1['metrics'])} metrics) "
                f"on {w1['clips']} clips ({w1['frames']} frames), scoring phase after a warm-up run:"
            )
            for name, w in (("1 worker ", w1), ("2 workers", w2)):
                lines.append(
                    f"   {name}: {w['clips_per_s']:.3f} clips/s ({w['frames_per_s']:.1f} frames/s; "
                    f"score {w['score_seconds']:.1f} s, wall {w['wall_seconds']:.1f} s; "
                    f"{_load(w['load_average'])})"
                )
            lines.append(f"   speedup 2 over 1 workers: {ray['speedup_2_over_1']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.eval_throughput",
        description=__doc__.split("\n\n")[0],
        epilog="Defaults take a few minutes on 2 shared cores. Bigger: --clips 8 --frames 0 "
        "--protocol-clips 32 --ray-clips 64 --repeats 5.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/synthtalk"),
        help="synthtalk root (test clips; seeded synthetic frames for part 1 when absent)",
    )
    parser.add_argument(
        "--clips", type=positive_int, default=4, help="clips for the reference comparison (4)"
    )
    parser.add_argument(
        "--frames",
        type=non_negative_int,
        default=6,
        help="at most this many frames per clip there (6; 0 = all)",
    )
    parser.add_argument("--size", type=positive_int, default=128, help="frame size of synthetic inputs (128)")
    parser.add_argument(
        "--repeats", type=positive_int, default=3, help="timed runs per metric and side (3; median)"
    )
    parser.add_argument(
        "--fid-dims",
        type=int,
        default=2048,
        choices=(64, 192, 768, 2048),
        help="FID feature block (2048 = pool3)",
    )
    parser.add_argument(
        "--protocol-clips", type=positive_int, default=8, help="clips for the synthtalk protocol (8)"
    )
    parser.add_argument("--ray-clips", type=positive_int, default=16, help="clips for Ray scaling (16)")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads in this process, both chains (1; more only on an idle machine)",
    )
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="skip the Ray scaling part")
    parser.add_argument(
        "--no-protocol", dest="protocol", action="store_false", help="skip the full synthtalk protocol part"
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (tests); figures mean nothing")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    parser.add_argument("--txt", type=Path, default=None, help="also write the printed report as text")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.smoke:
        args.clips, args.frames, args.size, args.protocol_clips, args.fid_dims = 2, 4, 64, 1, 64
        args.repeats, args.ray_clips = 1, 2
    args.frames = args.frames or None
    from edtalk.data.errors import DataError

    try:
        report = run(args)
    except DataError as err:  # a --data that is not a readable synthtalk: one line, not a traceback
        return report_error(err)
    text = format_report(report)
    ok = all(report["reference"]["equal"].values())
    if not ok:
        text += "\nMISMATCH: ours and the reference disagree (see 'equal')"
    print(text)
    if args.json:
        write_text(args.json, json.dumps(report, indent=1, sort_keys=True, default=float) + "\n")
    if args.txt:
        write_text(args.txt, text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    from edtalk.cli import run_main

    run_main(main)
