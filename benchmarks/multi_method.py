"""``python -m benchmarks.multi_method``: scoring two methods with one ``eval.run --method A,B`` (one Ray
start, whose actors keep the metrics' networks loaded for both methods) as a ratio against two calls,
``--method A`` then ``--method B``, each starting and stopping its own Ray, in one process.

Both sides call ``eval.run.main`` on the first ``--limit`` test clips of ``--data`` with ``--workers``
Ray CPUs, each run into a fresh folder (no cached rows, no videos kept from before); Ray is shut down
after every call, so each call of the reference starts its own Ray and actors, as two shell commands
do. The reference's two calls share one folder, as a user passing the same ``--out`` twice: there B
reuses the GT features A stored, as it does in the combined call, so the ratio is that of the one Ray
(``--separate-folders`` gives each call its own folder, where B computes them again). Every call's
results files (the metrics of ``<protocol>.json``, the per-clip values and failures of its
``.clips.jsonl``) must be identical between the two sides (checked; exit 1 and MISMATCH otherwise).
One untimed call first (both methods, ``--workers`` clips) loads the driver's imports and starts Ray
once; then the two sides alternate (``benchmarks.alternate``), ``--repeats`` times, and the medians
are kept; the 1-minute load average and the machine are recorded beside them.

What it does NOT measure: being one process, the driver's imports (torch, Ray, the metrics: a few
seconds per ``python -m eval.run``) are paid once before any timing, so a shell user running two
commands instead of one also saves one interpreter start and its imports, which this ratio leaves
out. Each call's Ray start and shutdown, its actors' start and imports, and the networks they load
are in it.

    python -m benchmarks.multi_method [--data data/synthtalk] [--methods gt,static] [--limit 24]
                                      [--workers 2] [--repeats 3] [--out FILE]

Skipped (exit 0, nothing written) when ``--data`` has no synthtalk test split or a weight file of the
protocol (the synthtalk judges: ``python -m eval.zoo install --data data/synthtalk``) is missing.
``--smoke`` runs a seconds-long version on a two-clip synthtalk generated in a temporary folder, with
PSNR, SSIM and L1 only (no judges; tests use it; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import alternate, load_average, save_result
from edtalk.cli import non_negative_int, positive_int, report_error
from edtalk.provenance import machine

PROTOCOL = "synthtalk"
SMOKE_METRICS = "psnr,ssim,l1"
NOT_MEASURED = (
    "in one process: the driver's imports (torch, Ray, the metrics; a few seconds per `python -m "
    "eval.run` from a shell) are paid once before timing, so the interpreter start and imports a shell "
    "user also saves with one call instead of two are NOT in this ratio; each call's Ray start and "
    "shutdown, actor start and network loading are in it"
)


def eval_argv(args: argparse.Namespace, methods: str, out: Path, limit: int | None = None) -> list[str]:
    """The ``eval.run`` command line of one call: ``methods`` (one, or a comma list) into ``out``."""
    argv = [
        "--dataset", "synthtalk", "--root", str(args.data), "--split", "test",
        "--limit", str(limit or args.limit), "--method", methods, "--protocol", PROTOCOL,
        "--workers", str(args.workers), "--device", args.device, "--out", str(out), "--quiet",
    ]  # fmt: skip
    return argv + (["--metrics", args.metrics] if args.metrics else [])


def skip_reason(args: argparse.Namespace, root: Path) -> str | None:
    """Why the benchmark cannot run here (no test split, a missing weight file), else None; checked by
    ``eval.run``'s own pre-flight checks of the combined call (nothing is written). Its other errors
    (a bad method, a damaged dataset) are raised."""
    from edtalk.weights import MissingWeightsError
    from eval.run import build_parser, prepare

    if not (Path(args.data) / "splits" / "test.txt").is_file():
        return (
            f"--data {args.data}: no synthtalk test split (splits/test.txt); make one with "
            f"`python -m edtalk.data.synthtalk --out {args.data} --preset tiny --seed 0`"
        )
    try:
        prepare(build_parser().parse_args(eval_argv(args, args.methods, root / "check")))
    except MissingWeightsError as err:
        return str(err)
    return None


def one_call(argv: list[str]) -> float:
    """Wall seconds of one ``eval.run.main(argv)`` in this process (its output captured), Ray's
    shutdown included (a shell command's exit does it); raises when it does not exit 0."""
    from eval.run import main as eval_main

    captured = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(captured):
            rc = eval_main(argv)
    finally:
        stop_ray()
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"eval.run {shlex.join(argv)} exited {rc}:\n{captured.getvalue()[-2000:]}")
    return seconds


def stop_ray() -> None:
    """``ray.shutdown()`` when this process started Ray (``--workers 0`` never imports it)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def results_of(out: Path) -> dict[str, str]:
    """Per method scored under ``out``: its metrics and failures (``<protocol>.json``) and each clip's
    values and failures (``.clips.jsonl``), as canonical JSON text (NaN compares equal to NaN)."""
    from eval.results import clips_path, read_results

    found = {}
    for path in sorted(out.glob(f"synthtalk/*/{PROTOCOL}.json")):
        data = read_results(path)
        rows = [json.loads(line) for line in clips_path(path).read_text().splitlines()]
        kept = {
            "metrics": data["metrics"],
            "failures": data["failures"],
            "clips": [{k: r.get(k) for k in ("clip", "values", "failures")} for r in rows],
        }
        found[data["method"]] = json.dumps(kept, sort_keys=True)
    return found


def differences(reference: dict[str, str], combined: dict[str, str]) -> list[str]:
    """What differs between two ``results_of``: one line per method (or per metric of its results)."""
    lines = []
    for method in sorted(set(reference) | set(combined)):
        if method not in reference or method not in combined:
            lines.append(f"{method}: scored by one side only")
            continue
        a, b = json.loads(reference[method]), json.loads(combined[method])
        for key in ("metrics", "failures", "clips"):
            if key == "metrics":
                for mid in sorted(set(a[key]) | set(b[key])):
                    if a[key].get(mid) != b[key].get(mid):
                        lines.append(f"{method}: {mid}: {a[key].get(mid)} vs {b[key].get(mid)}")
            elif json.dumps(a[key], sort_keys=True) != json.dumps(b[key], sort_keys=True):
                lines.append(f"{method}: the {key} differ")
    return lines


def time_sides(args: argparse.Namespace, root: Path) -> dict:
    """Seconds of every call of each side (the reference's two calls apart too) and what differs between
    any call's results and the first reference's: one untimed call, then the two sides alternating."""
    methods = args.methods.split(",")
    count = itertools.count()
    per_call: dict[str, list[float]] = {m: [] for m in methods}

    def reference() -> dict[str, str]:
        folder, found = root / f"reference-{next(count)}", {}
        for m in methods:
            out = folder / m if args.separate_folders else folder
            per_call[m].append(one_call(eval_argv(args, m, out)))
            found.update(results_of(out))
        return found

    def combined() -> dict[str, str]:
        out = root / f"combined-{next(count)}"
        one_call(eval_argv(args, args.methods, out))
        return results_of(out)

    warmup = None
    if not args.smoke:  # the driver's imports and this process's first Ray start, untimed
        warmup = one_call(eval_argv(args, args.methods, root / "warmup", max(args.workers, 1)))
    seconds, outputs = alternate({"reference": reference, "combined": combined}, args.repeats)
    first = outputs["reference"][0]
    diffs = [
        f"{side} run {i + 1}: {line}"
        for side, runs in outputs.items()
        for i, found in enumerate(runs)
        for line in differences(first, found)
    ]
    return {"seconds": seconds, "per_call": per_call, "warmup": warmup, "diffs": diffs, "results": first}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.multi_method",
        description="eval.run --method A,B (one Ray) against --method A then --method B (a Ray each), in "
        "one process: wall seconds, their ratio, and the two sides' results checked identical.",
    )
    p.add_argument(
        "--data", type=Path, default=Path("data/synthtalk"), help="synthtalk root (data/synthtalk)"
    )
    p.add_argument("--methods", default="gt,static", help="two or more methods, a comma list (gt,static)")
    p.add_argument("--limit", type=positive_int, default=24, help="first N test clips (24)")
    p.add_argument(
        "--workers", type=non_negative_int, default=2, help="eval.run --workers: Ray CPUs (2; 0 = no Ray)"
    )
    p.add_argument("--device", default="cpu", help="eval.run --device (cpu)")
    p.add_argument("--metrics", default=None, help="eval.run --metrics (default: all of the protocol)")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per side (3; median)")
    p.add_argument(
        "--separate-folders",
        action="store_true",
        help="the reference's calls each into their own folder (B computes the GT features again)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    p.add_argument("--smoke", action="store_true", help="seconds-long run (tests); figures mean nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if len(args.methods.split(",")) < 2:
        return report_error(f"--methods {args.methods}: name two or more methods, e.g. gt,static")
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        return report_error("Ray is already running in this process: the benchmark starts and stops its own")
    from eval.run import reported_errors

    with tempfile.TemporaryDirectory(prefix="bench-multi-") as tmp:
        if args.smoke:  # two 64 px test clips, benchmarks.frame_cache's smoke set
            from benchmarks.frame_cache import smoke_dataset

            args.data, args.repeats = smoke_dataset(Path(tmp) / "synthtalk"), 1
            args.limit, args.metrics = 2, args.metrics or SMOKE_METRICS
        try:
            why = skip_reason(args, Path(tmp))
        except reported_errors() as err:
            return report_error(err)
        if why:
            print(f"skipped: {why}")
            return 0
        load_before = load_average()
        timed = time_sides(args, Path(tmp))
    return report(args, argv, timed, load_before)


def report(args: argparse.Namespace, argv: list[str], timed: dict, load_before: float) -> int:
    """Print the figures and the check, write the JSON (``--out``); 1 when the results differ."""
    med = {side: statistics.median(v) for side, v in timed["seconds"].items()}
    clips = json.loads(next(iter(timed["results"].values())))["clips"]
    result = {
        "command": "python -m benchmarks.multi_method " + shlex.join(argv),
        "data": "smoke (generated)" if args.smoke else str(args.data),
        "methods": args.methods.split(","),
        "protocol": PROTOCOL,
        "metrics": args.metrics or "all of the protocol",
        "clips": len(clips),
        "workers": args.workers,
        "device": args.device,
        "repeats": args.repeats,
        "reference_folders": "separate" if args.separate_folders else "one for both calls",
        "seconds_median": med,
        "reference_over_combined": med["reference"] / med["combined"],
        "seconds_all": timed["seconds"],
        "reference_seconds_per_call": timed["per_call"],
        "warmup_seconds": timed["warmup"],
        "identical": not timed["diffs"],
        "differences": timed["diffs"][:20],
        "measured": NOT_MEASURED,
        "load_average": [load_before, load_average()],
        "machine": machine(),
        "smoke": args.smoke,
    }
    calls = ", ".join(f"{m} {statistics.median(v):.1f} s" for m, v in timed["per_call"].items())
    print(
        f"{' and '.join(result['methods'])} on {len(clips)} clips, --workers {args.workers}, median of "
        f"{args.repeats}: two calls {med['reference']:.1f} s (median per call: {calls}), one call "
        f"{med['combined']:.1f} s -> x{result['reference_over_combined']:.2f} (load {result['load_average']})"
    )
    print(f"note: {NOT_MEASURED}")
    if timed["diffs"]:
        print("MISMATCH: the two sides' results differ:\n  " + "\n  ".join(timed["diffs"][:20]))
    else:
        print("results identical on both sides (metrics, per-clip values and failures)")
    save_result(args.out, result)
    return 1 if timed["diffs"] else 0


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
