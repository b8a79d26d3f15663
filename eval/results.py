"""The results file ``eval.run`` writes, one per (dataset, method, protocol), and its reader.

Path: ``<results>/<dataset>/<method>/<protocol>.json`` (atomic write; ``<protocol>.<split>.json``
for a split other than test), per-clip rows beside it in ``<protocol>.clips.jsonl``. Schema
(``SCHEMA`` = "edtalk-bench/results/1")::

    {
      "schema": "edtalk-bench/results/1",
      "dataset": "synthtalk", "method": "edtalk_a", "split": "test", "driving": "audio",
      "protocol": {"name": "synthtalk", "hash": "3f2a...", "settings": {...}, "fingerprint": {...}},
      "metrics": {
        "psnr": {"value": Infinity, "n": 1234, "n_clips": 23, "spread": null, "higher_is_better": true,
                 "label": "PSNR", "version": "1", ...metric extras such as n_inf, n_gt},
        "acc_emo": {"value": null, "n": 0, "n_clips": 0, ...,
                    "not_applicable": {"n_clips": 24, "reason": "the dataset has no emotion labels"}},
        ...
      },
      "unavailable_metrics": {"acc_emo": "not implemented in this checkout"},
      "n_clips": 24, "n_from_cache": 0,
      "failures": [{"clip": "...", "metric": "m_lmd" | null, "reason": "...", "traceback": "..."}],
      "unverified": false, "unverified_weights": {"name": "why"},
      "versions": {"libraries": {...}, "metrics": {"psnr": "1", ...}},
      "git": {"commit": "abc123...", "dirty": true},
      "config": {CLI arguments},
      "provenance": {method version, checkpoint, resolution, ...},
      "timing": {"generate_s": 1.2, "score_s": 30.5, "wall_s": 40.1,
                 "machine": {"cpu": "AMD EPYC", "cpus": 2, "platform": "Linux-...", "gpus": [...]}},
      "created": "2025-01-01T12:00:00+00:00"
    }

``driving`` (absent in files written before it was added) is what moved the mouth: "audio",
"video", or ``null`` when not known (``baselines.Method.driving``: gt, static, a folder without a
"driving" in its provenance.json).
``value`` is a float, ``null`` when the metric has no value (no scorable clip), or +inf written as
JSON ``Infinity`` (Python's json reads it; PSNR of identical frames). ``spread`` is the sample
standard deviation over the pooled items (frames or videos, as the protocol pools), ``null`` for
set-level metrics (FID). ``n`` counts the pooled items; ``n_clips`` (absent in files written
before it was added) counts the clips in the metric's value: a clip that failed for one
metric (``failures`` item naming it) is left out of that metric only, one that failed as a whole
(``metric`` null) out of all, so metrics of one file may be over different numbers of clips.
``not_applicable`` (present only when some clips were skipped) counts the clips the metric
does not apply to (``Metric.not_applicable``: no emotion labels, no synthtalk ground truth) and
gives the reason once; they are neither in the value nor ``failures``, and a metric that applies
to no clip has value ``null``.
``traceback`` is present only for unexpected exceptions (a bug met on that clip, not a bad
input); such failures are not cached, so the next run tries the clip again. Per-clip JSONL rows::

    {"clip": "...", "values": {"psnr": 31.2, "fid": null}, "failures": {"m_lmd": "no face"},
     "from_cache": true, "not_applicable": {"acc_emo": "the dataset has no emotion labels"},
     "video": "/data/eat_out/M003_ang_1_001.mp4"}

(``not_applicable`` only in rows with such metrics; ``video``, the prediction the clip was scored from,
relative to the results file's folder when inside it (eval.run's generated videos), else absolute, and
absent when there is none or it is the GT video itself (method ``gt``); ``gt_video``, the GT video's
absolute path, in rows of a ``folder`` dataset only: eval.scoring.video_field.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from edtalk.atomic import write_text

SCHEMA = "edtalk-bench/results/1"
DRIVING_MODES = ("audio", "video")  # a results file's "driving": one of these, or null (not known)
REQUIRED = (
    "schema",
    "dataset",
    "method",
    "split",
    "protocol",
    "metrics",
    "versions",
    "git",
    "config",
    "unverified",
    "failures",
    "provenance",
)
METRIC_REQUIRED = ("value", "n", "spread", "higher_is_better", "label")


class ResultsSchemaError(ValueError):
    """A results dict that does not follow ``SCHEMA`` (names the file and the problem)."""


def results_path(
    results_dir: str | Path, dataset: str, method: str, protocol: str, split: str = "test"
) -> Path:
    """``<results>/<dataset>/<method>/<protocol>.json`` for the test split, ``<protocol>.<split>.json``
    for another (a judge-split or val run never replaces the test scores); ``folder:DIR`` methods
    use DIR's name."""
    name = protocol if split == "test" else f"{protocol}.{split}"
    return Path(results_dir) / dataset / method_dir_name(method) / f"{name}.json"


def method_dir_name(method: str) -> str:
    """A folder name for a method spec (``folder:/x/eat_out`` -> ``folder-eat_out``)."""
    if method.startswith("folder:"):
        return "folder-" + Path(method.split(":", 1)[1].rstrip("/")).name
    return method


def clips_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name.removesuffix(".json") + ".clips.jsonl")


def _json_number(value: Any) -> Any:
    """numpy scalars -> Python numbers; NaN -> None (no such JSON value); inf stays."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def metric_entry(
    metric: Any, computed: dict, n_clips: int | None = None, not_applicable: dict[str, str] | None = None
) -> dict:
    """The results-JSON entry of one metric from ``metric.compute(state)``; ``n_clips``: how many
    clips' states were merged into it; ``not_applicable``: clip id -> reason, for the clips it does
    not apply to (written as their count and the distinct reasons)."""
    entry = {k: _json_number(v) for k, v in computed.items()}
    entry.update(
        value=_json_number(computed.get("value")),
        n=int(computed.get("n") or 0),
        spread=_json_number(computed.get("spread")),
        higher_is_better=bool(metric.higher_is_better),
        label=str(metric.label),
        version=str(metric.version),
    )
    if n_clips is not None:
        entry["n_clips"] = int(n_clips)
    if not_applicable:
        reasons = "; ".join(dict.fromkeys(not_applicable.values()))
        entry["not_applicable"] = {"n_clips": len(not_applicable), "reason": reasons}
    return entry


def validate(data: dict, where: str = "<results>") -> None:
    """Raise ``ResultsSchemaError`` if ``data`` misses a required field, has one of the wrong type
    (``protocol``, ``metrics``, ``unverified``, ``failures``) or has a bad metric."""
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ResultsSchemaError(f"{where}: missing field(s) {missing}")
    if data["schema"] != SCHEMA:
        raise ResultsSchemaError(f"{where}: schema {data['schema']!r}, expected {SCHEMA!r}")
    _require_type(data, "protocol", dict, "an object", where)
    for k in ("name", "hash", "settings"):
        if k not in data["protocol"]:
            raise ResultsSchemaError(f"{where}: protocol lacks {k!r}")
    _require_type(data, "metrics", dict, "an object of metric id -> entry", where)
    for mid, entry in data["metrics"].items():
        if not isinstance(entry, dict):
            raise ResultsSchemaError(
                f"{where}: metric {mid!r} is {entry!r}, not an object with {list(METRIC_REQUIRED)} "
                "(a results file of an older schema?)"
            )
        bad = [k for k in METRIC_REQUIRED if k not in entry]
        if bad:
            raise ResultsSchemaError(f"{where}: metric {mid!r} lacks {bad}")
        if not isinstance(entry["higher_is_better"], bool):  # "false" would read as true
            raise ResultsSchemaError(
                f"{where}: metric {mid!r} higher_is_better {entry['higher_is_better']!r} is not true/false"
            )
        v = entry["value"]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):  # bool is an int
            raise ResultsSchemaError(f"{where}: metric {mid!r} value {v!r} is not a number")
        na = entry.get("not_applicable")
        if na is not None and not (isinstance(na, dict) and isinstance(na.get("reason"), str)):
            raise ResultsSchemaError(f"{where}: metric {mid!r} not_applicable {na!r} lacks a reason")
    if data.get("driving") not in (None, *DRIVING_MODES):
        modes = ", ".join(DRIVING_MODES)
        raise ResultsSchemaError(f"{where}: driving {data['driving']!r} is not one of {modes}, or null")
    _require_type(data, "unverified", bool, "true or false", where)
    _require_type(data, "failures", list, "a list", where)
    for f in data["failures"]:
        if not isinstance(f, dict) or not {"clip", "reason"} <= set(f):
            raise ResultsSchemaError(f"{where}: failure entry {f!r} lacks clip/reason")
        if f.get("metric") is not None and not isinstance(f["metric"], str):
            raise ResultsSchemaError(f"{where}: failure entry's metric {f['metric']!r} is not a metric id")


def _require_type(data: dict, field: str, kind: type, described: str, where: str) -> None:
    if not isinstance(data[field], kind):
        raise ResultsSchemaError(f"{where}: field {field!r} is {data[field]!r}, expected {described}")


def write_results(path: str | Path, data: dict, clip_rows: list[dict] | None = None) -> Path:
    """Validate and write the results JSON (and the per-clip JSONL first), both atomically."""
    path = Path(path)
    validate(data, str(path))
    if clip_rows is not None:
        lines = "".join(json.dumps(r, sort_keys=True, default=_json_number) + "\n" for r in clip_rows)
        write_text(clips_path(path), lines)
    text = json.dumps(data, indent=2, sort_keys=False, default=_json_number) + "\n"
    write_text(path, text)
    return path


def read_results(path: str | Path) -> dict:
    """Read and validate a results JSON (ResultsSchemaError / OSError name the file)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ResultsSchemaError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    validate(data, str(path))
    return data


def read_clip_rows(path: str | Path) -> list[dict]:
    """The per-clip rows beside results file ``path``."""
    p = clips_path(path)
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
