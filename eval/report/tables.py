"""The paper's tables as a table model (built from results files + reported numbers) and its
three renderings: Markdown, LaTeX (booktabs) and HTML.

A table never mixes protocols or splits: measured rows are grouped by (protocol name, protocol hash,
split), and the paper's reported rows join only the tables of the protocol they were scored under
(``eat`` for Tables 1/3/4/6, ``canonical`` for Table 5) on the usual (test) split. A protocol with
reported rows but no measured rows still gets its table (reported only). Best value per column in
bold, second underlined; GT rows are references and never ranked. Values are shown as stored;
nothing is recomputed. Two results files that would give the same row (the same method name in two
folders) are both shown, labelled by folder, with a warning; a measured MEAD/HDTF/... result whose
metrics no paper table shows gets an "other metrics" table of its dataset. A metric that applied to
none of a result's clips (eval.run's ``not_applicable``: Acc_emo on HDTF, which has no emotion
labels) shows "n/a", its reason once under the table, and does not bring the result into a table.
Metrics a result holds that its table has no column for are named under the table. What drove a
result (its results file's ``driving``) decides where it goes: an audio-driven result never joins
Table 5 (face reenactment), and sweep rows driven otherwise than the paper's get a table of their own.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from baselines.reported import PAPER_METRICS, ReportedRow, reported_rows
from edtalk.ablations import ABLATIONS
from eval.report.inputs import ResultFile

REPORTED_MARK = "†"
UNVERIFIED_MARK = "*"
NOT_APPLICABLE = "n/a"  # a metric that applies to none of the row's clips (eval.run's not_applicable)
PAPER_DATASETS = ("mead", "hdtf", "voxceleb2", "lrw")
DATASET_TITLES = {
    "mead": "MEAD",
    "hdtf": "HDTF",
    "voxceleb2": "VoxCeleb2",
    "lrw": "LRW",
    "synthtalk": "synthtalk",
}
# Column order for tables of datasets the paper has no table for (paper metrics first).
METRIC_ORDER = (
    "psnr",
    "ssim",
    "lpips",
    "l1",
    "m_lmd",
    "f_lmd",
    "fid",
    "lse_c",
    "lse_d",
    "acc_emo",
    "akd",
    "aed",
)


def in_metric_order(metric_ids: Iterable[str]) -> list[str]:
    """``metric_ids`` in ``METRIC_ORDER`` (paper metrics first), the others after them by name."""
    ids = set(metric_ids)
    return [m for m in METRIC_ORDER if m in ids] + sorted(ids - set(METRIC_ORDER))


T1_METRICS = ("psnr", "ssim", "m_lmd", "f_lmd", "fid", "lse_c", "acc_emo")
USUAL_SPLIT = "test"  # the split the paper scores; other splits are named in captions and stamps


# ----------------------------------------------------------------------------------------------
# Specs: which results and reported rows a paper table shows
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ColumnGroup:
    """A block of columns under one heading (a dataset, or a half of Table 6)."""

    key: str  # dataset name, or the sweep param for Table 6 ("mouth" | "expression")
    title: str
    metrics: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One paper table: its column groups, how measured results become rows, its reported rows."""

    name: str  # "table1"
    number: str  # "1"; "" for tables the paper does not have
    title: str
    groups: tuple[ColumnGroup, ...]
    rows_from: str  # "method" (rows = methods, groups = datasets) | "ablations" | "bank_size"
    decimals: dict[str, int]  # metric id -> digits for measured values (default 3)
    requires_any: frozenset[str] = frozenset()  # a result joins only if it has one of these
    reported: str | None = None  # baselines.reported table name
    # what drives the paper's rows: "video" (Table 5 takes no audio-driven result), "audio" (Tables
    # 3 and 6: sweep rows of another mode get a table of their own), None (Tables 1 and 4 show both)
    driving: str | None = None


def _digits(default: int, **special: int) -> dict[str, int]:
    d = {m: default for m in METRIC_ORDER}
    d.update(special)
    return d


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        name="table1",
        number="1",
        title="Audio-driven comparison on MEAD and HDTF",
        groups=(ColumnGroup("mead", "MEAD", T1_METRICS), ColumnGroup("hdtf", "HDTF", T1_METRICS[:-1])),
        rows_from="method",
        decimals=_digits(3, acc_emo=2),
        requires_any=frozenset({"m_lmd", "f_lmd", "fid", "lse_c", "acc_emo"}),
        reported="table1",
    ),
    TableSpec(
        name="table3",
        number="3",
        title="Ablations",
        groups=(ColumnGroup("mead", "MEAD", T1_METRICS),),
        rows_from="ablations",
        driving="audio",
        decimals=_digits(3, acc_emo=2),
        reported="table3",
    ),
    TableSpec(
        name="table4",
        number="4",
        title="Audio-driven comparison on VoxCeleb2 and LRW",
        groups=(
            ColumnGroup("voxceleb2", "VoxCeleb2", ("psnr", "ssim", "m_lmd", "f_lmd", "lse_c")),
            ColumnGroup("lrw", "LRW", ("psnr", "ssim", "m_lmd", "f_lmd", "lse_c")),
        ),
        rows_from="method",
        decimals=_digits(3),
        requires_any=frozenset({"m_lmd", "f_lmd", "lse_c"}),
        reported="table4",
    ),
    TableSpec(
        name="table5",
        number="5",
        title="Face reenactment on HDTF",
        groups=(ColumnGroup("hdtf", "HDTF", ("psnr", "ssim", "lpips", "l1", "akd", "aed")),),
        rows_from="method",
        decimals=_digits(2, l1=3, aed=3),
        requires_any=frozenset({"lpips", "l1", "akd", "aed"}),
        reported="table5",
        driving="video",
    ),
    TableSpec(
        name="table6",
        number="6",
        title="Number of bases in the mouth and expression banks",
        groups=(
            ColumnGroup("mouth", "Mouth bank B^m", ("psnr", "ssim", "m_lmd", "f_lmd", "lse_c", "acc_emo")),
            ColumnGroup(
                "expression", "Expression bank B^e", ("psnr", "ssim", "m_lmd", "f_lmd", "lse_c", "acc_emo")
            ),
        ),
        rows_from="bank_size",
        decimals=_digits(2),
        reported="table6",
        driving="audio",
    ),
)


# ----------------------------------------------------------------------------------------------
# The table model
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Cell:
    text: str  # "21.628", "–" when missing
    value: float | None  # the number that is ranked (rounded to the shown digits)
    rank: int | None = None  # 1 best (bold), 2 second (underlined)


@dataclasses.dataclass
class Row:
    label: str
    cells: list[Cell]
    reported: bool = False
    reference: bool = False  # GT: shown, never ranked
    unverified: bool = False


@dataclasses.dataclass(frozen=True)
class Column:
    group: str
    metric: str
    label: str
    higher_is_better: bool


@dataclasses.dataclass
class Table:
    key: str  # "table1-eat-1a2b3c4d": unique per (table, protocol, hash, dataset)
    number: str
    title: str
    protocol: str
    protocol_hash: str | None  # None for a reported-only table
    groups: list[tuple[str, int]]  # (title, number of columns)
    columns: list[Column]
    rows: list[Row]
    notes: list[str]  # footnotes: reported source, paper quirks
    stamps: list[str]  # protocol name + hash, unverified methods
    split: str = USUAL_SPLIT  # the split its measured rows were scored on ("" when not recorded)
    sources: list = dataclasses.field(default_factory=list)  # paths of the results files in its rows
    warnings: list[str] = dataclasses.field(default_factory=list)  # e.g. two files giving one row
    driving: str | None = None  # what drove a sweep table's rows ("audio" | "video"), named in its caption


# ----------------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------------


def _format(value: float | None, digits: int) -> tuple[str, float | None]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–", None
    if math.isinf(value):
        return ("∞" if value > 0 else "-∞"), value
    rounded = round(value, digits)
    return f"{rounded:.{digits}f}", rounded


def _measured_cell(result: ResultFile | None, metric: str, digits: int) -> Cell:
    text, value = _format(None if result is None else result.value(metric), digits)
    m = None if result is None else result.metrics.get(metric)
    if value is None and m is not None and m.not_applicable:
        return Cell(NOT_APPLICABLE, None)
    return Cell(text, value)


def _reported_cell(row: ReportedRow | None, metric: str) -> Cell:
    if row is None or metric not in row.printed:
        return Cell("–", None)
    return Cell(row.printed[metric], row.metrics[metric])


def _rank(rows: list[Row], columns: list[Column]) -> None:
    """Mark the best (1) and second best (2) distinct value per column; references are skipped,
    and a column with fewer than two ranked rows is not marked."""
    for j, col in enumerate(columns):
        ranked = [r for r in rows if not r.reference and r.cells[j].value is not None]
        if len(ranked) < 2:
            continue
        values = {r.cells[j].value for r in ranked}
        order = sorted(values, reverse=col.higher_is_better)
        for rank, best in enumerate(order[:2], 1):
            for r in rows:
                if not r.reference and r.cells[j].value == best:
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


def _stamps(
    spec: TableSpec, protocol: str, protocol_hash: str | None, results: list[ResultFile]
) -> list[str]:
    h = f"hash {protocol_hash}" if protocol_hash else "reported numbers only, no measured rows"
    stamps = [f"Protocol: {protocol} ({h})"]
    split = _split(results[0]) if results else USUAL_SPLIT
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


def _not_applicable_stamps(spec: TableSpec, columns: list[Column], results: list[ResultFile]) -> list[str]:
    """One line per shown metric and reason: the rows (method, dataset) it did not apply to, in all
    or some of their clips; those clips are not failures and are in no number of the metric."""
    shown = {(c.group, c.metric) for c in columns}
    rows: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in results:
        for m in r.metrics.values():
            if m.not_applicable and (_group_key(spec, r), m.id) in shown:
                rows[(m.label, m.not_applicable)].add(f"{r.method} ({r.dataset})")
    return [
        f"{label} {NOT_APPLICABLE}, not applicable ({reason}): {', '.join(sorted(where))}"
        for (label, reason), where in sorted(rows.items())
    ]


def _unshown_metrics_stamps(columns: list[Column], results: list[ResultFile]) -> list[str]:
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
    record ``n_clips``), so a smoke run's 2 clips are not read as the split, and rows scored on other
    numbers of clips are flagged as not comparable."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    row_ids = _row_ids(spec, results)
    for r in results:
        n = r.raw.get("n_clips")
        if isinstance(n, int):
            row = _row_label_of(spec, *row_ids[r.path])
            row = row if spec.rows_from != "bank_size" else f"{r.sweep['param']} {row}"
            counts[(r.dataset, r.split or "")][row] = n
    lines = []
    for (dataset, split), per_row in sorted(counts.items()):
        where = f"{dataset} {split}".strip()
        if len(set(per_row.values())) == 1:
            lines.append(f"Clips scored: {next(iter(per_row.values()))} of {where} in every row")
        else:
            listed = ", ".join(f"{row} {n}" for row, n in sorted(per_row.items()))
            lines.append(f"Rows scored on different numbers of clips of {where} (not comparable): {listed}")
    return lines


def _reported_notes(rows: list[ReportedRow]) -> list[str]:
    if not rows:
        return []
    notes = [f"{REPORTED_MARK} reported in {rows[0].source}; not measured here."]
    for r in rows:
        for note in r.notes:
            line = f"{REPORTED_MARK} {r.row}: {note}."
            if line not in notes:
                notes.append(line)
    return notes


def _row_key(spec: TableSpec, result: ResultFile) -> str | None:
    """Which row of ``spec`` a measured result belongs to (None: not part of this table)."""
    sweep = result.sweep
    if spec.rows_from == "method":
        if sweep is not None or result.dataset not in {g.key for g in spec.groups}:
            return None
        if spec.driving and result.driving not in (None, spec.driving):
            return None  # an audio-driven result is no face reenactment (Table 5)
        applicable = {m.id for m in result.metrics.values() if m.value is not None or not m.not_applicable}
        return result.method if spec.requires_any & applicable else None
    if spec.rows_from == "ablations":
        return str(sweep["value"]) if sweep and sweep["name"] == "ablations" else None
    if spec.rows_from == "bank_size":
        return str(sweep["value"]) if sweep and sweep["name"] == "bank_size" else None
    raise ValueError(f"unknown rows_from {spec.rows_from!r}")


def _group_key(spec: TableSpec, result: ResultFile) -> str:
    return result.sweep["param"] if spec.rows_from == "bank_size" else result.dataset


def _split(result: ResultFile) -> str:
    return result.split or ""


def _split_phrase(split: str) -> str:
    """ "val split", or "split not recorded" for a results file without one."""
    return f"{split} split" if split else "split not recorded"


def _clashes(spec: TableSpec, results: list[ResultFile]) -> dict[str, list[ResultFile]]:
    """Row keys that two or more results files would fill the same cells of (e.g. one method name
    in two folders), with those files."""
    cells: dict[tuple[str | None, str, str], list[ResultFile]] = defaultdict(list)
    for r in results:
        cells[(_row_key(spec, r), _group_key(spec, r), _seed_tag(r))].append(r)
    clashing: dict[str, list[ResultFile]] = defaultdict(list)
    for (key, _, _), rs in cells.items():
        if key is not None and len(rs) > 1:
            clashing[key] += rs
    return clashing


def _seed_tag(result: ResultFile) -> str:
    """ "seed 1" for a sweep trial exported per seed (``--num-samples``: ``edtalk_<variant>_seed1``)."""
    seed = (result.sweep or {}).get("seed")
    return f"seed {seed}" if seed is not None and result.method.endswith(f"_seed{seed}") else ""


def _row_ids(spec: TableSpec, results: list[ResultFile]) -> dict:
    """Results path -> (row key, tag): the tag names a sweep trial's seed when the sweep ran several,
    and the results file's folder for rows that two files would share, so neither silently replaces
    the other."""
    clashing = _clashes(spec, results)
    ids = {}
    for r in results:
        key = _row_key(spec, r)
        folder = f"{r.path.parent.name}/" if key in clashing else ""
        ids[r.path] = (key, ", ".join(t for t in (_seed_tag(r), folder) if t))
    return ids


def _row_label_of(spec: TableSpec, key: str, tag: str) -> str:
    label = _ablation_label(key) if spec.rows_from == "ablations" else key
    return f"{label} ({tag})" if tag else label


def _clash_stamps(spec: TableSpec, results: list[ResultFile]) -> list[str]:
    return [
        f"{len(rs)} results files give the row {key!r}, shown as separate rows labelled by their "
        "folder: " + ", ".join(str(r.path) for r in sorted(rs, key=lambda r: r.path))
        for key, rs in sorted(_clashes(spec, results).items())
    ]


def _ablation_order(key: str) -> tuple[int, str]:
    """Table 3's rows in the paper's order (``edtalk.ablations``), then other variants by name."""
    ids = list(ABLATIONS)
    return (ids.index(key), key) if key in ids else (len(ids), key)


def _sort_keys(spec: TableSpec, keys: Iterable[str]) -> list[str]:
    if spec.rows_from == "ablations":
        return sorted(keys, key=_ablation_order)
    if spec.rows_from == "bank_size":
        return sorted(keys, key=lambda k: float(k))
    return sorted(keys)


def _ablation_label(variant: str) -> str:
    """The paper's row label of an ablation id ("wo_l_fea" -> "w/o L_fea"); other variants as named."""
    return ABLATIONS[variant].row_label if variant in ABLATIONS else variant


def _measured_rows(spec: TableSpec, columns: list[Column], results: list[ResultFile]) -> list[Row]:
    by_row: dict[tuple[str, str], dict[str, ResultFile]] = defaultdict(dict)
    row_ids = _row_ids(spec, results)
    for r in results:
        key, tag = row_ids[r.path]
        if key is not None:  # not part of this table
            by_row[(key, tag)][_group_key(spec, r)] = r
    order = {k: i for i, k in enumerate(_sort_keys(spec, {key for key, _ in by_row}))}
    rows = []
    for key, tag in sorted(by_row, key=lambda kt: (order[kt[0]], kt[1])):
        mine = by_row[(key, tag)]
        cells = [_measured_cell(mine.get(c.group), c.metric, spec.decimals.get(c.metric, 3)) for c in columns]
        unverified = any(r.unverified for r in mine.values())
        rows.append(Row(_row_label_of(spec, key, tag), cells, unverified=unverified, reference=(key == "gt")))
    return rows


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
    rows = _measured_rows(spec, columns, results) + _reported_table_rows(spec, columns, reported)
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
        notes=_reported_notes(reported),
        stamps=_stamps(spec, protocol, protocol_hash, results),
        split=_split(results[0]) if results else USUAL_SPLIT,
        sources=[r.path for r in results],
    )
    table.stamps += _not_applicable_stamps(spec, columns, results)
    table.stamps += _unshown_metrics_stamps(columns, results)
    clashes = _clash_stamps(spec, results)
    table.stamps += clashes
    table.warnings = [f"{caption(table)}: {c}" for c in clashes]
    return table


def _sweep_groups(spec: TableSpec, dataset: str) -> tuple[ColumnGroup, ...]:
    """Tables 3 and 6 are headed by the dataset their measured rows were scored on."""
    if spec.rows_from == "ablations":
        return (ColumnGroup(dataset, DATASET_TITLES.get(dataset, dataset), spec.groups[0].metrics),)
    return tuple(
        dataclasses.replace(g, title=f"{g.title} ({DATASET_TITLES.get(dataset, dataset)})")
        for g in spec.groups
    )


def _split_suffix(split: str) -> str:
    return "" if split == USUAL_SPLIT else f"-{split or 'nosplit'}"


def build_paper_table(spec: TableSpec, results: list[ResultFile]) -> list[Table]:
    """All tables for one spec: one per measured (protocol, hash, split[, dataset, driving]) plus
    reported-only. Sweep rows are split by what drove them (``ResultFile.driving``), so an ablation
    scored video-driven is never ranked against audio-driven rows or the paper's (audio-driven) ones."""
    mine = [r for r in results if _row_key(spec, r) is not None]
    buckets: dict[tuple[str, str, str, str, str], list[ResultFile]] = defaultdict(list)
    for r in mine:
        sweep_dataset = r.dataset if spec.rows_from != "method" else ""
        driving = (r.driving or "") if spec.rows_from != "method" else ""
        buckets[(r.protocol, r.protocol_hash, sweep_dataset, _split(r), driving)].append(r)
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
        tables.append(_make_table(spec, groups, rep_protocol, None, [], reported, "reported"))
    return tables


def _all_metrics_tables(results: list[ResultFile], name: str, title: str) -> list[Table]:
    """A table per (dataset, protocol, hash, split) of ``results`` with every metric they hold;
    ``name`` and ``title`` are formatted with the dataset's ``dataset`` and ``title``."""
    buckets: dict[tuple[str, str, str, str], list[ResultFile]] = defaultdict(list)
    for r in results:
        buckets[(r.dataset, r.protocol, r.protocol_hash, _split(r))].append(r)
    tables = []
    for (dataset, protocol, phash, split), group in sorted(buckets.items()):
        present = {m for r in group for m in r.metrics}
        metrics = tuple(in_metric_order(present))
        shown = DATASET_TITLES.get(dataset, dataset)
        spec = TableSpec(
            name=name.format(dataset=dataset, title=shown),
            number="",
            title=title.format(dataset=dataset, title=shown),
            groups=(ColumnGroup(dataset, shown, metrics),),
            rows_from="method",
            decimals=_digits(3, acc_emo=2),
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
        shown = DATASET_TITLES.get(r.dataset, r.dataset)
        warnings.append(
            f"{r.path}: its metrics ({', '.join(sorted(r.metrics))}) are in no paper table of {shown}; "
            f"shown in '{title.format(title=shown)}'"
        )
    return _all_metrics_tables(other, "other-{dataset}", title), warnings


def build_tables(results: list[ResultFile], warnings: list[str] | None = None) -> list[Table]:
    """Every table of the report, in paper order, then extra datasets, then the "other metrics"
    tables of paper datasets. Pass a list as ``warnings`` to collect there what a reader should
    know: rows that two results files give, results in an "other metrics" table or in no table."""
    tables = [t for spec in TABLES for t in build_paper_table(spec, results)]
    tables += _extra_dataset_tables(results)
    others, notes = _other_metrics_tables(results, {p for t in tables for p in t.sources})
    tables += others
    used = {p for t in tables for p in t.sources}
    notes += [f"{r.path}: in no table ({_why_no_table(r)})" for r in results if r.path not in used]
    if warnings is not None:
        warnings += list(dict.fromkeys([w for t in tables for w in t.warnings] + notes))
    return tables


def _why_no_table(result: ResultFile) -> str:
    if result.sweep is not None:
        return f"sweep {result.sweep['name']!r} has no table; tables are for 'ablations' and 'bank_size'"
    return "no table takes its dataset and metrics"


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------


def _row_label(row: Row, escape: Callable[[str], str], reported: str) -> str:
    label = escape(row.label)
    if row.reported:
        label += reported
    if row.unverified:
        label += UNVERIFIED_MARK
    return label


def caption(table: Table) -> str:
    """ "Table 1: Audio-driven comparison on MEAD and HDTF [eat]" (extra datasets: no number); a
    split other than the usual one is named: "[eat, val split]", a sweep table's driving mode too:
    "[synthtalk, video-driven]"."""
    prefix = f"Table {table.number}: " if table.number else ""
    split = "" if table.split == USUAL_SPLIT else f", {_split_phrase(table.split)}"
    driving = f", {table.driving}-driven" if table.driving else ""
    return f"{prefix}{table.title} [{table.protocol}{split}{driving}]"


def _md_escape(text: str) -> str:
    """Markdown-safe text: table pipes, emphasis marks and HTML tags (a method named ``<i>x</i>``
    is shown as typed, not in italics)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def to_markdown(table: Table) -> str:
    arrow = {True: "↑", False: "↓"}
    group_head = [""] + [f"{title}" if j == 0 else "" for title, n in table.groups for j in range(n)]
    head = ["Method"] + [f"{_md_escape(c.label)} {arrow[c.higher_is_better]}" for c in table.columns]
    lines = [f"**{_md_escape(caption(table))}**", ""]
    if len(table.groups) > 1:
        lines += ["| " + " | ".join(group_head) + " |", "|" + "---|" * len(group_head)]
        lines.append("| " + " | ".join(f"**{h}**" if i else "" for i, h in enumerate(head)) + " |")
    else:
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.rows:
        cells = []
        for c in row.cells:
            text = _md_escape(c.text)
            cells.append(f"**{text}**" if c.rank == 1 else f"<u>{text}</u>" if c.rank == 2 else text)
        lines.append("| " + " | ".join([_row_label(row, _md_escape, REPORTED_MARK)] + cells) + " |")
    lines.append("")
    lines += [f"- {_md_escape(s)}" for s in table.notes + table.stamps]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "<": r"\textless{}",  # in LaTeX's default font encoding a bare < > | prints as ¡ ¿ —
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "–": "--",
    "†": r"\textsuperscript{\dag}",
    "∞": r"$\infty$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_row(label: str) -> str:
    """A row label as LaTeX: Table 3's rows as the paper typesets them (``edtalk.ablations``), other
    labels escaped."""
    latex = {a.row_label: a.latex_label for a in ABLATIONS.values()}
    return latex.get(label, _tex(label))


def _tex_label(label: str) -> str:
    """ "Sync_conf" -> Sync$_\\mathrm{conf}$; "B^m" -> B$^{m}$; other text escaped (booktabs is the
    only package the tables need)."""
    if "_" in label and label.count("_") == 1 and " " not in label:
        base, sub = label.split("_")
        return f"{_tex(base)}$_\\mathrm{{{_tex(sub)}}}$"
    if "^" in label:
        head, _, tail = label.partition("^")
        sup, _, rest = tail.partition(" ")
        return f"{_tex(head)}$^{{{_tex(sup)}}}${(' ' + _tex(rest)) if rest else ''}"
    return _tex(label)


def to_latex(table: Table) -> str:
    arrow = {True: r"$\uparrow$", False: r"$\downarrow$"}
    n = len(table.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_tex(caption(table))}}}",
        rf"\label{{tab:{table.key}}}",
        r"\begin{tabular}{l" + "c" * n + "}",
        r"\toprule",
    ]
    if len(table.groups) > 1:
        heads, rules, start = [], [], 2
        for title, span in table.groups:
            heads.append(rf"\multicolumn{{{span}}}{{c}}{{{_tex_label(title)}}}")
            rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            start += span
        lines += [" & " + " & ".join(heads) + r" \\", " ".join(rules)]
    head = ["Method"] + [f"{_tex_label(c.label)} {arrow[c.higher_is_better]}" for c in table.columns]
    lines += [" & ".join(head) + r" \\", r"\midrule"]
    for row in table.rows:
        cells = []
        for c in row.cells:
            text = _tex(c.text)
            cells.append(
                rf"\textbf{{{text}}}" if c.rank == 1 else rf"\underline{{{text}}}" if c.rank == 2 else text
            )
        lines.append(" & ".join([_row_label(row, _tex_row, r"\textsuperscript{\dag}")] + cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    for note in table.notes + table.stamps:
        lines.append(rf"\par\footnotesize {_tex(note)}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_html(table: Table) -> str:
    """A <table> with class hooks (``report-table``, ``reported``, ``best``, ``second``) for CSS."""
    esc = html.escape
    arrow = {True: "&uarr;", False: "&darr;"}
    out = [
        f'<table class="report-table" id="{esc(table.key)}">',
        f"<caption>{esc(caption(table))}</caption>",
        "<thead>",
    ]
    if len(table.groups) > 1:
        out.append(
            "<tr><th></th>" + "".join(f'<th colspan="{n}">{esc(t)}</th>' for t, n in table.groups) + "</tr>"
        )
    out.append(
        "<tr><th>Method</th>"
        + "".join(f"<th>{esc(c.label)} {arrow[c.higher_is_better]}</th>" for c in table.columns)
        + "</tr>"
    )
    out += ["</thead>", "<tbody>"]
    for row in table.rows:
        classes = " ".join(
            k
            for k, on in (
                ("reported", row.reported),
                ("reference", row.reference),
                ("unverified", row.unverified),
            )
            if on
        )
        tds = []
        for c in row.cells:
            text = esc(c.text)
            if c.rank == 1:
                tds.append(f'<td class="best"><b>{text}</b></td>')
            elif c.rank == 2:
                tds.append(f'<td class="second"><u>{text}</u></td>')
            else:
                tds.append(f"<td>{text}</td>")
        label = _row_label(row, esc, REPORTED_MARK)
        out.append(f'<tr class="{classes}"><th scope="row">{label}</th>{"".join(tds)}</tr>')
    out += ["</tbody>", "</table>"]
    out += [f'<p class="table-note">{esc(s)}</p>' for s in table.notes + table.stamps]
    return "\n".join(out) + "\n"
