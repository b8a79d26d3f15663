"""Scoring clips: one clip's metrics (``score_clip``), a chunk of clips on one Ray worker
(``score_chunk``), writing a scored row to the per-clip cache (``save_row``), and merging every
clip's row into the results' numbers in the driver (``aggregate``).

Ray workers import this module (``score_chunk`` is shipped by reference): keep its top-level imports
light; the metrics, backbones and torch are imported inside the functions."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.cache import ClipCache, metric_key, same_inputs

CLIP_RULES = 3
"""Version of the checks that fail a clip or a metric whatever the metric's version, stamped in every
cached row (``save_row``; a row without it is version 1). 2 added: a prediction at another rate than
its GT (``rates_drift_apart``), LSE of a video not at 25 fps (``lse.check_sync_rate``), a synthtalk
sidecar of another length than its video (``judges.driving_truth_feature``). 3 added: a prediction of
another aspect ratio than its GT under a protocol that reads frames as given, or under
``MIN_IMAGE_SIDE`` px a side and smaller than its GT (``geometry_problem``). A row of older rules is
kept when its clip plainly passes the current ones (``passes_clip_rules``, two header reads, once)
and rescored otherwise (``reusable_row``). Bumping metric versions instead would rescore every clip:
the rate check fails all of a clip's metrics. Bump this, and extend ``passes_clip_rules``, when such
a check is added or tightened without a metric version."""


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


def score_clip(ctx_factory: Callable, job: Job, protocol: Any, metrics: dict, keys: dict) -> dict:
    """Score ``job.todo`` metrics on one clip; returns a cache row (``failure`` set when the clip
    as a whole cannot be scored: unreadable, too short, GT/prediction length mismatch). A clip
    without a prediction never comes here: ``run`` fails it first (``missing_prediction``)."""
    from edtalk.data.errors import DataError
    from eval.metrics.base import ClipFailure

    FATAL_ERRORS = fatal_errors()
    row: dict[str, Any] = {"inputs": job.inputs, "metrics": {}, "failure": None, "seconds": {}}
    ctx = ctx_factory(job.clip, job.pred, job.gt_features)
    t0 = time.perf_counter()
    try:
        t_gt, t_pred = len(ctx.frames("gt")), len(ctx.frames("pred"))
    except (DataError, ClipFailure) as e:
        row["failure"] = str(e)
        return row
    gt_fps, pred_fps = ctx.fps("gt"), ctx.fps("pred")
    if rates_drift_apart(min(t_gt, t_pred), gt_fps, pred_fps):
        row["failure"] = (
            f"the prediction is at {pred_fps:g} fps, GT at {gt_fps:g}: resample it (frame i of each must "
            f"show the same instant; GT {t_gt} frames, prediction {t_pred}; {job.clip.video}, {job.pred})"
        )
        return row
    gate = protocol.max_length_diff
    if gate is not None and abs(t_gt - t_pred) > gate:
        apart = f"(more than {gate} apart)"
        row["failure"] = f"GT has {t_gt} frames, prediction {t_pred} {apart} ({job.clip.video}, {job.pred})"
        return row
    if min(t_gt, t_pred) < protocol.min_frames:
        row["failure"] = f"too short: {min(t_gt, t_pred)} frames (at least {protocol.min_frames} needed)"
        return row
    gt_hw, pred_hw = ctx.frames("gt").shape[1:3], ctx.frames("pred").shape[1:3]
    if (problem := geometry_problem(gt_hw, pred_hw, reads_frames_as_given(protocol))) is not None:
        row["failure"] = f"{problem} ({job.clip.video}, {job.pred})"
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


def rates_drift_apart(n_frames: int, gt_fps: float, pred_fps: float) -> bool:
    """Whether a prediction at ``pred_fps`` drifts from its GT at ``gt_fps`` by more than half a GT
    frame within ``n_frames`` frames: then frame i of the two shows different instants, and every
    frame-paired and sync score compares the wrong frames. A prediction at 30 fps whose length
    happened to fall within the protocol's length gate was scored without a word (its LSE-C 0.18
    where the same frames at 25 fps gave 0.79). 29.97 against 30 fps over a few seconds passes."""
    if gt_fps <= 0 or pred_fps <= 0:
        return False  # a rate the header does not give: nothing to compare
    return n_frames * abs(1 / gt_fps - 1 / pred_fps) > 0.5 / gt_fps


def reads_frames_as_given(protocol: Any) -> bool:
    """Whether some metric of ``protocol`` reads the frames as decoded (crop ``none``: synthtalk,
    canonical), so that a prediction of another aspect ratio would be stretched to its GT's; the
    ``eat`` protocol aligns a face crop in every frame of each side, whatever their shapes."""
    return any(spec.kwargs.get("crop") == "none" for spec in getattr(protocol, "metrics", ()))


def geometry_problem(gt_hw: tuple[int, int], pred_hw: tuple[int, int], frames_as_given: bool) -> str | None:
    """Why a prediction of (height, width) ``pred_hw`` cannot be scored against GT frames of ``gt_hw``,
    or None: another aspect ratio when ``frames_as_given`` (the frame-paired metrics refused it while
    FID, LSE, Acc_emo and the judges stretched it, so one results row covered different clips), or
    under ``MIN_IMAGE_SIDE`` px a side and smaller than the GT (upscaled, the metrics score the
    interpolation). Another size of the same aspect ratio is resized to the GT's, as documented."""
    from edtalk.driving_inputs import MIN_IMAGE_SIDE
    from eval.metrics.base import ClipFailure
    from eval.metrics.frames import check_same_aspect

    (h, w), (ph, pw) = gt_hw, pred_hw
    if frames_as_given:
        try:
            check_same_aspect((h, w), (ph, pw))
        except ClipFailure as e:
            return e.reason
    if min(ph, pw) < min(MIN_IMAGE_SIDE, h, w):
        return (
            f"prediction frames are {pw}x{ph} and GT {w}x{h} (width x height): under the {MIN_IMAGE_SIDE} px "
            "a side the protocols score (edtalk.driving_inputs.MIN_IMAGE_SIDE), so upscaled to the GT the "
            f"metrics would score the interpolation; make the prediction at least {MIN_IMAGE_SIDE} px a side"
        )
    return None


def passes_clip_rules(clip: Any, pred: Path | None) -> bool:
    """Whether a clip plainly passes the ``CLIP_RULES`` checks, read from the video headers and the
    sidecar (no decoding): both videos at 25 fps (no rate drift, and LSE reads them), both square
    (a header's size may be shown turned) with a prediction of no ``geometry_problem`` and, with a
    sidecar, its per-frame rows as many as the GT video's frames. False when in doubt (a file that
    cannot be read): its row is then rescored."""
    from edtalk.data.errors import DataError
    from edtalk.data.readers.synthtalk import load_sidecar, sidecar_frames_problem
    from edtalk.data.video import probe_video
    from eval.metrics.lse import at_sync_rate

    if pred is None:
        return False
    try:
        gt, predicted = probe_video(clip.video), probe_video(pred)
        sidecar = load_sidecar(Path(clip.sidecar)) if clip.sidecar is not None else None
    except DataError:
        return False
    if not (at_sync_rate(gt.fps) and at_sync_rate(predicted.fps)):
        return False
    if not (is_square(gt.size) and is_square(predicted.size)):
        return False
    if geometry_problem(gt.size, predicted.size, frames_as_given=True) is not None:
        return False
    return sidecar is None or sidecar_frames_problem(sidecar, gt.n_frames) is None


def is_square(hw: tuple[int, int]) -> bool:
    """Whether (height, width) ``hw`` is square (then a header shown turned gives the decoded size)."""
    return hw[0] == hw[1]


def reusable_row(cache: ClipCache, clip: Any, pred: Path | None, inputs: list) -> dict | None:
    """The cached row of ``clip`` when it was written under the current ``CLIP_RULES``, or under older
    rules for the same inputs and its clip passes the current ones (restamped, so it is checked
    once); any other row is deleted (None), so that rescoring keeps none of its entries."""
    row = cache.load(clip.id)
    if row is None or row.get("clip_rules") == CLIP_RULES:
        return row
    if same_inputs(row.get("inputs"), inputs) and passes_clip_rules(clip, pred):
        row = {**row, "clip_rules": CLIP_RULES}
        cache.save(clip.id, row)
        return row
    cache.path(clip.id).unlink(missing_ok=True)
    return None


def not_applicable(metrics: dict, clip: Any) -> dict[str, str]:
    """Metric id -> why it does not apply to ``clip`` (``Metric.not_applicable``), for the metrics
    that do not: they are skipped for this clip and reported as not applicable, not as failures."""
    return {m: why for m, metric in metrics.items() if (why := metric.not_applicable(clip)) is not None}


def crash_failure(err: Exception) -> dict[str, str]:
    """``failure`` (exception type and message) and ``traceback`` of an unexpected exception; rows
    with a traceback are not cached, so the next run tries again."""
    return {"failure": f"crashed: {type(err).__name__}: {err}", "traceback": traceback.format_exc()}


def fatal_errors() -> tuple[type[BaseException], ...]:
    """Errors that are not about one clip and must stop the run with their own message."""
    from edtalk.registry import UnknownNameError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError

    return (UnknownNameError, MissingWeightsError, WeightsMismatchError)


def score_chunk(jobs: list[Job], protocol: Any, metric_ids: list[str], device: str) -> dict:
    """A chunk on a Ray worker: build the metrics once, score each job; returns rows + unverified weights, and
    ``fatal``: a configuration error (``fatal_errors``) that stopped the chunk, returned rather than
    raised so that the driver caches the rows scored before it, then stops the run with it."""
    from edtalk.weights import unverified_in_use
    from eval.context import ClipContext

    metrics = protocol.build(metric_ids)
    keys = {m: metric_key(metrics[m]) for m in metric_ids}

    def make_ctx(clip, pred, gt_features):
        return ClipContext(clip, pred, device=device, gt_features=gt_features)

    fatal = fatal_errors()
    rows = []
    stopped_by = None
    for job in jobs:
        try:
            row = score_clip(make_ctx, job, protocol, metrics, keys)
        except fatal as err:
            stopped_by = err
            break
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
    return {"rows": rows, "unverified": unverified, "fatal": stopped_by}


def metric_weights(protocol: Any, metric_id: str, metric: Any) -> list[str]:
    """The weight files a metric uses: those it declares and the protocol's backbone weights named
    in its settings (the judges)."""
    settings_text = repr(protocol.spec(metric_id).settings)
    return [*metric.weights_needed(), *(w for w in protocol.weights if w in settings_text)]


def lost_scoring(jobs: list[Job], reason: str) -> dict:
    """``score_chunk``'s result for a chunk whose worker died: each clip failed (not cached, so the
    next run tries it again)."""
    rows = [(j.clip.id, {"inputs": j.inputs, "metrics": {}, "seconds": {}, "failure": reason}) for j in jobs]
    return {"rows": rows, "unverified": {}}


def save_row(cache: ClipCache, clip_id: str, row: dict, about: dict) -> None:
    """Write a scored clip's row over its cached one, keeping every earlier entry whose inputs still
    match (metrics not asked for this time too); crashed entries are left out, to be retried. The row
    is stamped with the current ``CLIP_RULES``."""
    kept = cache.entries(cache.load(clip_id), row["inputs"])
    fresh = {m: e for m, e in row["metrics"].items() if not e.get("traceback")}
    entries = {**kept, **fresh}
    cache.save(clip_id, {**about, "clip_rules": CLIP_RULES, "inputs": row["inputs"], "metrics": entries})


def failure_entry(clip_id: str, metric: str | None, entry: dict) -> dict:
    """A ``failures`` item of the results; a crash keeps its traceback."""
    failure = {"clip": clip_id, "metric": metric, "reason": entry["failure"]}
    if entry.get("traceback"):
        failure["traceback"] = entry["traceback"]
    return failure


@dataclass
class Aggregate:
    """The clips' rows merged (``aggregate``): what the results file reports."""

    states: dict[str, Any]  # metric id -> merged state (``Metric.merge``)
    n_scored: dict[str, int]  # metric id -> clips in its numbers
    not_applicable: dict[str, dict[str, str]]  # metric id -> clip id -> why the metric does not apply
    failures: list[dict]  # the results' "failures" (``failure_entry``)
    clip_rows: list[dict]  # the rows of ``<protocol>.clips.jsonl``


def aggregate(
    jobs: list[Job],
    rows: dict[str, dict],
    metrics: dict,
    metric_ids: list[str],
    results_dir: Path | None = None,
) -> Aggregate:
    """Merge each job's cached entries and freshly scored row (``rows``: clip id -> row; a clip
    without one counts as scored with nothing new) into the metrics' states, in the driver. A clip
    whose row has a ``failure`` adds one failure for the whole clip; a metric entry without a state
    adds one for that metric; metrics that do not apply to a clip are left out of its numbers.
    Each per-clip row names the prediction it was scored from (``video_field``; ``results_dir``: the
    results file's folder)."""
    states = {m: metrics[m].empty_state() for m in metric_ids}
    n_scored = dict.fromkeys(metric_ids, 0)  # clips in each metric's numbers
    skipped: dict[str, dict[str, str]] = {m: {} for m in metric_ids}  # metric -> clip -> why not applicable
    failures: list[dict] = []
    clip_rows: list[dict] = []
    for j in jobs:
        for m, why in j.not_applicable.items():
            skipped[m][j.clip.id] = why
        row = rows.get(j.clip.id, {"metrics": {}, "failure": None})
        video = video_field(j, results_dir)
        if row["failure"] is not None:
            failures.append(failure_entry(j.clip.id, None, row))
            clip_rows.append(
                {"clip": j.clip.id, "values": {}, "failures": {"*": row["failure"]}, "from_cache": False}
                | video
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
                failures.append(failure_entry(j.clip.id, m, e))
        clip_row = {
            "clip": j.clip.id,
            "values": values,
            "failures": fails,
            "from_cache": bool(j.cached) and not j.todo,
        }
        if j.not_applicable:
            clip_row["not_applicable"] = dict(j.not_applicable)
        clip_rows.append(clip_row | video)
    return Aggregate(states, n_scored, skipped, failures, clip_rows)


def video_field(job: Job, results_dir: Path | None) -> dict[str, str]:
    """``{"video": path}``: the prediction ``job`` was scored from (after the folder method's name_map
    and file-name matching), for the report's video grid (eval/report/html.py): relative to
    ``results_dir`` when inside it (generated videos: the results folder can be moved whole), else
    absolute; none without a prediction file, or when it is the GT video itself (method ``gt``: the
    grid's GT column shows it). A ``folder`` dataset's row also names its GT video (``"gt_video"``,
    absolute): no reader finds a ``--gt``/``--pred`` pair's GT again, as the grid does for the others."""
    gt = (
        {"gt_video": os.path.abspath(job.clip.video)}
        if getattr(job.clip, "dataset", None) == "folder"
        else {}
    )
    pred = job.pred
    if pred is None or not pred.is_file() or pred.resolve() == Path(job.clip.video).resolve():
        return gt
    return gt | _prediction_field(Path(os.path.abspath(pred)), results_dir)


def _prediction_field(pred: Path, results_dir: Path | None) -> dict[str, str]:
    """``{"video": pred}``, relative to ``results_dir`` when inside it, else absolute."""
    base = None if results_dir is None else Path(os.path.abspath(results_dir))
    if base is not None and pred.is_relative_to(base):
        return {"video": pred.relative_to(base).as_posix()}
    return {"video": str(pred)}
