"""reports.plots: every figure is written as valid, byte-reproducible PNG and PDF; what the figures draw is checked
against naive references (best-so-far, gaps for conditional parameters, log axes, counts, marks); degenerate input
gives a figure that says so, malformed input a ValueError naming what is wrong."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from reports import plots

T0 = datetime(2026, 1, 1, 12, 0, 0)
KIND = CategoricalDistribution(("none", "late", "mid"))
LAYERS = IntDistribution(1, 3)
LR = FloatDistribution(1e-4, 1e-2, log=True)
P = FloatDistribution(0.0, 1.0)


def trial(number: int, state: str = "COMPLETE", value: float | None = None, *, kind: str = "late",
          layers: int | None = None, lr: float = 1e-3, p: float = 0.5, curve: list[float] | None = None,
          start_min: float | None = None, minutes: float = 2.0) -> FrozenTrial:
    """A runner-like trial with fixed timestamps (so that figures are reproducible)."""
    params = {"fusion.kind": kind, "optim.lr": lr, "augment.p": p}
    dists = {"fusion.kind": KIND, "optim.lr": LR, "augment.p": P}
    if layers is not None:
        params["fusion.mid.layers"], dists["fusion.mid.layers"] = layers, LAYERS
    start = T0 + timedelta(minutes=number if start_min is None else start_min)
    done = state in ("COMPLETE", "PRUNED", "FAIL")
    return FrozenTrial(number=number, state=TrialState[state], value=value, values=None,
                       datetime_start=start, datetime_complete=start + timedelta(minutes=minutes) if done else None,
                       params=params, distributions=dists, user_attrs={}, system_attrs={},
                       intermediate_values=dict(enumerate(curve or [], start=1)), trial_id=number + 1)


def study_trials() -> list[FrozenTrial]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(10):
        kind = KIND.choices[i % 3]
        curve = list(np.cumsum(rng.uniform(0.02, 0.1, 5)))
        state, value = "COMPLETE", curve[-1]
        if i in (3, 7):
            state, curve, value = "PRUNED", curve[:2], curve[1]
        out.append(trial(i, state, value, kind=kind, layers=1 + (i // 3) % 3 if kind == "mid" else None,
                         lr=float(10 ** rng.uniform(-4, -2)), p=float(rng.uniform()), curve=curve))
    out.append(trial(10, "FAIL", curve=[0.01]))
    out.append(trial(11, "RUNNING", curve=[0.05, 0.1]))
    return out


def importance_frame() -> pd.DataFrame:
    frame = pd.DataFrame([("all", "fanova", "fusion.kind", 0.7, 20), ("all", "fanova", "optim.lr", 0.3, 20),
                          ("all", "ped_anova", "fusion.kind", 0.6, 20), ("all", "ped_anova", "optim.lr", 0.4, 20),
                          ("fusion.kind=mid", "fanova", "fusion.mid.layers", 1.0, 7)],
                         columns=["branch", "evaluator", "param", "importance", "n_trials"])
    frame.attrs["skipped"] = [("fusion.kind=mid", "ped_anova", "no parameter has any measurable effect")]
    return frame


def deltas_frame() -> pd.DataFrame:
    return pd.DataFrame({"name": ["- metadata", "- SpecAugment", "- EDA"], "delta": [-0.122, 0.004, -0.035],
                         "ci_low": [-0.158, -0.018, -0.06], "ci_high": [-0.086, 0.027, -0.01],
                         "p_holm": [0.0003, 0.7, 0.02]})


def per_query() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, 200)
    a[:80] = 0.0  # 40% of the queries score 0
    return {"full": a, "content only": np.clip(a - 0.1, 0, 1)}


CASES = {
    "history": (plots.plot_history, plots.history_figure, lambda: (study_trials(), "maximize")),
    "intermediate": (plots.plot_intermediate, plots.intermediate_figure, lambda: (study_trials(),)),
    "parallel": (plots.plot_parallel_coordinates, plots.parallel_coordinates_figure, lambda: (study_trials(),)),
    "importance": (plots.plot_importance, plots.importance_figure, lambda: (importance_frame(),)),
    "deltas": (plots.plot_deltas, plots.deltas_figure, lambda: (deltas_frame(),)),
    "deltas_kinds": (plots.plot_deltas, plots.deltas_figure, lambda: (kinds_frame(),)),
    "per_query": (plots.plot_per_query, plots.per_query_figure, lambda: (per_query(),)),
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_valid(paths, base) -> None:
    png, pdf = paths
    assert [str(png), str(pdf)] == [f"{base}.png", f"{base}.pdf"]
    data = png.read_bytes()
    w, h = png_size(data)
    assert w > 300 and h > 150
    assert data.rstrip().endswith(b"IEND\xaeB`\x82")
    doc = pdf.read_bytes()
    assert doc.startswith(b"%PDF-") and doc.rstrip().endswith(b"%%EOF")
    assert b"CreationDate" not in doc


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def placeholder_message(fig) -> str:
    return " ".join(texts(fig)).replace("\n", " ")


# ------------------------------------------------------------------------------------------- files, bytes
@pytest.mark.parametrize("name", sorted(CASES))
def test_writes_valid_and_reproducible_png_and_pdf(name, tmp_path):
    write, _, args = CASES[name]
    first = write(*args(), tmp_path / "a" / name)
    assert_valid(first, tmp_path / "a" / name)
    second = write(*args(), tmp_path / "b" / name)
    assert first[0].read_bytes() == second[0].read_bytes()
    assert first[1].read_bytes() == second[1].read_bytes()
    # 150 dpi: the PNG has the figure's size in inches x 150
    fig = CASES[name][1](*args())
    w, h = png_size(first[0].read_bytes())
    assert abs(w - fig.get_figwidth() * 150) <= 2 and abs(h - fig.get_figheight() * 150) <= 2
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{name}.pdf", f"{name}.png"]


def test_bad_out_base_is_refused_before_drawing(tmp_path):
    with pytest.raises(ValueError, match="out_base"):
        plots.plot_deltas(deltas_frame(), "")
    with pytest.raises(ValueError, match="out_base"):
        plots.plot_deltas(deltas_frame(), f"{tmp_path}/")


# ---------------------------------------------------------------------------------------------- history
def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_history_best_so_far_matches_a_naive_reference(direction):
    trials = study_trials()
    trials[5] = trial(5, "PRUNED", 99.0, curve=[99.0])  # a pruned value never becomes the best
    fig = plots.history_figure(trials, direction)
    ax_n, ax_t = fig.axes[:2]
    best = _line(ax_n, "best so far")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    expected, current = [], None
    for t in complete:
        better = current is None or (t.value > current if direction == "maximize" else t.value < current)
        current = t.value if better else current
        expected.append(current)
    xs, ys = best.get_xdata(), best.get_ydata()
    assert list(xs[:-1]) == [t.number for t in complete]
    assert np.allclose(ys[:-1], expected) and ys[-1] == expected[-1]
    assert xs[-1] == max(t.number for t in trials if t.state.is_finished())
    # the time panel: minutes from the first start to each completion
    assert list(_line(ax_t, "best so far").get_xdata()[:-1]) == [t.number + 2.0 for t in complete]
    labels = [line.get_label() for line in ax_n.get_lines()]
    assert "complete (7)" in labels and "pruned (3, value at stop)" in labels and "failed (1)" in labels
    assert "12 trials: 7 complete, 3 pruned, 1 failed, 1 running" in fig.get_suptitle()


def test_history_degenerate_inputs(tmp_path):
    assert "no trials" in placeholder_message(plots.history_figure([], "maximize"))
    failed = [trial(i, "FAIL") for i in range(3)]
    fig = plots.history_figure(failed, "maximize")
    assert "no COMPLETE trial yet" in " ".join(texts(fig))
    assert _line(fig.axes[0], "failed (3)").get_xdata().tolist() == [0, 1, 2]
    one = plots.plot_history([trial(0, "COMPLETE", 0.3)], "maximize", tmp_path / "one")
    assert_valid(one, tmp_path / "one")
    with pytest.raises(ValueError, match="direction"):
        plots.history_figure(failed, "best")


# ------------------------------------------------------------------------------------------ intermediate
def test_intermediate_counts_states_and_draws_one_curve_per_trial():
    trials = study_trials() + [trial(12, "COMPLETE", 0.2)]  # a COMPLETE trial without a curve
    fig = plots.intermediate_figure(trials)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["complete (9, 1 without values)", "pruned (2)", "failed (1)", "running (1)"]
    curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(curves) == 12
    colors = sorted(line.get_color() for line in curves)
    assert colors.count(plots.STATE_COLORS["COMPLETE"]) == 8
    assert colors.count(plots.STATE_COLORS["PRUNED"]) == 2


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_intermediate_epoch_axis_is_whole_epochs(epochs):
    """A study whose runs have 1 epoch drew an epoch axis of 0.945-1.050 (autoscale around one x value)."""
    trials = [trial(i, "COMPLETE", 0.1 * (i + 1), curve=[0.1 * (i + 1)] * epochs) for i in range(3)]
    fig = plots.intermediate_figure(trials)
    ax = fig.axes[0]
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    assert lo <= 0.5 and hi >= epochs + 0.5 and hi - lo <= epochs + 1.5
    shown = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert shown and all(float(t).is_integer() for t in shown) and 1 in shown


def test_intermediate_without_values_says_so():
    fig = plots.intermediate_figure([trial(0, "COMPLETE", 0.3), trial(1, "FAIL")])
    assert "No intermediate values" in placeholder_message(fig)
    assert "1 complete, 1 failed" in placeholder_message(fig)


# -------------------------------------------------------------------------------------- parallel coords
def _trial_lines(fig, n_axes):
    return [line for line in fig.axes[0].get_lines()
            if len(line.get_xdata()) == n_axes and line.get_linestyle() != "None"]


def test_parallel_coordinates_keeps_trials_without_a_conditional_param_with_a_gap():
    trials = study_trials()
    fig = plots.parallel_coordinates_figure(trials)
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names[0] == "augment.p" and names[-1] == "objective"
    i_layers = next(i for i, n in enumerate(names) if n.startswith("fusion.mid.layers"))
    shown = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert "(in 3 of 10)" in names[i_layers]
    lines = _trial_lines(fig, len(names))
    assert len(lines) == len(shown)  # no trial dropped
    gaps = sum(bool(np.isnan(line.get_ydata()[i_layers])) for line in lines)
    assert gaps == sum("fusion.mid.layers" not in t.params for t in shown)
    # every other coordinate is defined
    assert all(np.isfinite(np.delete(line.get_ydata(), i_layers)).all() for line in lines)


def test_parallel_coordinates_log_and_categorical_axes():
    trials = [trial(0, "COMPLETE", 0.1, kind="none", lr=1e-4), trial(1, "COMPLETE", 0.2, kind="mid", lr=1e-3),
              trial(2, "COMPLETE", 0.3, kind="late", lr=1e-2, p=0.9)]
    fig = plots.parallel_coordinates_figure(trials)
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    i_lr, i_kind = names.index("optim.lr"), names.index("fusion.kind")
    lines = sorted(_trial_lines(fig, len(names)), key=lambda line: line.get_ydata()[-1])
    # log scale: 1e-3 sits in the middle of [1e-4, 1e-2]
    assert [round(float(line.get_ydata()[i_lr]), 6) for line in lines] == [0.0, 0.5, 1.0]
    # categorical: positions follow the distribution's choices (none, late, mid)
    assert [round(float(line.get_ydata()[i_kind]), 6) for line in lines] == [0.0, 1.0, 0.5]
    labels = set(texts(fig))
    assert {"none", "late", "mid", "0.0001", "0.001", "0.01"} <= labels


def test_parallel_coordinates_degenerate():
    assert "No COMPLETE trial" in placeholder_message(plots.parallel_coordinates_figure([trial(0, "FAIL")]))
    same = [trial(i, "COMPLETE", 0.1 * i) for i in range(3)]  # nothing varies
    assert "No searched parameter" in placeholder_message(plots.parallel_coordinates_figure(same))


# -------------------------------------------------------------------------------------------- importance
def test_importance_panels_bars_and_skip_notes():
    fig = plots.importance_figure(importance_frame())
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["branch all (20 trials)", "branch fusion.kind=mid (7 trials)"]
    assert [len(ax.patches) for ax in fig.axes] == [4, 1]
    widths = sorted(round(p.get_width(), 6) for p in fig.axes[0].patches)
    assert widths == [0.3, 0.4, 0.6, 0.7]
    # most important at the top
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["optim.lr", "fusion.kind"]
    assert any("no parameter has any measurable effect" in t for t in texts(fig))


def test_importance_degenerate_and_malformed():
    empty = importance_frame().iloc[0:0]
    empty.attrs["skipped"] = [("all", "fanova", "only 3 COMPLETE trial(s)")]
    assert "only 3 COMPLETE trial(s)" in placeholder_message(plots.importance_figure(empty))
    with pytest.raises(ValueError, match="missing column.*importance"):
        plots.importance_figure(importance_frame().drop(columns=["importance"]))
    bad = importance_frame()
    bad.loc[2, "importance"] = float("nan")
    with pytest.raises(ValueError, match="row 2, column importance"):
        plots.importance_figure(bad)


# ------------------------------------------------------------------------------------------------ deltas
def test_deltas_values_marks_and_fill():
    fig = plots.deltas_figure(deltas_frame())
    ax = fig.axes[0]
    column = [t.strip() for t in texts(fig) if "[" in t and "]" in t and "CI" not in t]
    assert column == ["\u221212.2 [\u221215.8, \u22128.6] ***", "+0.4 [\u22121.8, +2.7]",
                      "\u22123.5 [\u22126.0, \u22121.0] *"]
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [line.get_markerfacecolor() == "white" for line in points] == [False, True, False]
    assert [float(line.get_xdata()[0]) for line in points] == pytest.approx([-12.2, 0.4, -3.5])
    # frame order from the top down
    assert [t.get_text() for t in ax.get_yticklabels()] == ["- metadata", "- SpecAugment", "- EDA"]
    assert [float(line.get_ydata()[0]) for line in points] == [2.0, 1.0, 0.0]


def test_deltas_degenerate_and_malformed():
    assert "No comparisons" in placeholder_message(plots.deltas_figure(deltas_frame().iloc[0:0]))
    with pytest.raises(ValueError, match="missing column.*p_holm"):
        plots.deltas_figure(deltas_frame().drop(columns=["p_holm"]))
    bad = deltas_frame()
    bad.loc[1, "delta"] = float("inf")
    with pytest.raises(ValueError, match="row 1, column delta"):
        plots.deltas_figure(bad)
    outside = deltas_frame()
    outside.loc[0, "delta"] = 0.5
    with pytest.raises(ValueError, match="outside its CI"):
        plots.deltas_figure(outside)
    no_ci = deltas_frame()
    no_ci.loc[0, ["ci_low", "ci_high", "p_holm"]] = float("nan")
    fig = plots.deltas_figure(no_ci)
    assert "\u221212.2" in [t.strip() for t in texts(fig)]


def kinds_frame() -> pd.DataFrame:
    """One row of each comparison kind; each has a CI and p_holm < 0.05, so the kind alone decides what is drawn."""
    return pd.DataFrame({"name": ["no_x", "once", "pooled"], "delta": [-0.10, -0.02, 0.15],
                         "ci_low": [-0.16, -0.03, 0.10], "ci_high": [-0.04, -0.01, 0.20],
                         "p_holm": [0.02, 0.001, 0.0001], "comparison": ["recipe", "query-only", "exploratory"]})


def test_deltas_by_comparison_kind():
    fig = plots.deltas_figure(kinds_frame(), title="Ablation")
    ax = fig.axes[0]
    column = [t.strip() for t in texts(fig) if t.strip().startswith(("\u2212", "+")) and " " in t.strip()]
    # recipe: CI and mark; query-only: CI labelled, no mark although p_holm < 0.05; exploratory: no CI, no mark
    assert column == ["\u221210.0 [\u221216.0, \u22124.0] *", "\u22122.0 [\u22123.0, \u22121.0] query-only",
                      "+15.0 exploratory"]
    points = [line for line in ax.get_lines() if line.get_marker() in ("o", "D")]
    assert [line.get_marker() for line in points] == ["o", "o", "D"]
    assert [line.get_markerfacecolor() == "white" for line in points] == [False, True, True]
    whiskers = [line for line in ax.get_lines() if len(line.get_xdata()) == 2 and line.get_ydata()[0] ==
                line.get_ydata()[1]]
    assert [(float(w.get_ydata()[0]), w.get_linestyle()) for w in whiskers] == [(2.0, "-"), (1.0, "--")]
    title = ax.get_title(loc="left")  # the caption wrapped to lines of <= 95 characters
    assert title.split("\n")[0] == "Ablation" and " ".join(title.split("\n")[1:]) == (
        "Δ mAP@10 with seed-aware 95% CIs (recipe test); query-only 95% CIs (query sampling only, no test); "
        "exploratory points (pooled configurations: no CI, no test)")
    footer = " ".join(texts(fig))
    assert "dashed, hollow: query-only CI" in footer and "exploratory (pooled configurations), no CI, no test" in footer
    only = plots.deltas_figure(kinds_frame().iloc[2:], title="Fusion")
    assert only.axes[0].get_title(loc="left").endswith("exploratory points (pooled configurations: no CI, no test)")
    assert "Holm-adjusted" not in " ".join(texts(only)) and "with 95% CI" not in only.axes[0].get_xlabel()
    assert "Δ [95% CI]" not in texts(only) and "Δ" in texts(only)
    bad = kinds_frame()
    bad.loc[1, "comparison"] = "system"
    with pytest.raises(ValueError, match="row 1 \\(once\\): comparison 'system'"):
        plots.deltas_figure(bad)


# --------------------------------------------------------------------------------------------- per query
def test_per_query_zero_share_and_paired_histogram():
    data = per_query()
    fig = plots.per_query_figure(data)
    assert len(fig.axes) == 2
    assert "AP@10=0: 40%" in texts(fig)
    expected_zero = f"AP@10=0: {np.mean(data['content only'] == 0):.0%}"
    assert expected_zero in texts(fig)
    d = data["content only"] - data["full"]
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == [f"content only − full: mean {d.mean():+.3f}, ties {np.mean(d == 0):.0%}"]
    assert fig.axes[1].get_ylim()[1] > np.sum(d == 0)  # the tie bin fits under the legend
    single = plots.per_query_figure({"full": data["full"]})
    assert len(single.axes) == 1


def test_per_query_degenerate_and_malformed():
    assert "No systems" in placeholder_message(plots.per_query_figure({}))
    with pytest.raises(ValueError, match="same queries.*a: 3, b: 2"):
        plots.per_query_figure({"a": np.zeros(3), "b": np.zeros(2)})
    with pytest.raises(ValueError, match="'b'.*query 1"):
        plots.per_query_figure({"a": np.zeros(3), "b": np.array([0.1, np.nan, 0.2])})
    with pytest.raises(ValueError, match="1-D"):
        plots.per_query_figure({"a": np.zeros((2, 2))})


def test_deltas_marks_without_a_mark_column_are_those_of_significance_mark():
    """A frame without ``mark`` (the report's frames have one, from the analysis) gets the marks of
    reports.stats.significance_mark; the figure's legend states the same thresholds."""
    from reports.stats import significance_mark

    for p in (0.0, 0.0005, 0.001, 0.004, 0.01, 0.03, 0.05, 0.2, 1.0):
        assert plots._mark(p) == significance_mark(p), p
    marked = deltas_frame().assign(mark=["", "*", ""])  # given marks win
    column = [t.strip() for t in texts(plots.deltas_figure(marked)) if "[" in t and "]" in t and "CI" not in t]
    assert column[0].endswith("]") and column[1].endswith(" *")
