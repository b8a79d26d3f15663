"""The lines under a table (its notes and stamps): the reported rows' source, the protocol, hash and
split, unverified rows, failed clips, clips scored per row, metrics not applicable, metrics measured
but not shown, and rows that two results files give."""

from __future__ import annotations

from collections import Counter, defaultdict

from baselines.reported import ReportedRow
from eval.report.inputs import ResultFile
from eval.report.row_keys import clashes, group_key, row_ids_of, row_label_of, split_of
from eval.report.table_model import Column
from eval.report.table_specs import (
    NOT_APPLICABLE,
    REPORTED_MARK,
    UNVERIFIED_MARK,
    USUAL_SPLIT,
    TableSpec,
    in_metric_order,
)


def table_stamps(
    spec: TableSpec, protocol: str, protocol_hash: str | None, results: list[ResultFile]
) -> list[str]:
    h = f"hash {protocol_hash}" if protocol_hash else "reported numbers only, no measured rows"
    stamps = [f"Protocol: {protocol} ({h})"]
    split = split_of(results[0]) if results else USUAL_SPLIT
    if split != USUAL_SPLIT:
        stamps.append(
            f"Split: {split or 'not recorded'}, not the usual {USUAL_SPLIT} split: not comparable with "
            f"{USUAL_SPLIT}-split tables or the paper's numbers"
        )
    unverified = sorted({f"{r.method} ({r.dataset})" for r in results if r.unverified})
    if unverified:
        stamps.append(
            f"{UNVERIFIED_MARK} unverified (weights or inputs not verified): " + ", ".join(unverified)
        )
    failed = sorted(
        {f"{r.method} ({r.dataset}): {_failure_counts(r.failures)}" for r in results if r.failures}
    )
    if failed:
        stamps.append(
            "Clips that failed, each left out only of the numbers of the metrics it failed in: "
            + "; ".join(failed)
        )
    return stamps + _clip_counts(spec, results)


def not_applicable_stamps(spec: TableSpec, columns: list[Column], results: list[ResultFile]) -> list[str]:
    """One line per shown metric and reason: the rows (method, dataset) it did not apply to, in all
    or some of their clips; those clips are not failures and are in no number of the metric."""
    shown = {(c.group, c.metric) for c in columns}
    rows: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in results:
        for m in r.metrics.values():
            if m.not_applicable and (group_key(spec, r), m.id) in shown:
                rows[(m.label, m.not_applicable)].add(f"{r.method} ({r.dataset})")
    return [
        f"{label} {NOT_APPLICABLE}, not applicable ({reason}): {', '.join(sorted(where))}"
        for (label, reason), where in sorted(rows.items())
    ]


def unshown_metrics_stamps(columns: list[Column], results: list[ResultFile]) -> list[str]:
    """A line naming the metrics the rows' results files hold that the table has no column for
    (LSE-D beside the paper's Sync column, the canonical protocol's L1/LPIPS in Table 1)."""
    shown = {c.metric for c in columns}
    labels = {m.id: m.label for r in results for m in r.metrics.values() if m.id not in shown}
    if not labels:
        return []
    shown_labels = ", ".join(labels[m] for m in in_metric_order(labels))
    return [f"Also measured, not in this table's columns: {shown_labels}"]


def _failure_counts(failures: tuple[dict, ...]) -> str:
    """``2 clips as a whole, 1 in m_lmd``: a failure naming no metric is the whole clip's (unreadable,
    too short, no prediction), left out of every metric that applies to it."""
    whole = {f.get("clip") for f in failures if not f.get("metric")}
    per_metric = Counter(f["metric"] for f in failures if f.get("metric"))
    parts = [f"{len(whole)} clip{'s' if len(whole) != 1 else ''} as a whole"] if whole else []
    parts += [f"{n} in {metric}" for metric, n in sorted(per_metric.items())]
    return ", ".join(parts)


def _clip_counts(spec: TableSpec, results: list[ResultFile]) -> list[str]:
    """A line per dataset and split: how many clips each measured row was scored on (results files
    record ``n_clips``, the clips run, less the clips that failed as a whole), so a smoke run's 2 clips
    are not read as the split, and rows scored on other numbers of clips are flagged as not
    comparable. Rows whose files do not record it (written before ``n_clips`` was added) are named,
    never counted as scored on the others' number."""
    counts: dict[tuple[str, str], dict[str, int | None]] = defaultdict(dict)
    row_ids = row_ids_of(spec, results)
    for r in results:
        n = r.raw.get("n_clips")
        row = row_label_of(spec, *row_ids[r.path])
        row = row if spec.rows_from != "bank_size" else f"{r.sweep['param']} {row}"
        recorded = isinstance(n, int) and not isinstance(n, bool)
        whole = {f.get("clip") for f in r.failures if isinstance(f, dict) and f.get("metric") is None}
        counts[(r.dataset, r.split or "")][row] = n - len(whole) if recorded else None
    lines = []
    for (dataset, split), per_row in sorted(counts.items()):
        where = f"{dataset} {split}".strip()
        recorded = {row: n for row, n in per_row.items() if n is not None}
        if not recorded:  # only files older than n_clips: nothing to say
            continue
        unrecorded = sorted(set(per_row) - set(recorded))
        missing = f"; not recorded for {', '.join(unrecorded)}" if unrecorded else ""
        if len(set(recorded.values())) == 1:
            rows = "in every row that records it" if unrecorded else "in every row"
            lines.append(f"Clips scored: {next(iter(recorded.values()))} of {where} {rows}{missing}")
        else:
            listed = ", ".join(f"{row} {n}" for row, n in sorted(recorded.items()))
            lines.append(
                f"Rows scored on different numbers of clips of {where} (not comparable): {listed}{missing}"
            )
    return lines


def reported_notes(rows: list[ReportedRow]) -> list[str]:
    if not rows:
        return []
    notes = [f"{REPORTED_MARK} reported in {rows[0].source}; not measured here."]
    for r in rows:
        for note in r.notes:
            line = f"{REPORTED_MARK} {r.row}: {note}."
            if line not in notes:
                notes.append(line)
    return notes


def clash_stamps(spec: TableSpec, results: list[ResultFile]) -> list[str]:
    return [
        f"{len(rs)} results files give the row {key!r}, shown as separate rows labelled by their "
        "folder (and file name, when they share one): "
        + ", ".join(str(r.path) for r in sorted(rs, key=lambda r: r.path))
        for key, rs in sorted(clashes(spec, results).items())
    ]
