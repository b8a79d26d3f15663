"""``python -m benchmarks.eval_throughput``: scoring speed, each figure a ratio against a reference run
in the same process.

1. **Ours vs the reference chain** on PSNR + SSIM + LPIPS + FID features, same frames, same
   weights: ours = the suite's metrics (``eval.metrics``: batched tensors, one decode, memoised
   features, mergeable states); reference = what a typical evaluation script does: skimage's
   ``peak_signal_noise_ratio`` / ``structural_similarity`` per frame, ``lpips.LPIPS`` per frame
   pair, pytorch-fid's ``InceptionV3`` + ``calculate_frechet_distance``. The values must agree
   (checked and printed); then the speed ratio reference / ours is printed per metric and total.
   **LPIPS and FID run with seeded RANDOM weights here** (these machines cannot download the
   official ones): this is a SPEED benchmark and those values are not metric results.
2. **The full ``synthtalk`` protocol** (every metric of ``eval.protocols`` "synthtalk", judges from
   the weights manager): frames/s on GT-vs-GT clips of ``--data`` (skipped with the reason when the
   judges are not installed: ``python -m eval.zoo train --data data/synthtalk``).
3. **Ray scaling**: the PSNR+SSIM+LPIPS+FID-feature scoring as Ray tasks with 1 and then 2
   concurrent workers (same cluster; a task asks for 2 or 1 CPUs); frames/s and the speedup.

Wall times on shared CPUs are noisy: the load average is printed beside the figures.
``--smoke`` runs a seconds-long version (tests use it; no figure from it means anything).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch

RANDOM_WEIGHTS_NOTE = "LPIPS/FID with seeded RANDOM weights: speed benchmark only, not metric values"


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

OUR_METRICS = {
    "psnr": {"pooling": "frames"},
    "ssim": {"pooling": "frames"},
    "lpips": {"pooling": "frames"},
    "fid": {"backbone": "pytorch_fid"},  # + dims: 2048 (pool3); --smoke uses 64 (cheap Frechet distance)
}


def score_ours(gts, preds, dims: int = 2048, metric_ids=tuple(OUR_METRICS)) -> tuple[dict, dict]:
    """Values and seconds per metric with the suite's metrics (one context per clip)."""
    from eval.context import ClipContext
    from eval.metrics import get_metric

    metrics = {
        m: get_metric(m)(**OUR_METRICS[m], **({"dims": dims} if m == "fid" else {})) for m in metric_ids
    }
    contexts = [
        ClipContext.from_arrays(g, p, clip_id=f"c{i}")
        for i, (g, p) in enumerate(zip(gts, preds, strict=True))
    ]
    values, seconds = {}, {}
    for mid, metric in metrics.items():
        t0 = time.perf_counter()
        state = metric.empty_state()
        for ctx in contexts:
            state = metric.merge(state, metric.clip_state(ctx))
        seconds[mid] = time.perf_counter() - t0  # FID: feature extraction + moments only
        values[mid] = metric.compute(state)["value"]  # the set-level Frechet distance is not timed
        if mid != "fid":
            seconds[mid] = time.perf_counter() - t0
    return values, seconds


# -- the reference chain --------------------------------------------------------------------------


def score_reference(gts, preds, state: dict, dims: int = 2048) -> tuple[dict, dict]:
    """The same four numbers the way common evaluation scripts compute them, frame by frame."""
    import lpips
    from pytorch_fid import inception as pfi
    from pytorch_fid.fid_score import calculate_frechet_distance
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    pairs = [(g[t], p[t]) for g, p in zip(gts, preds, strict=True) for t in range(min(len(g), len(p)))]
    values, seconds = {}, {}

    t0 = time.perf_counter()
    values["psnr"] = float(np.mean([peak_signal_noise_ratio(g, p, data_range=255) for g, p in pairs]))
    seconds["psnr"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    values["ssim"] = float(
        np.mean([structural_similarity(g, p, channel_axis=-1, data_range=255) for g, p in pairs])
    )
    seconds["ssim"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    net = lpips.LPIPS(pretrained=True, net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    alex = state["torchvision_alexnet"]
    net.net.load_state_dict(
        {n: alex[f"features.{n.split('.')[1]}.{n.split('.')[2]}"] for n, _ in net.net.named_parameters()}
    )
    with torch.no_grad():
        values["lpips"] = float(
            np.mean([float(net(lpips.im2tensor(p), lpips.im2tensor(g))) for g, p in pairs])
        )
    seconds["lpips"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state["pytorch_fid_inception"]):
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[dims]]).eval()

    def activations(videos) -> np.ndarray:
        frames = np.concatenate(videos)
        out = []
        with torch.no_grad():
            for i in range(0, len(frames), 50):  # pytorch-fid's default batch size
                x = torch.from_numpy(frames[i : i + 50]).permute(0, 3, 1, 2).float() / 255.0
                a = model(x)[0]
                if a.shape[2] != 1:  # pytorch-fid pools blocks below pool3 to 1 x 1
                    a = torch.nn.functional.adaptive_avg_pool2d(a, (1, 1))
                out.append(a.squeeze(3).squeeze(2).double().numpy())
        return np.concatenate(out)

    a1, a2 = activations(gts), activations(preds)
    seconds["fid"] = time.perf_counter() - t0  # features only; the Frechet distance is not timed
    values["fid"] = float(
        calculate_frechet_distance(a1.mean(0), np.cov(a1, rowvar=False), a2.mean(0), np.cov(a2, rowvar=False))
    )
    return values, seconds


TOLERANCE = {"psnr": 1e-6, "ssim": 1e-6, "lpips": 1e-4, "fid": 1e-3}  # relative


def compare(ours: dict, ref: dict) -> dict[str, bool]:
    return {m: bool(np.isclose(ours[m], ref[m], rtol=TOLERANCE[m], atol=1e-9)) for m in ref}


# -- the full synthtalk protocol -------------------------------------------------------------------


def protocol_throughput(data: Path, n_clips: int) -> dict:
    """frames/s of every metric of the synthtalk protocol on GT-vs-GT clips (judges installed)."""
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
    clips = read_clips("synthtalk", data, split="test")
    clips = [
        clips[i] for i in np.linspace(0, len(clips), min(n_clips, len(clips)), endpoint=False).astype(int)
    ]
    states = {m: metrics[m].empty_state() for m in metrics}
    failures: dict[str, str] = {}
    frames = 0
    t0 = time.perf_counter()
    for clip in clips:
        ctx = ClipContext(clip, pred_video=clip.video)  # GT vs GT: the upper bound row
        frames += len(ctx.frames("gt"))
        for mid, metric in metrics.items():
            try:
                states[mid] = metric.merge(states[mid], metric.clip_state(ctx))
            except Exception as err:  # a metric that cannot run here is reported, not fatal
                failures.setdefault(mid, f"{type(err).__name__}: {err}")
    values = {}
    for m in metrics:
        if m in failures:
            continue
        value = metrics[m].compute(states[m])["value"]
        values[m] = None if value is None else float(value)
    seconds = time.perf_counter() - t0
    return {
        "clips": len(clips),
        "frames": frames,
        "seconds": seconds,
        "frames_per_s": frames / seconds,
        "metrics_scored": sorted(values),
        "values_gt_vs_gt": values,
        "not_scored": {**unusable, **failures},
    }


# -- Ray scaling -----------------------------------------------------------------------------------


def _score_shard(gts, preds, dims):
    """Ray task body: our four metrics on one shard; returns frames scored."""
    torch.set_num_threads(1)
    score_ours(gts, preds, dims)
    return sum(min(len(g), len(p)) for g, p in zip(gts, preds, strict=True))


def ray_scaling(gts, preds, dims: int, shards: int = 4) -> dict:
    """frames/s with 1 and 2 concurrent Ray workers (tasks asking for 2 vs 1 CPUs)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    env = {
        k: os.environ[k]
        for k in ("EDTALK_BENCH_WEIGHTS", "EDTALK_BENCH_ALLOW_UNVERIFIED", "RAY_AUTH_MODE")
        if k in os.environ
    }
    env["OMP_NUM_THREADS"] = "1"
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",  # a private Ray, even when another cluster runs on this machine
            _node_ip_address="127.0.0.1",
            num_cpus=2,
            include_dashboard=False,
            runtime_env={"env_vars": env},
            log_to_driver=False,
        )
    try:
        parts = [(gts[i::shards], preds[i::shards]) for i in range(shards)]
        parts = [p for p in parts if p[0]]
        refs = [(ray.put(g), ray.put(p)) for g, p in parts]
        out = {}
        # warm-up: import the metric stack and load the backbones in both worker processes
        warm = ray.remote(num_cpus=1)(_score_shard)
        ray.get([warm.remote(*refs[0], dims) for _ in range(2)])
        for workers in (1, 2):
            task = ray.remote(num_cpus=2 // workers)(_score_shard)
            t0 = time.perf_counter()
            frames = sum(ray.get([task.remote(g, p, dims) for g, p in refs]))
            seconds = time.perf_counter() - t0
            out[f"workers_{workers}"] = {
                "frames": frames,
                "seconds": seconds,
                "frames_per_s": frames / seconds,
            }
        out["speedup_2_over_1"] = out["workers_2"]["frames_per_s"] / out["workers_1"]["frames_per_s"]
        return out
    finally:
        if started:
            ray.shutdown()


# -- the command -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(max(1, args.threads))
    gts, preds, source = load_pairs(args.data, args.clips, args.frames, args.size)
    n_frames = sum(len(g) for g in gts)
    report = {
        "inputs": {"source": source, "clips": len(gts), "frames": n_frames, "size": int(gts[0].shape[1])},
        "load_average": os.getloadavg()[0],
        "note": RANDOM_WEIGHTS_NOTE,
    }
    with seeded_weights_dir() as state:
        score_ours(gts[:1], preds[:1], args.fid_dims)  # warm-up: imports, backbone construction
        ours, t_ours = score_ours(gts, preds, args.fid_dims)
        ref, t_ref = score_reference(gts, preds, state, args.fid_dims)
        equal = compare(ours, ref)
        report["reference"] = {
            "ours": ours,
            "reference": ref,
            "equal": equal,
            "seconds_ours": t_ours,
            "seconds_reference": t_ref,
            "speed_ratio": {m: t_ref[m] / t_ours[m] for m in t_ref},
            "speed_ratio_total": sum(t_ref.values()) / sum(t_ours.values()),
            "frames_per_s_ours": n_frames / sum(t_ours.values()),
            "frames_per_s_reference": n_frames / sum(t_ref.values()),
        }
        if args.ray:
            report["ray"] = ray_scaling(gts, preds, args.fid_dims)
    if args.protocol:
        report["protocol_synthtalk"] = protocol_throughput(args.data, args.protocol_clips)
    return report


def format_report(r: dict) -> str:
    ref = r["reference"]
    lines = [
        f"inputs: {r['inputs']['clips']} clips, {r['inputs']['frames']} frame pairs, "
        f"{r['inputs']['size']} px ({r['inputs']['source']}); load average {r['load_average']:.1f}; "
        "FID: features timed, the set-level distance not",
        f"NOTE: {r['note']}",
        "",
        f"{'metric':<7} {'ours':>12} {'reference':>12} {'equal':>6} {'ours s':>8} {'ref s':>8} "
        f"{'ref/ours':>9}",
    ]
    for m in ref["reference"]:
        lines.append(
            f"{m:<7} {ref['ours'][m]:>12.6f} {ref['reference'][m]:>12.6f} {str(ref['equal'][m]):>6} "
            f"{ref['seconds_ours'][m]:>8.2f} {ref['seconds_reference'][m]:>8.2f} "
            f"{ref['speed_ratio'][m]:>8.2f}x"
        )
    lines.append(
        f"total: ours {ref['frames_per_s_ours']:.1f} frames/s, reference "
        f"{ref['frames_per_s_reference']:.1f} frames/s -> speed ratio {ref['speed_ratio_total']:.2f}x"
    )
    if "ray" in r:
        ray = r["ray"]
        lines.append(
            f"Ray: 1 worker {ray['workers_1']['frames_per_s']:.1f} frames/s, 2 workers "
            f"{ray['workers_2']['frames_per_s']:.1f} frames/s -> speedup {ray['speedup_2_over_1']:.2f}x"
        )
    if "protocol_synthtalk" in r:
        p = r["protocol_synthtalk"]
        if "skipped" in p:
            lines.append(f"synthtalk protocol: skipped ({p['skipped']})")
        else:
            lines.append(
                f"synthtalk protocol ({len(p['metrics_scored'])} metrics: "
                f"{', '.join(p['metrics_scored'])}): {p['frames_per_s']:.1f} frames/s "
                f"({p['frames']} frames, {p['clips']} clips)"
            )
            for m, why in p["not_scored"].items():
                lines.append(f"  not scored: {m}: {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.eval_throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/synthtalk"),
        help="synthtalk root (test clips; seeded synthetic frames when absent)",
    )
    parser.add_argument("--clips", type=int, default=8, help="clips for the reference comparison (8)")
    parser.add_argument("--frames", type=int, default=None, help="at most this many frames per clip")
    parser.add_argument("--size", type=int, default=128, help="frame size of synthetic inputs (128)")
    parser.add_argument("--protocol-clips", type=int, default=8, help="clips for the synthtalk protocol (8)")
    parser.add_argument(
        "--fid-dims",
        type=int,
        default=2048,
        choices=(64, 192, 768, 2048),
        help="FID feature block (2048 = pool3)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads in this process (2)")
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="skip the Ray scaling part")
    parser.add_argument(
        "--no-protocol", dest="protocol", action="store_false", help="skip the full synthtalk protocol part"
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (tests); figures mean nothing")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    args = parser.parse_args(argv)
    if args.smoke:
        args.clips, args.frames, args.size, args.protocol_clips, args.fid_dims = 2, 4, 64, 1, 64
    report = run(args)
    print(format_report(report))
    if args.json:
        from edtalk.experts.store import _atomic_json

        _atomic_json(args.json, json.loads(json.dumps(report, default=float)))
    if not all(report["reference"]["equal"].values()):
        print("MISMATCH: ours and the reference disagree (see 'equal')")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
