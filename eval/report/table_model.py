"""The table model that the builders fill and every format renders: a ``Table`` of ``Column``s
and ``Row``s of ``Cell``s (the text shown, the value ranked, its rank)."""

from __future__ import annotations

import dataclasses

from eval.report.table_specs import USUAL_SPLIT


@dataclasses.dataclass
class Cell:
    text: str  # "21.628", "–" when missing
    value: float | None  # the number that is ranked (rounded to the shown digits)
    rank: int | None = None  # 1 best (bold), 2 second (underlined)
    comparable: bool = True  # False: scored on other clips than the ranked rows (clip_sets.is_ranked)
    fewer_clips: str = ""  # "2 of its 140 clips": clips that failed in this metric alone (not ranked)


@dataclasses.dataclass
class Row:
    label: str
    cells: list[Cell]
    reported: bool = False
    reference: bool = False  # GT: shown, never ranked
    unverified: bool = False
    driving: str | None = None  # what drove a measured row ("audio" | "video"), shown beside its label


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
    row_header: str = "Method"  # the rows' column heading ("Bases" in the bank-size table)
