"""The lines under a table (its notes and stamps): the reported rows' source, the protocol, hash and
split, unverified rows, failed clips, clips scored per row, cells over fewer clips than their row,
metrics not applicable, metrics measured but not shown, and rows that two results files give."""

from __future__ import annotations

from collections import Counter, defaultdict

from baselines.reported import ReportedRow
from eval.report.clip_sets import (
    Anchor,
    Ranked,
    anchor_of,
    clips_phrase,
    is_ranked,
    scored_clip_ids,
    scored_clips,
)
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
    FEWER_CLIPS_MARK,
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
    stamps = [f"Protocol: {protocol} ({h}){_protocol_about(protocol)}"]
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


def resolution_stamps(results: list[ResultFile]) -> list[str]:
    """The size each measured row's videos were drawn at (``provenance.resolution``: the EDTalk
    methods' model size, a folder's measured video), since a prediction of another size than its GT is
    resized to the GT's before scoring: a 64 px model's PSNR is not a 256 px one's."""
    sizes = {}
    for r in results:
        res = r.provenance.get("resolution")
        if isinstance(res, list) and len(res) == 2 and all(isinstance(v, int) for v in res):
            sizes.setdefault(f"{res[0]}x{res[1]}", set()).add(r.method)
    if not sizes:
        return []
    listed = "; ".join(f"{', '.join(sorted(methods))} {size}" for size, methods in sorted(sizes.items()))
    return [
        f"Videos drawn at (height x width): {listed}; another size than the GT's is resized to it "
        "before scoring"
    ]


def sweep_training_stamps(spec: TableSpec, results: list[ResultFile]) -> list[str]:
    """How much a sweep table's rows were trained (their results files' ``provenance.training``): the
    stages each trial retrained from the parent run and their optimizer steps, so that a smoke sweep's
    2 steps are not read as the paper's schedule; a method table gets none."""
    if spec.rows_from == "method":
        return []
    records = [
        rec
        for r in results
        for rec in r.provenance.get("training") or []
        if isinstance(rec, dict) and isinstance(rec.get("steps"), int)
    ]
    if not records:
        return []
    from edtalk.config import STAGE_NAMES

    names = {str(rec.get("stage")) for rec in records}
    stages = sorted(names, key=lambda s: (STAGE_NAMES.index(s) if s in STAGE_NAMES else len(STAGE_NAMES), s))
    steps = sorted({rec["steps"] for rec in records})
    count = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]} to {steps[-1]}"
    return [
        f"The rows' trials retrained {', '.join(stages)} from the parent run (each trial the stages its "
        f"change affects), {count} optimizer steps a stage"
    ]


def _protocol_about(name: str) -> str:
    """ ": <what the protocol is>" (``eval.protocols``' description), "" for a protocol this checkout
    does not know."""
    from eval.protocols import PROTOCOLS

    return f": {PROTOCOLS.get(name).description}" if name in PROTOCOLS else ""


def method_rows_stamps(spec: TableSpec, rows: list[Row]) -> list[str]:
    """What the measured rows of the suite's own methods are (``baselines.Method.about``: gt, static,
    edtalk_v, edtalk_a), so a reader does not take the static frame for a method that beats EDTalk
    on emotion; a method table only (sweep rows are variants of one model)."""
    from baselines import METHODS

    if spec.rows_from != "method":
        return []
    labels = dict.fromkeys(r.label for r in rows if not r.reported)
    about = [
        f"{name}: {METHODS.get(name).about}" for name in labels if name in METHODS and METHODS.get(name).about
    ]
    return ["Rows: " + "; ".join(about)] if about else []


def fewer_clips_stamps(rows: list[Row], columns: list[Column]) -> list[str]:
    """The line under a table for its cells marked ``FEWER_CLIPS_MARK``: a metric that some of a row's
    clips failed in alone (no face for SyncNet, say) is over fewer clips than the row's other cells
    and the other rows, so it is not ranked; each such cell with its count."""
    cells = [
        f"{row.label} {col.label} ({cell.fewer_clips})"
        for row in rows
        for col, cell in zip(columns, row.cells, strict=True)
        if cell.fewer_clips
    ]
    if not cells:
        return []
    return [
        f"{FEWER_CLIPS_MARK} over fewer clips than the rest of its row (clips that failed in that metric "
        f"alone are left out of it only), so not ranked: {', '.join(cells)}"
    ]


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
    are not read as the split, and rows scored on other clips are flagged as not comparable: by the
    clips' ids where the files record them (``clip_sets``), else by their number. Rows whose files do
    not record it (written before ``n_clips`` was added) are named, never counted as scored on the
    others' number."""
    labels = _count_labels(spec, results)
    by_where: dict[tuple[str, str], list[ResultFile]] = defaultdict(list)
    for r in results:
        by_where[(r.dataset, split_of(r))].append(r)
    lines = []
    for (dataset, split), rs in sorted(by_where.items()):
        where = f"{dataset} {split}".strip()
        per_row = {labels[r.path]: scored_clips(r) for r in rs}
        recorded = {row: n for row, n in per_row.items() if n is not None}
        if not recorded:  # only files older than n_clips: nothing to say
            continue
        unrecorded = sorted(set(per_row) - set(recorded))
        if len({ids for r in rs if (ids := scored_clip_ids(r)) is not None}) > 1:
            lines.append(_different_clips(spec, where, rs, labels, unrecorded))
            continue
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


def _different_clips(
    spec: TableSpec, where: str, results: list[ResultFile], labels: dict, unrecorded: list[str]
) -> str:
    """The clip-count line of rows that record different clips' ids: the rows of one set of clips
    together, the fullest first (``anchor_of``, GT on a tie), each other set described against it."""
    labelled = [(labels[r.path], r) for r in results if scored_clips(r) is not None]
    anchor = anchor_of(labelled, _gt_labels(spec, results, labels))
    groups: dict[object, list[tuple[str, ResultFile]]] = defaultdict(list)
    for label, r in sorted(labelled, key=lambda lr: lr[0]):
        ids = scored_clip_ids(r)
        groups[label if ids is None else ids].append((label, r))
    mine = [g for g in groups.values() if anchor and anchor[0] in dict(g)]
    listed = "; ".join(_group_phrase(g, anchor) for g in mine + [g for g in groups.values() if g not in mine])
    missing = f"; clips not recorded for {', '.join(unrecorded)}" if unrecorded else ""
    return f"Rows scored on different clips of {where} (not comparable): {listed}{missing}"


def _group_phrase(group: list[tuple[str, ResultFile]], anchor: Anchor | None) -> str:
    """``gt, static: 12 clips``: rows scored on one set of clips, described by the anchor's row when it
    is one of them."""
    label, r = next(((lb, r) for lb, r in group if anchor and lb == anchor[0]), group[0])
    return f"{', '.join(lb for lb, _ in group)}: {clips_phrase(r, label, anchor)}"


def _gt_labels(spec: TableSpec, results: list[ResultFile], labels: dict) -> set[str]:
    row_ids = row_ids_of(spec, results)
    return {labels[r.path] for r in results if row_ids[r.path][0] == "gt"}


def _count_labels(spec: TableSpec, results: list[ResultFile]) -> dict:
    """Results path -> its row as the clip-count lines name it (a bank-size row with its bank)."""
    row_ids = row_ids_of(spec, results)
    labels = {}
    for r in results:
        row = row_label_of(spec, *row_ids[r.path])
        labels[r.path] = row if spec.rows_from != "bank_size" else f"{r.sweep['param']} {row}"
    return labels


def ranking_stamps(
    spec: TableSpec, results: list[ResultFile], ranked: dict[tuple[str, str], Ranked], reported: bool
) -> list[str]:
    """A line per dataset and split whose rows are not all ranked (``clip_sets.ranked_clips``): which
    rows best and second best are marked among, and the rows that are not ranked (with the clips they
    were scored on, and how they differ from the ranked rows' where the files record their ids)."""
    labels = _count_labels(spec, results)
    lines = []
    for (dataset, split), ref in sorted(ranked.items()):
        where = f"{dataset} {split}".strip()
        labelled = [(labels[r.path], r) for r in results if (r.dataset, split_of(r)) == (dataset, split)]
        labelled.sort(key=lambda lr: lr[0])
        anchor = _ranked_anchor(labelled, ref)
        left = sorted(
            {
                f"{label} ({clips_phrase(r, label, anchor)})"
                for label, r in labelled
                if not is_ranked(r, ranked)
            }
        )
        among = _marked_among(ref, anchor, labelled, ranked, reported)
        lines.append(
            f"Best (bold) and second best (underlined) on {where} {among}; not ranked: {', '.join(left)}"
        )
    return lines


def _marked_among(
    ref: Ranked, anchor: Anchor | None, labelled: list[tuple[str, ResultFile]], ranked: dict, reported: bool
) -> str:
    """Which rows ``ranking_stamps``' line says best and second best are marked among."""
    paper = f" and the paper's {REPORTED_MARK} rows" if reported else ""
    among = [(label, r) for label, r in labelled if is_ranked(r, ranked)]
    if ref.tied:  # only rows whose files record no clip ids may be ranked, by their count
        shown = [label for label, _ in among] + ([f"the paper's {REPORTED_MARK} rows"] if reported else [])
        head = f"marked only among {', '.join(shown)}" if shown else "not marked"
        return (
            f"{head}: the rows scored on the most clips ({ref.n}) were scored on different clips, as many "
            "rows on each"
        )
    if ref.ids is None or anchor is None:
        return f"marked only among the rows scored on {ref.n} clips (the most any row was){paper}"
    counted = any(scored_clip_ids(r) is None for _, r in among)
    also = f" and the rows on {ref.n} clips whose files record no clip ids" if counted else ""
    return (
        f"marked only among the rows scored on the same {ref.n} clips as {anchor[0]} (the most any row "
        f"was){also}{paper}"
    )


def _ranked_anchor(labelled: list[tuple[str, ResultFile]], ref: Ranked) -> Anchor | None:
    """What the rows that are not ranked are described against: the first ranked row of ``ref.ids``,
    on a tie the first of the rows on the most clips, else (compared by counts only) nothing."""
    if ref.ids is not None:
        return min((label, ids) for label, r in labelled if (ids := scored_clip_ids(r)) == ref.ids)
    if ref.tied:
        return anchor_of([(label, r) for label, r in labelled if scored_clips(r) == ref.n])
    return None


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
