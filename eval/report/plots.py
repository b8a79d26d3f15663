"""Report figures (matplotlib, Agg backend): every number comes from a results file or its
per-clip rows; nothing is computed here beyond arranging values.

* ``bank_size_*.png``   Table 6 sweeps: number of bases vs each metric, one line per bank (and seed).
* ``ablations_*.png``   Table 3 sweeps: one bar per variant (and seed), one panel per metric.
                        A sweep's figures are split as its tables are, by what drove the rows.
* ``clips_*.png``       per-clip metric distributions (box plots) from ``<protocol>.clips.jsonl``,
                        each box labelled with its n; rows of fewer than ``MIN_BOX_CLIPS`` clips
                        beside rows of more are left out, named in the title and the HTML caption.
* ``training_*.png``    training efficiency (wall time and steps per stage) from the
                        ``provenance.training`` records that training runs and sweeps write:
                        ``[{"stage": str, "wall_s": float, "steps": int, "machine": {...}}, ...]``;
                        the title names the machine when every record shares one.

Each plot function takes the loaded results and an output folder and returns the written paths.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from pathlib import Path

from edtalk.atomic import atomic_path
from eval.report.clip_sets import scored_clips
from eval.report.formats import split_phrase
from eval.report.inputs import ResultFile, method_label
from eval.report.row_keys import ablation_order, row_ids_of, row_label_of
from eval.report.table_specs import TABLES, USUAL_SPLIT, in_metric_order


def _pyplot():
    """matplotlib's pyplot on the Agg backend (headless); imported lazily so importing this module
    stays cheap."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _literal_text(plot):
    """Run a plot function with matplotlib's mathtext off: labels, titles and legends show method
    names, folders and sweep values as typed (a ``$`` in a name read as math stopped the report)."""

    @functools.wraps(plot)
    def literal(*args, **kwargs):
        with _pyplot().rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return literal


def _save(fig, path: Path) -> Path:
    if fig.get_layout_engine() is None:  # _grid's figures lay themselves out (constrained)
        fig.tight_layout()
    with atomic_path(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, dpi=90, bbox_inches="tight")
    return path


def _grid(plt, n_panels: int, title: str):
    cols = min(3, max(1, n_panels))
    rows = math.ceil(n_panels / cols)
    # constrained: the figure's title keeps clear of the panels' titles (tight_layout let them touch)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, layout="constrained"
    )
    fig.suptitle(title)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat


def _label(results: list[ResultFile], metric: str) -> str:
    for r in results:
        if metric in r.metrics:
            m = r.metrics[metric]
            return f"{m.label} ({'↑' if m.higher_is_better else '↓'})"
    return metric


def _plot_key(r: ResultFile) -> tuple[str, str, str, str]:
    """What one figure never mixes, as tables do not: (dataset, protocol, hash, split)."""
    return (r.dataset, r.protocol, r.protocol_hash, r.split or "")


def _where(dataset: str, protocol: str, phash: str, split: str, driving: str = "") -> tuple[str, str]:
    """The title's "dataset [protocol hash]" and the file name's tail; a split other than the usual
    one, and what drove a sweep's rows (``driving``, "" if not recorded), are named in both."""
    title, name = [f"{protocol} {phash[:8]}"], [dataset, protocol, phash[:8]]
    if split != USUAL_SPLIT:
        title, name = title + [split_phrase(split)], name + [split or "nosplit"]
    if driving:
        title, name = title + [f"{driving}-driven"], name + [driving]
    return f"{dataset} [{', '.join(title)}]", "_".join(name)


def _by_sweep(results: list[ResultFile], name: str) -> dict[tuple[str, ...], list[ResultFile]]:
    """A sweep's results per figure: (dataset, protocol, hash, split, driving); rows driven
    otherwise get a figure of their own, as they get a table of their own."""
    groups: dict[tuple[str, ...], list[ResultFile]] = defaultdict(list)
    for r in results:
        if r.sweep and r.sweep["name"] == name:
            groups[(*_plot_key(r), r.driving or "")].append(r)
    return groups


_SPECS = {spec.rows_from: spec for spec in TABLES}  # Tables 3 and 6, whose rows the sweep plots show


@_literal_text
def plot_bank_size(results: list[ResultFile], out: Path) -> list[Path]:
    """Table 6: number of bases (log-2 axis) vs every metric, a line per bank (and seed)."""
    plt, paths = _pyplot(), []
    for key, group in sorted(_by_sweep(results, "bank_size").items()):
        title, name = _where(*key)
        metrics = in_metric_order({m for r in group for m in r.metrics})
        fig, axes = _grid(plt, len(metrics), f"Bank size sweep: {title}{_clips_per_point(group)}")
        # a line per bank and table row tag (a sweep's seed, the folder of a clashing file)
        tags = {path: tag for path, (_, tag) in row_ids_of(_SPECS["bank_size"], group).items()}
        for ax, metric in zip(axes, metrics, strict=False):
            lines = sorted({(r.sweep["param"], tags[r.path]) for r in group})
            for k, (bank, tag) in enumerate(lines):
                values = [
                    (float(r.sweep["value"]), r.value(metric))
                    for r in group
                    if (r.sweep["param"], tags[r.path]) == (bank, tag)
                ]
                pts = sorted((x, y) for x, y in values if y is not None and math.isfinite(y))
                missing = len(values) - len(pts)  # a line cannot show n/a or inf: the legend says so
                label = f"{bank} bank" + (f" ({tag})" if tag else "")
                label += f" ({missing} n/a or inf, not drawn)" if missing else ""
                # each line its own marker and dash, so a line on top of another still shows
                style = {"marker": "osD^"[k % 4], "linestyle": ("-", "--", ":", "-.")[k % 4], "label": label}
                if pts:
                    ax.plot(*zip(*pts, strict=True), markersize=7 - 1.5 * (k % 3), **style)
                elif missing:
                    ax.plot([], [], **style)
            ax.set_xscale("log", base=2)
            ticks = sorted({float(r.sweep["value"]) for r in group})
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel("number of bases")
            ax.set_title(_label(group, metric))
            ax.legend(fontsize=7)
        paths.append(_save(fig, out / f"bank_size_{name}.png"))
        plt.close(fig)
    return paths


def _clips_per_point(group: list[ResultFile]) -> str:
    """ " (2 clips per point)" when every point was scored on as many clips, so a smoke sweep's
    difference is not read as a finding; "" otherwise (the tables say how many)."""
    counts = {scored_clips(r) for r in group}
    if len(counts) != 1 or None in counts:
        return ""
    n = counts.pop()
    return f" ({n} clip{'s' * (n != 1)} per point)"


def _bars(values: list[float | None]) -> tuple[list[tuple[int, float]], list[tuple[int, str]]]:
    """(index, height) of the finite values, and (index, "n/a" | "∞" | "-∞") of the others."""
    bars, gaps = [], []
    for i, v in enumerate(values):
        if v is not None and math.isfinite(v):
            bars.append((i, v))
        else:
            gaps.append((i, "n/a" if v is None or math.isnan(v) else ("∞" if v > 0 else "-∞")))
    return bars, gaps


@_literal_text
def plot_ablations(results: list[ResultFile], out: Path) -> list[Path]:
    """Table 3: a bar per variant (and seed) for every metric."""
    plt, paths = _pyplot(), []
    for key, group in sorted(_by_sweep(results, "ablations").items()):
        title, name = _where(*key)
        ids = row_ids_of(_SPECS["ablations"], group)  # a bar per table row: variant, seed
        group = sorted(group, key=lambda r: (ablation_order(ids[r.path][0]), ids[r.path][1]))
        names = [row_label_of(_SPECS["ablations"], *ids[r.path]) for r in group]
        metrics = in_metric_order({m for r in group for m in r.metrics})
        fig, axes = _grid(plt, len(metrics), f"Ablations: {title}")
        for ax, metric in zip(axes, metrics, strict=False):
            bars, gaps = _bars([r.value(metric) for r in group])
            if bars:
                ax.bar([i for i, _ in bars], [h for _, h in bars])
            for i, note in gaps:  # a gap, never a 0 bar (that would look best for lower-is-better)
                ax.annotate(
                    note, (i, 0.02), xycoords=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=8
                )
            ax.set_xlim(-0.6, len(group) - 0.4)  # a slot per variant, gaps included
            ax.set_xticks(range(len(group)), names, rotation=60, ha="right", fontsize=7)
            ax.set_title(_label(group, metric))
        paths.append(_save(fig, out / f"ablations_{name}.png"))
        plt.close(fig)
    return paths


def _clip_values(row: dict) -> dict[str, float]:
    """Per-clip metric values of one JSONL row: ``{"values": {id: value}}`` (eval.run), or
    ``{"metrics": {...}}``, or flat keys; infinite values kept (a box cannot draw them: counted)."""
    nested = row.get("values", row.get("metrics"))
    source = nested if isinstance(nested, dict) else row
    out = {}
    for key, value in source.items():
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
            out[key] = float(value)
    return out


# per-clip values in another unit than the metric's value (eval.metrics: a clip's Acc_emo is 1 or 0)
CLIP_UNITS = {
    "acc_emo": "per clip: 1 recognised, 0 not",
    "disentangle_emotion": "per clip: 1 the wrong emotion, 0 the driver's",
}


def _clip_panel_title(title: str, metric: str, data: dict[str, list[float]]) -> str:
    """The panel title, naming the per-clip unit where it differs and the values not drawn (a
    clip's PSNR is +inf when its frames equal the GT's, as gt's always do)."""
    notes = [CLIP_UNITS[metric]] if metric in CLIP_UNITS else []
    infinite = {name: sum(not math.isfinite(v) for v in values) for name, values in data.items()}
    notes += [f"{name}: {n} inf, not drawn" for name, n in sorted(infinite.items()) if n]
    return title + "".join(f"\n{note}" for note in notes)


def _yes_or_no(values: dict[str, list[float]]) -> bool:
    """Whether every per-clip value of a panel is 0 or 1 (Acc_emo and the emotion error read one
    verdict per clip): drawn as the share of 1s, not as boxes."""
    drawn = [v for vs in values.values() for v in vs]
    return bool(drawn) and all(v in (0.0, 1.0) for v in drawn)


def _box_key(r: ResultFile) -> tuple:
    """Results files sharing a per-clip figure and a method name."""
    return (_plot_key(r), r.method, r.sweep)


MIN_BOX_CLIPS = 5  # fewer per-clip values make no distribution (a box of 2 values is the 2 values)


def _box_rows(methods: dict[str, dict[str, list[float]]]) -> tuple[list[str], dict[str, int]]:
    """The rows a per-clip figure draws, and those it leaves out with their clips (the most values
    of a metric): rows with fewer than ``MIN_BOX_CLIPS`` clips are left out beside rows with at least
    that many (a 2-clip sweep trial beside 144-clip methods); a figure of only such rows (a smoke
    run) draws them all."""
    clips = {name: max(map(len, per.values())) for name, per in methods.items()}
    full = [name for name in sorted(methods) if clips[name] >= MIN_BOX_CLIPS]
    if not full:
        return sorted(methods), {}
    return full, {name: n for name, n in sorted(clips.items()) if n < MIN_BOX_CLIPS}


def _left_out_note(left: dict[str, int], listed: bool) -> str:
    """ "2 rows of fewer than 5 clips left out", for a figure's title; ``listed``: with each row and
    its clips (": a 2, b 3"), for its caption."""
    rows = f"{len(left)} row{'s' if len(left) != 1 else ''} of fewer than {MIN_BOX_CLIPS} clips left out"
    return rows + (": " + ", ".join(f"{name} ({n})" for name, n in left.items()) if listed else "")


@_literal_text
def plot_clip_distributions(
    results: list[ResultFile], out: Path, captions: dict[Path, str] | None = None
) -> list[Path]:
    """Per-clip distributions: a box per method, a panel per metric, per (dataset, protocol, hash,
    split); each box labelled with the clips it draws (n), rows with too few clips left out
    (``_box_rows``) and named in the title and in ``captions`` (figure path -> caption, when a dict is
    passed)."""
    plt, paths = _pyplot(), []
    groups: dict[tuple[str, str, str, str], dict[str, dict[str, list[float]]]] = defaultdict(dict)
    for r in results:
        per_metric: dict[str, list[float]] = defaultdict(list)
        for row in r.clip_rows:
            for metric, value in _clip_values(row).items():
                if metric in r.metrics:  # only real metric ids, not bookkeeping numbers
                    per_metric[metric].append(value)
        if per_metric:
            groups[_plot_key(r)][method_label(r, results, _box_key)] = per_metric
    for (dataset, protocol, phash, split), methods in sorted(groups.items()):
        title, name = _where(dataset, protocol, phash, split)
        names, left = _box_rows(methods)
        note = f"\n{_left_out_note(left, listed=False)}" if left else ""
        metrics = in_metric_order({m for n in names for m in methods[n]})
        fig, axes = _grid(plt, len(metrics), f"Per-clip distributions: {title}{note}")
        for ax, metric in zip(axes, metrics, strict=False):
            data = {n: methods[n].get(metric, []) for n in names}
            finite = {n: [v for v in data[n] if math.isfinite(v)] for n in names}
            ticks = [f"{n} (n={len(finite[n])})" for n in names]
            if _yes_or_no(finite):  # a box of 0s and 1s is a line with outliers: the share of 1s
                shares = [100.0 * sum(finite[n]) / len(finite[n]) if finite[n] else math.nan for n in names]
                ax.bar(range(len(names)), shares, color="#7a9cc6")
                ax.set_xticks(range(len(names)), ticks)
                ax.set_ylim(0, 100)
                ax.set_ylabel("% of clips scoring 1", fontsize=7)
            else:
                ax.boxplot([finite[n] or [math.nan] for n in names], tick_labels=ticks)
            ax.tick_params(axis="x", rotation=45, labelsize=7)
            label = _label([r for r in results if r.dataset == dataset and r.protocol == protocol], metric)
            ax.set_title(_clip_panel_title(label, metric, data), fontsize=9)
        path = _save(fig, out / f"clips_{name}.png")
        paths.append(path)
        if captions is not None and left:
            captions[path] = f"{_left_out_note(left, listed=True)}; n: the clips each box draws."
        plt.close(fig)
    return paths


def training_records(results: list[ResultFile]) -> list[dict]:
    """``provenance.training`` records of every results file, tagged with the method."""
    rows = []
    for r in results:
        for rec in r.provenance.get("training") or []:
            if isinstance(rec, dict) and "stage" in rec and isinstance(rec.get("wall_s"), int | float):
                rows.append({"method": r.method, **rec})
    return rows


def machine_caption(records: list[dict]) -> str:
    """The title's tail: ' on AMD EPYC, 2 CPUs' when every record ran on one machine, ' (on N
    machines)' when they differ (wall times are then not comparable), '' when none says."""
    from edtalk.provenance import describe_machine

    names = {describe_machine(r.get("machine")) for r in records} - {""}
    if not names:
        return ""
    return f" on {names.pop()}" if len(names) == 1 else f" (on {len(names)} machines)"


@_literal_text
def plot_training(results: list[ResultFile], out: Path) -> list[Path]:
    """Training efficiency: wall seconds and steps per stage, per method (if recorded)."""
    records = training_records(results)
    if not records:
        return []
    plt = _pyplot()
    methods = sorted({r["method"] for r in records})
    from edtalk.config import STAGE_NAMES  # the paper's stage order on the x axis

    order = {name: i for i, name in enumerate(STAGE_NAMES)}
    stages = sorted(
        dict.fromkeys(r["stage"] for r in records), key=lambda st: (order.get(st, len(order)), st)
    )
    fig, axes = _grid(plt, 2, "Training efficiency" + machine_caption(records))
    width = 0.8 / max(1, len(methods))
    for k, method in enumerate(methods):
        mine = {r["stage"]: r for r in records if r["method"] == method}
        for ax, field in zip(axes, ("wall_s", "steps"), strict=True):  # a stage not recorded: no bar
            shown = [
                (i + k * width, mine[s][field]) for i, s in enumerate(stages) if mine.get(s, {}).get(field)
            ]
            ax.bar([x for x, _ in shown], [v for _, v in shown], width, label=method)
    for ax, title in zip(axes, ("wall time per stage (s)", "optimizer steps per stage"), strict=True):
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(stages))], stages, rotation=30, fontsize=7)
        ax.set_title(title)
    axes[1].yaxis.get_major_locator().set_params(integer=True)  # no 0.5 or 1.5 steps
    # beside the last panel, not over the first one's bars (which a legend inside it covered)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    path = _save(fig, out / "training_efficiency.png")
    plt.close(fig)
    return [path]


PLOTS = (plot_bank_size, plot_ablations, plot_clip_distributions, plot_training)
# the names of the files the functions above write (and atomic_path's temp files of them)
PLOT_FILES = ("bank_size_*.png", "ablations_*.png", "clips_*.png", "training_efficiency.png")


def clear_plots(out: str | Path) -> list[Path]:
    """Remove the figures an earlier report wrote under ``out`` (only files named as ``PLOTS`` name
    theirs; anything else there is kept), so a re-render shows no stale plot; returns them."""
    out = Path(out)
    if not out.is_dir():
        return []
    patterns = PLOT_FILES + tuple(f".{p}.*.tmp.png" for p in PLOT_FILES)
    removed = sorted({p for pattern in patterns for p in out.glob(pattern) if p.is_file()})
    for path in removed:
        path.unlink()
    return removed


def make_plots(
    results: list[ResultFile],
    out: str | Path,
    captions: dict[Path, str] | None = None,
    problems: list[str] | None = None,
) -> list[Path]:
    """Every figure the results allow, written under ``out``; a figure that needs a caption (rows
    left out) gets one in ``captions`` (figure path -> text), when a dict is passed.

    A kind of figure that matplotlib fails to draw is named in ``problems`` (when a list is passed;
    else ``PlotError`` is raised) with its error, and the other kinds are still drawn: one failing
    figure ended the whole report with matplotlib's message alone."""
    out, paths = Path(out), []
    for plot, pattern in zip(PLOTS, PLOT_FILES, strict=True):
        before = set(out.glob(pattern)) if out.is_dir() else set()
        try:
            paths += plot(results, out, captions) if plot is plot_clip_distributions else plot(results, out)
        except Exception as e:  # matplotlib's errors have no common base class
            _pyplot().close("all")
            for partial in set(out.glob(pattern)) - before:  # this kind's figures drawn before the error
                partial.unlink()
            problem = f"figures {out / pattern} could not be drawn ({plot.__name__}): {type(e).__name__}: {e}"
            if problems is None:
                raise PlotError(problem) from e
            problems.append(problem)
    return paths


class PlotError(ValueError):
    """A report figure matplotlib could not draw; the message names the figure and the error."""
