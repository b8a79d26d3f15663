"""Read the results JSON files a report is made of, with clear errors for malformed ones.

Layout: ``<results>/<dataset>/<method>/<protocol>.json`` (+ ``<protocol>.clips.jsonl``). The file
schema is the one ``eval.run`` writes (see eval/results.py); sweeps add ``"sweep": {"name",
"param", "value"}``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from baselines.reported import PAPER_METRICS  # (label, higher_is_better) of the paper's metrics
from edtalk.data.errors import DataError
from eval.results import ResultsSchemaError, clips_path, validate

REQUIRED_KEYS = ("metrics", "protocol", "dataset", "method")
METRIC_KEYS = ("value", "higher_is_better", "label")


class ResultsFileError(DataError):
    """A results JSON file that cannot be read or lacks a required field."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """One aggregated metric of a results file (copied, never recomputed)."""

    id: str
    value: float | None
    n: int | None
    spread: float | None
    higher_is_better: bool
    label: str
    not_applicable: str | None = None  # why it did not apply to some clips (eval.run), if it did not


@dataclasses.dataclass(frozen=True)
class ResultFile:
    """One method scored on one dataset under one protocol."""

    path: Path
    dataset: str
    method: str
    split: str | None
    protocol: str
    protocol_hash: str
    metrics: dict[str, Metric]
    unverified: bool
    failures: tuple[dict, ...]
    sweep: dict | None  # {"name", "param", "value"} for sweep trials
    provenance: dict
    raw: dict  # the whole file, for fields a view may need (config, versions, training)
    clip_rows: tuple[dict, ...] = ()  # the per-clip JSONL beside it, read once
    problems: tuple[str, ...] = ()  # per-clip lines that could not be read (skipped)
    driving: str | None = None  # "audio" | "video" | None (not recorded, or not known)

    def value(self, metric: str) -> float | None:
        m = self.metrics.get(metric)
        return None if m is None else m.value


def _metric(path: Path, metric_id: str, entry: Any) -> Metric:
    if not isinstance(entry, dict) or any(k not in entry for k in METRIC_KEYS):
        raise ResultsFileError(path, f"metric {metric_id!r} must be an object with keys {list(METRIC_KEYS)}")
    value = entry["value"]
    if value is not None and not isinstance(value, int | float):
        raise ResultsFileError(path, f"metric {metric_id!r} has a non-numeric value {value!r}")
    if metric_id in PAPER_METRICS and PAPER_METRICS[metric_id][1] != bool(entry["higher_is_better"]):
        raise ResultsFileError(  # it would invert the bold/underline of the best rows
            path,
            f"metric {metric_id!r} has higher_is_better={entry['higher_is_better']}, but the paper's "
            f"arrow says {PAPER_METRICS[metric_id][1]}",
        )
    return Metric(
        id=metric_id,
        value=None if value is None else float(value),
        n=entry.get("n"),
        spread=entry.get("spread"),
        higher_is_better=bool(entry["higher_is_better"]),
        label=str(entry["label"]),
        not_applicable=(entry.get("not_applicable") or {}).get("reason"),
    )


def read_result(path: str | Path) -> ResultFile:
    """Parse one results file; raises ``ResultsFileError`` naming the file and the problem."""
    path = Path(path)
    data = _read_json(path)
    try:
        validate(data, str(path))  # the writer's own schema check (eval/results.py)
    except ResultsSchemaError as e:
        raise ResultsFileError(path, str(e).removeprefix(f"{path}: ")) from None
    except (TypeError, AttributeError, KeyError) as e:  # a field of a type validate does not expect
        raise ResultsFileError(path, f"a field has the wrong type ({type(e).__name__}: {e})") from None
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ResultsFileError(path, f"missing field(s) {missing}; is this a results file from eval.run?")
    protocol = data["protocol"]
    if not isinstance(protocol, dict) or "name" not in protocol:
        raise ResultsFileError(path, "field 'protocol' must be an object with 'name' and 'hash'")
    if not isinstance(data["metrics"], dict):
        raise ResultsFileError(path, "field 'metrics' must be an object of metric id -> entry")
    if not data["metrics"]:
        raise ResultsFileError(path, "field 'metrics' is empty: no metric to show")
    _check_field_types(path, data)
    sweep = data.get("sweep")
    if sweep is not None:
        _check_sweep(path, sweep)
    clip_rows, problems = _clip_rows(clips_path(path))
    return ResultFile(
        path=path,
        dataset=str(data["dataset"]),
        method=str(data["method"]),
        split=data.get("split"),
        protocol=str(protocol["name"]),
        protocol_hash=str(protocol.get("hash") or "unhashed"),
        metrics={k: _metric(path, k, v) for k, v in data["metrics"].items()},
        unverified=bool(data.get("unverified", False)),
        failures=tuple(data.get("failures") or ()),
        sweep=sweep,
        provenance=dict(data.get("provenance") or {}),
        raw=data,
        clip_rows=clip_rows,
        problems=problems,
        driving=data.get("driving"),
    )


def _read_json(path: Path) -> dict:
    """The file's top-level JSON object; unreadable, non-UTF-8 and non-JSON files raise
    ``ResultsFileError``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ResultsFileError(path, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        problem = f"not UTF-8 text (undecodable byte at offset {e.start}): not a results file"
        raise ResultsFileError(path, problem) from None
    except json.JSONDecodeError as e:
        raise ResultsFileError(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict):
        raise ResultsFileError(path, "top level must be a JSON object")
    return data


def _check_field_types(path: Path, data: dict) -> None:
    """The fields the report reads beyond ``validate``'s, each of the type eval.run writes."""
    for field in ("dataset", "method"):
        if not isinstance(data[field], str) or not data[field]:
            raise ResultsFileError(path, f"field {field!r} is {data[field]!r}, expected a non-empty string")
    if data.get("split") is not None and not isinstance(data["split"], str):
        raise ResultsFileError(path, f"field 'split' is {data['split']!r}, expected a string")
    for field in ("provenance", "config"):
        if data.get(field) is not None and not isinstance(data[field], dict):
            raise ResultsFileError(path, f"field {field!r} is {data[field]!r}, expected an object")


def _check_sweep(path: Path, sweep: Any) -> None:
    """``{"name": str, "param": str, "value": str | number}``; a bank-size value is a number of bases."""
    if not isinstance(sweep, dict) or {"name", "param", "value"} - set(sweep):
        raise ResultsFileError(path, "field 'sweep' must be an object with 'name', 'param', 'value'")
    if not isinstance(sweep["name"], str) or not isinstance(sweep["param"], str):
        raise ResultsFileError(path, "field 'sweep' must have string 'name' and 'param'")
    value = sweep["value"]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ResultsFileError(path, f"sweep value {value!r} must be a string or a number")
    if sweep["name"] == "bank_size":
        try:
            float(value)
        except ValueError:
            raise ResultsFileError(path, f"bank_size sweep value {value!r} is not a number") from None


def source_tag(path: Path, twins: Iterable[Path]) -> str:
    """What tells results file ``path`` from ``twins`` (files giving the same row or column): its
    folder ("edtalk_a/"), else its folder and name ("edtalk_a/eat_old.json": two files in one
    folder), else as many parent folders as that takes."""
    others = [t for t in twins if t != path]
    for depth in range(1, len(path.parts)):
        tag = _path_tail(path, depth)
        if all(_path_tail(o, depth) != tag for o in others):
            return tag
    return str(path)


def _path_tail(path: Path, depth: int) -> str:
    return f"{path.parent.name}/" if depth == 1 else "/".join(path.parts[-depth:])


def method_label(r: ResultFile, results: list[ResultFile], key: Callable[[ResultFile], Any]) -> str:
    """``r.method``, with ``source_tag`` when another file of ``results`` with the same ``key``
    names the same method (one method in two folders: each keeps its own column or box)."""
    twins = [o.path for o in results if key(o) == key(r)]
    return f"{r.method} ({source_tag(r.path, twins)})" if len(twins) > 1 else r.method


def results_files(root: Path, pattern: str = "*/*/*.json") -> list[Path]:
    """The ``<dataset>/<method>/<protocol>.json`` files under ``root`` (``pattern``: at another
    depth), sorted; eval.run's video folders (``<method>/videos/``: provenance.json,
    ``*.mp4.inputs.json``) hold no results, not even when ``root`` is one folder too deep."""
    return sorted(p for p in root.glob(pattern) if p.parent.name != "videos")


def load_results(results_dir: str | Path, skipped: list[ResultsFileError] | None = None) -> list[ResultFile]:
    """Every ``<dataset>/<method>/<protocol>.json`` under ``results_dir``, sorted by path.

    A file that cannot be read raises ``ResultsFileError``; pass a list as ``skipped`` to collect
    those errors there instead and keep the other files (the report renders what it can)."""
    root = Path(results_dir)
    if root.exists() and not root.is_dir():
        raise ResultsFileError(root, "a file, not the results folder that eval.run writes")
    if not root.is_dir():
        raise ResultsFileError(root, "results directory does not exist (run `python -m eval.run` first)")
    results = []
    for path in results_files(root):
        try:
            results.append(read_result(path))
        except ResultsFileError as e:
            if skipped is None:
                raise
            skipped.append(e)
    return results


def _clip_rows(path: Path) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    """Per-clip rows (none when the JSONL is absent); a line that is not a JSON object is skipped
    and named in ``problems``, so one bad line never hides the other clips."""
    if not path.is_file():
        return (), ()
    rows, problems = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{path}: line {lineno} is not valid JSON ({e.msg}); line skipped")
            continue
        if not isinstance(row, dict):
            problems.append(f"{path}: line {lineno} is not a JSON object; line skipped")
            continue
        wrong = _wrong_clip_fields(row)
        if wrong:
            problems.append(f"{path}: line {lineno}: {wrong}; line skipped")
            continue
        rows.append(row)
    return tuple(rows), tuple(problems)


CLIP_ROW_TYPES = {  # the per-clip fields the report reads, each optional: (type, as the problem says it)
    "clip": (str, "a string"),
    "video": (str, "a path"),
    "gt_video": (str, "a path"),
    "values": (dict, "an object of metric id -> value"),
}


def _wrong_clip_fields(row: dict) -> str:
    """What is wrong with a per-clip row's fields the report reads (each optional), "" if nothing."""
    wrong = [
        f"{field!r} is {row[field]!r}, expected {described}"
        for field, (kind, described) in CLIP_ROW_TYPES.items()
        if row.get(field) is not None and not isinstance(row[field], kind)
    ]
    return "; ".join(wrong)
