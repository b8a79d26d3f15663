"""``python -m eval.report RESULTS_DIR --out report/``: paper-style tables, plots and HTML."""

from __future__ import annotations

import argparse
import sys

from edtalk.cli import non_negative_int, report_error
from eval.report.inputs import ResultsFileError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m eval.report",
        description="Render the paper's tables (1, 3, 4, 5, 6 and one per extra dataset) as Markdown, "
        "LaTeX (booktabs) and HTML, plots (bank size, ablations, per-clip distributions, training "
        "efficiency) and report/index.html with side-by-side videos. Reads only results JSON files "
        "(results/<dataset>/<method>/<protocol>.json) and the paper's reported numbers; measured and "
        "reported rows (marked †) share a table only under the same protocol and split.",
    )
    p.add_argument("results", help="results folder written by `python -m eval.run` and the sweeps")
    p.add_argument("--out", default="report", help="output folder (default: report/)")
    p.add_argument("--max-clips", type=non_negative_int, default=8, help="clips per video grid (default: 8)")
    p.add_argument("--no-plots", action="store_true", help="skip the matplotlib figures")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop (exit 2, nothing written) at a results file, proof.json or per-clip line that cannot "
        "be read; by default such inputs are left out, named on stderr and at the top of index.html",
    )
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="render the paper's reported tables (and proof.json) even when no results file is read; "
        "without it a folder with no results file stops with exit 2 (a wrong or empty folder)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from eval.report.build import build_report

        files = build_report(
            args.results,
            args.out,
            max_clips=args.max_clips,
            plots=not args.no_plots,
            strict=args.strict,
            allow_empty=args.allow_empty,
        )
    except (ResultsFileError, ValueError, OSError) as e:  # OSError: --out cannot be written
        return report_error(e)
    except KeyboardInterrupt:  # no results file is touched: rendering again costs seconds
        print(
            f"interrupted: the report in {args.out} may be incomplete; run the same command again to "
            "render it whole",
            file=sys.stderr,
        )
        return 130
    for problem in files.problems:
        print(f"warning: left out: {problem}", file=sys.stderr)
    for warning in files.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{files.n_results} results files -> {files.n_tables} tables, {len(files.plots)} plots")
    for path in (files.index, files.markdown, files.latex, files.html_tables, *files.plots):
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
