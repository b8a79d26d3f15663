"""``python -m eval.run``: score one method on one dataset split under one protocol.

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

A metric that does not apply to a clip at all (``Metric.not_applicable``: Acc_emo on a dataset without
emotion labels, the disentanglement metrics without synthtalk's ground truth) is not scored for it
and shows as "not applicable" with its reason (results, summary, report), never as a failure.

Exit codes: 0 ok; 1 some clip failed (recorded with its reason; 0 with ``--allow-failures``),
an unexpected exception in a metric included (the clip's failure for that metric, with its
traceback; the other clips and metrics are scored and cached); 2 nothing could run (bad
arguments, dataset layout, missing weights or checkpoint).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edtalk.atomic import write_json
from edtalk.cli import non_negative_int, positive_int, report_error
from edtalk.provenance import machine
from eval.cache import ClipCache, GTFeatureStore, clip_inputs, file_fingerprint, metric_key
from eval.results import SCHEMA, method_dir_name, metric_entry, results_path, write_results

log = logging.getLogger("eval.run")

DATASETS = ("synthtalk", "mead", "hdtf", "lrw", "voxceleb2", "folder")
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
)

EPILOG = """\
examples:
  # the built-in dataset, ground truth against itself (upper bound), offline judges
  python -m eval.run --dataset synthtalk --root data/synthtalk --split test \\
      --method gt --protocol synthtalk --out results/
  # the static-frame lower bound, only two metrics, 4 Ray workers
  python -m eval.run --dataset synthtalk --root data/synthtalk --method static \\
      --protocol synthtalk --metrics psnr,ssim --workers 4 --out results/
  # EDTalk audio-driven on MEAD with the paper's (EAT) protocol
  python -m eval.run --dataset mead --root /data/MEAD_front --method edtalk_a \\
      --ckpt ckpt/edtalk_audio.pt --protocol eat --out results/
  # a folder of EAT's outputs (M003_ang_1_001.mp4 ...) on MEAD
  python -m eval.run --dataset mead --root /data/MEAD_front --method folder:/data/eat_out \\
      --protocol eat --out results/
  # any two folders of videos paired by file name
  python -m eval.run --dataset folder --gt videos/gt --pred videos/ours --protocol canonical --out results/
  # on a running Ray cluster
  python -m eval.run ... --address auto

Results: <out>/<dataset>/<method>/<protocol>.json (+ .clips.jsonl; <protocol>.<split>.json for a split
other than test); cache:
<out>/<dataset>/<method>/cache/<protocol hash>/; generated videos: <out>/<dataset>/<method>/videos/.
Exit code 1 if any clip failed (see "failures" in the JSON) unless --allow-failures.
"""


def build_parser() -> argparse.ArgumentParser:
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
        choices=DATASETS,
        help="dataset reader (edtalk.data.readers); 'folder' pairs --gt and --pred by file name",
    )
    d.add_argument("--root", help="dataset root folder (e.g. data/synthtalk); not used with --dataset folder")
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
        help="gt | static | edtalk_v | edtalk_a | folder:DIR (a folder of a method's output "
        "videos; EAT names are mapped to MEAD ids) | paired (default with --dataset folder)",
    )
    m.add_argument("--ckpt", help="checkpoint for generating methods (edtalk_v, edtalk_a)")
    m.add_argument("--protocol", default="synthtalk", help="eat | canonical | synthtalk (default: synthtalk)")
    m.add_argument(
        "--metrics",
        help="comma-separated metric ids (default: every metric of the protocol "
        "implemented in this checkout), e.g. psnr,ssim,fid",
    )
    r = p.add_argument_group("execution")
    r.add_argument(
        "--workers",
        type=non_negative_int,
        default=2,
        help="Ray CPUs for a local Ray (default 2); 0 scores in this process without Ray",
    )
    r.add_argument(
        "--address", help="Ray cluster address (e.g. auto or ray://host:10001); default: a local Ray"
    )
    r.add_argument(
        "--device",
        default="cpu",
        help="torch device for the backbones and for generating methods' networks: cpu (default), "
        "cuda, cuda:N, or auto (a CUDA GPU when this machine has one; not with --address)",
    )
    r.add_argument(
        "--chunk",
        type=positive_int,
        default=None,
        help="clips per Ray task (default: about 4 tasks per worker, at most 8)",
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


class UsageError(Exception):
    """A problem with the arguments or inputs that stops the run before scoring (exit code 2)."""


# -- clips and predictions -------------------------------------------------------------------------


def resolve_clips(args: argparse.Namespace) -> list:
    from edtalk.data.readers import pair_folders, read_clips

    if args.dataset == "folder" and (args.gt or args.pred):
        if not (args.gt and args.pred):
            raise UsageError(
                "--dataset folder needs both --gt DIR and --pred DIR (or --root with gt/ and pred/)"
            )
        clips = pair_folders(args.gt, args.pred, args.split)
    else:
        if not args.root:
            raise UsageError(f"--dataset {args.dataset} needs --root DIR")
        clips = read_clips(args.dataset, args.root, args.split)
    if args.limit is not None:
        clips = clips[: args.limit]
    if not clips:
        raise UsageError(f"no clips in {args.dataset} split {args.split!r}")
    duplicated = duplicate_clips(clips)
    if duplicated:
        shown = [f"{cid!r} ({', '.join(str(c.video) for c in same)})" for cid, same in duplicated.items()]
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise UsageError(
            f"{args.dataset}: duplicate clip ids in split {args.split!r} (one video per clip id; "
            f"remove or rename the extra files): {'; '.join(shown[:5])}{more}"
        )
    return clips


def duplicate_clips(clips: list) -> dict[str, list]:
    """Clip id -> its clips, for the ids that more than one clip of ``clips`` has (in order)."""
    by_id: dict[str, list] = {}
    for c in clips:
        by_id.setdefault(c.id, []).append(c)
    return {cid: same for cid, same in by_id.items() if len(same) > 1}


@dataclass
class Job:
    """One clip to score: the GT clip, its prediction and which metrics still need scoring."""

    clip: Any
    pred: Path | None
    inputs: list
    todo: list[str]
    failure: str | None = None  # set when the clip cannot be scored at all
    cached: dict = field(default_factory=dict)  # metric id -> cached entry
    not_applicable: dict = field(default_factory=dict)  # metric id -> why it does not apply (not scored)
    gt_features: dict = field(default_factory=dict)  # stored GT-side features (GTFeatureStore)


# -- scoring one clip (runs in Ray workers or in this process) ------------------------------------


def score_clip(ctx_factory: Callable, job: Job, protocol: Any, metrics: dict, keys: dict) -> dict:
    """Score ``job.todo`` metrics on one clip; returns a cache row (``failure`` set when the clip
    as a whole cannot be scored: unreadable, too short, GT/prediction length mismatch). A clip
    without a prediction never comes here: ``run`` fails it first (``missing_prediction``)."""
    from edtalk.data.errors import DataError
    from eval.metrics.base import ClipFailure

    FATAL_ERRORS = _fatal_errors()
    row: dict[str, Any] = {"inputs": job.inputs, "metrics": {}, "failure": None, "seconds": {}}
    ctx = ctx_factory(job.clip, job.pred, job.gt_features)
    t0 = time.perf_counter()
    try:
        t_gt, t_pred = len(ctx.frames("gt")), len(ctx.frames("pred"))
    except (DataError, ClipFailure) as e:
        row["failure"] = str(e)
        return row
    gate, other_rate = protocol.max_length_diff, ctx.fps("gt") != ctx.fps("pred")
    if (gate is not None and abs(t_gt - t_pred) > gate) or (gate is None and t_gt != t_pred and other_rate):
        apart = f" (more than {gate} apart)" if gate is not None else ""
        row["failure"] = f"GT has {t_gt} frames, prediction {t_pred}{apart} ({job.clip.video}, {job.pred})"
        if other_rate:
            rates = f"the prediction is at {ctx.fps('pred'):g} fps, GT at {ctx.fps('gt'):g}"
            row["failure"] += f"; {rates}: resample it"
        return row
    if min(t_gt, t_pred) < protocol.min_frames:
        row["failure"] = f"too short: {min(t_gt, t_pred)} frames (at least {protocol.min_frames} needed)"
        return row
    row["seconds"]["decode"] = time.perf_counter() - t0
    for mid in job.todo:
        metric = metrics[mid]
        entry: dict[str, Any] = {"key": keys[mid], "version": metric.version}
        t0 = time.perf_counter()
        try:
            entry["state"] = metric.clip_state(ctx)
        except ClipFailure as e:
            entry["failure"] = e.reason
        except DataError as e:  # e.g. the clip's audio is unreadable: a bad input, not a bug
            entry["failure"] = str(e)
        except FATAL_ERRORS:
            raise  # configuration problems (missing weights, unknown backbone): stop the run
        except Exception as e:  # a bug met on this clip: its failure, the other clips go on
            entry.update(crash_failure(e))
        row["metrics"][mid] = entry
        # features are shared: a backbone pass is timed in the first metric that needs it
        row["seconds"][mid] = time.perf_counter() - t0
    row["gt_features"] = ctx.new_gt_features()
    return row


def not_applicable(metrics: dict, clip: Any) -> dict[str, str]:
    """Metric id -> why it does not apply to ``clip`` (``Metric.not_applicable``), for the metrics
    that do not: they are skipped for this clip and reported as not applicable, not as failures."""
    return {m: why for m, metric in metrics.items() if (why := metric.not_applicable(clip)) is not None}


def crash_failure(err: Exception) -> dict[str, str]:
    """``failure`` (exception type and message) and ``traceback`` of an unexpected exception; rows
    with a traceback are not cached, so the next run tries again."""
    return {"failure": f"crashed: {type(err).__name__}: {err}", "traceback": traceback.format_exc()}


def _fatal_errors() -> tuple[type[BaseException], ...]:
    """Errors that are not about one clip and must stop the run with their own message."""
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError

    return (UnknownNameError, MissingWeightsError, WeightsMismatchError)


def score_chunk(jobs: list[Job], protocol: Any, metric_ids: list[str], device: str) -> dict:
    """Ray task body: build the metrics once, score each job; returns rows + unverified weights."""
    from edtalk.weights import unverified_in_use
    from eval.context import ClipContext

    metrics = protocol.build(metric_ids)
    keys = {m: metric_key(metrics[m]) for m in metric_ids}

    def make_ctx(clip, pred, gt_features):
        return ClipContext(clip, pred, device=device, gt_features=gt_features)

    fatal = _fatal_errors()
    rows = []
    for job in jobs:
        try:
            row = score_clip(make_ctx, job, protocol, metrics, keys)
        except fatal:
            raise
        except Exception as e:  # outside any one metric (decoding, context): the clip's failure
            row = {"inputs": job.inputs, "metrics": {}, "seconds": {}, **crash_failure(e)}
        rows.append((job.clip.id, row))
    # The registry of unverified files is per process; report only the files these metrics use,
    # so an in-process run is not stamped by weights some earlier, unrelated caller resolved.
    in_use = unverified_in_use()
    marks = {
        m: {n: in_use[n] for n in metric_weights(protocol, m, metrics[m]) if n in in_use} for m in metrics
    }
    for _, row in rows:
        for mid, entry in row["metrics"].items():
            entry["unverified"] = marks[mid]  # kept with the entry in the cache
    unverified = {name: why for mark in marks.values() for name, why in mark.items()}
    return {"rows": rows, "unverified": unverified}


def metric_weights(protocol: Any, metric_id: str, metric: Any) -> list[str]:
    """The weight files a metric uses: those it declares and the protocol's backbone weights named
    in its settings (the judges)."""
    settings_text = repr(protocol.spec(metric_id).settings)
    return [*metric.weights_needed(), *(w for w in protocol.weights if w in settings_text)]


def lost_scoring(jobs: list[Job], reason: str) -> dict:
    """``score_chunk``'s result for a task whose worker died: each clip failed (not cached, so the
    next run tries it again)."""
    rows = [(j.clip.id, {"inputs": j.inputs, "metrics": {}, "seconds": {}, "failure": reason}) for j in jobs]
    return {"rows": rows, "unverified": {}}


def lost_generation(items: list[tuple[Any, Path]], reason: str) -> dict:
    """``generate_chunk``'s result for a task whose worker died: each clip's generation failed."""
    return {"rows": [c.id for c, _ in items], "failures": [(c.id, reason) for c, _ in items]}


def generate_chunk(items: list[tuple[Any, Path]], method: Any) -> dict:
    """Ray task body: write the method's prediction for each (clip, path); failures by clip."""
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.model import CheckpointError

    failures = []
    for clip, path in items:
        try:
            method.generate(clip, path)
            stamp_generation_inputs(clip, path)  # here, so a killed run keeps what it finished
        except (DataError, FileNotFoundError, ValueError) as e:
            failures.append((clip.id, f"generation failed: {e}"))
        except (*_fatal_errors(), CheckpointError, ConfigError):
            raise  # the same for every clip: stop the run with its message
        except Exception as e:  # a bug met on this clip: its failure, the other clips go on
            traceback.print_exc()
            failures.append((clip.id, f"generation crashed: {type(e).__name__}: {e}"))
    return {"rows": [c.id for c, _ in items], "failures": failures}


# -- execution: Ray or in-process ----------------------------------------------------------------


def _worker_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    for k in ("EDTALK_BENCH_WEIGHTS", "EDTALK_BENCH_ALLOW_UNVERIFIED", "HF_HUB_OFFLINE", "PYTHONPATH"):
        if os.environ.get(k):
            env[k] = os.environ[k]
    if env.get("EDTALK_BENCH_WEIGHTS"):  # the driver's folder, wherever a worker starts
        env["EDTALK_BENCH_WEIGHTS"] = str(Path(env["EDTALK_BENCH_WEIGHTS"]).expanduser().resolve())
    if args.allow_unverified_weights:
        env["EDTALK_BENCH_ALLOW_UNVERIFIED"] = "1"
    return env


def _init_ray(args: argparse.Namespace):
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if not ray.is_initialized():
        t0 = time.perf_counter()
        runtime_env = {"env_vars": _worker_env(args)}
        if args.address:
            ray.init(address=args.address, runtime_env=runtime_env, log_to_driver=True)
        else:
            ray.init(
                address="local",  # always a private local Ray, even if another cluster runs here
                _node_ip_address="127.0.0.1",
                num_cpus=max(args.workers, 1),
                include_dashboard=False,
                runtime_env=runtime_env,
                log_to_driver=True,
            )
        if not args.quiet:
            print(f"Ray started in {time.perf_counter() - t0:.1f} s")
    if args.device.startswith("cuda") and ray.cluster_resources().get("GPU", 0) < 1:
        where = f"the Ray cluster at {args.address}" if args.address else "the local Ray"
        raise UsageError(
            f"--device {args.device}: {where} has no GPU, so no task could start (use --device cpu)"
        )
    return ray


def run_chunks(
    fn: Callable,
    chunks: list[list],
    args: argparse.Namespace,
    desc: str,
    extra: tuple = (),
    lost: Callable[[list, str], dict] | None = None,
) -> Iterator[dict]:
    """Yield ``fn(chunk, *extra)`` for each chunk as it completes, with a clips/s progress bar:
    in this process (``--workers 0``) or as Ray tasks (tqdm over ``ray.wait`` completions). A task
    whose Ray worker died (killed for memory, a crash in native code) is tried once more; when it
    dies again, ``lost(chunk, reason)`` stands for its result (its clips' failures) and the other
    tasks go on. An exception raised by ``fn`` itself (a configuration error) stops the run."""
    from tqdm import tqdm

    total = sum(len(c) for c in chunks)
    if total == 0:
        return  # nothing to do: do not start Ray
    with tqdm(
        total=total, unit="clip", desc=desc, disable=args.quiet or total == 0, dynamic_ncols=True
    ) as bar:
        if args.workers == 0 and not args.address:
            for chunk in chunks:
                out = fn(chunk, *extra)
                bar.update(len(chunk))
                yield out
            return
        ray = _init_ray(args)
        opts = {"num_cpus": 1, "max_retries": 1}  # retries follow a dead worker, not an exception
        if args.device.startswith("cuda"):
            opts["num_gpus"] = 1
        remote = ray.remote(**opts)(_run_in)
        shared = [ray.put(x) for x in extra]
        cwd = os.getcwd()
        pending = {remote.remote(cwd, fn, chunk, *shared): chunk for chunk in chunks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            chunk = pending.pop(done[0])
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayTaskError as e:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise e.as_instanceof_cause() from None
            except ray.exceptions.RayError as e:  # the worker process or its node died
                if lost is None:
                    raise
                first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
                out = lost(chunk, f"lost: the Ray worker running it died ({type(e).__name__}: {first_line})")
            bar.update(len(chunk))
            yield out


def _run_in(cwd: str, fn: Callable, chunk: list, *extra: Any) -> Any:
    """A Ray task: ``fn(chunk, *extra)`` from the driver's working folder, so that relative paths
    (``--root data/synthtalk``, ``--out``, ``--ckpt``) mean on a cluster's workers what they mean to
    the driver wherever the folder is shared; a worker without it keeps its own folder."""
    if os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    return fn(chunk, *extra)


def _chunks(items: list, args: argparse.Namespace) -> list[list]:
    if not items:
        return []
    if args.chunk:
        size = args.chunk
    elif args.workers == 0 and not args.address:
        size = 1  # in-process: a row per clip reaches the cache as soon as it is scored
    else:
        size = min(8, max(1, math.ceil(len(items) / (4 * max(args.workers, 1)))))
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- provenance ----------------------------------------------------------------------------------


def git_info() -> dict:
    root = Path(__file__).resolve().parent.parent

    def git(*cmd: str) -> str | None:
        try:
            out = subprocess.run(["git", *cmd], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def library_versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        mod = sys.modules.get(name)
        version = getattr(mod, "__version__", None) if mod else None
        if version is None:
            dist = {"skimage": "scikit-image", "cv2": "opencv-python-headless", "dlib": "dlib-bin"}.get(
                name, name
            )
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = None
        out[name] = str(version) if version is not None else None
    try:
        out["edtalk-bench"] = metadata.version("edtalk-bench")
    except metadata.PackageNotFoundError:
        out["edtalk-bench"] = None
    return out


# -- the run ---------------------------------------------------------------------------------------


def select_metrics(protocol: Any, requested: str | None) -> tuple[list[str], list[str]]:
    available, unavailable = protocol.available()
    if not requested:
        return available, unavailable
    ids = [m.strip() for m in requested.split(",") if m.strip()]
    for mid in ids:
        if mid not in protocol.metric_ids():
            raise UsageError(
                f"metric {mid!r} is not in protocol {protocol.name!r} ({', '.join(protocol.metric_ids())})"
            )
        if mid not in available:
            raise UsageError(
                f"metric {mid!r} of protocol {protocol.name!r} cannot run here: "
                f"{protocol.unavailable_reasons()[mid]}"
            )
    return ids, []


def check_weights(protocol: Any, metrics: dict, allow_unverified: bool, data: str | None = None) -> None:
    """Resolve every weight file the selected metrics need before any work: those each metric
    declares, and the protocol's backbone weights named in their settings (the judges). With
    ``data`` (a synthtalk root) a judge trained on that set's train or test people is refused."""
    from edtalk import weights
    from eval.protocols import weight_identity

    names = [n for mid, metric in metrics.items() for n in metric_weights(protocol, mid, metric)]
    for name in dict.fromkeys(names):
        weight_identity(name)  # registers locally trained judges with the manager
        if name.endswith("_judge"):
            from edtalk.experts.store import resolve_judge  # its error says how to train it

            resolve_judge(name, data)
        elif name in weights.WEIGHTS:
            weights.resolve(name, allow_unverified=allow_unverified)


def missing_prediction(clip: Any, method: Any, args: argparse.Namespace) -> str:
    """Why a clip has no prediction, naming where it was looked for."""
    folder = getattr(method, "folder", None)
    if folder is not None:  # folder:DIR
        return (
            f"no prediction video for this clip in {folder}: name it {clip.id}.mp4 "
            "(or map its file name to the clip id in the folder's provenance.json name_map)"
        )
    if args.dataset == "folder":  # --gt/--pred pairs by file stem
        return f"no prediction video for this clip in {args.pred}: name it {Path(clip.video).stem}.mp4"
    return "no prediction video for this clip"


def check_same_method(results_file: Path, method: Any, args: argparse.Namespace | None = None) -> None:
    """Refuse to replace the results of another method of the same name: two output folders with
    the same name (``folder:/x/eat/videos`` and ``folder:/y/sadtalker/videos`` are both
    ``folder-videos``) would share one results file and one cache; so would two ``--dataset
    folder`` pairs (both method ``paired``)."""
    folder = getattr(method, "folder", None)
    if not results_file.is_file() or (folder is None and not (args and args.dataset == "folder")):
        return
    try:
        data = json.loads(results_file.read_text())
        before = (data.get("provenance") or {}).get("folder")
        config = data.get("config") or {}
    except (OSError, ValueError, AttributeError):
        return  # an unreadable file is replaced, as before
    if folder is None:
        for flag in ("gt", "pred"):
            old, new = config.get(flag), getattr(args, flag)
            if old is not None and new is not None and Path(old).resolve() != Path(new).resolve():
                raise UsageError(
                    f"{results_file} holds the scores of --{flag} {old}; this run's --{flag} is {new}. "
                    "Score another pair with another --out (every --dataset folder pair is method 'paired')"
                )
        return
    if before is not None and before != str(Path(folder).resolve()):
        raise UsageError(
            f"{results_file} holds the scores of another folder, {before}, whose method has the same name "
            f"as {folder}'s ({method.display_name}); name this one in {folder}/provenance.json "
            '(e.g. {"method": "sadtalker"}) or score it with another --out'
        )


def check_device(args: argparse.Namespace) -> None:
    """--device names a torch device this run can use (``edtalk.cli.parse_device``; "auto" becomes
    cpu or cuda): a CUDA device on a machine (or local Ray) without one would crash in every clip's
    first metric, or leave Ray tasks waiting for a GPU forever. On a cluster (--address) the GPUs
    are the workers', checked when Ray starts (``_init_ray``)."""
    from edtalk.cli import parse_device

    try:
        args.device = parse_device(args.device, here=not args.address)
    except ValueError as err:
        raise UsageError(str(err)) from None


def check_address(address: str | None) -> None:
    """--address names a Ray cluster that answers (``edtalk.ray_setup.check_cluster_address``)."""
    if address:
        from edtalk.ray_setup import ClusterAddressError, check_cluster_address

        try:
            check_cluster_address(address)
        except ClusterAddressError as err:
            raise UsageError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from baselines import make_method
    from eval.protocols import get_protocol

    check_device(args)
    check_address(args.address)
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

    clips = resolve_clips(args)
    method_spec = args.method or ("paired" if args.dataset == "folder" else None)
    if method_spec is None:
        raise UsageError("--method is required (gt, static, edtalk_v, edtalk_a, folder:DIR)")
    try:
        method = make_method(method_spec, ckpt=args.ckpt, device=args.device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    method.prepare(clips)
    driving = method.driving_mode()  # a bad "driving" in a folder's provenance.json stops here
    synthtalk_root = args.root if args.dataset == "synthtalk" else None
    check_weights(protocol, metrics, args.allow_unverified_weights, synthtalk_root)
    phash = protocol.hash()  # after check_weights: includes the installed judges' sha256
    method_name = method.display_name
    run_dir = Path(args.out) / args.dataset / method_dir_name(method_name)
    results_file = results_path(args.out, args.dataset, method_name, protocol.name, args.split)
    check_same_method(results_file, method, args)
    videos_dir = run_dir / "videos"
    if method.generates:
        drop_stale_videos(videos_dir, method.provenance())

    # 1. predictions
    preds = {c.id: method.prediction_path(c, videos_dir) for c in clips}
    gen_failures: dict[str, str] = {
        c.id: missing_prediction(c, method, args) for c in clips if preds[c.id] is None
    }
    t_gen = time.perf_counter()
    if method.generates:
        drop_videos_of_changed_inputs(clips, preds)
        todo = [(c, preds[c.id]) for c in clips if preds[c.id] is not None and not preds[c.id].exists()]
        if todo:
            print(f"generating {len(todo)} of {len(clips)} videos with {method_name} -> {videos_dir}")
        for out in run_chunks(
            generate_chunk, _chunks(todo, args), args, f"generate {method_name}", (method,), lost_generation
        ):
            gen_failures.update(dict(out["failures"]))
    t_gen = time.perf_counter() - t_gen

    # 2. cache lookup
    cache = ClipCache(run_dir / "cache" / phash)
    gt_store = GTFeatureStore(Path(args.out) / args.dataset / "gt_features" / phash)
    unverified: dict[str, str] = {}
    jobs: list[Job] = []
    for c in clips:
        pred = preds[c.id]
        inputs = clip_inputs(c, pred)
        skipped = not_applicable(metrics, c)  # decided here, from the clip: never cached, never failed
        applicable = {m: keys[m] for m in metric_ids if m not in skipped}
        previous = cache.load(c.id)
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

    # 3. scoring
    rows: dict[str, dict] = {}
    for j in jobs:
        if j.failure is not None:
            rows[j.clip.id] = {"inputs": j.inputs, "metrics": {}, "failure": j.failure}
    to_score = [j for j in jobs if j.todo and j.failure is None]
    by_id = {j.clip.id: j for j in to_score}
    seconds: dict[str, float] = {}
    t_score = time.perf_counter()
    for out in run_chunks(
        score_chunk,
        _chunks(to_score, args),
        args,
        f"score {protocol.name}",
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
    t_score = time.perf_counter() - t_score

    # 4. aggregate in the driver
    states = {m: metrics[m].empty_state() for m in metric_ids}
    n_scored = dict.fromkeys(metric_ids, 0)  # clips in each metric's numbers
    skipped: dict[str, dict[str, str]] = {m: {} for m in metric_ids}  # metric -> clip -> why not applicable
    failures: list[dict] = []
    clip_rows: list[dict] = []
    for j in jobs:
        for m, why in j.not_applicable.items():
            skipped[m][j.clip.id] = why
        row = rows.get(j.clip.id, {"metrics": {}, "failure": None})
        if row["failure"] is not None:
            failures.append(_failure(j.clip.id, None, row))
            clip_rows.append(
                {"clip": j.clip.id, "values": {}, "failures": {"*": row["failure"]}, "from_cache": False}
            )
            continue
        entries = {**j.cached, **row["metrics"]}
        values, fails = {}, {}
        for m in metric_ids:
            if m in j.not_applicable:
                continue
            e = entries[m]
            if "state" in e:
                states[m] = metrics[m].merge(states[m], e["state"])
                values[m] = metrics[m].clip_value(e["state"])
                n_scored[m] += 1
            else:
                fails[m] = e["failure"]
                failures.append(_failure(j.clip.id, m, e))
        clip_row = {
            "clip": j.clip.id,
            "values": values,
            "failures": fails,
            "from_cache": bool(j.cached) and not j.todo,
        }
        if j.not_applicable:
            clip_row["not_applicable"] = dict(j.not_applicable)
        clip_rows.append(clip_row)

    data = {
        "schema": SCHEMA,
        "dataset": args.dataset,
        "method": method_name,
        "split": args.split,
        "driving": driving,
        "protocol": {
            "name": protocol.name,
            "hash": phash,
            "settings": protocol.settings(),
            "fingerprint": protocol.fingerprint(),
        },
        "metrics": {
            m: metric_entry(
                metrics[m], metrics[m].compute(states[m]), n_clips=n_scored[m], not_applicable=skipped[m]
            )
            for m in metric_ids
        },
        "unavailable_metrics": {m: protocol.unavailable_reasons()[m] for m in unavailable},
        "n_clips": len(clips),
        "n_from_cache": n_cached,
        "failures": failures,
        "unverified": bool(unverified),
        "unverified_weights": unverified,
        "versions": {"libraries": library_versions(), "metrics": {m: metrics[m].version for m in metric_ids}},
        "git": git_info(),
        "config": {k: v for k, v in vars(args).items()},
        "provenance": method.provenance(),
        "timing": {
            "generate_s": round(t_gen, 3),
            "score_s": round(t_score, 3),
            # CPU-side seconds summed over clips (all workers): decoding and each metric, a shared
            # backbone pass counted in the first metric that needs it
            "clip_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "wall_s": round(time.perf_counter() - t_start, 3),
            "machine": machine(),  # where these seconds were spent (the driver's node)
        },
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    replaced = smaller_than_before(results_file, data)
    path = write_results(results_file, data, clip_rows)
    _print_summary(data, path)
    if replaced:
        print(f"note: {replaced}; rerun without --limit/--metrics to restore it (its rows are cached)")
    _print_first_failures(failures)
    _print_first_crash(failures, path)
    if failures and not args.allow_failures:
        print(
            f"{len(failures)} failure(s) (see 'failures' in {path}); exit code 1 (--allow-failures to ignore)"
        )
        return 1
    return 0


def _print_summary(data: dict, path: Path) -> None:
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


def _failure(clip_id: str, metric: str | None, entry: dict) -> dict:
    """A ``failures`` item of the results; a crash keeps its traceback."""
    failure = {"clip": clip_id, "metric": metric, "reason": entry["failure"]}
    if entry.get("traceback"):
        failure["traceback"] = entry["traceback"]
    return failure


def smaller_than_before(results_file: Path, data: dict) -> str | None:
    """What a subset run (``--limit``, ``--metrics``) drops from the results file it replaces."""
    try:
        before = json.loads(results_file.read_text()) if results_file.is_file() else None
        clips_before, metrics_before = int(before["n_clips"]), set(before["metrics"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    lost = sorted(metrics_before - set(data["metrics"]))
    parts = [f"{clips_before} clips"] if clips_before > data["n_clips"] else []
    parts += [f"metrics {', '.join(lost)}"] if lost else []
    return f"{results_file} had {' and '.join(parts)} that this run replaced" if parts else None


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


def save_row(cache: ClipCache, clip_id: str, row: dict, about: dict) -> None:
    """Write a scored clip's row over its cached one, keeping every earlier entry whose inputs still
    match (metrics not asked for this time too); crashed entries are left out, to be retried."""
    kept = cache.entries(cache.load(clip_id), row["inputs"])
    fresh = {m: e for m, e in row["metrics"].items() if not e.get("traceback")}
    cache.save(clip_id, {**about, "inputs": row["inputs"], "metrics": {**kept, **fresh}})


def generation_stamp(video: Path) -> Path:
    """Where the fingerprint of the inputs a generated video was made from is kept, beside it."""
    return video.with_name(video.name + ".inputs.json")


def generation_inputs(clip: Any) -> list:
    """The GT files the generating methods read (frames, audio) as ``file_fingerprint``."""
    return json.loads(json.dumps(file_fingerprint(clip.video, clip.audio)))


def stamp_generation_inputs(clip: Any, video: Path) -> None:
    """Record what ``video`` was generated from (``drop_videos_of_changed_inputs`` checks it)."""
    write_json(generation_stamp(video), generation_inputs(clip))


def drop_videos_of_changed_inputs(clips: list, preds: dict[str, Path | None]) -> int:
    """Delete generated videos whose GT inputs changed since they were made, or that have no stamp
    (killed between writing the video and its stamp), so that they are generated again; returns
    how many."""
    changed, unstamped = [], []
    for clip in clips:
        video = preds[clip.id]
        if video is None or not video.exists():
            continue
        try:
            made_from = json.loads(generation_stamp(video).read_text())
        except (OSError, ValueError):
            unstamped.append(video)
            continue
        if made_from != generation_inputs(clip):
            changed.append(video)
    for video in changed + unstamped:
        video.unlink()
        generation_stamp(video).unlink(missing_ok=True)
    if changed:
        note = f"note: {len(changed)} generated videos were made from other GT files; regenerating"
        print(note, flush=True)
    if unstamped:
        print(
            f"note: {len(unstamped)} generated videos have no record of the GT files they were made from "
            "(an interrupted run?); regenerating",
            flush=True,
        )
    return len(changed) + len(unstamped)


def provenance_identity(provenance: dict[str, Any]) -> dict[str, Any]:
    """What makes two generations the same: the provenance without the checkpoint's path when its
    sha256 is recorded (``runs/x/final.pt`` and its absolute path are one checkpoint)."""
    if "checkpoint_sha256" in provenance:
        return {k: v for k, v in provenance.items() if k != "checkpoint"}
    return provenance


def drop_stale_videos(videos_dir: Path, provenance: dict[str, Any]) -> int:
    """Delete videos generated under another provenance (e.g. a retrained ``--ckpt``: its sha256
    differs) and record the current one in ``videos_dir/provenance.json``. Returns how many were
    deleted. Their cached score rows go stale with them (the rows fingerprint the prediction file)."""
    stamp = videos_dir / "provenance.json"
    current = json.loads(json.dumps(provenance, sort_keys=True, default=str))
    try:
        previous = json.loads(stamp.read_text()) if stamp.is_file() else None
    except (OSError, ValueError):
        previous = None
    videos = list(videos_dir.glob("*.mp4"))
    same = previous is not None and provenance_identity(previous) == provenance_identity(current)
    stale = [] if same else videos  # another provenance, or unstamped videos
    if stale:
        for video in stale:
            video.unlink()
            generation_stamp(video).unlink(missing_ok=True)
        origin = previous if previous is not None else "an unstamped run"
        print(f"note: {len(stale)} videos in {videos_dir} came from {origin}; regenerating", flush=True)
    write_json(stamp, current, indent=1, sort_keys=True)  # creates videos_dir
    return len(stale)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from edtalk.data.errors import DataError
    from edtalk.model import CheckpointError
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError

    try:
        return run(args)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: the clips scored so far are cached; the same command resumes from them",
            file=sys.stderr,
        )
        return 130
    except (
        UsageError,
        DataError,
        CheckpointError,
        UnknownNameError,
        MissingWeightsError,
        WeightsMismatchError,
        FileNotFoundError,  # e.g. --ckpt missing (the method names the file)
    ) as e:
        return report_error(e)


if __name__ == "__main__":
    sys.exit(main())
