"""Write a whole report folder: tables (.md, .tex, .html), plots and index.html (with the
disentanglement proof when the results folder holds eval.proof's proof.json)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edtalk.atomic import write_text
from eval.report.html import render_index
from eval.report.inputs import load_results
from eval.report.plots import make_plots
from eval.report.proof import load_proof
from eval.report.tables import build_tables, to_html, to_latex, to_markdown


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    index: Path
    markdown: Path
    latex: Path
    html_tables: Path
    plots: tuple[Path, ...]
    n_results: int
    n_tables: int


LATEX_PREAMBLE = "% needs \\usepackage{booktabs}\n"


def build_report(
    results_dir: str | Path, out: str | Path, max_clips: int = 8, plots: bool = True
) -> ReportFiles:
    """Read every results file under ``results_dir`` and write the report under ``out``."""
    out = Path(out)
    results = load_results(results_dir)
    tables = build_tables(results)
    md = write_text(out / "tables.md", "\n".join(to_markdown(t) for t in tables))
    tex = write_text(out / "tables.tex", LATEX_PREAMBLE + "\n".join(to_latex(t) for t in tables))
    htm = write_text(out / "tables.html", "\n".join(to_html(t) for t in tables))
    figures = make_plots(results, out / "plots") if plots else []
    downloads = {"tables.md": "tables.md", "tables.tex": "tables.tex"}
    proof = load_proof(results_dir)
    index = write_text(
        out / "index.html",
        render_index(tables, figures, results, out, max_clips=max_clips, downloads=downloads, proof=proof),
    )
    return ReportFiles(index, md, tex, htm, tuple(figures), len(results), len(tables))
