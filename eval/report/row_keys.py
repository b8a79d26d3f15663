"""Which row of a table a results file fills: its row key, its column group, its split, the tag that
tells apart two files giving one row (a clash) or a sweep's seeds, and the rows' labels and order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from edtalk.ablations import ABLATIONS
from eval.report.inputs import ResultFile, source_tag
from eval.report.table_specs import TableSpec


def row_key(spec: TableSpec, result: ResultFile) -> str | None:
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


def group_key(spec: TableSpec, result: ResultFile) -> str:
    return result.sweep["param"] if spec.rows_from == "bank_size" else result.dataset


def split_of(result: ResultFile) -> str:
    return result.split or ""


def _cells(spec: TableSpec, results: list[ResultFile]) -> dict[tuple, list[ResultFile]]:
    """The results files per (row key, column group, seed tag): two or more in one are a clash."""
    cells: dict[tuple[str | None, str, str], list[ResultFile]] = defaultdict(list)
    for r in results:
        cells[_cell(spec, r)].append(r)
    return cells


def _cell(spec: TableSpec, result: ResultFile) -> tuple[str | None, str, str]:
    return (row_key(spec, result), group_key(spec, result), _seed_tag(result))


def clashes(spec: TableSpec, results: list[ResultFile]) -> dict[str, list[ResultFile]]:
    """Row keys that two or more results files would fill the same cells of (e.g. one method name
    in two folders), with those files."""
    cells = _cells(spec, results)
    clashing: dict[str, list[ResultFile]] = defaultdict(list)
    for (key, _, _), rs in cells.items():
        if key is not None and len(rs) > 1:
            clashing[key] += rs
    return clashing


def video_source(result: ResultFile) -> str | None:
    """The generated videos a results file scored, where its provenance records them: the folder of
    a folder method (``provenance.folder``); None for methods that generate their own videos."""
    folder = result.provenance.get("folder")
    return folder if isinstance(folder, str) and folder else None


def same_source(results: list[ResultFile]) -> list[list[ResultFile]]:
    """Results files of one dataset, split and protocol that scored the same videos (``video_source``)
    under different files, e.g. a folder method rescored after its provenance.json ``method`` was
    renamed: the old file stays and gives a second row with the same numbers. Oldest first."""
    by_source: dict[tuple, list[ResultFile]] = defaultdict(list)
    for r in results:
        source = video_source(r)
        if source is not None:
            by_source[(r.dataset, split_of(r), r.protocol, source)].append(r)
    return [
        sorted(rs, key=lambda r: (str(r.raw.get("created") or ""), str(r.path)))
        for _, rs in sorted(by_source.items())
        if len(rs) > 1
    ]


def _seed_tag(result: ResultFile) -> str:
    """ "seed 1" for a sweep trial exported per seed (``--num-samples``: ``edtalk_<variant>_seed1``)."""
    seed = (result.sweep or {}).get("seed")
    return f"seed {seed}" if seed is not None and result.method.endswith(f"_seed{seed}") else ""


def row_ids_of(spec: TableSpec, results: list[ResultFile]) -> dict:
    """Results path -> (row key, tag): the tag names a sweep trial's seed when the sweep ran several,
    and, for rows that two files would share, what tells the file from the others in its cells
    (``source_tag``: its folder, or its name too when they share one), so none silently replaces
    another."""
    cells = _cells(spec, results)
    clashing = clashes(spec, results)
    ids = {}
    for r in results:
        key = row_key(spec, r)
        source = source_tag(r.path, [o.path for o in cells[_cell(spec, r)]]) if key in clashing else ""
        ids[r.path] = (key, ", ".join(t for t in (_seed_tag(r), source) if t))
    return ids


def row_label_of(spec: TableSpec, key: str, tag: str) -> str:
    label = ablation_label(key) if spec.rows_from == "ablations" else key
    return f"{label} ({tag})" if tag else label


def ablation_order(key: str) -> tuple[int, str]:
    """Table 3's rows in the paper's order (``edtalk.ablations``), then other variants by name."""
    ids = list(ABLATIONS)
    return (ids.index(key), key) if key in ids else (len(ids), key)


def sort_keys(spec: TableSpec, keys: Iterable[str]) -> list[str]:
    if spec.rows_from == "ablations":
        return sorted(keys, key=ablation_order)
    if spec.rows_from == "bank_size":
        return sorted(keys, key=lambda k: float(k))
    return sorted(keys)


def ablation_label(variant: str) -> str:
    """The paper's row label of an ablation id ("wo_l_fea" -> "w/o L_fea"); other variants as named."""
    return ABLATIONS[variant].row_label if variant in ABLATIONS else variant
