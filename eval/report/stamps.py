"""The lines under a table (its notes and stamps): the reported rows' source, the protocol, hash and
split, unverified rows, failed clips, clips scored per row, metrics not applicable, metrics measured
but not shown, and rows that two results files give."""

from __future__ import annotations

from collections import Counter, defaultdict

from baselines.reported import ReportedRow
from eval.report.inputs import ResultFile
from eval.report.row_keys import (
    clashes,
    group_key,
    row_ids_of,
    row_label_of,
    same_source,
    split_of,
    video_source,
)
from eval.report.table_model import Column, Row
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


def driving_stamps(rows: list[Row]) -> list[str]:
    """The key to the rows' driving marks ("[audio]", "[video]", ``Row.driving``), naming the
    measured rows other than GT whose results files record no driving input (the static-frame
    baseline is driven by nothing; an older file may not say); nothing when no row is marked."""
    if not any(r.driving for r in rows):
        return []
    marks = sorted({d for r in rows if r.driving for d in r.driving.split("/")})
    unmarked = [r.label for r in rows if not r.driving and not r.reported and not r.reference]
    key = ", ".join(f"[{d}] {d}-driven" for d in marks)
    missing = f"; no driving input recorded for {', '.join(unmarked)}" if unmarked else ""
    return [f"Driving, as each row's results file records it: {key}{missing}"]


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
    labels = _count_labels(spec, results)
    for r in results:
        counts[(r.dataset, split_of(r))][labels[r.path]] = scored_clips(r)
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


def scored_clips(result: ResultFile) -> int | None:
    """The clips a results file was scored on: its ``n_clips`` (the clips run) less the clips that
    failed as a whole; None when the file does not record ``n_clips``."""
    n = result.raw.get("n_clips")
    if not isinstance(n, int) or isinstance(n, bool):
        return None
    whole = {f.get("clip") for f in result.failures if isinstance(f, dict) and f.get("metric") is None}
    return n - len(whole)


def _count_labels(spec: TableSpec, results: list[ResultFile]) -> dict:
    """Results path -> its row as the clip-count lines name it (a bank-size row with its bank)."""
    row_ids = row_ids_of(spec, results)
    labels = {}
    for r in results:
        row = row_label_of(spec, *row_ids[r.path])
        labels[r.path] = row if spec.rows_from != "bank_size" else f"{r.sweep['param']} {row}"
    return labels


def ranked_clip_counts(results: list[ResultFile]) -> dict[tuple[str, str], int]:
    """(dataset, split) -> the number of clips of the rows that are ranked (bold/underlined), for
    each dataset and split whose ``results`` were scored on different numbers of clips or do not all
    record it: the most any of them was scored on, i.e. the fullest evaluation (a ``--limit`` or
    smoke run, or a row that lost clips to failures, is shown but not ranked against it). A dataset
    and split absent from it ranks every row (all scored on one number, or none records it)."""
    counts: dict[tuple[str, str], list[int | None]] = defaultdict(list)
    for r in results:
        counts[(r.dataset, split_of(r))].append(scored_clips(r))
    reference = {}
    for where, ns in counts.items():
        recorded = {n for n in ns if n is not None}
        if len(recorded) > 1 or (recorded and None in ns):
            reference[where] = max(recorded)
    return reference


def is_ranked(result: ResultFile, reference: dict[tuple[str, str], int]) -> bool:
    """Whether ``result``'s row may be bold/underlined (``ranked_clip_counts``)."""
    n = reference.get((result.dataset, split_of(result)))
    return n is None or scored_clips(result) == n


def ranking_stamps(
    spec: TableSpec, results: list[ResultFile], reference: dict[tuple[str, str], int], reported: bool
) -> list[str]:
    """A line per dataset and split whose rows are not all ranked: which rows best and second best
    are marked among, and the rows that are not ranked (with the clips they were scored on)."""
    labels = _count_labels(spec, results)
    lines = []
    for (dataset, split), n in sorted(reference.items()):
        where = f"{dataset} {split}".strip()
        left = sorted(
            {
                f"{labels[r.path]} ({_clips_phrase(scored_clips(r))})"
                for r in results
                if (r.dataset, split_of(r)) == (dataset, split) and not is_ranked(r, reference)
            }
        )
        paper = f" and the paper's {REPORTED_MARK} rows" if reported else ""
        lines.append(
            f"Best (bold) and second best (underlined) on {where} marked only among the rows scored on "
            f"{n} clips (the most any row was){paper}; not ranked: {', '.join(left)}"
        )
    return lines


def _clips_phrase(n: int | None) -> str:
    return "clips not recorded" if n is None else f"{n} clip{'s' if n != 1 else ''}"


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


def same_source_warnings(results: list[ResultFile]) -> list[str]:
    """A line per set of results files that scored one folder's videos (``row_keys.same_source``):
    both rows are shown; the older file (``created``) is likely stale."""
    lines = []
    for rs in same_source(results):
        first = rs[0]
        files = " and ".join(str(r.path) for r in rs)
        methods = ", ".join(repr(r.method) for r in rs)
        where = f"{first.dataset} {split_of(first)}".strip()
        created = [r.raw.get("created") for r in rs]
        oldest = "older" if len(rs) == 2 else "oldest"
        stale = f"delete the stale one (the {oldest} is {first.path}, created {created[0]})"
        if not all(isinstance(c, str) and c for c in created) or len(set(created)) < len(created):
            stale = "delete the stale one"
        lines.append(
            f"{files} scored the same videos ({video_source(first)}) on {where} under protocol "
            f"{first.protocol}, as methods {methods}, and are all shown: if the folder's method was "
            f"renamed (its provenance.json 'method'), {stale}"
        )
    return lines


def clash_stamps(spec: TableSpec, results: list[ResultFile]) -> list[str]:
    return [
        f"{len(rs)} results files give the row {key!r}, shown as separate rows labelled by their "
        "folder (and file name, when they share one): "
        + ", ".join(str(r.path) for r in sorted(rs, key=lambda r: r.path))
        for key, rs in sorted(clashes(spec, results).items())
    ]
