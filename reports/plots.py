"""Paper-style figures of a study: optimisation history, learning curves, parallel coordinates, importance, Δ forest
plots and per-query AP distributions.

Every ``plot_*`` function draws with matplotlib's Agg canvas (no pyplot, no global state), writes ``<out_base>.png``
(150 dpi) and ``<out_base>.pdf`` atomically, and returns ``[png_path, pdf_path]``. ``out_base`` is a path without
suffix (``report/figures/history``); its folder is created. Each has a ``*_figure`` twin that returns the
:class:`matplotlib.figure.Figure` instead (for notebooks, and for tests that look inside the figure).

Style: fixed rcParams (DejaVu Sans, which ships with matplotlib; 8 pt text; TrueType fonts in the PDF), the
Okabe-Ito colour-blind-safe palette for categories and viridis for continuous values, axis labels with units, legends
that count what they show, tight layout.

Determinism: the same inputs give byte-identical PNG files (no software tag, no date; Agg renders
deterministically) and byte-identical PDF files (no creation date; ``svg.hashsalt`` is fixed too) with the same
matplotlib version. Jitter in :func:`plot_per_query` is drawn from a fixed seed.

Degenerate input (the policy of every function):

* **nothing to show** -- no trials, no intermediate values, only failed trials, an empty importance or delta frame,
  no systems -- gives a figure that says so in words (a report always has a figure to link);
* **malformed input** -- missing columns, non-numeric or non-finite values where numbers are needed, per-query
  arrays of different lengths -- raises :class:`ValueError` naming the column, row or system.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["PALETTE", "STATE_COLORS", "deltas_figure", "history_figure", "importance_figure", "intermediate_figure",
           "parallel_coordinates_figure", "per_query_figure", "plot_deltas", "plot_history", "plot_importance",
           "plot_seed_distribution", "seed_distribution_figure",
           "plot_intermediate", "plot_parallel_coordinates", "plot_per_query", "report_figures"]

#: Okabe & Ito (2008) colour-blind-safe palette, in the order used for categories
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
STATE_COLORS = {"COMPLETE": "#0072B2", "PRUNED": "#E69F00", "FAIL": "#D55E00", "RUNNING": "#999999",
                "WAITING": "#999999"}
_STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
                "WAITING": "waiting"}
DPI = 150
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "legend.fontsize": 7.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.color": "0.9",
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "svg.hashsalt": "audio-retrieval-harness",
    "path.simplify": True,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}


# ------------------------------------------------------------------------------------------------ plumbing
@contextlib.contextmanager
def _style() -> Iterator[None]:
    """The fixed rcParams (read both when artists are made and when a figure is drawn)."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        yield


def _styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Build a figure under :func:`_style`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _style():
            return fn(*args, **kwargs)

    return wrapper


def _write(build: Callable[..., Any], out_base: str | Path, *args: Any, **kwargs: Any) -> list[Path]:
    """Build a figure and write it to ``<out_base>.png`` and ``<out_base>.pdf`` (the path is checked first)."""
    _paths(out_base)
    with _style():
        return _save(build(*args, **kwargs), out_base)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _paths(out_base: str | Path) -> tuple[Path, Path]:
    base = str(out_base)
    if not base or base.endswith(("/", "\\")):
        raise ValueError(f"out_base must name a file (without suffix), got {base!r}")
    return Path(base + ".png"), Path(base + ".pdf")


def _save(fig, out_base: str | Path) -> list[Path]:
    from retrieval.utils import atomic_write_bytes

    png, pdf = _paths(out_base)
    for path, fmt, meta in ((png, "png", {"Software": None}), (pdf, "pdf", {"CreationDate": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=meta)
        atomic_write_bytes(path, buf.getvalue())
    return [png, pdf]


def _placeholder(title: str, message: str):
    """A small figure that states why there is nothing to plot."""
    fig = _figure(6.0, 2.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(message, 90)), ha="center", va="center", transform=ax.transAxes,
            fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def _state(trial) -> str:
    return trial.state.name


def _value(trial) -> float | None:
    """The single objective value of a trial, or None (no value, several objectives, not finite)."""
    values = getattr(trial, "values", None)
    if not values or len(values) != 1 or values[0] is None:
        return None
    v = float(values[0])
    return v if math.isfinite(v) else None


def _maximize(direction: Any) -> bool:
    name = getattr(direction, "name", direction)
    text = str(name).lower()
    if text not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return text == "maximize"


def _state_counts(trials: Sequence[Any]) -> dict[str, int]:
    """Trials per state, in the order complete, pruned, failed, running, waiting."""
    counts: dict[str, int] = {}
    for t in trials:
        counts[_state(t)] = counts.get(_state(t), 0) + 1
    order = list(_STATE_WORDS)
    return dict(sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


def _count_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {_STATE_WORDS.get(s, s.lower())}" for s, n in counts.items())


def _trials(n: int) -> str:
    return f"{n} trial" if n == 1 else f"{n} trials"


def _fmt_num(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.2g}"
    return f"{v:.3g}"


# ---------------------------------------------------------------------------------------------- history
@_styled
def history_figure(trials: Sequence[Any], direction: Any, *, metric: str = "objective",
                 title: str | None = None):
    """Best-so-far objective against trial number (left) and against wall-clock time (right).

    COMPLETE trials are filled circles and define the best-so-far step line; PRUNED trials are hollow triangles at
    the value they were stopped with (their value, else their last intermediate value) and do not count for the best;
    FAIL trials are crosses on the x axis. Time is minutes since the earliest ``datetime_start``; a trial sits at its
    ``datetime_complete``. RUNNING/WAITING trials are left out and counted in the title.

    Degenerate input: no trials gives a figure saying so; with no COMPLETE trial the panels show what there is and
    say that there is no best-so-far yet. ``direction`` must be maximize/minimize (ValueError otherwise).
    """
    maximize = _maximize(direction)
    trials = list(trials)
    if not trials:
        return _placeholder(title or "Optimisation history", "The study has no trials yet.")
    counts = _state_counts(trials)
    finished = [t for t in trials if _state(t) in ("COMPLETE", "PRUNED", "FAIL")]
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    t0: datetime | None = min(starts) if starts else None

    fig = _figure(9.0, 3.4)
    axes = [fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)]
    for panel, ax in enumerate(axes):
        def x_of(t) -> float | None:
            if panel == 0:
                return float(t.number)
            end = t.datetime_complete or t.datetime_start
            return None if end is None or t0 is None else (end - t0).total_seconds() / 60.0

        pts: dict[str, list[tuple[float, float | None]]] = {"COMPLETE": [], "PRUNED": [], "FAIL": []}
        for t in finished:
            x = x_of(t)
            if x is None:
                continue
            y = _value(t)
            if y is None and _state(t) == "PRUNED" and t.intermediate_values:
                y = float(t.intermediate_values[max(t.intermediate_values)])
                y = y if math.isfinite(y) else None
            pts[_state(t)].append((x, y))
        comp = sorted((x, y) for x, y in pts["COMPLETE"] if y is not None)
        if comp:
            xs, ys = np.array([c[0] for c in comp]), np.array([c[1] for c in comp])
            best = np.maximum.accumulate(ys) if maximize else np.minimum.accumulate(ys)
            x_end = max([x for p in pts.values() for x, _ in p] + [xs[-1]])
            ax.step(np.append(xs, x_end), np.append(best, best[-1]), where="post", color="black", lw=1.4,
                    label="best so far", zorder=3)
            ax.plot(xs, ys, "o", color=STATE_COLORS["COMPLETE"], ms=4.5, label=f"complete ({len(comp)})", zorder=4)
            i_best = int(np.argmax(ys) if maximize else np.argmin(ys))
            ax.plot([xs[i_best]], [ys[i_best]], "*", color=STATE_COLORS["COMPLETE"], ms=11, mec="black", mew=0.6,
                    zorder=5, label="best trial")
        pr = [(x, y) for x, y in pts["PRUNED"] if y is not None]
        if pts["PRUNED"]:
            ax.plot([p[0] for p in pr], [p[1] for p in pr], "v", ms=4.5, mfc="none", mec=STATE_COLORS["PRUNED"],
                    mew=1.0, label=f"pruned ({len(pts['PRUNED'])}, value at stop)", zorder=2)
        if pts["FAIL"]:
            ax.plot([p[0] for p in pts["FAIL"]], [0.0] * len(pts["FAIL"]), "x", color=STATE_COLORS["FAIL"], ms=6,
                    mew=1.3, transform=ax.get_xaxis_transform(), clip_on=False, zorder=6,
                    label=f"failed ({len(pts['FAIL'])})")
        if not comp:
            ax.text(0.5, 0.55, "no COMPLETE trial yet:\nno best-so-far", ha="center", va="center",
                    transform=ax.transAxes, color="0.35")
            if not pr:
                ax.set_yticks([])  # no value anywhere: a value axis would be invented
        xs_all = {x for p in pts.values() for x, _ in p}
        if len(xs_all) == 1:  # a single point: a readable range around it
            x = xs_all.pop()
            ax.set_xlim(x - 1.0, x + 1.0)
        if not any(pts.values()):
            ax.text(0.5, 0.3, "no finished trial has a timestamp" if panel else "no finished trial",
                    ha="center", va="center", transform=ax.transAxes, color="0.35")
        ax.set_xlabel("trial number" if panel == 0 else "wall-clock time since the first trial started (min)")
        ax.set_ylabel(f"{metric} ({'higher' if maximize else 'lower'} is better)")
        ax.grid(True, axis="y")
        if panel == 0:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if panel == 1:
            ax.set_xlim(left=0.0)
    others = {s: n for s, n in counts.items() if s not in ("COMPLETE", "PRUNED", "FAIL")}
    sub = f"{_trials(len(trials))}: {_count_text(counts)}"
    if others:
        sub += " (unfinished trials not shown)"
    fig.suptitle(f"{title or 'Optimisation history'} — {sub}", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    bottom = 0.0
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), bbox_to_anchor=(0.5, 0.0))
        bottom = 0.09
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


# ----------------------------------------------------------------------------------------- intermediate
@_styled
def intermediate_figure(trials: Sequence[Any], *, metric: str = "objective",
                      title: str | None = None):
    """Learning curves: the per-epoch intermediate values of every trial, coloured by trial state.

    One line per trial (COMPLETE blue, PRUNED orange ending in a triangle, FAIL vermillion ending in a cross,
    unfinished grey); the legend counts the trials of each state and how many of them have no curve.

    Degenerate input: no trials, or no trial with intermediate values, gives a figure saying so.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    trials = list(trials)
    with_curves = [t for t in trials if t.intermediate_values]
    if not with_curves:
        what = (f"none of the {_trials(len(trials))} ({_count_text(_state_counts(trials))})" if trials
                else "there are no trials that")
        return _placeholder(title or "Learning curves", f"No intermediate values to plot: {what} "
                            "reported per-epoch values.")
    counts = _state_counts(trials)
    curve_counts = _state_counts(with_curves)
    order = {"RUNNING": 0, "WAITING": 0, "PRUNED": 1, "FAIL": 2, "COMPLETE": 3}
    fig = _figure(6.4, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    for t in sorted(with_curves, key=lambda t: (order.get(_state(t), 0), t.number)):
        steps = sorted(t.intermediate_values)
        xs = np.array(steps, dtype=float)
        ys = np.array([t.intermediate_values[s] for s in steps], dtype=float)
        color = STATE_COLORS.get(_state(t), "#999999")
        ax.plot(xs, ys, "-", color=color, alpha=0.85, lw=1.1, zorder=order.get(_state(t), 0) + 1)
        if len(xs) == 1:
            ax.plot(xs, ys, "o", color=color, ms=3, zorder=order.get(_state(t), 0) + 1)
        end = {"PRUNED": "v", "FAIL": "x"}.get(_state(t))
        if end and np.isfinite(ys[-1]):
            ax.plot(xs[-1:], ys[-1:], end, color=color, ms=5, mfc="none" if end == "v" else color, mew=1.2,
                    zorder=5)
    handles = []
    for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"):
        if state not in counts:
            continue
        missing = counts[state] - curve_counts.get(state, 0)
        label = f"{_STATE_WORDS[state]} ({counts[state]}" + (f", {missing} without values)" if missing else ")")
        marker = {"PRUNED": "v", "FAIL": "x"}.get(state, "")
        handles.append(Line2D([], [], color=STATE_COLORS[state], marker=marker, mfc="none" if marker == "v" else None,
                              label=label))
    ax.legend(handles=handles, title="trial state (trials)", loc="best")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (per-epoch validation)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    # whole epochs from the first to the last reported, half an epoch of room either side (autoscale around a
    # single epoch drew 0.945-1.050)
    epochs = [int(s) for t in with_curves for s in t.intermediate_values]
    ax.set_xlim(min(1, min(epochs)) - 0.5, max(epochs) + 0.5)
    ax.grid(True, axis="y")
    ax.set_title(title or f"Learning curves of {_trials(len(with_curves))}")
    fig.tight_layout()
    return fig


# -------------------------------------------------------------------------------- parallel coordinates
def _axis_scale(dist: Any, values: list[Any]):
    """(to_unit, ticks): a map of raw values to [0, 1] and [(position, label)] tick marks for one axis."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution) or any(not isinstance(v, (int, float)) or isinstance(v, bool)
                                                         for v in values):
        choices = list(dist.choices) if isinstance(dist, CategoricalDistribution) else []
        for v in values:
            if not any(_same_value(v, c) for c in choices):
                choices.append(v)
        k = len(choices)

        def cat(v: Any) -> float:
            i = next(i for i, c in enumerate(choices) if _same_value(v, c))
            return 0.5 if k == 1 else i / (k - 1)

        return cat, [(cat(c), str(c)) for c in choices]
    log = bool(getattr(dist, "log", False))
    if isinstance(dist, (FloatDistribution, IntDistribution)) and dist.high > dist.low:
        lo, hi = float(dist.low), float(dist.high)
    else:
        lo, hi = float(min(values)), float(max(values))
    if log and lo <= 0:
        log = False
    f = math.log10 if log else float
    a, b = f(lo), f(hi)
    span = b - a

    def num(v: Any) -> float:
        return 0.5 if span == 0 else (f(float(v)) - a) / span

    n_ticks = 5 if span else 1
    ticks = []
    for q in (np.linspace(0.0, 1.0, n_ticks) if span else [0.5]):
        raw = 10 ** (a + q * span) if log else a + q * span
        if isinstance(dist, IntDistribution) and not log and span:
            raw = round(raw)
            q = num(raw)
        ticks.append((float(q), _fmt_num(raw)))
    return num, sorted(set(ticks))


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                              and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


@_styled
def parallel_coordinates_figure(trials: Sequence[Any], *, direction: Any = "maximize",
                              metric: str = "objective", include_pruned: bool = True, seed_param: str = "seed",
                              title: str | None = None):
    """Parallel coordinates: one vertical axis per searched parameter (sorted by name) plus the objective.

    Lines are COMPLETE trials coloured by objective (viridis; the best drawn on top). Categorical axes are labelled
    with every choice of the distribution, numeric axes span the distribution's range, log-scaled when the
    distribution is (``FloatDistribution(log=True)``). A trial without a conditional parameter keeps its line with a
    gap at that axis; axis labels of such parameters say in how many trials they exist. With ``include_pruned``
    PRUNED trials with a value are drawn underneath as dashed grey lines (their value at the stop). The seed
    parameter and parameters with a single value are left out.

    Degenerate input: no COMPLETE trial with a finite value, or no parameter that varies, gives a figure saying so.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    import matplotlib

    maximize = _maximize(direction)
    trials = list(trials)
    complete = [t for t in trials if _state(t) == "COMPLETE" and _value(t) is not None]
    pruned = [t for t in trials if include_pruned and _state(t) == "PRUNED" and _value(t) is not None]
    shown = complete + pruned
    name = title or "Parallel coordinates"
    if not complete:
        return _placeholder(name, f"No COMPLETE trial with a finite objective among {_trials(len(trials))} "
                            f"({_count_text(_state_counts(trials)) or 'none'}).")
    params = sorted({p for t in shown for p in t.params} - {seed_param})
    params = [p for p in params if len({repr(t.params[p]) for t in shown if p in t.params}) > 1]
    if not params:
        return _placeholder(name, f"No searched parameter takes two or more values in the "
                            f"{len(shown)} trials shown.")
    scales = []
    for p in params:
        dist = next((t.distributions.get(p) for t in shown if p in t.params), None)
        scales.append(_axis_scale(dist, [t.params[p] for t in shown if p in t.params]))
    values = np.array([_value(t) for t in shown], dtype=float)
    vmin, vmax = float(values.min()), float(values.max())
    obj_scale = (lambda v: 0.5) if vmax == vmin else (lambda v: (v - vmin) / (vmax - vmin))
    cvalues = np.array([_value(t) for t in complete], dtype=float)
    cmin, cmax = float(cvalues.min()), float(cvalues.max())

    n_axes = len(params) + 1
    fig = _figure(max(6.0, 0.95 * n_axes + 1.6), 4.2)
    ax = fig.add_subplot(1, 1, 1)
    xs = np.arange(n_axes, dtype=float)

    def ys_of(t) -> np.ndarray:
        ys = [scales[i][0](t.params[p]) if p in t.params else np.nan for i, p in enumerate(params)]
        return np.array(ys + [obj_scale(_value(t))], dtype=float)

    for t in pruned:
        ax.plot(xs, ys_of(t), color="0.7", lw=0.9, ls=(0, (3, 2)), alpha=0.9, zorder=1)
    cmap = matplotlib.colormaps["viridis"]
    norm = Normalize(vmin=cmin, vmax=cmax if cmax > cmin else cmin + 1e-12)
    key = (lambda t: _value(t)) if maximize else (lambda t: -_value(t))
    lw, alpha = (1.5, 0.95) if len(complete) <= 30 else (0.9, 0.75)
    for t in sorted(complete, key=lambda t: (key(t), t.number)):
        ys = ys_of(t)
        ax.plot(xs, ys, color=cmap(norm(_value(t))), lw=lw, alpha=alpha, zorder=2)
        ax.plot(xs, ys, "o", color=cmap(norm(_value(t))), ms=2.5, zorder=3)
    # the axes, with their tick labels drawn beside them
    for i in range(n_axes):
        ax.axvline(i, color="0.25", lw=0.8, zorder=0)
        ticks = scales[i][1] if i < len(params) else [(obj_scale(v), _fmt_num(v)) for v in
                                                      (np.linspace(vmin, vmax, 5) if vmax > vmin else [vmin])]
        side = 1 if i == n_axes - 1 else -1  # the objective's labels go right of its axis, where no line runs
        for pos, label in ticks:
            ax.plot([i, i + 0.03 * side], [pos, pos], color="0.25", lw=0.8, zorder=0)
            ax.text(i + 0.05 * side, pos, label, ha="left" if side > 0 else "right", va="center", fontsize=6.5,
                    color="0.2", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
                    zorder=4)
    labels = []
    for p in params:
        have = sum(p in t.params for t in shown)
        labels.append(p if have == len(shown) else f"{p}\n(in {have} of {len(shown)})")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels + [metric], rotation=30, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, n_axes - 0.55)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    ax.tick_params(axis="x", length=0)
    for side in ("left", "top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cbar = fig.colorbar(sm, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label(f"{metric} of COMPLETE trials ({'higher' if maximize else 'lower'} is better)")
    sub = f"{len(complete)} complete"
    if pruned:
        sub += f", {len(pruned)} pruned (dashed grey, value at stop)"
    ax.set_title(f"{name} — {sub}")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- importance
def _need_columns(df, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)} (have {', '.join(map(str, df.columns))})")


def _numbers(df, column: str, what: str, *, allow_nan: bool) -> np.ndarray:
    out = []
    for i, v in zip(df.index, df[column]):
        try:
            x = float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            raise ValueError(f"{what}: row {i}, column {column}: not a number: {v!r}") from None
        if not math.isfinite(x) and not (allow_nan and math.isnan(x)):
            raise ValueError(f"{what}: row {i}, column {column}: must be a finite number, got {v!r}")
        out.append(x)
    return np.array(out, dtype=float)


@_styled
def importance_figure(importance_df, *, title: str | None = None):
    """Horizontal importance bars: one panel per branch, one bar colour per evaluator (grouped bars).

    ``importance_df`` is the frame of :func:`reports.importance.importance_table` (columns ``branch, evaluator,
    param, importance`` and optionally ``n_trials``). Parameters are ordered by their mean importance over the
    evaluators, most important at the top. ``importance_df.attrs["skipped"]`` (when present) is printed under the
    panels, so the figure says which branches were not evaluated and why.

    Degenerate input: an empty frame gives a figure listing the skip reasons; missing columns or non-finite
    importances raise ValueError.
    """
    from matplotlib.patches import Patch

    _need_columns(importance_df, ("branch", "evaluator", "param", "importance"), "importance table")
    imp = _numbers(importance_df, "importance", "importance table", allow_nan=False)
    skipped = list(importance_df.attrs.get("skipped", []) or [])
    notes = sorted({f"{b}: {r}" for b, _, r in skipped})
    name = title or "Hyperparameter importance"
    if len(importance_df) == 0:
        return _placeholder(name, "No importance could be computed. " + " · ".join(notes))
    frame = importance_df.assign(importance=imp)
    branches = list(dict.fromkeys(frame["branch"]))
    evaluators = list(dict.fromkeys(frame["evaluator"]))
    colors = {e: PALETTE[i % len(PALETTE)] for i, e in enumerate(evaluators)}
    sizes = [frame.loc[frame.branch == b, "param"].nunique() for b in branches]
    note_lines = [line for n in notes for line in textwrap.wrap(n, 110)]
    height = sum(0.32 * s + 0.75 for s in sizes) + 0.5 + 0.14 * len(note_lines)
    fig = _figure(6.4, height)
    grid = fig.add_gridspec(len(branches), 1, height_ratios=[0.32 * s + 0.75 for s in sizes])
    width = 0.8 / len(evaluators)
    for row, branch in enumerate(branches):
        ax = fig.add_subplot(grid[row, 0])
        sub = frame[frame.branch == branch]
        order = sub.groupby("param", sort=True)["importance"].mean().sort_values(ascending=False, kind="stable")
        params = list(order.index)
        y = {p: len(params) - 1 - i for i, p in enumerate(params)}
        for j, ev in enumerate(evaluators):
            e = sub[sub.evaluator == ev]
            if e.empty:
                continue
            pos = [y[p] + (len(evaluators) - 1 - 2 * j) * width / 2 for p in e.param]
            ax.barh(pos, e.importance, height=width * 0.95, color=colors[ev], label=ev)
        ax.set_yticks(range(len(params)))
        ax.set_yticklabels(params[::-1])
        ax.set_xlim(0, 1.0)
        ax.grid(True, axis="x")
        n = sorted(set(sub["n_trials"])) if "n_trials" in sub else []
        ax.set_title(f"branch {branch}" + (f" ({', '.join(map(str, n))} trials)" if n else ""), loc="left")
        if row == len(branches) - 1:
            ax.set_xlabel("importance (share of the total within branch and evaluator)")
    handles = [Patch(color=colors[e], label=e) for e in evaluators]
    fig.legend(handles=handles, loc="upper right", ncol=len(evaluators), bbox_to_anchor=(0.99, 1.0))
    fig.suptitle(name, x=0.02, ha="left")
    bottom = 0.0
    if note_lines:
        bottom = (0.14 * len(note_lines) + 0.2) / height
        fig.text(0.02, 0.01, "not evaluated:\n" + "\n".join(note_lines), fontsize=6.5, color="0.3", va="bottom")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


# ------------------------------------------------------------------------------------------------ deltas
_KINDS = ("recipe", "query-only", "exploratory")
#: the marks of a frame without a ``mark`` column, by Holm-adjusted p (those of reports.stats.significance_mark,
#: which the report's analysis gives in that column), and as the legend states them
_MARKS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


def _mark(p: float) -> str:
    return next((m for threshold, m in _MARKS if p < threshold), "")


@_styled
def deltas_figure(df, *, scale: float = 100.0, alpha: float = 0.05, xlabel: str = "Δ mAP@10 (percentage points)",
                  title: str | None = None):
    """Forest plot of differences with 95% CI whiskers, a zero line and significance marks.

    ``df`` has columns ``name, delta, ci_low, ci_high, p_holm`` and optionally ``comparison`` (the report's comparison
    tables give it: ``recipe``, ``query-only`` or ``exploratory``, see :mod:`reports.analysis`) and ``mark``;
    ``delta`` and the CI bounds are in AP units (0-1) and are multiplied by ``scale`` (default 100: percentage
    points). Rows are drawn top to bottom in frame order. By comparison kind:

    * ``recipe`` (and every row of a frame without ``comparison``): solid whisker; the point is filled when
      ``p_holm < alpha`` (blue for a gain, vermillion for a loss), hollow grey otherwise; the value, its CI and the
      mark at the right: the ``mark`` column's, else ``***`` p<0.001, ``**`` p<0.01, ``*`` p<0.05 (the marks of
      :func:`reports.stats.significance_mark`);
    * ``query-only``: dashed grey whisker, hollow point, no mark (a CI over queries only, not a test), the value
      column says ``query-only``;
    * ``exploratory``: a hollow grey diamond without whisker (any CI given is not drawn), no mark, ``exploratory``.

    The title gets a second line saying which kinds the figure shows (:func:`reports.tables.deltas_caption`) and the
    footer explains the symbols of the kinds present. NaN CI bounds or p-values are allowed (no whisker, no mark).

    Degenerate input: an empty frame gives a figure saying so; missing columns, a non-finite ``delta`` or an unknown
    ``comparison`` raise ValueError naming the row.
    """
    from reports.tables import deltas_caption

    _need_columns(df, ("name", "delta", "ci_low", "ci_high", "p_holm"), "delta table")
    name = title or "Differences against the reference"
    if len(df) == 0:
        return _placeholder(name, "No comparisons to plot.")
    delta = _numbers(df, "delta", "delta table", allow_nan=False) * scale
    low = _numbers(df, "ci_low", "delta table", allow_nan=True) * scale
    high = _numbers(df, "ci_high", "delta table", allow_nan=True) * scale
    p = _numbers(df, "p_holm", "delta table", allow_nan=True)
    labelled = "comparison" in df.columns
    kinds = [str(k) for k in df["comparison"]] if labelled else ["recipe"] * len(df)
    given = [str(m) for m in df["mark"]] if "mark" in df.columns else None
    for i, kind in enumerate(kinds):
        if kind not in _KINDS:
            raise ValueError(f"delta table: row {df.index[i]} ({df['name'].iloc[i]}): comparison {kind!r} is not one "
                             f"of {', '.join(_KINDS)}")
        if kind == "exploratory":
            low[i] = high[i] = p[i] = math.nan  # no interval, no test
        elif kind == "query-only":
            p[i] = math.nan
    for i, (lo, d, hi) in enumerate(zip(low, delta, high)):
        if not (math.isnan(lo) or math.isnan(hi)) and not lo <= d <= hi:
            raise ValueError(f"delta table: row {df.index[i]} ({df['name'].iloc[i]}): delta {d / scale!r} lies "
                             f"outside its CI [{lo / scale!r}, {hi / scale!r}]")
    n = len(df)
    legend = []
    if "recipe" in kinds:
        legend.append(f"filled: Holm-adjusted p < {alpha:g}   " + "  ".join(f"{m} p<{t:g}" for t, m in _MARKS))
    if "query-only" in kinds:
        legend.append("dashed, hollow: query-only CI (query sampling only, not seed noise), no test")
    if "exploratory" in kinds:
        legend.append("\u25c7: exploratory (pooled configurations), no CI, no test")
    caption = textwrap.wrap(deltas_caption(kinds), 95) if labelled else []
    height = 1.2 + 0.36 * n + 0.14 * (len(caption) + max(0, len(legend) - 1))
    fig = _figure(6.8, height)
    ax = fig.add_subplot(1, 1, 1)
    ys = np.arange(n)[::-1].astype(float)
    for i in range(n):
        sig = not math.isnan(p[i]) and p[i] < alpha
        color = ("#0072B2" if delta[i] >= 0 else "#D55E00") if sig else "0.45"
        has_ci = not (math.isnan(low[i]) or math.isnan(high[i]))
        if has_ci:
            ls = "--" if kinds[i] == "query-only" else "-"
            ax.plot([low[i], high[i]], [ys[i], ys[i]], color=color, lw=1.4, ls=ls, solid_capstyle="butt")
            for end in (low[i], high[i]):
                ax.plot([end, end], [ys[i] - 0.15, ys[i] + 0.15], color=color, lw=1.0)
        marker = "D" if kinds[i] == "exploratory" else "o"
        ax.plot([delta[i]], [ys[i]], marker, color=color, ms=6 if marker == "o" else 5, mfc=color if sig else "white",
                mew=1.2, zorder=3)
        ci = f" [{low[i]:+.1f}, {high[i]:+.1f}]" if has_ci else ""
        mark = "" if math.isnan(p[i]) else given[i] if given is not None else _mark(p[i])
        label = {"recipe": mark, "query-only": "query-only", "exploratory": "exploratory"}[kinds[i]]
        text = (f"{delta[i]:+6.1f}{ci}".replace("-", "\u2212") + f" {label}").rstrip()
        ax.text(1.03, ys[i], text, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=7,
                family="DejaVu Sans Mono")
    ax.axvline(0.0, color="black", lw=0.8, ls="--", zorder=0)
    finite = np.concatenate([delta, low[np.isfinite(low)], high[np.isfinite(high)], [0.0]])
    pad = 0.08 * max(float(finite.max() - finite.min()), 1e-9)
    ax.set_xlim(float(finite.min()) - pad, float(finite.max()) + pad)
    ax.set_yticks(ys)
    ax.set_yticklabels([str(v) for v in df["name"]])
    ax.set_ylim(-0.7, n - 0.3)
    any_ci = any(k != "exploratory" for k in kinds)
    ax.text(1.03, n - 0.35, "Δ [95% CI]" if any_ci else "Δ", transform=ax.get_yaxis_transform(), ha="left",
            va="bottom", fontsize=7, color="0.3")
    ax.set_xlabel(xlabel + (" with 95% CI" if any_ci else ""))
    ax.grid(True, axis="x")
    ax.set_title("\n".join([name, *caption]), loc="left", pad=14 if caption else 6)
    fig.text(0.99, 0.01, "\n".join(legend), ha="right", va="bottom", fontsize=6.5, color="0.3")
    bottom = min(0.4, (0.06 + 0.12 * len(legend)) / height)
    fig.tight_layout(rect=(0, bottom, 1, 1))  # the value column is an axes text: tight_layout makes room
    return fig


# --------------------------------------------------------------------------------------------- per query
@_styled
def per_query_figure(ap_by_name: Mapping[str, Any], *, metric: str = "AP@10",
                   title: str | None = None, seed: int = 0):
    """Per-query score distributions per system, and paired differences to the first system.

    Left: for each system a box plot (quartiles, whiskers at 1.5 IQR) over a jittered strip of every query's score,
    the mean as a white diamond, and the share of queries with score 0 written above. Right (two or more systems):
    histograms of the paired differences ``score[system] - score[first system]`` per query, with their mean.

    Degenerate input: no systems gives a figure saying so; an array that is not 1-D, is empty or holds NaN/inf, or
    (with two or more systems) arrays of different lengths raise ValueError naming the system.
    """
    name = title or f"Per-query {metric}"
    if not ap_by_name:
        return _placeholder(name, "No systems to plot.")
    systems = [str(k) for k in ap_by_name]
    scores = []
    for key, values in ap_by_name.items():
        a = np.asarray(values, dtype=float)
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"per-query scores of {key!r}: need a non-empty 1-D array, got shape {a.shape}")
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"per-query scores of {key!r}: query {int(bad[0])} is {a[bad[0]]!r}")
        scores.append(a)
    if len(scores) > 1 and len({a.size for a in scores}) > 1:
        sizes = ", ".join(f"{s}: {a.size}" for s, a in zip(systems, scores))
        raise ValueError(f"per-query scores: paired differences need the same queries in every system ({sizes})")
    paired = len(scores) > 1
    fig = _figure(9.0 if paired else 5.0, 3.6)
    ax = fig.add_subplot(1, 2 if paired else 1, 1)
    rng = np.random.default_rng(seed)
    positions = np.arange(len(scores), dtype=float)
    for i, a in enumerate(scores):
        color = PALETTE[i % len(PALETTE)]
        jitter = rng.uniform(-0.18, 0.18, a.size)
        ax.scatter(positions[i] + jitter, a, s=4, color=color, alpha=min(0.6, 40.0 / a.size + 0.1), lw=0,
                   zorder=1, rasterized=False)
        ax.text(positions[i], 1.06, f"{metric}=0: {np.mean(a == 0):.0%}", ha="center", va="bottom", fontsize=6.5,
                color="0.25")
    box = ax.boxplot(scores, positions=positions, widths=0.5, showfliers=False, patch_artist=True,
                     medianprops={"color": "black", "lw": 1.3}, whiskerprops={"color": "0.2"},
                     capprops={"color": "0.2"}, boxprops={"ec": "0.2", "lw": 0.9}, zorder=2)
    for patch in box["boxes"]:
        patch.set_facecolor("none")
    ax.plot(positions, [a.mean() for a in scores], "D", color="white", mec="black", ms=5, zorder=3)
    ax.set_xticks(positions)
    rotate = max(len(s) for s in systems) > 12
    ax.set_xticklabels(systems, rotation=25 if rotate else 0, ha="right" if rotate else "center",
                       rotation_mode="anchor")
    lo = min(0.0, min(float(a.min()) for a in scores))
    hi = max(1.0, max(float(a.max()) for a in scores))
    ax.set_ylim(lo - 0.04 * (hi - lo), hi + 0.16 * (hi - lo))
    ax.set_ylabel(f"per-query {metric} ({scores[0].size} queries)")
    ax.grid(True, axis="y")
    ax.set_title(f"box: quartiles, \u25c7: mean, above: share of queries with {metric} = 0", loc="left",
                 fontsize=7.5)
    if paired:
        ax2 = fig.add_subplot(1, 2, 2)
        diffs = [a - scores[0] for a in scores[1:]]
        span = max(1e-9, max(float(np.abs(d).max()) for d in diffs))
        edges = (np.arange(-20, 22) - 0.5) * (span / 20)  # 41 bins, the middle one centred on 0 (ties)
        top = 0
        for i, d in enumerate(diffs, start=1):
            counts, _, _ = ax2.hist(d, bins=edges, histtype="step", lw=1.4, color=PALETTE[i % len(PALETTE)],
                                    label=f"{systems[i]} − {systems[0]}: mean {d.mean():+.3f}, "
                                          f"ties {np.mean(d == 0):.0%}")
            top = max(top, float(np.max(counts)))
        ax2.set_ylim(0, top * 1.3 + 1)
        ax2.axvline(0.0, color="black", lw=0.8, ls="--")
        ax2.set_xlabel(f"paired difference in {metric} per query (vs {systems[0]})")
        ax2.set_ylabel("queries")
        ax2.grid(True, axis="y")
        ax2.legend(loc="upper right", fontsize=6.5)
        ax2.set_title("paired differences", loc="left", fontsize=8)
    fig.suptitle(name, x=0.02, ha="left")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ a report's figures
def report_figures(analysis, fig_dir: str | Path,
                   progress: Callable[[str], None] | None = None) -> tuple[list[tuple[str, list[Path]]], list[str]]:
    """Draw every figure of a study's report from its analysis (:class:`reports.analysis.StudyAnalysis`) into
    ``fig_dir``: history, intermediate values, parallel coordinates, importance (when the analysis has it), and per
    comparison table its Δ forest plot (with a baseline) and per-query distributions. Returns ``([(title, [png,
    pdf]), ...], problems)``: a figure that fails (e.g. a study of one trial) is a problem, not an error."""
    import pandas as pd

    from reports.tables import deltas_caption, group_name

    data, fig_dir = analysis.data, Path(fig_dir)
    jobs: list[tuple[str, str, Callable[[Path], list]]] = [
        ("history", "Best-so-far objective against trial number and wall-clock time",
         lambda b: plot_history(data.frozen, data.direction, b, metric=data.metric)),
        ("intermediate", "Intermediate values (validation curve per trial) by trial state",
         lambda b: plot_intermediate(data.frozen, b, metric=data.metric)),
        ("parallel_coordinates", "Parallel coordinates of the searched parameters",
         lambda b: plot_parallel_coordinates(data.frozen, b, direction=data.direction, metric=data.metric)),
    ]
    imp = analysis.importance
    if imp is not None and imp.rows:
        frame = pd.DataFrame(list(imp.rows), columns=list(imp.COLUMNS))
        frame.attrs["skipped"] = list(imp.skipped)
        jobs.append(("importance", "Hyperparameter importance", lambda b: plot_importance(frame, b)))
    for f in analysis.factors:
        spec, names = f.spec, [group_name(g) for g in f.groups]
        deltas = [{"name": n, "delta": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high, "p_holm": c.p_holm,
                   "comparison": c.kind, "mark": c.mark} for n, c in zip(names, f.comparisons) if c is not None]
        if deltas:
            df = pd.DataFrame(deltas, columns=["name", "delta", "ci_low", "ci_high", "p_holm", "comparison", "mark"])
            jobs.append((f"deltas_{spec.name}", f"{spec.title}: {deltas_caption(df['comparison'])}",
                         lambda b, df=df, title=spec.title: plot_deltas(df, b, title=title)))
        jobs.append((f"per_query_{spec.name}", f"{spec.title}: per-query AP@10 distributions",
                     lambda b, ap={n: g.ap for n, g in zip(names, f.groups)}: plot_per_query(ap, b)))
    done, problems = [], []
    for name, title, fn in jobs:
        if progress is not None:
            progress(f"figure {name}")
        try:
            paths = fn(fig_dir / name)
        except Exception as exc:  # noqa: BLE001 - e.g. a study of one trial: log it and go on
            problems.append(f"figure {name}: {type(exc).__name__}: {' '.join(str(exc).split())}")
            continue
        done.append((title, [Path(p) for p in paths]))
    return done, problems


# ------------------------------------------------------------------------------------------------ writers
def plot_history(trials: Sequence[Any], direction: Any, out_base: str | Path, *, metric: str = "objective",
                 title: str | None = None) -> list[Path]:
    """Write :func:`history_figure` (best-so-far vs trial number and vs wall-clock minutes) to
    ``<out_base>.png``/``.pdf``; returns ``[png_path, pdf_path]``."""
    return _write(history_figure, out_base, trials, direction, metric=metric, title=title)


def plot_intermediate(trials: Sequence[Any], out_base: str | Path, *, metric: str = "objective",
                      title: str | None = None) -> list[Path]:
    """Write :func:`intermediate_figure` (per-epoch curves coloured by trial state) to ``<out_base>.png``/``.pdf``;
    returns ``[png_path, pdf_path]``."""
    return _write(intermediate_figure, out_base, trials, metric=metric, title=title)


def plot_parallel_coordinates(trials: Sequence[Any], out_base: str | Path, *, direction: Any = "maximize",
                              metric: str = "objective", include_pruned: bool = True, seed_param: str = "seed",
                              title: str | None = None) -> list[Path]:
    """Write :func:`parallel_coordinates_figure` to ``<out_base>.png``/``.pdf``; returns ``[png_path, pdf_path]``."""
    return _write(parallel_coordinates_figure, out_base, trials, direction=direction, metric=metric,
                  include_pruned=include_pruned, seed_param=seed_param, title=title)


def plot_importance(importance_df, out_base: str | Path, *, title: str | None = None) -> list[Path]:
    """Write :func:`importance_figure` (bars per branch and evaluator) to ``<out_base>.png``/``.pdf``; returns
    ``[png_path, pdf_path]``."""
    return _write(importance_figure, out_base, importance_df, title=title)


def plot_deltas(df, out_base: str | Path, *, scale: float = 100.0, alpha: float = 0.05,
                xlabel: str = "Δ mAP@10 (percentage points)", title: str | None = None) -> list[Path]:
    """Write :func:`deltas_figure` (forest plot of Δ with 95% CIs) to ``<out_base>.png``/``.pdf``; returns
    ``[png_path, pdf_path]``."""
    return _write(deltas_figure, out_base, df, scale=scale, alpha=alpha, xlabel=xlabel, title=title)


def plot_per_query(ap_by_name: Mapping[str, Any], out_base: str | Path, *, metric: str = "AP@10",
                   title: str | None = None, seed: int = 0) -> list[Path]:
    """Write :func:`per_query_figure` (per-query distributions and paired differences) to
    ``<out_base>.png``/``.pdf``; returns ``[png_path, pdf_path]``."""
    return _write(per_query_figure, out_base, ap_by_name, metric=metric, title=title, seed=seed)


@_styled
def seed_distribution_figure(values_by_set: Mapping[str, Sequence[float]], *, metric: str = "test mAP@10 (%)",
                             title: str | None = None):
    """Histogram of one configuration's run scores over seeds, one colour per seed set (stacked, common bins), a
    tick per run below the axis and each set's mean as a dashed line. Sets with no value are left out; no value at
    all gives a figure saying so; a non-finite value raises ValueError naming the set."""
    name = title or f"Seed distribution of {metric}"
    sets = {}
    for key, values in values_by_set.items():
        a = np.asarray(list(values), dtype=float)
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"seed distribution of {key!r}: value {int(bad[0])} is {a[bad[0]]!r}")
        if a.size:
            sets[str(key)] = a
    if not sets:
        return _placeholder(name, "No runs to plot.")
    every = np.concatenate(list(sets.values()))
    span = float(every.max() - every.min())
    bins = np.histogram_bin_edges(every, bins=max(5, min(20, int(round(2 * every.size ** (1 / 3))) + 2))
                                  if span > 0 else 5)
    fig = _figure(5.5, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(sets))]
    ax.hist(list(sets.values()), bins=bins, stacked=True, color=colors, edgecolor="white", linewidth=0.6,
            label=[f"{k} (n={a.size}, mean {a.mean():.2f}, sd {a.std(ddof=1) if a.size > 1 else 0:.2f})"
                   for k, a in sets.items()])
    top = ax.get_ylim()[1]
    for (key, a), color in zip(sets.items(), colors):
        ax.plot(a, np.full(a.size, -0.04 * top), "|", color=color, ms=8, mew=1.0)
        ax.plot([float(a.mean())] * 2, [0.0, top], color=color, ls="--", lw=1.0)  # below the legend
    from matplotlib.ticker import MaxNLocator

    ax.set_ylim(-0.08 * top, top * 1.45)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(metric)
    ax.set_ylabel("runs")
    ax.set_title(name)
    ax.legend(loc="upper left", title="dashed: mean; ticks: runs", title_fontsize=6.5)
    fig.tight_layout()
    return fig


def plot_seed_distribution(values_by_set: Mapping[str, Sequence[float]], out_base: str | Path, *,
                           metric: str = "test mAP@10 (%)", title: str | None = None) -> list[Path]:
    """Write :func:`seed_distribution_figure` to ``<out_base>.png``/``.pdf``; returns ``[png_path, pdf_path]``."""
    return _write(seed_distribution_figure, out_base, values_by_set, metric=metric, title=title)
