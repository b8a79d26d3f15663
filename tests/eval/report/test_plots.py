"""The training-efficiency figure says which machine its wall times come from."""

import json

from eval.report.plots import machine_caption

EPYC = {"cpu": "AMD EPYC", "cpus": 2, "platform": "Linux"}


def test_machine_caption_names_one_machine_counts_several_and_skips_unrecorded():
    assert machine_caption([{"stage": "expression"}, {"stage": "mouth_pose", "machine": None}]) == ""
    assert machine_caption([{"machine": EPYC}, {"machine": EPYC}, {}]) == " on AMD EPYC, 2 CPUs"
    gpu = {**EPYC, "gpus": ["NVIDIA H200"]}
    assert machine_caption([{"machine": EPYC}, {"machine": gpu}]) == " (on 2 machines)"


INF = float("inf")


def _sweep_results(tmp_path, make_result, name: str, param: str, m_lmd_by_value: dict) -> None:
    """One results file per sweep value, holding only M-LMD (None: not measured)."""
    for value, m_lmd in m_lmd_by_value.items():
        sweep = {"name": name, "param": param, "value": value}
        method = f"edtalk_{'ablation' if name == 'ablations' else 'bank_' + param}_{value}"
        make_result(tmp_path, "synthtalk", method, "synthtalk", {"m_lmd": m_lmd}, sweep=sweep)


def _the_axes(fig):
    """The one visible panel of a figure with one metric."""
    [ax] = [a for a in fig.axes if a.get_visible()]
    return ax


def test_missing_and_infinite_ablation_values_are_gaps_not_zero_bars(tmp_path, make_result, monkeypatch):
    from eval.report import plots
    from eval.report.inputs import load_results
    from eval.report.row_keys import ablation_label

    assert plots._bars([2.0, None, float("inf"), float("nan"), -float("inf")]) == (
        [(0, 2.0)],
        [(1, "n/a"), (2, "∞"), (3, "n/a"), (4, "-∞")],
    )
    _sweep_results(
        tmp_path, make_result, "ablations", "variant", {"full": 1.5, "wo_bank": None, "wo_l_fea": INF}
    )
    drawn = {}

    def keep(fig, path):
        ax = _the_axes(fig)
        names = [t.get_text() for t in ax.get_xticklabels()]
        drawn["bars"] = {names[round(p.get_x() + p.get_width() / 2)]: p.get_height() for p in ax.patches}
        drawn["notes"] = {names[round(t.xy[0])]: t.get_text() for t in ax.texts}
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_ablations(load_results(tmp_path), tmp_path / "plots")) == 1
    full, wo_bank, wo_l_fea = (ablation_label(v) for v in ("full", "wo_bank", "wo_l_fea"))
    assert drawn == {"bars": {full: 1.5}, "notes": {wo_bank: "n/a", wo_l_fea: "∞"}}


def test_bank_size_points_that_cannot_be_drawn_are_named_in_the_legend(tmp_path, make_result, monkeypatch):
    """An infinite or missing value vanished from the line without a word."""
    from eval.report import plots
    from eval.report.inputs import load_results

    _sweep_results(tmp_path, make_result, "bank_size", "mouth", {5: 2.0, 10: INF, 20: 1.5})
    drawn = {}

    def keep(fig, path):
        ax = _the_axes(fig)
        [line] = ax.get_lines()
        drawn["points"] = list(line.get_xdata())
        drawn["legend"] = [t.get_text() for t in ax.get_legend().get_texts()]
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_bank_size(load_results(tmp_path), tmp_path / "plots")) == 1
    assert drawn == {"points": [5.0, 20.0], "legend": ["mouth bank (1 n/a or inf, not drawn)"]}


def test_each_bank_size_line_draws_its_own_banks_points(tmp_path, make_result, monkeypatch):
    """Catches a line per bank drawn from every bank's results (one bank per figure hid it)."""
    from eval.report import plots
    from eval.report.inputs import load_results

    _sweep_results(tmp_path, make_result, "bank_size", "mouth", {5: 2.0, 10: 1.8})
    _sweep_results(tmp_path, make_result, "bank_size", "expression", {5: 3.0, 10: 4.0, 20: 4.5})
    drawn = {}

    def keep(fig, path):
        ax = _the_axes(fig)
        drawn.update(
            {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
        )
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_bank_size(load_results(tmp_path), tmp_path / "plots")) == 1
    assert drawn == {
        "expression bank": ([5.0, 10.0, 20.0], [3.0, 4.0, 4.5]),
        "mouth bank": ([5.0, 10.0], [2.0, 1.8]),
    }


def _box_summaries(ax) -> dict[str, tuple[float, float, float]]:
    """{tick label: (lowest, median, highest)} of each box as drawn: the whiskers' ends (no fliers
    here) and the median, the widest two-point horizontal line at the box's position."""
    out = {}
    lines = [(line.get_xdata(), line.get_ydata()) for line in ax.lines if len(line.get_xdata())]
    for pos, tick in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True):
        mine = [(x, y) for x, y in lines if all(abs(v - pos) < 0.5 for v in x)]
        ys = [float(v) for _, y in mine for v in y]
        flat = [(x, y) for x, y in mine if len(x) == 2 and y[0] == y[1]]
        median = max(flat, key=lambda xy: abs(xy[0][1] - xy[0][0]))[1][0]
        out[tick.get_text()] = (min(ys), float(median), max(ys))
    return out


def test_per_clip_boxes_draw_each_methods_own_values(tmp_path, make_result, monkeypatch):
    """Catches every box drawn from the first method's per-clip values (only titles were checked)."""
    from eval.report import plots
    from eval.report.inputs import load_results

    for method, psnrs in (("edtalk_a", (25.0, 27.0, 32.0)), ("static", (20.0, 21.0, 22.0))):
        rows = [{"clip": f"c{i}", "values": {"psnr": v}} for i, v in enumerate(psnrs)]
        make_result(tmp_path, "synthtalk", method, "synthtalk", {"psnr": sum(psnrs) / 3}, clips=rows)
    drawn = {}

    def keep(fig, path):
        drawn.update(_box_summaries(_the_axes(fig)))
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_clip_distributions(load_results(tmp_path), tmp_path / "plots")) == 1
    assert drawn == {"edtalk_a (n=3)": (25.0, 27.0, 32.0), "static (n=3)": (20.0, 21.0, 22.0)}


def test_training_legend_covers_no_bar(tmp_path, make_result, monkeypatch):
    """The legend sat inside the wall-time panel, over the first stage's bars."""
    from eval.report import plots
    from eval.report.inputs import load_results

    for k, method in enumerate(("edtalk_bank_mouth_5", "edtalk_bank_mouth_10", "edtalk_bank_mouth_20")):
        training = [
            {"stage": stage, "wall_s": 20.0 + k, "steps": 2, "machine": EPYC}
            for stage in ("mouth_pose", "expression")
        ]
        make_result(
            tmp_path,
            "synthtalk",
            method,
            "synthtalk",
            {"m_lmd": 1.0},
            extra={"provenance": {"training": training}},
        )
    seen = {}

    def keep(fig, path):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        [legend] = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        box = legend.get_window_extent(renderer)
        seen["legend"] = [t.get_text() for t in legend.get_texts()]
        seen["overlaps"] = [
            p for ax in fig.axes for p in ax.patches if box.overlaps(p.get_window_extent(renderer))
        ]
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_training(load_results(tmp_path), tmp_path / "plots")) == 1
    assert len(seen["legend"]) == 3 and seen["overlaps"] == []


def test_per_clip_boxes_name_infinite_values_and_the_per_clip_unit(tmp_path, make_result, monkeypatch):
    """gt's per-clip PSNR (+inf) left an empty box without a word, and a clip's Acc_emo (1 or 0)
    sat under the percent label of the tables."""
    from eval.report import plots
    from eval.report.inputs import load_results

    rows = [{"clip": f"c{i}", "values": {"psnr": INF, "acc_emo": 1.0}} for i in range(3)]
    make_result(tmp_path, "synthtalk", "gt", "synthtalk", {"psnr": INF, "acc_emo": 100.0}, clips=rows)
    rows = [{"clip": f"c{i}", "values": {"psnr": 20.0 + i, "acc_emo": float(i % 2)}} for i in range(3)]
    make_result(tmp_path, "synthtalk", "static", "synthtalk", {"psnr": 21.0, "acc_emo": 33.3}, clips=rows)
    titles = {}

    def keep(fig, path):
        titles.update({ax.get_title().split(" ")[0]: ax.get_title() for ax in fig.axes if ax.get_title()})
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_clip_distributions(load_results(tmp_path), tmp_path / "plots")) == 1
    assert titles["PSNR"].endswith("\ngt: 3 inf, not drawn") and "static" not in titles["PSNR"]
    assert titles["Acc_emo"].endswith("\nper clip: 1 recognised, 0 not")


ODD = r"ours $\beta_$ v2"  # mathtext would read $\beta_$ as math (and fail on it)


def test_names_with_dollar_signs_are_shown_as_typed_in_every_plot(tmp_path, make_result, monkeypatch):
    """A method named 'ours $\\beta_$ v2' stopped the whole report (exit 2, a ParseSyntaxException
    naming neither method nor plot): names went to matplotlib as mathtext."""
    from matplotlib.text import Text

    from eval.report import plots
    from eval.report.__main__ import main
    from eval.report.inputs import load_results

    results = tmp_path / "results"
    training = {"provenance": {"training": [{"stage": "expression", "wall_s": 3.0, "steps": 2}]}}
    rows = [{"clip": f"c{i}", "values": {"psnr": 20.0 + i}} for i in range(6)]
    path = make_result(results, "synthtalk", "ours", "synthtalk", {"psnr": 21.0}, clips=rows, extra=training)
    data = json.loads(path.read_text())
    data["method"] = ODD
    path.write_text(json.dumps(data))
    ablation = {"name": "ablations", "param": "variant", "value": ODD}
    make_result(results, "synthtalk", "edtalk_ablation_odd", "synthtalk", {"psnr": 20.0}, sweep=ablation)
    bank = {"name": "bank_size", "param": ODD, "value": 5}
    make_result(results, "synthtalk", "edtalk_bank_odd_5", "synthtalk", {"psnr": 20.0}, sweep=bank)
    assert main([str(results), "--out", str(tmp_path / "r")]) == 0
    written = sorted(p.name.split("_")[0] for p in (tmp_path / "r" / "plots").iterdir())
    assert written == ["ablations", "bank", "clips", "training"]
    shown = {}

    def keep(fig, path):
        fig.canvas.draw()  # mathtext is parsed when drawn
        shown[path.name.split("_")[0]] = " ".join(t.get_text() for t in fig.findobj(Text))
        return path

    monkeypatch.setattr(plots, "_save", keep)
    plots.make_plots(load_results(results), tmp_path / "plots")
    assert sorted(shown) == written and all(ODD in text for text in shown.values()), shown


def test_per_clip_boxes_show_their_n_and_leave_out_rows_of_too_few_clips(tmp_path, make_result, monkeypatch):
    """The per-clip figure drew 2-clip sweep trials as boxes beside 144-clip methods, with no counts."""
    from eval.report import plots
    from eval.report.__main__ import main
    from eval.report.inputs import load_results

    results = tmp_path / "results"
    for method, n in (("edtalk_a", 8), ("static", 6)):
        rows = [{"clip": f"c{i}", "values": {"psnr": 20.0 + i}} for i in range(n)]
        make_result(results, "synthtalk", method, "synthtalk", {"psnr": 21.0}, clips=rows)
    rows[-1]["values"]["psnr"] = INF  # static: 5 of its 6 clips drawn
    make_result(results, "synthtalk", "static", "synthtalk", {"psnr": 21.0}, clips=rows)
    for size in (5, 10):
        sweep = {"name": "bank_size", "param": "mouth", "value": size}
        trial = [{"clip": f"c{i}", "values": {"psnr": 30.0}} for i in range(2)]
        method = f"edtalk_bank_mouth_{size}"
        make_result(results, "synthtalk", method, "synthtalk", {"psnr": 30.0}, sweep=sweep, clips=trial)
    drawn, captions = {}, {}

    def keep(fig, path):
        drawn["title"] = fig.texts[0].get_text()  # the suptitle
        drawn["boxes"] = [t.get_text() for t in _the_axes(fig).get_xticklabels()]
        return path

    monkeypatch.setattr(plots, "_save", keep)
    [path] = plots.plot_clip_distributions(load_results(results), tmp_path / "plots", captions)
    assert drawn["boxes"] == ["edtalk_a (n=8)", "static (n=5)"]
    assert drawn["title"].endswith("\n2 rows of fewer than 5 clips left out")
    caption = "2 rows of fewer than 5 clips left out: edtalk_bank_mouth_10 (2), edtalk_bank_mouth_5 (2)"
    assert captions == {path: f"{caption}; n: the clips each box draws."}
    monkeypatch.undo()
    assert main([str(results), "--out", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert f'<p class="plot-note">{caption}; n: the clips each box draws.</p>' in page


def test_a_figure_matplotlib_cannot_draw_is_named_and_the_rest_of_the_report_is_written(
    tmp_path, make_result, monkeypatch, capsys
):
    """A matplotlib error in one figure ended the whole report (exit 2) with matplotlib's message alone,
    naming no figure; the figure's kind is now left out, named with its error, and the rest is drawn
    (``--strict`` still stops, naming it)."""
    from eval.report import plots
    from eval.report.__main__ import main

    results = tmp_path / "results"
    training = {"provenance": {"training": [{"stage": "expression", "wall_s": 3.0, "steps": 2}]}}
    rows = [{"clip": f"c{i}", "values": {"psnr": 20.0 + i}} for i in range(6)]
    make_result(results, "synthtalk", "ours", "synthtalk", {"psnr": 21.0}, clips=rows, extra=training)
    for value in ("full", "wo_eem"):
        ablation = {"name": "ablations", "param": "variant", "value": value}
        make_result(
            results, "synthtalk", f"edtalk_ablation_{value}", "synthtalk", {"psnr": 20.0}, sweep=ablation
        )

    def draws_then_fails(results, out):
        plots.plot_ablations(results, out)  # its figure is on disk when the error comes
        raise RuntimeError("Failed to process string with tex")

    kinds = tuple(draws_then_fails if p is plots.plot_ablations else p for p in plots.PLOTS)
    monkeypatch.setattr(plots, "PLOTS", kinds)
    assert main([str(results), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "ablations_*.png could not be drawn" in err and "Failed to process string with tex" in err
    written = sorted(p.name.split("_")[0] for p in (tmp_path / "r" / "plots").iterdir())
    assert written == ["clips", "training"]  # no half-drawn ablation figure left beside them
    assert "ablations_*.png could not be drawn" in (tmp_path / "r" / "index.html").read_text()
    assert main([str(results), "--out", str(tmp_path / "s"), "--strict"]) == 2
    assert "ablations_*.png could not be drawn" in capsys.readouterr().err


def test_per_clip_verdicts_of_0_or_1_are_drawn_as_shares_not_boxes(tmp_path, make_result, monkeypatch):
    """Acc_emo's per-clip 0s and 1s made each box a flat line with the other value as outliers: 83 %
    against 92 % could not be seen (a helper's review of the demo's report)."""
    from eval.report import plots
    from eval.report.inputs import load_results

    for method, hits in (("edtalk_a", (1, 1, 0, 0)), ("static", (1, 1, 1, 0))):
        rows = [
            {"clip": f"c{i}", "values": {"acc_emo": float(h), "psnr": 20.0 + i}} for i, h in enumerate(hits)
        ]
        make_result(
            tmp_path,
            "synthtalk",
            method,
            "synthtalk",
            {"acc_emo": 25.0 * sum(hits), "psnr": 21.0},
            clips=rows,
        )
    bars = {}

    def keep(fig, path):
        for ax in fig.axes:
            if ax.patches and ax.get_title().startswith("Acc_emo"):
                labels = [t.get_text() for t in ax.get_xticklabels()]
                bars.update({lab: p.get_height() for lab, p in zip(labels, ax.patches, strict=True)})
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_clip_distributions(load_results(tmp_path), tmp_path / "plots")) == 1
    assert bars == {"edtalk_a (n=4)": 50.0, "static (n=4)": 75.0}


def test_bank_size_lines_on_top_of_each_other_both_show_and_the_title_counts_the_clips(
    tmp_path, make_result, monkeypatch
):
    """Two banks with the same values drew one line (the second hid the first, both solid, same
    marker), and nothing said a smoke sweep's points were 2 clips each (a helper's report review)."""
    from eval.report import plots
    from eval.report.inputs import load_results

    _sweep_results(tmp_path, make_result, "bank_size", "mouth", {5: 2.0, 10: 2.0})
    _sweep_results(tmp_path, make_result, "bank_size", "expression", {5: 2.0, 10: 2.0})
    for path in (tmp_path / "synthtalk").glob("*/synthtalk.json"):
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "n_clips": 2}))
    seen = {}

    def keep(fig, path):
        lines = _the_axes(fig).get_lines()
        seen["styles"] = {(line.get_marker(), line.get_linestyle()) for line in lines}
        seen["title"] = fig.get_suptitle()
        return path

    monkeypatch.setattr(plots, "_save", keep)
    assert len(plots.plot_bank_size(load_results(tmp_path), tmp_path / "plots")) == 1
    assert len(seen["styles"]) == 2 and seen["title"].endswith("(2 clips per point)")
