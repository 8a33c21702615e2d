"""Why early stopping works or fails on a table: rank correlations between rungs and the truth.

For every epoch ``e`` of the longest schedule and every shorter schedule length ``L``, over the table's
configurations: Spearman's rho and Kendall's tau between what a method sees there and the configurations' true
quality (:meth:`~benchmarks.perf.hpo.table.Table.truth`):

- ``seed_mean``: the seed mean of the values at that rung (the best a method could see with every seed);
- ``one_seed``: one seed's value at that rung against the truth of the *other* seeds (leave-one-out, so the
  seed's own noise does not count as signal), averaged over seeds: what a one-seed method sees.

``noise_ceiling`` is the same one-seed figure for the final epoch of the longest schedule: even a full run ranks
configurations only that well. ``rank_of_best`` is where the truly best configuration ranks (1 = first) by the
seed-mean value at each rung.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .table import Table


def _corr(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"spearman": float("nan"), "kendall": float("nan")}
    return {"spearman": float(spearmanr(x, y).statistic), "kendall": float(kendalltau(x, y).statistic)}


def _rung(table: Table, schedule: int, epoch: int) -> dict[str, Any]:
    n = table.max_epochs
    seeds = table.seeds
    vals = np.array([[c.curve(schedule, s).values[epoch - 1] for s in seeds] for c in table.configs])
    finals = np.array([[c.curve(n, s).final for s in seeds] for c in table.configs])
    truth = finals.mean(axis=1)
    out: dict[str, Any] = {"schedule": schedule, "epoch": epoch, "seed_mean": _corr(vals.mean(axis=1), truth)}
    if len(seeds) > 1:
        per = []
        for j in range(len(seeds)):
            others = np.delete(finals, j, axis=1).mean(axis=1)
            per.append(_corr(vals[:, j], others))
        out["one_seed"] = {k: float(np.nanmean([p[k] for p in per])) for k in ("spearman", "kendall")}
    order = np.argsort(-vals.mean(axis=1), kind="stable")
    out["rank_of_best"] = int(np.nonzero(order == int(np.argmax(truth)))[0][0]) + 1
    return out


def rank_correlations(table: Table) -> dict[str, Any]:
    """Rank correlations of every rung of the longest schedule and of every shorter schedule's final epoch with
    the truth (see the module docstring)."""
    n = table.max_epochs
    seeds = table.seeds
    finals = np.array([[c.curve(n, s).final for s in seeds] for c in table.configs])
    truth = finals.mean(axis=1)
    out: dict[str, Any] = {
        "configs": len(table.configs), "seeds": len(seeds), "max_epochs": n, "schedules": list(table.schedules),
        "epochs": [_rung(table, n, e) for e in range(1, n + 1)],
        "short_schedules": [_rung(table, s, s) for s in table.schedules if s != n],
        "truth": {"best": float(truth.max()), "median": float(np.median(truth)),
                  "top5_spread": float(np.sort(truth)[-1] - np.sort(truth)[-min(5, truth.size)])},
    }
    if len(seeds) > 1:
        sd = finals.std(axis=1, ddof=1)
        out["seed_sd_final"] = {"median": float(np.median(sd)), "mean": float(np.mean(sd)), "max": float(sd.max())}
        out["noise_ceiling"] = out["epochs"][-1]["one_seed"]
    return out
