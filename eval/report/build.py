"""Write a whole report folder: tables (.md, .tex, .html), plots and index.html (with the
disentanglement proof when the results folder holds eval.proof's proof.json).

Every page is rendered before the first file is written, so a bad input never leaves a half-updated
report; the figures of an earlier render (plots/, only the files the plots write) are removed first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edtalk.atomic import write_text
from eval.report.formats import to_html, to_latex, to_markdown
from eval.report.html import collect_videos, render_index
from eval.report.inputs import ResultsFileError, load_results, results_files
from eval.report.plots import clear_plots, make_plots
from eval.report.proof import load_proof
from eval.report.tables import build_tables


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
    warnings: tuple[str, ...] = ()  # inputs shown with a caveat (e.g. two files giving one row)


LATEX_PREAMBLE = (
    "% needs \\usepackage{booktabs}; a table of many columns (Table 1's 14) is wider than a text column:\n"
    "% set it in table* or wrap its tabular in \\resizebox{\\linewidth}{!}{...} (\\usepackage{graphicx})\n"
)
# tables.html stands alone (its marks and dashes need the charset said); index.html holds the same tables
HTML_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
    "<title>EDTalk-Bench tables</title></head>\n<body>\n{body}</body>\n</html>\n"
)
LAYOUT = "<dataset>/<method>/<protocol>.json"


def no_results_message(results_dir: str | Path, skipped: list[ResultsFileError]) -> str:
    """Why a folder gave no results file, and where they may be instead."""
    root = Path(results_dir)
    if skipped:
        return f"none of the {len(skipped)} results files could be read; the first: {skipped[0]}"
    hint = ""
    if results_files(root, "*/*.json"):
        hint = f"; did you mean its parent {root.parent}?"
    elif deeper := results_files(root, "*/*/*/*.json"):
        hint = f"; did you mean {root / deeper[0].relative_to(root).parts[0]}?"
    return (
        f"no results files (expected {LAYOUT} under it{hint}); pass --allow-empty (`allow_empty=True` "
        "from Python) for a report of the paper's reported numbers only"
    )


def build_report(
    results_dir: str | Path,
    out: str | Path,
    max_clips: int = 8,
    plots: bool = True,
    strict: bool = False,
    allow_empty: bool = False,
) -> ReportFiles:
    """Read every results file under ``results_dir`` and write the report under ``out``.

    A results file (or proof.json, or a per-clip line) that cannot be read is left out and listed
    in ``ReportFiles.problems`` and on the page; the other files still make the report. A kind of
    figure matplotlib cannot draw is listed there too (``strict``: ``plots.PlotError``).
    ``strict``: raise ``ResultsFileError`` for the first such problem and write nothing. No results
    file read raises ``ResultsFileError`` (a wrong or empty folder) unless ``allow_empty``; an
    ``out`` that cannot be written (a file, no permission) raises ``OSError``."""
    out = Path(out)
    if out.exists() and not out.is_dir():  # checked first: nothing is read or written for it
        raise NotADirectoryError(f"{out}: the report's output folder is a file")
    skipped: list[ResultsFileError] = []
    results = load_results(results_dir, None if strict else skipped)
    problems = [str(e) for e in skipped] + [p for r in results for p in r.problems]
    if strict and problems:
        raise ResultsFileError(None, problems[0])
    if not results and not allow_empty:
        raise ResultsFileError(results_dir, no_results_message(results_dir, skipped))
    try:
        proof = load_proof(results_dir)
    except ResultsFileError as e:
        if strict:
            raise
        proof = None
        problems.append(str(e))
    warnings: list[str] = []
    tables = build_tables(results, warnings)
    pages = {
        "tables.md": "\n".join(to_markdown(t) for t in tables),
        "tables.tex": LATEX_PREAMBLE + "\n".join(to_latex(t) for t in tables),
        "tables.html": HTML_PAGE.format(body="\n".join(to_html(t) for t in tables)),
    }
    clear_plots(out / "plots")
    captions: dict[Path, str] = {}
    figures = make_plots(results, out / "plots", captions, None if strict else problems) if plots else []
    downloads = {"tables.md": "tables.md", "tables.tex": "tables.tex", "tables.html": "tables.html"}
    videos = collect_videos(results, warnings)  # before the page: it names GT videos not found
    pages["index.html"] = render_index(
        tables,
        figures,
        results,
        out,
        max_clips,
        downloads=downloads,
        proof=proof,
        problems=problems,
        warnings=warnings,
        videos=videos,
        plot_captions=captions,
    )
    md, tex, htm, index = (write_text(out / name, text) for name, text in pages.items())
    return ReportFiles(
        index, md, tex, htm, tuple(figures), len(results), len(tables), tuple(problems), tuple(warnings)
    )
