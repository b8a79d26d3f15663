"""A table's caption and its three renderings: Markdown, LaTeX (booktabs) and HTML, each escaping
what its format would otherwise read as markup."""

from __future__ import annotations

import html
from collections.abc import Callable

from edtalk.ablations import ABLATIONS
from eval.report.table_model import Row, Table
from eval.report.table_specs import REPORTED_MARK, UNVERIFIED_MARK, USUAL_SPLIT


def shown_row_label(row: Row, escape: Callable[[str], str], reported: str) -> str:
    label = escape(row.label)
    if row.reported:
        label += reported
    if row.unverified:
        label += UNVERIFIED_MARK
    if row.driving:  # "[audio]", "[video]": what drove a measured row (tables.py)
        label += escape(f" [{row.driving}]")
    return label


def caption(table: Table, numbered: bool = True) -> str:
    """ "Table 1: Audio-driven comparison on MEAD and HDTF [eat]" (extra datasets: no number); a
    split other than the usual one is named: "[eat, val split]", a sweep table's driving mode too:
    "[synthtalk, video-driven]". Not ``numbered`` (LaTeX, which numbers its tables itself): the
    paper's number at the end, "... [eat] (the paper's Table 1)"."""
    split = "" if table.split == USUAL_SPLIT else f", {split_phrase(table.split)}"
    driving = f", {table.driving}-driven" if table.driving else ""
    text = f"{table.title} [{table.protocol}{split}{driving}]"
    if not table.number:
        return text
    return f"Table {table.number}: {text}" if numbered else f"{text} (the paper's Table {table.number})"


def split_phrase(split: str) -> str:
    """ "val split", or "split not recorded" for a results file without one."""
    return f"{split} split" if split else "split not recorded"


def _md_escape(text: str) -> str:
    """Markdown-safe text: table pipes, emphasis marks, HTML tags and math delimiters (a method named
    ``<i>x</i>`` is shown as typed, not in italics; ``ours $\\beta$`` not as GitHub math)."""
    text = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_").replace("$", "\\$")


def to_markdown(table: Table) -> str:
    arrow = {True: "↑", False: "↓"}
    group_head = [""] + [_md_escape(title) if j == 0 else "" for title, n in table.groups for j in range(n)]
    head = [table.row_header] + [f"{_md_escape(c.label)} {arrow[c.higher_is_better]}" for c in table.columns]
    lines = [f"**{_md_escape(caption(table))}**", ""]
    if len(table.groups) > 1:
        lines += ["| " + " | ".join(group_head) + " |", "|" + "---|" * len(group_head)]
        lines.append("| " + " | ".join(f"**{h}**" for h in head) + " |")
    else:
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.rows:
        cells = []
        for c in row.cells:
            text = _md_escape(c.text)
            cells.append(f"**{text}**" if c.rank == 1 else f"<u>{text}</u>" if c.rank == 2 else text)
        lines.append("| " + " | ".join([shown_row_label(row, _md_escape, REPORTED_MARK)] + cells) + " |")
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
    "‡": r"\textsuperscript{\ddag}",
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
        rf"\caption{{{_tex(caption(table, numbered=False))}}}",
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
    head = [table.row_header] + [f"{_tex_label(c.label)} {arrow[c.higher_is_better]}" for c in table.columns]
    lines += [" & ".join(head) + r" \\", r"\midrule"]
    for row in table.rows:
        cells = []
        for c in row.cells:
            text = _tex(c.text)
            cells.append(
                rf"\textbf{{{text}}}" if c.rank == 1 else rf"\underline{{{text}}}" if c.rank == 2 else text
            )
        lines.append(" & ".join([shown_row_label(row, _tex_row, r"\textsuperscript{\dag}")] + cells) + r" \\")
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
        f"<tr><th>{esc(table.row_header)}</th>"
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
        label = shown_row_label(row, esc, REPORTED_MARK)
        out.append(f'<tr class="{classes}"><th scope="row">{label}</th>{"".join(tds)}</tr>')
    out += ["</tbody>", "</table>"]
    out += [f'<p class="table-note">{esc(s)}</p>' for s in table.notes + table.stamps]
    return "\n".join(out) + "\n"
