"""Write a whole report folder: tables (.md, .tex, .html), plots and index.html (with the
disentanglement proof when the results folder holds eval.proof's proof.json)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edtalk.atomic import write_text
from eval.report.html import render_index
from eval.report.inputs import ResultsFileError, load_results
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
    problems: tuple[str, ...] = ()  # files and per-clip lines left out, each naming the file


LATEX_PREAMBLE = "% needs \\usepackage{booktabs}\n"


def build_report(
    results_dir: str | Path, out: str | Path, max_clips: int = 8, plots: bool = True, strict: bool = False
) -> ReportFiles:
    """Read every results file under ``results_dir`` and write the report under ``out``.

    A results file (or proof.json, or a per-clip line) that cannot be read is left out and listed
    in ``ReportFiles.problems`` and on the page; the other files still make the report.
    ``strict``: raise ``ResultsFileError`` for the first such problem and write nothing."""
    out = Path(out)
    skipped: list[ResultsFileError] = []
    results = load_results(results_dir, None if strict else skipped)
    problems = [str(e) for e in skipped] + [p for r in results for p in r.problems]
    if strict and problems:
        raise ResultsFileError(None, problems[0])
    try:
        proof = load_proof(results_dir)
    except ResultsFileError as e:
        if strict:
            raise
        proof = None
        problems.append(str(e))
    tables = build_tables(results)
    md = write_text(out / "tables.md", "\n".join(to_markdown(t) for t in tables))
    tex = write_text(out / "tables.tex", LATEX_PREAMBLE + "\n".join(to_latex(t) for t in tables))
    htm = write_text(out / "tables.html", "\n".join(to_html(t) for t in tables))
    figures = make_plots(results, out / "plots") if plots else []
    downloads = {"tables.md": "tables.md", "tables.tex": "tables.tex"}
    index = write_text(
        out / "index.html",
        render_index(
            tables, figures, results, out, max_clips, downloads=downloads, proof=proof, problems=problems
        ),
    )
    return ReportFiles(index, md, tex, htm, tuple(figures), len(results), len(tables), tuple(problems))
