"""Building the report's tables (the table model, ``table_model``) from results files and the paper's
reported numbers, one or more per spec of ``table_specs.TABLES``, plus one per extra dataset.

A table never mixes protocols or splits: measured rows are grouped by (protocol name, protocol hash,
split), and the paper's reported rows join only the tables of the protocol they were scored under
(``eat`` for Tables 1/3/4/6, ``canonical`` for Table 5) on the usual (test) split. A protocol with
reported rows but no measured rows still gets its table (reported only). Best value per column in
bold, second underlined; GT rows are references and never ranked, and where a dataset's rows were
scored on different clips (by the clips' ids where the results files record them, else by their
number) only those on the most, and on the clips most of those share, are ranked (and the paper's
rows), as a line under the table says (``clip_sets.ranked_clips``); a value that some of its row's
clips failed in alone is over fewer clips than the rest of its row: marked ‡ and not ranked either
(``_measured_cell``). Values are shown as stored;
nothing is recomputed. Two results files that would give the same row (the same method name in two
folders) are both shown, labelled by folder (and file name, for two files in one folder), with a
warning; so are rows of one protocol under two or more protocol hashes (its table or judges changed
between runs), whose tables of one caption are shown once per hash. A measured MEAD/HDTF/... result
whose metrics no paper table shows gets an "other metrics" table of its dataset. A metric that
applied to none of a result's clips (eval.run's ``not_applicable``: Acc_emo on HDTF, which has no
emotion labels) shows "n/a", its reason once under the table, and does not bring the result into a
table.
Metrics a result holds that its table has no column for are named under the table. What drove a
result (its results file's ``driving``) decides where it goes: an audio-driven result never joins
Table 5 (face reenactment), sweep rows driven otherwise than the paper's get a table of their own, and
in the tables that take both (Tables 1 and 4, extra datasets) each measured row that records it is
marked "[audio]" or "[video]" after its label.

Which row a result fills: ``row_keys``; the lines under a table: ``stamps``; captions and the
Markdown, LaTeX and HTML renderings: ``formats``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable

from baselines.reported import PAPER_METRICS, ReportedRow, reported_rows
from edtalk.data.readers import dataset_title
from eval.report.clip_sets import failed_in_metric_alone, is_ranked, ranked_clips, scored_clips
from eval.report.formats import caption
from eval.report.inputs import ResultFile
from eval.report.row_keys import group_key, row_ids_of, row_key, row_label_of, sort_keys, split_of
from eval.report.stamps import (
    clash_stamps,
    driving_stamps,
    fewer_clips_stamps,
    method_rows_stamps,
    not_applicable_stamps,
    ranking_stamps,
    reported_notes,
    resolution_stamps,
    same_source_warnings,
    sweep_training_stamps,
    table_stamps,
    unshown_metrics_stamps,
)
from eval.report.table_model import Cell, Column, Row, Table
from eval.report.table_specs import (
    FEWER_CLIPS_MARK,
    NOT_APPLICABLE,
    TABLES,
    USUAL_SPLIT,
    ColumnGroup,
    TableSpec,
    digits_per_metric,
    in_metric_order,
)

PAPER_DATASETS = ("mead", "hdtf", "voxceleb2", "lrw")


def _format(value: float | None, digits: int) -> tuple[str, float | None]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–", None
    if math.isinf(value):
        return ("∞" if value > 0 else "-∞"), value
    rounded = round(value, digits)
    return f"{rounded:.{digits}f}", rounded


def _measured_cell(result: ResultFile | None, metric: str, digits: int, comparable: bool = True) -> Cell:
    """A measured value as shown; one that some of the row's clips failed in alone is over fewer clips
    than the row's other cells: marked ``FEWER_CLIPS_MARK`` and not ranked (``fewer_clips_stamps``)."""
    text, value = _format(None if result is None else result.value(metric), digits)
    m = None if result is None else result.metrics.get(metric)
    if value is None and m is not None and m.not_applicable:
        return Cell(NOT_APPLICABLE, None)
    failed = failed_in_metric_alone(result, metric) if result is not None and value is not None else set()
    if failed:
        scored = scored_clips(result)
        of = f" of its {scored} clips" if scored is not None else f" clip{'s' * (len(failed) > 1)}"
        fewer = f"{len(failed)}{of} failed in it"
        return Cell(text + FEWER_CLIPS_MARK, value, comparable=False, fewer_clips=fewer)
    return Cell(text, value, comparable=comparable)


def _reported_cell(row: ReportedRow | None, metric: str) -> Cell:
    if row is None or metric not in row.printed:
        return Cell("–", None)
    return Cell(row.printed[metric], row.metrics[metric])


def _rank(rows: list[Row], columns: list[Column]) -> None:
    """Mark the best (1) and second best (2) distinct value per column (equal values share a mark);
    references and cells scored on other clips than the ranked rows (``Cell.comparable``) are skipped. A
    column with fewer than two ranked rows is not marked, and one with fewer than three distinct values
    only its best (a second there marks every cell: two rows, or a tie for best or second)."""
    for j, col in enumerate(columns):
        ranked = [
            r for r in rows if not r.reference and r.cells[j].comparable and r.cells[j].value is not None
        ]
        if len(ranked) < 2:
            continue
        order = sorted({r.cells[j].value for r in ranked}, reverse=col.higher_is_better)
        for rank, best in enumerate(order[: 2 if len(order) > 2 else 1], 1):
            for r in ranked:
                if r.cells[j].value == best:
                    r.cells[j].rank = rank


def _columns(spec_groups: Iterable[ColumnGroup], results: list[ResultFile]) -> list[Column]:
    """Columns with labels/arrows from the results files, falling back to the paper's; two results
    files that disagree on a metric's direction are an error (it would invert the bolding; a file
    that disagrees with the paper's arrow is left out when read, ``inputs._metric``)."""
    seen: dict[str, tuple[str, bool, str]] = {}
    for r in results:
        for m in r.metrics.values():
            prev = seen.get(m.id)
            if prev is not None and prev[1] != m.higher_is_better:
                raise ValueError(f"{r.path}: metric {m.id!r} direction differs from {prev[2]}")
            seen.setdefault(m.id, (m.label, m.higher_is_better, str(r.path)))
    cols = []
    for g in spec_groups:
        for metric in g.metrics:
            label, hib = seen[metric][:2] if metric in seen else PAPER_METRICS.get(metric, (metric, True))
            cols.append(Column(g.key, metric, label, hib))
    return cols


def _measured_rows(
    spec: TableSpec, columns: list[Column], results: list[ResultFile], ranked: dict
) -> list[Row]:
    """A row per row key (and tag); a cell whose file was scored on other clips than the ranked rows
    (``ranked``: ``clip_sets.ranked_clips``) is not ranked."""
    by_row: dict[tuple[str, str], dict[str, ResultFile]] = defaultdict(dict)
    row_ids = row_ids_of(spec, results)
    for r in results:
        key, tag = row_ids[r.path]
        if key is not None:  # not part of this table
            by_row[(key, tag)][group_key(spec, r)] = r
    order = {k: i for i, k in enumerate(sort_keys(spec, {key for key, _ in by_row}))}
    rows = []
    for key, tag in sorted(by_row, key=lambda kt: (order[kt[0]], kt[1])):
        mine = by_row[(key, tag)]
        cells = [
            _measured_cell(
                mine.get(c.group),
                c.metric,
                spec.decimals.get(c.metric, 3),
                c.group not in mine or is_ranked(mine[c.group], ranked),
            )
            for c in columns
        ]
        unverified = any(r.unverified for r in mine.values())
        label = row_label_of(spec, key, tag)
        row = Row(label, cells, unverified=unverified, reference=(key == "gt"), driving=_driving(spec, mine))
        rows.append(row)
    return rows


def _driving(spec: TableSpec, mine: dict[str, ResultFile]) -> str | None:
    """What drove a row, shown beside its label in tables whose rows may be driven either way (the
    paper's Tables 1 and 4, extra datasets; Tables 3, 5 and 6 are one mode, named in the caption)."""
    if spec.driving is not None:
        return None
    return "/".join(sorted({r.driving for r in mine.values() if r.driving})) or None


def _reported_table_rows(spec: TableSpec, columns: list[Column], reported: list[ReportedRow]) -> list[Row]:
    by_row: dict[str, dict[str, ReportedRow]] = defaultdict(dict)
    order: list[str] = []
    for r in reported:
        key = r.row
        if key not in by_row:
            order.append(key)
        by_row[key][r.group or r.dataset] = r
    rows = []
    for key in order:
        cells = [_reported_cell(by_row[key].get(c.group), c.metric) for c in columns]
        reference = any(r.is_reference for r in by_row[key].values())
        rows.append(Row(key, cells, reported=True, reference=reference))
    return rows


def _make_table(spec, groups, protocol, protocol_hash, results, reported, key_suffix) -> Table:
    columns = _columns(groups, results)
    rankable = [r for r in results if row_key(spec, r) != "gt"]  # GT rows are never ranked
    ranked = ranked_clips(rankable)
    rows = _measured_rows(spec, columns, results, ranked)
    rows += _reported_table_rows(spec, columns, reported)
    _rank(rows, columns)
    table = Table(
        key=f"{spec.name}-{protocol}-{key_suffix}",
        number=spec.number,
        title=spec.title,
        protocol=protocol,
        protocol_hash=protocol_hash,
        groups=[(g.title, len(g.metrics)) for g in groups],
        columns=columns,
        rows=rows,
        notes=reported_notes(reported),
        stamps=table_stamps(spec, protocol, protocol_hash, results)
        + ranking_stamps(spec, rankable, ranked, bool(reported)),
        split=split_of(results[0]) if results else USUAL_SPLIT,
        sources=[r.path for r in results],
        row_header="Bases" if spec.rows_from == "bank_size" else "Method",
    )
    table.stamps += method_rows_stamps(spec, table.rows)
    table.stamps += sweep_training_stamps(spec, results)
    table.stamps += resolution_stamps(results)
    table.stamps += fewer_clips_stamps(table.rows, columns)
    table.stamps += not_applicable_stamps(spec, columns, results)
    table.stamps += unshown_metrics_stamps(columns, results)
    table.stamps += driving_stamps(table.rows)
    clashes = clash_stamps(spec, results)
    table.stamps += clashes
    table.warnings = [f"{caption(table)}: {c}" for c in clashes]
    return table


def _sweep_groups(spec: TableSpec, dataset: str) -> tuple[ColumnGroup, ...]:
    """Tables 3 and 6 are headed by the dataset their measured rows were scored on."""
    if spec.rows_from == "ablations":
        return (ColumnGroup(dataset, dataset_title(dataset), spec.groups[0].metrics),)
    return tuple(dataclasses.replace(g, title=f"{g.title} ({dataset_title(dataset)})") for g in spec.groups)


def _split_suffix(split: str) -> str:
    return "" if split == USUAL_SPLIT else f"-{split or 'nosplit'}"


def build_paper_table(spec: TableSpec, results: list[ResultFile]) -> list[Table]:
    """All tables for one spec: one per measured (protocol, hash, split[, dataset, driving]) plus
    reported-only. Sweep rows are split by what drove them (``ResultFile.driving``), so an ablation
    scored video-driven is never ranked against audio-driven rows or the paper's (audio-driven) ones."""
    mine = [r for r in results if row_key(spec, r) is not None]
    buckets: dict[tuple[str, str, str, str, str], list[ResultFile]] = defaultdict(list)
    for r in mine:
        sweep_dataset = r.dataset if spec.rows_from != "method" else ""
        driving = (r.driving or "") if spec.rows_from != "method" else ""
        buckets[(r.protocol, r.protocol_hash, sweep_dataset, split_of(r), driving)].append(r)
    reported = reported_rows(spec.reported) if spec.reported else []
    rep_protocol = reported[0].protocol if reported else None
    rep_dataset = reported[0].dataset if reported else None
    tables = []
    # the reported protocol's tables first (they carry the paper's rows), then the others; the
    # usual split before the others
    order = sorted(
        buckets.items(), key=lambda kv: (kv[0][0] != rep_protocol, kv[0][:3], kv[0][3] != USUAL_SPLIT, kv[0])
    )
    for (protocol, phash, dataset, split, driving), group_results in order:
        groups = _sweep_groups(spec, dataset) if dataset else spec.groups
        # reported rows join only their own protocol on the usual split, for sweeps only the
        # paper's dataset and rows driven as the paper's (or not recorded)
        joins = protocol == rep_protocol and split == USUAL_SPLIT and (not dataset or dataset == rep_dataset)
        joins = joins and driving in ("", spec.driving or "")
        suffix = f"{phash[:8]}" + (f"-{dataset}" if dataset else "") + _split_suffix(split)
        suffix += f"-{driving}" if driving else ""
        table = _make_table(spec, groups, protocol, phash, group_results, reported if joins else [], suffix)
        table.driving = driving or None
        tables.append(table)
    if reported and not any(t.protocol == rep_protocol and t.notes for t in tables):
        groups = _sweep_groups(spec, rep_dataset) if spec.rows_from != "method" else spec.groups
        tables.insert(0, _make_table(spec, groups, rep_protocol, None, [], reported, "reported"))
    return tables


def _all_metrics_tables(results: list[ResultFile], name: str, title: str) -> list[Table]:
    """A table per (dataset, protocol, hash, split) of ``results`` with every metric they hold;
    ``name`` and ``title`` are formatted with the dataset's ``dataset`` and ``title``."""
    buckets: dict[tuple[str, str, str, str], list[ResultFile]] = defaultdict(list)
    for r in results:
        buckets[(r.dataset, r.protocol, r.protocol_hash, split_of(r))].append(r)
    tables = []
    for (dataset, protocol, phash, split), group in sorted(buckets.items()):
        present = {m for r in group for m in r.metrics}
        metrics = tuple(in_metric_order(present))
        shown = dataset_title(dataset)
        spec = TableSpec(
            name=name.format(dataset=dataset, title=shown),
            number="",
            title=title.format(dataset=dataset, title=shown),
            groups=(ColumnGroup(dataset, shown, metrics),),
            rows_from="method",
            decimals=digits_per_metric(3, acc_emo=2),
            requires_any=frozenset(metrics),
        )
        suffix = phash[:8] + _split_suffix(split)
        tables.append(_make_table(spec, spec.groups, protocol, phash, group, [], suffix))
    return tables


def _extra_dataset_tables(results: list[ResultFile]) -> list[Table]:
    """One table per dataset the paper has no table for (e.g. synthtalk), every metric shown."""
    extra = [r for r in results if r.sweep is None and r.dataset not in PAPER_DATASETS]
    return _all_metrics_tables(extra, "dataset-{dataset}", "Measured results on {title}")


def _other_metrics_tables(results: list[ResultFile], used: set) -> tuple[list[Table], list[str]]:
    """Measured results on a paper dataset that no paper table takes (none of its metrics is one
    the table needs), each named in a warning and shown in an "other metrics" table."""
    other = [r for r in results if r.sweep is None and r.dataset in PAPER_DATASETS and r.path not in used]
    title = "Other metrics on {title} (in no paper table)"
    warnings = []
    for r in other:
        shown = dataset_title(r.dataset)
        warnings.append(
            f"{r.path}: its metrics ({', '.join(sorted(r.metrics))}) are in no paper table of {shown}; "
            f"shown in '{title.format(title=shown)}'"
        )
    return _all_metrics_tables(other, "other-{dataset}", title), warnings


def build_tables(results: list[ResultFile], warnings: list[str] | None = None) -> list[Table]:
    """Every table of the report, in paper order, then extra datasets, then the "other metrics"
    tables of paper datasets. Pass a list as ``warnings`` to collect there what a reader should
    know: rows that two results files give, results in an "other metrics" table or in no table,
    results files that scored the same folder of videos (a renamed method's stale file), tables shown
    once per protocol hash (``protocol_hash_warnings``)."""
    tables = [t for spec in TABLES for t in build_paper_table(spec, results)]
    tables += _extra_dataset_tables(results)
    others, notes = _other_metrics_tables(results, {p for t in tables for p in t.sources})
    tables += others
    used = {p for t in tables for p in t.sources}
    notes += [f"{r.path}: in no table ({_why_no_table(r)})" for r in results if r.path not in used]
    notes += same_source_warnings(results)
    notes += protocol_hash_warnings(tables, results)
    if warnings is not None:
        warnings += list(dict.fromkeys([w for t in tables for w in t.warnings] + notes))
    return tables


def protocol_hash_warnings(tables: list[Table], results: list[ResultFile]) -> list[str]:
    """A line per protocol (and split) whose rows fall under two or more protocol hashes, so that
    tables of one caption are printed once per hash, differing only in the hash line under them
    (``table_stamps``); it names the rows (method and dataset) of each hash and why."""
    by_path = {r.path: r for r in results}
    hashes: dict[str, set[str]] = defaultdict(set)  # caption -> the hashes of its measured tables
    for t in tables:
        if t.protocol_hash is not None:
            hashes[caption(t)].add(t.protocol_hash)
    captions: dict[tuple[str, str], list[str]] = defaultdict(list)
    rows: dict[tuple[str, str], dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for t in tables:
        if t.protocol_hash is None or len(hashes[caption(t)]) < 2:
            continue
        where = (t.protocol, t.split)
        captions[where] += [caption(t)] if caption(t) not in captions[where] else []
        rows[where][t.protocol_hash].update({p: by_path[p] for p in t.sources})
    return [_hash_warning(where[0], captions[where], rows[where]) for where in sorted(captions)]


def _hash_warning(protocol: str, captions: list[str], rows: dict[str, dict]) -> str:
    """The line of ``protocol_hash_warnings``: ``rows`` is hash -> {results path: ResultFile}."""
    created = {h: max(str(r.raw.get("created") or "") for r in rs.values()) for h, rs in rows.items()}
    latest = max(created.values())
    newest = [h for h, c in created.items() if c == latest]
    mark = newest[0] if all(created.values()) and len(newest) == 1 else None
    per_hash = "; ".join(
        f"hash {h[:8]}{' (the newest)' if h == mark else ''}: "
        + ", ".join(sorted({f"{r.method} ({r.dataset})" for r in rows[h].values()}))
        for h in sorted(rows)
    )
    shown = " and ".join(f"'{c}'" for c in captions)
    return (
        f"protocol {protocol} has rows under {len(rows)} protocol hashes, so {shown} is shown once per hash, "
        f"and rows of different hashes are not comparable: {per_hash}. The protocol's table changed "
        "between the runs (a metric added, a setting or a metric's version changed in eval/protocols.py), "
        "or its judges' weight files differ: rescore the older rows with python -m eval.run (their cached "
        "rows are recomputed under this checkout's hash)"
    )


def _why_no_table(result: ResultFile) -> str:
    if result.sweep is not None:
        return f"sweep {result.sweep['name']!r} has no table; tables are for 'ablations' and 'bank_size'"
    return "no table takes its dataset and metrics"
