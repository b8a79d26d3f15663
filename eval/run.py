"""``python -m eval.run``: score one method, or several (``--method gt,static,edtalk_v``), on one dataset
split under one protocol.

Steps (see ``--help`` for every flag):

1. resolve the clips (``edtalk.data.readers.read_clips``, or two folders paired by name) and the
   method (``baselines.make_method``); check the metrics' weight files before anything runs;
2. generate the missing predictions (``<out>/<dataset>/<method>/videos/<clip>.mp4``; present
   files are kept unless made under another provenance or from other GT files: each video's
   ``<clip>.mp4.inputs.json`` records the GT video and audio it was made from);
3. score the clips that the per-clip cache (eval/cache.py) does not already hold, in chunks, on
   Ray (local by default) or in this process (``--workers 0``): one ``ClipContext`` per clip, so
   each video is decoded once and detections are shared by all metrics; the driver writes each
   returned row to the cache atomically, so a killed run resumes where it stopped, and keeps the
   GT side's backbone features (``<out>/<dataset>/gt_features/<protocol hash>/``) so the next
   method scored on the same clips skips them;
4. merge the per-clip states (``metric.merge``) and write ``<out>/<dataset>/<method>/<protocol>.json``
   and ``<protocol>.clips.jsonl`` atomically (schema: eval/results.py).

Several methods in one call are checked first, all of them (names, checkpoint, folders, results
files), then scored one after another, steps 2-4 each, as a call of each alone would (same results
file, cache and videos), but with one Ray whose workers keep the metrics' networks loaded. A method
whose generation stops (its checkpoint, its network) is reported and the next one scored; the call
ends with one line per method.

A metric that does not apply to a clip at all (``Metric.not_applicable``: Acc_emo on a dataset without
emotion labels, the disentanglement metrics without synthtalk's ground truth) is not scored for it
and shows as "not applicable" with its reason (results, summary, report), never as a failure.

Exit codes: 0 ok; 1 some clip failed (recorded with its reason; 0 with ``--allow-failures``),
an unexpected exception in a metric included (the clip's failure for that metric, with its
traceback; the other clips and metrics are scored and cached); 2 nothing could run (bad
arguments, dataset layout, missing weights or checkpoint). With several methods, the worst of
theirs (2 for a method whose generation stopped).

This module is the CLI and the run's steps (``run``); the parts live beside it: eval/run_checks.py
(pre-flight checks), eval/generation.py (step 2), eval/scoring.py (steps 3 and 4) and
eval/chunk_runner.py (chunks of clips on Ray or in this process).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edtalk.cli import non_negative_int, positive_int, report_error
from edtalk.data.readers import READERS
from edtalk.provenance import git_info, library_versions, machine
from eval.cache import ClipCache, GTFeatureStore, clip_inputs, file_fingerprint, metric_key
from eval.chunk_runner import keep_workers, one_line, run_chunks, split_into_chunks
from eval.generation import (
    drop_stale_videos,
    drop_videos_of_changed_inputs,
    generate_chunk,
    lost_generation,
    stopping_errors,
)
from eval.results import SCHEMA, method_dir_name, metric_entry, results_path, write_results
from eval.run_checks import (
    UsageError,
    check_address,
    check_device,
    check_distinct_results,
    check_method_list,
    check_same_method,
    check_weights,
    check_workers,
    choose_protocol,
    missing_prediction,
    note_short_audio,
    note_unusual_gt,
    prepare_method,
    protocol_help,
    resolve_clips,
    select_metrics,
    smaller_than_before,
    split_methods,
)
from eval.scoring import (
    Job,
    aggregate,
    lost_scoring,
    not_applicable,
    reusable_row,
    save_row,
    score_chunk,
)

log = logging.getLogger("eval.run")

LIBRARIES = (
    "numpy",
    "scipy",
    "torch",
    "torchvision",
    "skimage",
    "cv2",
    "av",
    "ray",
    "dlib",
    "lpips",
    "pytorch_fid",
    "face_alignment",
    "edtalk-bench",  # this package: its installed version
)

EPILOG = """\
examples:
  # the built-in dataset, ground truth against itself (upper bound), offline judges
  python -m eval.run --dataset synthtalk --root data/synthtalk --split test \\
      --method gt --protocol synthtalk --out results/
  # the static-frame lower bound, only two metrics, 2 Ray workers (at most the machine's CPUs)
  python -m eval.run --dataset synthtalk --root data/synthtalk --method static \\
      --protocol synthtalk --metrics psnr,ssim --workers 2 --out results/
  # EDTalk audio-driven on MEAD with the paper's (EAT) protocol
  python -m eval.run --dataset mead --root /data/MEAD_front --method edtalk_a \\
      --ckpt ckpt/edtalk_audio.pt --protocol eat --out results/
  # a folder of EAT's outputs (M003_ang_1_001.mp4 ...) on MEAD
  python -m eval.run --dataset mead --root /data/MEAD_front --method folder:/data/eat_out \\
      --protocol eat --out results/
  # several methods in one call (one Ray start, the metrics' networks loaded once), each scored as alone
  python -m eval.run --dataset synthtalk --root data/synthtalk --method gt,static,edtalk_v,edtalk_a \\
      --ckpt runs/audio_expression/final.pt --protocol synthtalk --out results/
  # any two folders of videos paired by file name
  python -m eval.run --dataset folder --gt videos/gt --pred videos/ours --protocol canonical --out results/
  # on a running Ray cluster
  python -m eval.run ... --address auto

Results: <out>/<dataset>/<method>/<protocol>.json (+ .clips.jsonl; <protocol>.<split>.json for a split
other than test); cache:
<out>/<dataset>/<method>/cache/<protocol hash>/; generated videos: <out>/<dataset>/<method>/videos/.
Exit code 1 if any clip failed (see "failures" in the JSON) unless --allow-failures; with several
methods, the worst of theirs.
"""


METHOD_SPECS = {  # how --help shows the methods that take more than their name
    "folder": "folder:DIR (a folder of a method's output videos; EAT names are mapped to MEAD ids)",
    "paired": "paired (default with --dataset folder)",
}


def method_help() -> str:
    """--method's help: every registered method (``baselines.METHODS``), so a new one is listed."""
    from baselines import load_all

    return " | ".join(METHOD_SPECS.get(name, name) for name in load_all().names())


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m eval.run``."""
    p = argparse.ArgumentParser(
        prog="python -m eval.run",
        description="Generate (if needed) and score a method's videos on a dataset split under a named "
        "protocol; resumable (per-clip cache), parallel on Ray.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--dataset",
        required=True,
        choices=READERS.names(),
        help="dataset reader (edtalk.data.readers); 'folder' pairs --gt and --pred by file name",
    )
    d.add_argument(
        "--root",
        help="dataset root folder (e.g. data/synthtalk); with --dataset folder, a folder holding gt/ "
        "and pred/ (or give --gt and --pred)",
    )
    d.add_argument("--split", default="test", help="split to score (default: test)")
    d.add_argument("--gt", help="--dataset folder: folder of ground-truth videos")
    d.add_argument("--pred", help="--dataset folder: folder of predicted videos (same file stems)")
    d.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="score only the first N clips of the split (smoke runs)",
    )
    m = p.add_argument_group("method and protocol")
    m.add_argument(
        "--method",
        default=None,
        help="a method, or several as a comma list (e.g. gt,static,edtalk_v: all checked before any is "
        "scored, then scored one after another in one Ray, each into the results file, cache and videos "
        f"a call of it alone gets; --ckpt goes to the generating ones): {method_help()}",
    )
    m.add_argument("--ckpt", help="checkpoint for generating methods (edtalk_v, edtalk_a)")
    m.add_argument("--protocol", default=None, help=protocol_help())
    m.add_argument(
        "--metrics",
        help="comma-separated metric ids (default: every metric of the protocol "
        "implemented in this checkout), e.g. psnr,ssim,fid",
    )
    r = p.add_argument_group("execution")
    r.add_argument(
        "--workers",
        type=non_negative_int,
        default=None,
        help="Ray CPUs for a local Ray, at most this machine's CPUs (default: 2, or its CPUs when fewer); 0 "
        "scores in this process without Ray",
    )
    r.add_argument(
        "--address",
        help="Ray cluster address (e.g. auto or ray://host:10001); default: $RAY_ADDRESS, which `ray job "
        "submit` sets, unless --workers 0, else a local Ray of --workers CPUs",
    )
    r.add_argument(
        "--device",
        default=None,
        help="torch device for the backbones and for generating methods' networks: auto (a CUDA GPU when "
        "this machine has one, else the CPU; not on a cluster), cpu, cuda or cuda:N (default: auto; cpu "
        "on a cluster: --address or $RAY_ADDRESS)",
    )
    r.add_argument(
        "--chunk",
        type=positive_int,
        default=None,
        help="clips per chunk, the unit of work a Ray worker is given (default: about 4 chunks per worker, "
        "at most 8 clips each; 1 with --workers 0)",
    )
    r.add_argument(
        "--allow-unverified-weights",
        action="store_true",
        help="accept weight files whose sha256 does not match (results are marked unverified)",
    )
    r.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even if some clips failed (they are still listed in the results)",
    )
    r.add_argument(
        "--out",
        default="results",
        help="output folder for results, cache and generated videos (default: results)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


@dataclass
class Shared:
    """What the methods of one call share: the protocol, its metrics and the clips."""

    protocol: Any
    metric_ids: list[str]
    unavailable: list[str]
    metrics: dict
    keys: dict
    clips: list
    phash: str


@dataclass
class MethodRun:
    """One method of the call: its arguments (``--method`` its own spec when the call names several, so
    its results file records what a call of it alone records), the method and its results file."""

    args: argparse.Namespace
    method: Any
    driving: str | None
    results_file: Path
    t_start: float  # its wall time's start: the call's for the first method, its turn's for the others
    label: str = ""  # prefix of the progress bars when the call scores several methods
    outcome: str | None = None  # its line of the call's summary, once scored
    phase: str = ""  # "generating", then "scoring": how far it got (the summary of a stopped call)

    @property
    def name(self) -> str:
        return self.method.display_name

    @property
    def run_dir(self) -> Path:
        return Path(self.args.out) / self.args.dataset / method_dir_name(self.name)


def run(args: argparse.Namespace) -> int:
    """Score each method of ``args.method`` (one, or a comma list) on ``args.dataset`` under
    ``args.protocol`` (steps 1-4 of the module docstring) and write their results; returns the exit
    code (1 when a clip failed, unless ``--allow-failures``; with several methods, the worst of
    theirs). Raises ``UsageError`` (and the errors ``main`` reports) when nothing can run: every
    method is checked before any is scored."""
    shared, runs = prepare(args)
    with keep_workers():  # one set of Ray actors for generation and scoring, and for every method
        if len(runs) == 1:
            return score_method(shared, runs[0])
        return score_methods(shared, runs)


def prepare(args: argparse.Namespace) -> tuple[Shared, list[MethodRun]]:
    """Step 1, the pre-flight checks of the whole call (arguments, device, Ray address, protocol, clips,
    weight files) and of each method (its name, checkpoint, folder, results file); nothing is written."""
    from eval.protocols import get_protocol

    if args.workers != 0:  # under `ray job submit` without --address: score on that job's cluster
        from edtalk.ray_setup import cluster_address

        args.address = cluster_address(args.address)
    args.protocol, note = choose_protocol(args.dataset, args.protocol)
    check_device(args)
    check_address(args.address)
    check_workers(args)
    if note:
        print(f"note: {note}", file=sys.stderr)
    t_start = time.perf_counter()
    if args.allow_unverified_weights:
        os.environ["EDTALK_BENCH_ALLOW_UNVERIFIED"] = "1"
    protocol = get_protocol(args.protocol)
    metric_ids, unavailable = select_metrics(protocol, args.metrics)
    if unavailable:
        reasons = protocol.unavailable_reasons()
        for mid in unavailable:
            print(f"note: protocol {protocol.name}: metric {mid} skipped ({reasons[mid]})")
    if not metric_ids:
        raise UsageError(f"no metric of protocol {protocol.name!r} is implemented in this checkout")
    metrics = protocol.build(metric_ids)
    keys = {m: metric_key(metrics[m]) for m in metric_ids}

    clips, split_clips = resolve_clips(args)
    if unusual := note_unusual_gt(clips):
        print(f"note: {unusual}", file=sys.stderr)
    specs = method_specs(args)
    several = len(specs) > 1
    runs = [
        method_run(args, spec, clips, split_clips, protocol=protocol.name, several=several, t_start=t_start)
        for spec in specs
    ]
    if args.ckpt and not any(r.method.uses_ckpt for r in runs):
        print(
            f"note: --ckpt {args.ckpt} is unused: none of --method {args.method} generates from a checkpoint "
            "(edtalk_v and edtalk_a do)",
            file=sys.stderr,
        )
    synthtalk_root = args.root if args.dataset == "synthtalk" else None
    check_weights(protocol, metrics, args.allow_unverified_weights, synthtalk_root, clips)
    phash = protocol.hash()  # after check_weights: includes the installed judges' sha256
    check_distinct_results([(r.args.method, r.results_file) for r in runs])
    for r in runs:
        check_same_method(r.results_file, r.method, r.args)
    return Shared(protocol, metric_ids, unavailable, metrics, keys, clips, phash), runs


def method_specs(args: argparse.Namespace) -> list[str]:
    """``--method`` as a list of method specs (``split_methods``), refusing none, an empty one and one
    named twice."""
    specs = split_methods(args.method, args.dataset)
    if not specs:
        raise UsageError(f"--method is required: {method_help()}")
    check_method_list(args.method, specs)
    return specs


def method_run(
    args: argparse.Namespace,
    spec: str,
    clips: list,
    split: list,
    *,
    protocol: str,
    several: bool,
    t_start: float,
) -> MethodRun:
    """Build and check the method ``spec`` (``baselines.make_method``, ``prepare_method``, its driving
    mode); with ``several`` methods in the call it gets a copy of ``args`` whose ``--method`` is ``spec``."""
    from baselines import make_method

    try:
        method = make_method(spec, ckpt=args.ckpt, device=args.device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    prepare_method(method, clips, split)
    driving = method.driving_mode()  # a bad "driving" in a folder's provenance.json stops here
    own = argparse.Namespace(**{**vars(args), "method": spec}) if several else args
    results_file = results_path(args.out, args.dataset, method.display_name, protocol, args.split)
    label = f"{method.display_name}: " if several else ""
    return MethodRun(own, method, driving, results_file, t_start, label)


def score_methods(shared: Shared, runs: list[MethodRun]) -> int:
    """Score several methods one after another (one Ray for all: its workers keep the metrics' networks
    loaded), each under a header. A method whose generation stops (``stopping_errors``: its checkpoint,
    config or a weight file) is reported and the next one scored; any other error stops the call, as it
    stops a call of one method. Ends with one line per method; returns the worst exit code."""
    codes = []
    try:
        for i, r in enumerate(runs, 1):
            print(f"\n=== method {r.name} ({i} of {len(runs)})", flush=True)
            if i > 1:
                r.t_start = time.perf_counter()
            try:
                generated = generate_videos(shared, r)
            except stopping_errors() as err:
                r.outcome = f"exit 2, not scored: its generation stopped: {one_line(err)}"
                codes.append(2)
                print(f"error: method {r.name}: {err}", file=sys.stderr, flush=True)
                continue
            codes.append(score_predictions(shared, r, *generated))
    except BaseException as err:  # the call stops: say so in the lines of the methods it stopped
        why = "interrupted" if isinstance(err, KeyboardInterrupt) else one_line(err)
        for r in runs:
            r.outcome = r.outcome or STOPPED[r.phase].format(why=why)
        raise
    finally:
        print_outcomes(runs)
    return max(codes)


# a method's line when the call stopped, by how far it had got (``MethodRun.phase``)
STOPPED = {
    "": "not scored: the call stopped first ({why})",
    "generating": "stopped while generating ({why}): the videos it made so far are kept",
    "scoring": "stopped while scoring ({why}): the clips it scored so far are cached",
}


def print_outcomes(runs: list[MethodRun]) -> None:
    """One line per method of the call: its exit code and results file, or why it has none."""
    width = max(len(r.name) for r in runs)
    print(f"\n=== {len(runs)} methods")
    for r in runs:
        print(f"  {r.name:<{width}}  {r.outcome}")


def score_method(shared: Shared, r: MethodRun) -> int:
    """Steps 2-4 for one method (step 1 is ``prepare``): generate its missing videos, score and write
    its results."""
    return score_predictions(shared, r, *generate_videos(shared, r))


def generate_videos(shared: Shared, r: MethodRun) -> tuple[dict, dict[str, str], float]:
    """Step 2: the prediction of each clip (generated when missing), the clips without one (clip id ->
    why) and the seconds spent generating."""
    r.phase = "generating"
    args, method, clips = r.args, r.method, shared.clips
    videos_dir = r.run_dir / "videos"
    if method.generates:
        drop_stale_videos(videos_dir, method.provenance())
    preds = {c.id: method.prediction_path(c, videos_dir) for c in clips}
    gen_failures: dict[str, str] = {
        c.id: missing_prediction(c, method, args) for c in clips if preds[c.id] is None
    }
    t_gen = time.perf_counter()
    if method.generates:
        drop_videos_of_changed_inputs(clips, preds)
        todo = [(c, preds[c.id]) for c in clips if preds[c.id] is not None and not preds[c.id].exists()]
        if todo:
            print(f"generating {len(todo)} of {len(clips)} videos with {r.name} -> {videos_dir}")
        for out in run_chunks(
            generate_chunk,
            split_into_chunks(todo, args),
            args,
            f"{r.label}generate {r.name}",
            (method,),
            lost_generation,
        ):
            gen_failures.update(dict(out["failures"]))
    return preds, gen_failures, time.perf_counter() - t_gen


def score_predictions(
    shared: Shared, r: MethodRun, preds: dict, gen_failures: dict[str, str], t_gen: float
) -> int:
    """Steps 3-4: score the clips the cache lacks, merge and write the results file; the exit code."""
    from eval.metrics.lse import SyncScore

    args, method_name = r.args, r.name
    protocol, metrics, metric_ids, phash, clips = (
        shared.protocol, shared.metrics, shared.metric_ids, shared.phash, shared.clips
    )  # fmt: skip

    # 3. the rows the cache holds, then the clips it lacks are scored
    r.phase = "scoring"
    cache = ClipCache(r.run_dir / "cache" / phash)
    gt_store = GTFeatureStore(Path(args.out) / args.dataset / "gt_features" / phash)
    unverified: dict[str, str] = {}
    jobs: list[Job] = []
    for c in clips:
        pred = preds[c.id]
        inputs = clip_inputs(c, pred)
        skipped = not_applicable(metrics, c)  # decided here, from the clip: never cached, never failed
        applicable = {m: shared.keys[m] for m in metric_ids if m not in skipped}
        previous = reusable_row(cache, c, pred, inputs)
        cached = cache.usable_metrics(previous, applicable, inputs)
        for entry in cached.values():
            unverified.update(entry.get("unverified") or {})  # states computed with unverified weights
        job = Job(
            clip=c,
            pred=pred,
            inputs=inputs,
            todo=[m for m in applicable if m not in cached],
            cached=cached,
            not_applicable=skipped,
        )
        job.failure = gen_failures.get(c.id)
        if job.todo and job.failure is None:
            job.gt_features = gt_store.load(c.id, file_fingerprint(c.video))
        jobs.append(job)
    n_cached = sum(1 for j in jobs if j.cached and not j.todo)
    print(
        f"{args.dataset}/{args.split}: {len(clips)} clips, method {method_name}, protocol {protocol.name} "
        f"({phash}), metrics {', '.join(metric_ids)}; {n_cached} clips from the cache"
    )

    # the clips the cache lacks
    rows: dict[str, dict] = {}
    for j in jobs:
        if j.failure is not None:
            rows[j.clip.id] = {"inputs": j.inputs, "metrics": {}, "failure": j.failure}
    to_score = [j for j in jobs if j.todo and j.failure is None]
    by_id = {j.clip.id: j for j in to_score}
    synced = [j.clip for j in to_score if any(isinstance(metrics[m], SyncScore) for m in j.todo)]
    if short := note_short_audio(synced):
        print(f"note: {short}", file=sys.stderr)
    seconds: dict[str, float] = {}
    t_score = time.perf_counter()
    for out in run_chunks(
        score_chunk,
        split_into_chunks(to_score, args),
        args,
        f"{r.label}score {protocol.name}",
        (protocol, metric_ids, args.device),
        lost_scoring,
    ):
        unverified.update(out["unverified"])
        for clip_id, row in out["rows"]:
            rows[clip_id] = row
            for k, v in row.pop("seconds", {}).items():
                seconds[k] = seconds.get(k, 0.0) + v
            new_gt = row.pop("gt_features", None)
            if new_gt:
                job = by_id[clip_id]
                gt_store.save(clip_id, file_fingerprint(job.clip.video), {**job.gt_features, **new_gt})
            if row["failure"] is None:
                save_row(cache, clip_id, row, {"method": method_name, "protocol_hash": phash})
        if out.get("fatal") is not None:  # a configuration error, after caching the chunk's rows
            raise out["fatal"]
    t_score = time.perf_counter() - t_score

    # 4. aggregate in the driver
    merged = aggregate(jobs, rows, metrics, metric_ids, r.results_file.parent)

    data = {
        "schema": SCHEMA,
        "dataset": args.dataset,
        "method": method_name,
        "split": args.split,
        "driving": r.driving,
        "protocol": {
            "name": protocol.name,
            "hash": phash,
            "settings": protocol.settings(),
            "fingerprint": protocol.fingerprint(),
        },
        "metrics": {
            m: metric_entry(
                metrics[m],
                metrics[m].compute(merged.states[m]),
                n_clips=merged.n_scored[m],
                not_applicable=merged.not_applicable[m],
            )
            for m in metric_ids
        },
        "unavailable_metrics": {m: protocol.unavailable_reasons()[m] for m in shared.unavailable},
        "n_clips": len(clips),
        "n_from_cache": n_cached,
        "failures": merged.failures,
        "unverified": bool(unverified),
        "unverified_weights": unverified,
        "versions": {
            "libraries": library_versions(LIBRARIES),
            "metrics": {m: metrics[m].version for m in metric_ids},
        },
        "git": git_info(),
        "config": {**vars(args), "cwd": os.getcwd()},  # the folder relative paths were given from
        "provenance": r.method.provenance(),
        "timing": {
            "generate_s": round(t_gen, 3),
            "score_s": round(t_score, 3),
            # CPU-side seconds summed over clips (all workers): decoding and each metric, a shared
            # backbone pass counted in the first metric that needs it
            "clip_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "wall_s": round(time.perf_counter() - r.t_start, 3),
            "machine": machine(),  # where these seconds were spent (the driver's node)
        },
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    replaced = smaller_than_before(r.results_file, data)
    path = write_results(r.results_file, data, merged.clip_rows)
    _print_summary(data, path)
    if replaced:
        print(f"note: {replaced}; rerun without --limit/--metrics to restore it (its rows are cached)")
    _print_first_failures(merged.failures)
    _print_first_crash(merged.failures, path)
    failed_clips = len({f["clip"] for f in merged.failures})
    code = 1 if merged.failures and not args.allow_failures else 0
    r.outcome = f"exit {code}, {len(clips)} clips, {failed_clips} with failures: {path}"
    if code:
        print(
            f"{len(merged.failures)} failure(s) (see 'failures' in {path}); "
            "exit code 1 (--allow-failures to ignore)"
        )
    return code


def _print_summary(data: dict, path: Path) -> None:
    """Each metric's value, spread and clip counts, and the run's clip and failure counts."""
    print(f"wrote {path}")
    for e in data["metrics"].values():
        arrow = "↑" if e["higher_is_better"] else "↓"
        value = "n/a" if e["value"] is None else f"{e['value']:.4f}"
        spread = "" if e["spread"] is None else f" ± {e['spread']:.4f}"
        na = e.get("not_applicable")
        note = f"; not applicable to {na['n_clips']} clips: {na['reason']}" if na else ""
        print(f"  {e['label']:<10} {arrow} {value}{spread}  (n={e['n']}, clips={e['n_clips']}{note})")
    failed_clips = {f["clip"] for f in data["failures"]}
    print(
        f"  clips: {data['n_clips']} ({data['n_from_cache']} from cache, {len(failed_clips)} with failures); "
        f"wall {data['timing']['wall_s']:.1f} s{'; UNVERIFIED weights' if data['unverified'] else ''}"
    )


def _print_first_failures(failures: list[dict], shown: int = 3) -> None:
    """The first few failures (clip, metric, reason), so a run's problems show without the JSON."""
    plain = [f for f in failures if not f.get("traceback")]
    for f in plain[:shown]:
        where = f["clip"] + (f" ({f['metric']})" if f["metric"] else "")
        print(f"  failed: {where}: {f['reason']}")
    if len(plain) > shown:
        print(f"  ... and {len(plain) - shown} more")


def _print_first_crash(failures: list[dict], path: Path) -> None:
    """The traceback of the first unexpected exception, once, on stderr (all are in the results)."""
    crashes = [f for f in failures if f.get("traceback")]
    if crashes:
        first = crashes[0]
        where = f"clip {first['clip']}" + (f", metric {first['metric']}" if first["metric"] else "")
        print(
            f"{len(crashes)} unexpected exception(s) while scoring (tracebacks in 'failures' of {path}); "
            f"the first, on {where}:\n{first['traceback']}",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    """The CLI: ``run`` the parsed ``argv``; a known error (``UsageError``, missing weights or data, ...)
    is one line on stderr and exit code 2, Ctrl-C exit code 130 (also while torch and the metrics are
    still loading: it printed a traceback there)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run_reporting_errors(args)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: the clips scored so far are cached; the same command resumes from them",
            file=sys.stderr,
        )
        return 130


def reported_errors() -> tuple[type[BaseException], ...]:
    """The errors that are a user's mistake: one ``error:`` line each, no traceback."""
    from edtalk.data.errors import DataError
    from edtalk.model import CheckpointError
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError
    from eval.chunk_runner import WorkersDidNotStart

    return (
        UsageError,
        WorkersDidNotStart,  # nothing could run
        DataError,
        CheckpointError,
        UnknownNameError,
        MissingWeightsError,
        WeightsMismatchError,
        FileNotFoundError,  # e.g. --ckpt missing (the method names the file)
    )


def _run_reporting_errors(args: argparse.Namespace) -> int:
    """``run``, a user's mistake reported as one ``error:`` line (exit 2)."""
    try:
        return run(args)
    except reported_errors() as e:
        return report_error(e)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
