"""Read the results JSON files a report is made of, with clear errors for malformed ones.

Layout: ``<results>/<dataset>/<method>/<protocol>.json`` (+ ``<protocol>.clips.jsonl``). The file
schema is the one ``eval.run`` writes (see eval/results.py); sweeps add ``"sweep": {"name",
"param", "value"}``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

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

    def value(self, metric: str) -> float | None:
        m = self.metrics.get(metric)
        return None if m is None else m.value


def _metric(path: Path, metric_id: str, entry: Any) -> Metric:
    if not isinstance(entry, dict) or any(k not in entry for k in METRIC_KEYS):
        raise ResultsFileError(path, f"metric {metric_id!r} must be an object with keys {list(METRIC_KEYS)}")
    value = entry["value"]
    if value is not None and not isinstance(value, int | float):
        raise ResultsFileError(path, f"metric {metric_id!r} has a non-numeric value {value!r}")
    return Metric(
        id=metric_id,
        value=None if value is None else float(value),
        n=entry.get("n"),
        spread=entry.get("spread"),
        higher_is_better=bool(entry["higher_is_better"]),
        label=str(entry["label"]),
    )


def read_result(path: str | Path) -> ResultFile:
    """Parse one results file; raises ``ResultsFileError`` naming the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ResultsFileError(path, f"cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise ResultsFileError(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict):
        raise ResultsFileError(path, "top level must be a JSON object")
    try:
        validate(data, str(path))  # the writer's own schema check (eval/results.py)
    except ResultsSchemaError as e:
        raise ResultsFileError(path, str(e).removeprefix(f"{path}: ")) from None
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ResultsFileError(path, f"missing field(s) {missing}; is this a results file from eval.run?")
    protocol = data["protocol"]
    if not isinstance(protocol, dict) or "name" not in protocol:
        raise ResultsFileError(path, "field 'protocol' must be an object with 'name' and 'hash'")
    if not isinstance(data["metrics"], dict):
        raise ResultsFileError(path, "field 'metrics' must be an object of metric id -> entry")
    sweep = data.get("sweep")
    if sweep is not None and (not isinstance(sweep, dict) or {"name", "param", "value"} - set(sweep)):
        raise ResultsFileError(path, "field 'sweep' must be an object with 'name', 'param', 'value'")
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
    )


def load_results(results_dir: str | Path, skipped: list[ResultsFileError] | None = None) -> list[ResultFile]:
    """Every ``<dataset>/<method>/<protocol>.json`` under ``results_dir``, sorted by path.

    A file that cannot be read raises ``ResultsFileError``; pass a list as ``skipped`` to collect
    those errors there instead and keep the other files (the report renders what it can)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise ResultsFileError(root, "results directory does not exist (run `python -m eval.run` first)")
    results = []
    for path in sorted(root.glob("*/*/*.json")):
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
        rows.append(row)
    return tuple(rows), tuple(problems)
