"""Numbers reported in the EDTalk paper (Tan et al., ECCV 2024), as reference rows for reports.

The CSVs in ``baselines/data/`` are transcribed from the paper exactly as printed (one file per
table). This module turns them into ``ReportedRow`` records keyed by our metric ids and the
protocol the numbers correspond to:

* Tables 1, 3, 4 and 6 were scored with EAT's evaluation code -> protocol ``eat``;
* Table 5 (face reenactment) follows FOMM's conventions (LPIPS, L1, AKD, AED) -> ``canonical``.

    from baselines.reported import REPORTED, reported_rows
    table = REPORTED.get("table1")             # ReportedTable
    rows = reported_rows("table1", dataset="mead")
    rows[0].metrics["lse_c"], rows[0].printed["lse_c"]   # 5.176, "5.176"

Quirks of the paper, kept visible instead of "fixed":

* ``GT`` rows print PSNR/SSIM as 1.000 (not infinity) and LMD/FID as 0; they are references,
  flagged ``is_reference`` so that tables never rank them.
* Tables 1, 3 and 6 print M-LMD/F-LMD as one "a/b" cell; we store the two metrics separately.
* Table 4's SadTalker has no LRW numbers (it fails on LRW's 1 s clips); its printed GT row puts
  "0.000/0.000" in the M-LMD column and "0.000" in F-LMD (a layout slip; the CSV holds 0 and 0).
  Table 4 also cites IP-LAP as [20] (SadTalker's reference number); the row is IP-LAP.
* Table 5 lists VPGC without numbers (a person-specific model): a row with no metrics.
* Table 3's "w/o Bank" and "w/o EEM" Acc_emo values are printed with three decimals (9.677,
  49.367) where every other Acc_emo has two; ``printed`` keeps the paper's text.
* Table 3's "Full Model" is EDTalk-A of Table 1 (MEAD); Table 6's mouth-bank 20 row equals its
  expression-bank 10 row (both are the full model, banks 20/6/10).

To add a reported table: drop its CSV in ``baselines/data/`` and add one ``ReportedTable`` below.
"""

from __future__ import annotations

import csv
import dataclasses
from importlib import resources

from edtalk.ablations import ablation_of_row
from edtalk.registry import Registry

CITATION = "EDTalk (Tan et al., ECCV 2024)"

# CSV metric suffix -> our metric id (registry id = results-JSON key).
CSV_METRIC_IDS = {
    "psnr": "psnr",
    "ssim": "ssim",
    "m_lmd": "m_lmd",
    "f_lmd": "f_lmd",
    "fid": "fid",
    "sync_conf": "lse_c",
    "acc_emo": "acc_emo",
    "lpips": "lpips",
    "l1": "l1",
    "akd": "akd",
    "aed": "aed",
}

# Metric id -> (display label, higher is better) as the paper prints them (its arrows). A
# measured result carries its own label and direction; the report checks they agree.
PAPER_METRICS: dict[str, tuple[str, bool]] = {
    "psnr": ("PSNR", True),
    "ssim": ("SSIM", True),
    "m_lmd": ("M-LMD", False),
    "f_lmd": ("F-LMD", False),
    "fid": ("FID", False),
    "lse_c": ("Sync_conf", True),
    "acc_emo": ("Acc_emo", True),
    "lpips": ("LPIPS", False),
    "l1": ("L1", False),
    "akd": ("AKD", False),
    "aed": ("AED", False),
}

# Paper method names -> our method ids (baselines / edtalk generators), for matching rows.
METHOD_IDS = {
    "EDTalk-A": "edtalk_a",
    "EDTalk-V": "edtalk_v",
    "EDTalk": "edtalk_v",
    "GT": "gt",
}


def method_id(name: str) -> str:
    """Our id for a paper method or variant name ("IP-LAP" -> "ip_lap", "w/o L_fea" -> ...)."""
    if name in METHOD_IDS:
        return METHOD_IDS[name]
    slug = "".join(c.lower() if c.isalnum() else "_" for c in name)
    return "_".join(part for part in slug.split("_") if part)


@dataclasses.dataclass(frozen=True)
class ReportedRow:
    """One printed row (for one dataset or one table half) of a paper table."""

    table: str  # "table1", ...
    row: str  # the paper's row label: method ("EDTalk-A"), variant ("w/o L_fea") or "5"
    method: str  # our id for the row ("edtalk_a", "edtalk_ablation_wo_l_fea", "edtalk_bank_mouth_5")
    dataset: str  # mead, hdtf, voxceleb2, lrw
    protocol: str  # eat | canonical
    metrics: dict[str, float]  # metric id -> value (missing = not reported)
    printed: dict[str, str]  # metric id -> the paper's text ("49.367", "1.000")
    group: str | None = None  # table half when rows share a label (Table 6: mouth | expression)
    value: float | None = None  # swept value (Table 6: number of bases)
    is_reference: bool = False  # GT rows: never ranked
    notes: tuple[str, ...] = ()
    citation: str = CITATION

    @property
    def source(self) -> str:
        """Human-readable citation: "EDTalk (Tan et al., ECCV 2024), Table 1"."""
        return f"{self.citation}, Table {self.table.removeprefix('table')}"


@dataclasses.dataclass(frozen=True)
class ReportedTable:
    """How one paper CSV maps onto rows: which column names the row, which prefixes name datasets."""

    name: str  # "table1"
    title: str
    csv: str  # file name in baselines/data/
    protocol: str
    key_column: str  # "method" | "variant" | "n_bases"
    # CSV column prefix -> (dataset, group); "" for CSVs without prefixes (Tables 3, 5).
    prefixes: dict[str, tuple[str, str | None]]
    row_notes: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def rows(self) -> list[ReportedRow]:
        return list(_load_rows(self))


REPORTED: Registry[ReportedTable] = Registry("reported table")

_GT_NOTE = "GT row as printed: PSNR/SSIM 1.000 (not infinity), distances 0; a reference, not ranked"

REPORTED.add(
    "table1",
    ReportedTable(
        name="table1",
        title="Audio-driven comparison on MEAD and HDTF",
        csv="table1_mead_hdtf.csv",
        protocol="eat",
        key_column="method",
        prefixes={"mead_": ("mead", None), "hdtf_": ("hdtf", None)},
        row_notes={"GT": (_GT_NOTE,)},
    ),
)
REPORTED.add(
    "table3",
    ReportedTable(
        name="table3",
        title="Ablations on MEAD",
        csv="table3_ablation_mead.csv",
        protocol="eat",
        key_column="variant",
        prefixes={"": ("mead", None)},
        row_notes={
            "w/o Bank": ("Acc_emo printed with three decimals (9.677)",),
            "w/o EEM": ("Acc_emo printed with three decimals (49.367)",),
            "Full Model": ("same numbers as EDTalk-A on MEAD in Table 1",),
        },
    ),
)
REPORTED.add(
    "table4",
    ReportedTable(
        name="table4",
        title="Audio-driven comparison on VoxCeleb2 and LRW",
        csv="table4_vox_lrw.csv",
        protocol="eat",
        key_column="method",
        prefixes={"vox_": ("voxceleb2", None), "lrw_": ("lrw", None)},
        row_notes={
            "SadTalker": ("no LRW numbers: fails on LRW's 1 s clips",),
            "IP-LAP": ("the paper cites it as [20] in Table 4 (a typo)",),
            "GT": (_GT_NOTE, "printed with M/F-LMD shifted by one column; read as 0 and 0"),
        },
    ),
)
REPORTED.add(
    "table5",
    ReportedTable(
        name="table5",
        title="Face reenactment on HDTF",
        csv="table5_reenactment_hdtf.csv",
        protocol="canonical",
        key_column="method",
        prefixes={"": ("hdtf", None)},
        row_notes={"VPGC": ("no numbers: person-specific model, cannot run on HDTF identities",)},
    ),
)
REPORTED.add(
    "table6",
    ReportedTable(
        name="table6",
        title="Number of bases in the mouth and expression banks (MEAD)",
        csv="table6_bank_size_mead.csv",
        protocol="eat",
        key_column="n_bases",
        prefixes={"mouth_": ("mead", "mouth"), "exp_": ("mead", "expression")},
    ),
)


def read_csv(file_name: str) -> list[dict[str, str]]:
    """Rows of one transcribed paper CSV in ``baselines/data/``."""
    path = resources.files("baselines") / "data" / file_name
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _load_rows(table: ReportedTable):
    for raw in read_csv(table.csv):
        label = raw[table.key_column]
        for prefix, (dataset, group) in table.prefixes.items():
            printed: dict[str, str] = {}
            for column, text in raw.items():
                if column == table.key_column or not column.startswith(prefix):
                    continue
                suffix = column[len(prefix) :]
                if suffix not in CSV_METRIC_IDS:
                    raise ValueError(f"baselines/data/{table.csv}: unknown metric column {column!r}")
                if text.strip():
                    printed[CSV_METRIC_IDS[suffix]] = text.strip()
            row_method, value = method_id(label), None
            if table.key_column == "variant":
                row_method = f"edtalk_ablation_{ablation_of_row(label).id}"  # edtalk.ablations
            elif table.key_column == "n_bases":
                value = float(label)
                row_method = f"edtalk_bank_{group}_{label}"
            yield ReportedRow(
                table=table.name,
                row=label,
                method=row_method,
                dataset=dataset,
                protocol=table.protocol,
                metrics={k: float(v) for k, v in printed.items()},
                printed=printed,
                group=group,
                value=value,
                is_reference=(label == "GT"),
                notes=table.row_notes.get(label, ()),
            )


def reported_rows(
    table: str, dataset: str | None = None, group: str | None = None, protocol: str | None = None
) -> list[ReportedRow]:
    """Reported rows of one paper table, optionally filtered by dataset, table half or protocol."""
    rows = REPORTED.get(table).rows()
    return [
        r
        for r in rows
        if (dataset is None or r.dataset == dataset)
        and (group is None or r.group == group)
        and (protocol is None or r.protocol == protocol)
    ]
