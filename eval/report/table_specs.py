"""The paper's tables as specs (``TABLES``): each one's column groups, which results become its rows,
its reported rows and the digits it shows; and the constants the tables share (row marks, the
column order of metrics, the usual split).

To add a paper table: add a ``TableSpec`` to ``TABLES`` (and its reported CSV to
``baselines.reported`` if the paper prints numbers for it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

REPORTED_MARK = "†"
UNVERIFIED_MARK = "*"
FEWER_CLIPS_MARK = "‡"  # a cell over fewer clips than its row: clips that failed in that metric alone
NOT_APPLICABLE = "n/a"  # a metric that applies to none of the row's clips (eval.run's not_applicable)

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


def digits_per_metric(default: int, **special: int) -> dict[str, int]:
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
        decimals=digits_per_metric(3, acc_emo=2),
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
        decimals=digits_per_metric(3, acc_emo=2),
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
        decimals=digits_per_metric(3),
        requires_any=frozenset({"m_lmd", "f_lmd", "lse_c"}),
        reported="table4",
    ),
    TableSpec(
        name="table5",
        number="5",
        title="Face reenactment on HDTF",
        groups=(ColumnGroup("hdtf", "HDTF", ("psnr", "ssim", "lpips", "l1", "akd", "aed")),),
        rows_from="method",
        decimals=digits_per_metric(2, l1=3, aed=3),
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
        decimals=digits_per_metric(2),
        reported="table6",
        driving="audio",
    ),
)
