"""The analysis behind ``python -m reports compare``: pairwise significance tests between runs, or between arms of
several seed runs, computed once into a JSON-serialisable result that :mod:`reports.compare` formats.

Arms: each positional argument is a one-run arm (a run directory holding ``per_query.csv``, or a ``per_query.csv``
file); ``--arm NAME=PATH[,PATH...]`` (repeatable) is an arm whose runs are seeds of one training recipe:
distinct seeds of one configuration, as each run folder's ``config.yaml`` records them (:func:`check_seed_arm`).
Positional arms come first, in argument order, then the ``--arm`` arms in theirs. Every run of every arm is paired by
``(query, target)`` (:func:`reports.collect.align_runs`; mismatched query sets are an error naming both runs and a
query only one has).

For every pair of arms ``(X, Y)`` in order (X-Y for X before Y) :func:`reports.stats.compare_arms` gives

* both arms with >= 2 runs: the **recipe test** (:func:`reports.stats.recipe_test`, ``seed_aware: true``):
  ``Delta = mean mAP@10(X runs) - mean mAP@10(Y runs)``, ``SE^2 = S_X^2/m + S_Y^2/k + Q/n`` (seed variance of each
  arm plus query sampling), Welch-Satterthwaite t, its two-sided p and CI;
* otherwise the **query-only** test (``seed_aware: false``) on the per-query AP@10 averaged over each arm's runs:
  mean difference, paired percentile bootstrap 95% CI, two-sided paired randomization (sign-flip) test and
  Wilcoxon signed-rank test (:func:`reports.stats.compare_paired`). It covers query sampling only.

``p_value`` is the p of the pair's test; ``p_holm`` its Holm adjustment over all pairs (:func:`reports.stats.holm`),
which the significance mark uses. This module imports no formatting module (``tests/reports/test_layers.py``).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .collect import (CollectError, align_runs, metrics_from_per_query, per_query_path, read_per_query,
                      recipe_differences, run_recipe)
from .stats import RecipeTest, compare_arms, holm, significance_mark

__all__ = ["ARM_SYNTAX", "check_seed_arm", "compare_runs"]

#: How an arm of seed runs is written on the command line (``--arm``).
ARM_SYNTAX = "NAME=PATH[,PATH...]"


def _default_names(paths: Sequence[Path]) -> list[str]:
    names = [p.name if p.is_dir() else (p.parent.name or p.name) for p in paths]
    if len(set(names)) < len(names):  # ambiguous: use the paths as given
        names = [str(p) for p in paths]
    return names


def _arm_arg(name: str, paths: Sequence[str | Path]) -> str:
    return f"--arm {name + '=' + ','.join(str(p) for p in paths)!r}"


def check_seed_arm(arg: str, paths: Sequence[Path]) -> None:
    """The runs of an arm must be distinct seeds of one configuration (:func:`reports.collect.run_recipe`, from
    each run folder's ``config.yaml``): a seed used twice (a copied run) or another configuration would make the
    recipe test's seed variance meaningless. :class:`CollectError` naming ``arg`` and the run folders otherwise."""
    recipes = []
    for p in paths:
        try:
            recipes.append(run_recipe(p))
        except CollectError as exc:
            raise CollectError(f"{arg}: {exc}") from None
    first = recipes[0]
    for r in recipes[1:]:
        if r.recipe != first.recipe:
            diff = "; ".join(recipe_differences(first, r)) or "their fingerprints differ"
            raise CollectError(f"{arg}: {first.run_dir} and {r.run_dir} are runs of different configurations "
                               f"({diff}): the runs of an arm must be seeds of one configuration")
    by_seed: dict[int, Path] = {}
    for r in recipes:
        if r.seed in by_seed:
            raise CollectError(f"{arg}: {by_seed[r.seed]} and {r.run_dir} are both seed {r.seed} of one "
                               "configuration (a copy, or the same run twice?): the runs of an arm must be distinct "
                               "seeds")
        by_seed[r.seed] = r.run_dir


def _finite(x):
    return x if not isinstance(x, float) or math.isfinite(x) else None


def compare_runs(paths: Sequence[str | Path] = (), *, names: Sequence[str] | None = None,
                 arms: Sequence[tuple[str, Sequence[str | Path]]] | None = None, n_resamples: int = 10_000,
                 seed: int = 0) -> dict[str, Any]:
    """Compare arms pairwise; returns a JSON-serialisable dict with ``runs``, ``arms``, ``pairs`` and ``settings``.

    ``paths`` are one-run arms (named by ``names``, else by their folder); ``arms`` are ``(name, [path, ...])``
    groups of seed runs of one recipe (:func:`reports.compare.parse_arm` parses the command-line form).
    """
    paths = [Path(p) for p in paths]
    arms = [(name, [Path(p) for p in ps]) for name, ps in (arms or [])]
    if names is not None:
        names = list(names)
        if len(names) != len(paths):
            hint = " (--names names the positional runs; an --arm names itself)" if arms else ""
            raise CollectError(f"--names gives {len(names)} name(s) for {len(paths)} run(s){hint}")
        if len(set(names)) != len(names):
            raise CollectError("--names: the names must be distinct")
    else:
        names = _default_names(paths)
    groups: list[tuple[str, list[Path]]] = [(n, [p]) for n, p in zip(names, paths)]
    for name, ps in arms:
        arg = _arm_arg(name, ps)
        if not name:
            raise CollectError(f"{arg}: empty arm name (expected {ARM_SYNTAX})")
        if not ps:
            raise CollectError(f"{arg}: no run paths (expected {ARM_SYNTAX})")
        if any(name == other for other, _ in groups):
            raise CollectError(f"{arg}: duplicate arm name {name!r} (every arm and positional run needs its own "
                               "name)")
        seen: dict[Path, Path] = {}
        for p in ps:
            try:
                f = per_query_path(p).resolve()
            except CollectError as exc:
                raise CollectError(f"{arg}: {exc}") from None
            if f in seen:
                raise CollectError(f"{arg}: {p} is listed twice (as {seen[f]} too): the runs of an arm must be "
                                   "distinct seeds")
            seen[f] = p
        if len(ps) > 1:
            check_seed_arm(arg, ps)
        groups.append((name, ps))
    if len(groups) < 2:
        raise CollectError("compare needs at least two runs (run directories or per_query.csv files) or arms "
                           f"(--arm {ARM_SYNTAX})")

    run_names, run_arm, run_paths = [], [], []
    for name, ps in groups:
        for i, p in enumerate(ps, start=1):
            run_names.append(name if len(ps) == 1 else f"{name}#{i}")
            run_arm.append(name)
            run_paths.append(p)
    runs = [read_per_query(p) for p in run_paths]
    keys, aps, ranks = align_runs(runs, [f"{n} ({r.path})" for n, r in zip(run_names, runs)])
    run_rows = [{"name": n, "arm": a, "path": str(r.path), "sha256": r.sha256, "n_queries": r.n,
                 **metrics_from_per_query(ap, rk)}
                for n, a, r, ap, rk in zip(run_names, run_arm, runs, aps, ranks)]

    arm_aps: list[list[np.ndarray]] = []
    arm_rows = []
    start = 0
    for name, ps in groups:
        rows = run_rows[start:start + len(ps)]
        arm_aps.append(aps[start:start + len(ps)])
        start += len(ps)
        maps = [r["map10"] for r in rows]
        arm_rows.append({"name": name, "n_runs": len(ps), "runs": [r["name"] for r in rows],
                         "n_queries": rows[0]["n_queries"], "map10": float(np.mean(maps)),
                         "map10_sd": float(np.std(maps, ddof=1)) if len(maps) > 1 else None,
                         **{k: float(np.mean([r[k] for r in rows])) for k in ("r1", "r5", "r10")}})

    tests = [(i, j, compare_arms(arm_aps[i], arm_aps[j], n_resamples=n_resamples, seed=seed))
             for i, j in itertools.combinations(range(len(groups)), 2)]
    adjusted = holm([t.p_value for _, _, t in tests])
    pairs = []
    for (i, j, t), ph in zip(tests, adjusted):
        pair = {"a": groups[i][0], "b": groups[j][0], "n_runs_a": t.n_runs_a, "n_runs_b": t.n_runs_b,
                "seed_aware": t.seed_aware, "method": t.method, "mean_a": t.mean_a, "mean_b": t.mean_b,
                "diff": t.diff, "ci_low": t.ci_low, "ci_high": t.ci_high, "ci_level": t.ci_level,
                "p_value": t.p_value, "p_randomization": None, "p_wilcoxon": None, "p_holm": float(ph),
                "mark": significance_mark(float(ph)), "n": t.n_queries, "seed_sd_a": t.seed_sd_a,
                "seed_sd_b": t.seed_sd_b}
        if isinstance(t, RecipeTest):
            try:
                mde = t.minimum_detectable_effect()
            except ValueError:  # no variance at all
                mde = None
            pair.update({k: _finite(getattr(t, k)) for k in ("t", "df", "se", "seed_var_a", "seed_var_b",
                                                              "noise_var_a", "noise_var_b", "query_var")})
            pair["mde"] = mde
        else:
            pair.update(p_randomization=t.p_randomization, p_wilcoxon=t.p_wilcoxon)
        pairs.append(pair)
    return {
        "runs": run_rows,
        "arms": arm_rows,
        "pairs": pairs,
        "settings": {"n_resamples": n_resamples, "seed": seed, "ci_level": 0.95, "metric": "ap10",
                     "test": "arms with >= 2 runs each: two-sided recipe t-test over seeds and queries "
                             "(Welch-Satterthwaite); otherwise two-sided paired randomization (sign-flip) over "
                             "queries, covering query sampling only; Holm over the pairs"},
    }
