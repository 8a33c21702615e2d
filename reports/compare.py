"""``python -m reports compare A B [C ...]``: pairwise significance tests between runs on their per-query AP@10.

Each argument is a run directory (holding ``per_query.csv``) or a ``per_query.csv`` file. The runs' rows are
paired by ``(query, target)`` (:func:`reports.collect.align_runs`; mismatched query sets are an error naming both
runs and a query only one has). For every pair ``(X, Y)`` in argument order (A-B, A-C, B-C, ...):
mean difference ``mean(AP_X - AP_Y)``, its paired percentile bootstrap 95% CI, the two-sided paired randomization
(sign-flip) test and the Wilcoxon signed-rank test (:func:`reports.stats.compare_paired`), and the
Holm-adjusted randomization p over all pairs (:func:`reports.stats.holm`).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Sequence

from .collect import CollectError, align_runs, metrics_from_per_query, read_per_query
from .stats import compare_paired, holm, significance_mark

__all__ = ["compare_runs", "format_comparison"]


def _default_names(paths: Sequence[Path]) -> list[str]:
    names = [p.name if p.is_dir() else (p.parent.name or p.name) for p in paths]
    if len(set(names)) < len(names):  # ambiguous: use the paths as given
        names = [str(p) for p in paths]
    return names


def compare_runs(paths: Sequence[str | Path], *, names: Sequence[str] | None = None, n_resamples: int = 10_000,
                 seed: int = 0) -> dict[str, Any]:
    """Compare runs pairwise; returns a JSON-serialisable dict with ``runs``, ``pairs`` and ``settings``."""
    if len(paths) < 2:
        raise CollectError("compare needs at least two runs (run directories or per_query.csv files)")
    paths = [Path(p) for p in paths]
    if names is not None:
        names = list(names)
        if len(names) != len(paths):
            raise CollectError(f"--names gives {len(names)} name(s) for {len(paths)} run(s)")
        if len(set(names)) != len(names):
            raise CollectError("--names: the names must be distinct")
    else:
        names = _default_names(paths)
    runs = [read_per_query(p) for p in paths]
    keys, aps, ranks = align_runs(runs, [f"{n} ({r.path})" for n, r in zip(names, runs)])
    tests, pairs = [], []
    for i, j in itertools.combinations(range(len(runs)), 2):
        t = compare_paired(aps[i], aps[j], n_resamples=n_resamples, seed=seed)
        tests.append((i, j, t))
    adjusted = holm([t.p_randomization for _, _, t in tests])
    for (i, j, t), ph in zip(tests, adjusted):
        pairs.append({"a": names[i], "b": names[j], "mean_a": t.mean_a, "mean_b": t.mean_b, "diff": t.diff,
                      "ci_low": t.ci_low, "ci_high": t.ci_high, "ci_level": t.ci_level,
                      "p_randomization": t.p_randomization, "p_wilcoxon": t.p_wilcoxon, "p_holm": float(ph),
                      "mark": significance_mark(float(ph)), "n": t.n})
    return {
        "runs": [{"name": n, "path": str(r.path), "sha256": r.sha256, "n_queries": r.n,
                  **{k: v for k, v in metrics_from_per_query(a, rk).items()}}
                 for n, r, a, rk in zip(names, runs, aps, ranks)],
        "pairs": pairs,
        "settings": {"n_resamples": n_resamples, "seed": seed, "ci_level": 0.95, "metric": "ap10",
                     "test": "two-sided paired randomization (sign-flip); Holm over the pairs"},
    }


def _p(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def format_comparison(result: dict[str, Any]) -> str:
    """The terminal table of :func:`compare_runs`' result."""
    lines = []
    runs = result["runs"]
    w = max(len(r["name"]) for r in runs)
    lines.append(f"{'run':<{w}}  {'queries':>7}  {'mAP@10':>7}  {'R@1':>6}  {'R@5':>6}  {'R@10':>6}")
    for r in runs:
        lines.append(f"{r['name']:<{w}}  {r['n_queries']:>7}  {r['map10']:>7.4f}  {r['r1']:>6.3f}  {r['r5']:>6.3f}  "
                     f"{r['r10']:>6.3f}")
    lines.append("")
    head = ["A", "B", "mean A-B", "95% CI", "p rand.", "p Wilcoxon", "p Holm", ""]
    rows = [head]
    for p in result["pairs"]:
        rows.append([p["a"], p["b"], f"{p['diff']:+.4f}", f"[{p['ci_low']:+.4f}, {p['ci_high']:+.4f}]",
                     _p(p["p_randomization"]), _p(p["p_wilcoxon"]), _p(p["p_holm"]), p["mark"]])
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    for r in rows:
        cells = [c.ljust(wd) if k < 2 else c.rjust(wd) for k, (c, wd) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    s = result["settings"]
    lines.append("")
    lines.append(f"per-query AP@10 paired over {result['pairs'][0]['n']} queries; CI: paired percentile bootstrap; "
                 f"p rand.: two-sided sign-flip test ({s['n_resamples']} resamples, seed {s['seed']}); Holm over "
                 f"{len(result['pairs'])} pair(s); * p<0.05, ** p<0.01, *** p<0.001 (Holm)")
    return "\n".join(lines) + "\n"
