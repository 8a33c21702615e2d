"""Ranking a board's entries, significance against the leader, and the Markdown / LaTeX / CSV / plot outputs.

Standings (:func:`standings`): entries sorted by mAP@k, the board's cut-off k (10 unless the board was created
with another; then R@1, R@5, R@10, then submission order); the rank is the competition rank of mAP@k (equal mAP@k
share a rank: 1, 2, 2, 4). The first entry is the *leader*. Every
other entry is compared with the leader on the paired per-query AP@k by a two-sided sign-flip randomization test
(:func:`reports.stats.paired_randomization_test`, ``n_resamples`` and ``seed`` given), the ``m - 1`` p-values are
Holm-corrected (:func:`reports.stats.holm`) and marked with :func:`reports.stats.significance_mark`
(``*`` < 0.05, ``**`` < 0.01, ``***`` < 0.001, on the Holm-adjusted p). An entry whose adjusted p is >= ``alpha`` is
"not significantly different from the leader".

The plot (:func:`plot_standings`): one row per entry, its mAP@k with a percentile bootstrap confidence interval of
the mean per-query AP@k (:func:`reports.stats.paired_bootstrap_ci` against zeros, i.e. resampling the queries),
and -- in the style of a critical-difference diagram -- a thick bar under the axis joining the leader and every
entry not significantly different from it (those markers filled, the others hollow). PNG and PDF, matplotlib's Agg
canvas (no display needed, no global backend switch).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from reports.render import Column, csv_text, latex_escape, latex_label, markdown_table
from reports.render import latex_table as render_latex

from .board import BoardInfo, Entry

__all__ = ["Standing", "bootstrap_ci", "csv_table", "latex_table", "markdown_report", "plot_standings",
           "standings", "standings_figure"]


@dataclass(frozen=True)
class Standing:
    entry: Entry
    rank: int
    is_leader: bool
    delta: float  # mAP@k - the leader's
    p: float  # two-sided randomization p vs the leader (NaN for the leader)
    p_holm: float
    mark: str
    same_as_leader: bool  # the leader, or Holm-adjusted p >= alpha


def standings(entries: Sequence[Entry], *, n_resamples: int = 10_000, seed: int = 0,
              alpha: float = 0.05) -> list[Standing]:
    """Rank ``entries`` and test each against the leader (see the module docstring)."""
    from reports.stats import holm, paired_randomization_test, significance_mark

    if not entries:
        return []
    n = {e.ap.shape[0] for e in entries}
    if len(n) != 1:
        raise ValueError(f"entries have per-query scores of different lengths {sorted(n)}: not the same queries")
    order = sorted(entries, key=lambda e: (-e.map_k, -e.r1, -e.r5, -e.r10, e.id))
    leader = order[0]
    raw = [float("nan")] + [paired_randomization_test(leader.ap, e.ap, n_resamples=n_resamples, seed=seed)
                            for e in order[1:]]
    adjusted = holm(raw)
    out = []
    for e, p, ph in zip(order, raw, adjusted):
        rank = 1 + sum(1 for o in order if round(o.map_k, 12) > round(e.map_k, 12))
        is_leader = e is leader
        out.append(Standing(entry=e, rank=rank, is_leader=is_leader, delta=e.map_k - leader.map_k, p=p,
                            p_holm=float(ph), mark="" if is_leader else significance_mark(float(ph)),
                            same_as_leader=is_leader or not float(ph) < alpha))
    return out


def _p_text(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _k_columns(info: BoardInfo) -> list[str]:
    """The mAP columns of a board's tables: ``mAP@k`` (and ``mAP@10`` after it when k is not 10)."""
    return [f"mAP@{info.k}"] + (["mAP@10"] if info.k != 10 else [])


def _k_values(info: BoardInfo, e: Entry) -> list[float]:
    return [e.map_k] + ([e.map10] if info.k != 10 else [])


def _notes(info: BoardInfo, n_resamples: int, seed: int, alpha: float) -> str:
    other = f" ({info.n_other} relevant to no query)" if info.n_other else ""
    return (f"Ground truth: {info.n_queries} queries, {info.n_files} files{other}, fingerprint "
            f"`{info.fingerprint[:16]}…`. Ranked by mAP@{info.k}. "
            f"p: two-sided paired randomization test of per-query AP@{info.k} against the leader ({n_resamples} "
            f"resamples, seed {seed}), Holm-corrected over the entries; * p<0.05, ** p<0.01, *** p<0.001. "
            f"Entries with p ≥ {alpha} are not significantly different from the leader.")


def markdown_report(info: BoardInfo, rows: Sequence[Standing], *, n_resamples: int, seed: int,
                    alpha: float = 0.05) -> str:
    header = ["Rank", "Team", "System", *_k_columns(info), "R@1", "R@5", "R@10", f"Δ mAP@{info.k}", "p (Holm)",
              "Submitted"]
    body = [[s.rank, s.entry.team, s.entry.system, *(f"{v:.4f}" for v in _k_values(info, s.entry)), f"{s.entry.r1:.4f}",
             f"{s.entry.r5:.4f}", f"{s.entry.r10:.4f}", "–" if s.is_leader else f"{s.delta:+.4f}",
             "leader" if s.is_leader else f"{_p_text(s.p_holm)} {s.mark}".strip(), s.entry.submitted_at]
            for s in rows]
    table = markdown_table(header, body) if rows else "(no entries yet)\n"
    return f"# Leaderboard: {info.name}\n\n{table}\n{_notes(info, n_resamples, seed, alpha)}\n"


def latex_table(info: BoardInfo, rows: Sequence[Standing], *, n_resamples: int, seed: int,
                alpha: float = 0.05) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``); the leader in bold."""
    body = []
    for s in rows:
        e = s.entry
        nums = [*(f"{v:.4f}" for v in _k_values(info, e)), f"{e.r1:.4f}", f"{e.r5:.4f}", f"{e.r10:.4f}"]
        if s.is_leader:
            nums = [(v, f"\\textbf{{{v}}}") for v in nums]
            p = "--"
        else:
            p = _p_text(s.p_holm).replace("<", "$<$") + (f"$^{{{s.mark}}}$" if s.mark else "")
        body.append([str(s.rank), e.team, e.system, *nums, ("", p)])
    caption = (f"Leaderboard {latex_escape(info.name)}: {info.n_queries} queries, ranked by mAP@{info.k}. $p$: "
               f"paired randomization test of per-query AP@{info.k} against the leader ({n_resamples} resamples), Holm-corrected; "
               r"$^{*}\,p<0.05$, $^{**}\,p<0.01$, $^{***}\,p<0.001$.")
    label = f"tab:leaderboard-{latex_label(info.name, 'board')}"
    columns = (*_LATEX_COLUMNS[:3], *(Column(c) for c in _k_columns(info)), *_LATEX_COLUMNS[4:])
    return render_latex(columns, body, caption=caption, label=label, comment=f"Leaderboard {info.name} (python -m benchmarks leaderboard show); needs "
                                "\\usepackage{booktabs}", empty="(no entries yet)")


_LATEX_COLUMNS = (Column("Rank"), Column("Team", align="l"), Column("System", align="l"), Column("mAP@10"),
                  Column("R@1"), Column("R@5"), Column("R@10"), Column("p (Holm)", "$p$ (Holm)"))


CSV_COLUMNS = ("rank", "team", "system", "map10", "r1", "r5", "r10", "delta_map10", "p_value", "p_holm", "mark",
               "same_as_leader", "n_queries", "n_missing", "entry_id", "submitted_at", "source")


def csv_columns(k: int) -> tuple[str, ...]:
    """:data:`CSV_COLUMNS` at cut-off k: ``map{k}`` (then ``map10``) and ``delta_map{k}``."""
    if k == 10:
        return CSV_COLUMNS
    return ("rank", "team", "system", f"map{k}", "map10", *CSV_COLUMNS[4:7], f"delta_map{k}", *CSV_COLUMNS[8:])


def csv_table(info: BoardInfo, rows: Sequence[Standing]) -> str:
    body = []
    for s in rows:
        e = s.entry
        body.append([s.rank, e.team, e.system, *(repr(v) for v in _k_values(info, e)), repr(e.r1), repr(e.r5),
                     repr(e.r10), repr(s.delta),
                     "" if math.isnan(s.p) else repr(s.p), "" if math.isnan(s.p_holm) else repr(s.p_holm), s.mark,
                     int(s.same_as_leader), e.n_queries, e.n_missing, e.id, e.submitted_at, e.source])
    return csv_text(csv_columns(info.k), body)


def bootstrap_ci(s: Standing, *, n_resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of an entry's mAP@k (the mean per-query AP@k, queries resampled)."""
    from reports.stats import paired_bootstrap_ci

    ap = s.entry.ap
    low, high = paired_bootstrap_ci(ap, np.zeros_like(ap), n_resamples=n_resamples, level=level, seed=seed)
    return float(low), float(high)


def standings_figure(info: BoardInfo, rows: Sequence[Standing], *, n_resamples: int = 10_000, seed: int = 0,
                     level: float = 0.95, alpha: float = 0.05, cis: Sequence[tuple[float, float]] | None = None):
    """The critical-difference style plot (see the module docstring) as a matplotlib ``Figure`` (Agg canvas).
    ``cis``: the entries' bootstrap CIs when already computed (:func:`bootstrap_ci`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(rows)
    fig = Figure(figsize=(7.0, 1.6 + 0.42 * max(n, 1)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if n == 0:
        ax.text(0.5, 0.5, "no entries yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        if cis is None:
            cis = [bootstrap_ci(s, n_resamples=n_resamples, seed=seed, level=level) for s in rows]
        ys = np.arange(n)[::-1] + 1.0  # leader at the top; y = 0 holds the bar
        for s, y, (low, high) in zip(rows, ys, cis):
            color = "black" if s.same_as_leader else "0.55"
            ax.plot([low, high], [y, y], color=color, lw=1.5, solid_capstyle="butt")
            ax.plot([low, low], [y - 0.12, y + 0.12], color=color, lw=1.0)
            ax.plot([high, high], [y - 0.12, y + 0.12], color=color, lw=1.0)
            ax.plot([s.entry.map_k], [y], "o", color=color, ms=6,
                    markerfacecolor=color if s.same_as_leader else "white")
        group = [s.entry.map_k for s in rows if s.same_as_leader]
        ax.plot([min(group), max(group)], [0.0, 0.0], color="black", lw=5, solid_capstyle="round")
        for x in group:  # the members' ticks on the bar
            ax.plot([x, x], [0.0, 0.35], color="black", lw=1.0)
        note = (f"joined: not significantly different from the leader (Holm, α={alpha})" if len(group) > 1 else
                f"every other entry differs significantly from the leader (Holm, α={alpha})")
        ax.text(max(group), -0.4, note, ha="right", va="top", fontsize=7)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([f"{s.rank}. {s.entry.team} / {s.entry.system}{' ' + s.mark if s.mark else ''}"
                            for s in rows], fontsize=8)
        ax.set_ylim(-1.0, n + 0.7)
        ax.set_xlabel(f"mAP@{info.k} (mean per-query AP@{info.k}, {int(level * 100)}% bootstrap CI)")
        ax.grid(axis="x", color="0.9", lw=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    ax.set_title(f"Leaderboard {info.name} ({info.n_queries} queries)", fontsize=10)
    fig.tight_layout()
    return fig


def figure_bytes(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150, metadata={"CreationDate": None} if fmt == "pdf" else None)
    return buf.getvalue()


def plot_standings(info: BoardInfo, rows: Sequence[Standing], png: str | Path, pdf: str | Path, *,
                   n_resamples: int = 10_000, seed: int = 0, level: float = 0.95, alpha: float = 0.05) -> None:
    """The critical-difference style plot (see the module docstring), written atomically to ``png`` and ``pdf``."""
    from retrieval.utils import atomic_write_bytes

    fig = standings_figure(info, rows, n_resamples=n_resamples, seed=seed, level=level, alpha=alpha)
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        atomic_write_bytes(path, figure_bytes(fig, fmt))
