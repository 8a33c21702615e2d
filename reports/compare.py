"""``python -m reports compare``: the command line's arms (:func:`parse_arm`) and the terminal tables
(:func:`format_comparison`) of a comparison that :func:`reports.comparison.compare_runs` computed (the tests, what
they cover and the JSON fields are described there). This module computes no statistics.
"""

from __future__ import annotations

import math
from typing import Any

from .collect import CollectError
from .comparison import ARM_SYNTAX
from .render import text_table

__all__ = ["format_comparison", "parse_arm"]


def parse_arm(text: str) -> tuple[str, list[str]]:
    """``"NAME=PATH[,PATH...]"`` -> ``(NAME, [PATH, ...])``; :class:`CollectError` naming the argument otherwise."""
    where = f"--arm {text!r}"
    if "=" not in text:
        raise CollectError(f"{where}: no '=' (expected {ARM_SYNTAX}, e.g. --arm base=runs/s0,runs/s1,runs/s2)")
    name, _, rest = text.partition("=")
    name = name.strip()
    if not name:
        raise CollectError(f"{where}: empty arm name before '=' (expected {ARM_SYNTAX})")
    if not rest.strip():
        raise CollectError(f"{where}: no run paths after '=' (expected {ARM_SYNTAX})")
    paths = [p.strip() for p in rest.split(",")]
    if not all(paths):
        raise CollectError(f"{where}: empty path in the list (a stray comma?) (expected {ARM_SYNTAX})")
    return name, paths


def _p(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def format_comparison(result: dict[str, Any]) -> str:
    """The terminal tables of :func:`compare_runs`' result."""
    arms = result.get("arms") or [{**r, "n_runs": 1, "map10_sd": None} for r in result["runs"]]
    if all(a["n_runs"] == 1 for a in arms):
        return _format_single_runs(result)
    lines = []
    rows = [["arm", "runs", "queries", "mAP@10", "seed sd", "R@1", "R@5", "R@10"]]
    for a in arms:
        rows.append([a["name"], str(a["n_runs"]), str(a["n_queries"]), f"{a['map10']:.4f}",
                     "-" if a["map10_sd"] is None else f"{a['map10_sd']:.4f}", f"{a['r1']:.3f}", f"{a['r5']:.3f}",
                     f"{a['r10']:.3f}"])
    lines += text_table(rows, "lrrrrrrr")
    lines.append("")
    rows = [["A", "B", "runs", "mean A-B", "95% CI", "p", "p Holm", "", "test"]]
    for p in result["pairs"]:
        test = (f"recipe t, df {p['df']:.1f}" if p["df"] is not None else "recipe t") if p["seed_aware"] \
            else "sign-flip, queries only"
        rows.append([p["a"], p["b"], f"{p['n_runs_a']}v{p['n_runs_b']}", f"{p['diff']:+.4f}",
                     f"[{p['ci_low']:+.4f}, {p['ci_high']:+.4f}]", _p(p["p_value"]), _p(p["p_holm"]), p["mark"],
                     test])
    lines += text_table(rows, "llrrrrrll")
    s = result["settings"]
    lines.append("")
    lines.append(f"mean A-B: difference of the arms' mean mAP@10 over the {result['pairs'][0]['n']} shared queries.")
    for p in result["pairs"]:
        if p["seed_aware"]:
            df = "" if p["df"] is None else f", df {p['df']:.1f}"
            mde = "" if p.get("mde") is None else f"; detectable with 80% power at these seed counts: " \
                                                   f"|diff| >= {p['mde']:.4f}"
            lines.append(f"{p['a']} vs {p['b']}: seed-aware recipe t-test over seeds and queries "
                         f"(Welch-Satterthwaite{df}); seed sd {p['a']} {p['seed_sd_a']:.4f} ({p['n_runs_a']} runs), "
                         f"{p['b']} {p['seed_sd_b']:.4f} ({p['n_runs_b']} runs){mde}")
        else:
            one = [x for x, n in ((p["a"], p["n_runs_a"]), (p["b"], p["n_runs_b"])) if n == 1]
            lines.append(f"{p['a']} vs {p['b']}: covers query sampling only ({' and '.join(one)} "
                         f"{'has' if len(one) == 1 else 'have'} one run): two-sided sign-flip test on per-query "
                         f"AP@10 averaged over each arm's runs ({s['n_resamples']} resamples, seed {s['seed']}), "
                         "paired bootstrap CI; not training (seed) variance")
    lines.append(f"Holm over {len(result['pairs'])} pair(s); * p<0.05, ** p<0.01, *** p<0.001 (Holm)")
    return "\n".join(lines) + "\n"


def _format_single_runs(result: dict[str, Any]) -> str:
    """One run per arm: the run table and the query-level tests (the format of single-run comparisons)."""
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
    lines += text_table(rows, "llrrrrrr")
    s = result["settings"]
    lines.append("")
    lines.append(f"per-query AP@10 paired over {result['pairs'][0]['n']} queries; CI: paired percentile bootstrap; "
                 f"p rand.: two-sided sign-flip test ({s['n_resamples']} resamples, seed {s['seed']}); Holm over "
                 f"{len(result['pairs'])} pair(s); * p<0.05, ** p<0.01, *** p<0.001 (Holm)")
    lines.append("one run per arm: these tests cover query sampling only, not training (seed) variance; to compare "
                 "recipes give each arm several seeds: --arm NAME=RUN,RUN,...")
    return "\n".join(lines) + "\n"
