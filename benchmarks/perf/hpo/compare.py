"""The comparison: every protocol against the 2022 reference over repetitions, judged by the truth
(:func:`compare`), the headline (:func:`headline`), regret curves (:func:`regret_curves`) and the ASHA
(grace period, reduction factor) sensitivity grid (:func:`sensitivity`).

Per repetition ``r`` (sampler seed ``first_seed + r`` for every protocol, the same seed assignment of runs): the
2022 protocol runs its full budget (110 trials); its final incumbent's true quality is the **target**. Every other
protocol may spend the reference's trial-epochs. A protocol's **compute to target** is the trial-epochs (and
seconds) spent when its incumbent's true quality reached the target and stayed there until the end of its run
(None: not reached); the reference's own compute is measured the same way. **Ratio** = reference compute /
protocol compute (> 1: less compute).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .protocols import Protocol, harness_protocols, reference_protocol
from .replay import ReplayResult, replay
from .table import Table


def _spread(x: Sequence[float | None]) -> dict[str, float]:
    a = np.asarray([v for v in x if v is not None and not (isinstance(v, float) and math.isnan(v))], dtype=float)
    if a.size == 0:
        return {"median": float("nan"), "q25": float("nan"), "q75": float("nan"), "min": float("nan"),
                "max": float("nan"), "n": 0}
    return {"median": float(np.median(a)), "q25": float(np.percentile(a, 25)), "q75": float(np.percentile(a, 75)),
            "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


def compare(table: Table, protocols: Sequence[Protocol], repetitions: int, *, first_seed: int = 0,
            log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, list[ReplayResult]]]:
    """Replay every protocol ``repetitions`` times; the first protocol is the reference (the 2022 protocol).
    Returns the summary (per protocol: reached, compute to target, ratios, final true quality) and the replays."""
    ref, others = protocols[0], list(protocols[1:])
    runs: dict[str, list[ReplayResult]] = {p.name: [] for p in protocols}
    per_rep: list[dict[str, Any]] = []
    for r in range(repetitions):
        seed = first_seed + r
        ref_run = replay(table, ref, seed)
        runs[ref.name].append(ref_run)
        target = ref_run.final_truth
        budget_e = float(ref_run.cum_epochs[-1])
        rec = {"seed": seed, "target": target, "target_test": ref_run.final_test, "reference_best_seen": ref_run.best,
               "reference_budget_epochs": budget_e, "reference_budget_s": float(ref_run.cum_seconds[-1]),
               "protocols": {}}
        ref_cost = ref_run.cost_to_reach(target)
        assert ref_cost is not None  # the reference ends at its own final incumbent
        rec["protocols"][ref.name] = _cost_record(ref_run, target, ref_cost)
        for p in others:
            if p.max_trials is None and p.max_epochs_budget is None:
                p = dataclasses.replace(p, max_epochs_budget=budget_e)
            run = replay(table, p, seed)
            runs[p.name].append(run)
            rec["protocols"][p.name] = _cost_record(run, target, ref_cost)
        per_rep.append(rec)
        log(f"    repetition {r + 1}/{repetitions} (seed {seed}): target {target:.4f}; " + "; ".join(
            f"{name.split(' (')[0]}: {_fmt_cost(v)}" for name, v in rec["protocols"].items()))
    summary: dict[str, Any] = {
        "reference": ref.name, "repetitions": repetitions, "per_repetition": per_rep,
        "target": "the 2022 protocol's final incumbent's true quality (seed-mean final val mAP@10)",
        "table_best_truth": table.best_truth, "table_best": table.best, "protocols": {}}
    for p in protocols:
        recs = [rep["protocols"][p.name] for rep in per_rep]
        summary["protocols"][p.name] = {
            **p.describe(),
            "reached": sum(x["reached"] for x in recs),
            "epochs_to_target": _spread([x["epochs_to_target"] for x in recs]),
            "seconds_to_target": _spread([x["seconds_to_target"] for x in recs]),
            "ratio_epochs": _spread([x["ratio_epochs"] for x in recs]),
            "ratio_epochs_all": _spread([x["ratio_epochs"] or 0.0 for x in recs]),
            "ratio_seconds": _spread([x["ratio_seconds"] for x in recs]),
            "first_reach_epochs": _spread([x["first_reach_epochs"] for x in recs]),
            "final_truth": _spread([x["final_truth"] for x in recs]),
            "final_test": _spread([x["final_test"] for x in recs]),
            "final_regret": _spread([table.best_truth - x["final_truth"] for x in recs]),
            "final_best_seen": _spread([x["final_best_seen"] for x in recs]),
            "trials": _spread([x["trials"] for x in recs]),
            "pruned": _spread([x["pruned"] for x in recs]),
            "spent_epochs": _spread([x["spent_epochs"] for x in recs]),
            "notes": sorted({n for run in runs[p.name] for n in run.notes})[:5],
        }
    return summary, runs


def _cost_record(run: ReplayResult, target: float, ref_cost: tuple[float, float]) -> dict[str, Any]:
    cost = run.cost_to_reach(target)
    first = run.cost_to_reach(target, stay=False)
    return {"reached": cost is not None, "epochs_to_target": cost[0] if cost else None,
            "seconds_to_target": cost[1] if cost else None,
            "ratio_epochs": ref_cost[0] / cost[0] if cost else None,
            "ratio_seconds": ref_cost[1] / cost[1] if cost else None,
            "first_reach_epochs": first[0] if first else None,
            "final_truth": run.final_truth, "final_test": run.final_test, "final_best_seen": run.best,
            "trials": len(run.trials), "pruned": sum(t["state"] == "PRUNED" for t in run.trials),
            "spent_epochs": float(run.cum_epochs[-1]), "spent_seconds": float(run.cum_seconds[-1])}


def _fmt_cost(rec: Mapping[str, Any]) -> str:
    if not rec["reached"]:
        return f"not reached in {rec['spent_epochs']:.0f} epochs"
    return f"{rec['epochs_to_target']:.0f} epochs"


def headline(summary: Mapping[str, Any], default: str | None = None) -> dict[str, Any]:
    """``{speedup_vs_2022, speedup_vs_best_stock, best_stock, reached, repetitions}`` for the default protocol
    (medians over repetitions, with IQR and minimum beside them).

    Conventions, both conservative for the default: a repetition in which the default misses the target counts as
    ratio 0; a stock peer that misses it is charged the trial-epochs it spent (its whole budget, a lower bound on
    what it would need). The best stock peer is the one with the lowest median compute so charged."""
    protos = summary["protocols"]
    default = default or next((k for k, v in protos.items() if v.get("default")), None)
    if default is None:
        return {}
    per = summary["per_repetition"]

    def cost(rep, name):
        x = rep["protocols"][name]
        return x["epochs_to_target"] if x["reached"] else x["spent_epochs"]

    def spread(xs):
        return {"median": float(np.median(xs)), "iqr": [float(np.percentile(xs, 25)), float(np.percentile(xs, 75))],
                "min": float(np.min(xs))}

    stock = [k for k, v in protos.items() if v.get("group") == "stock"]
    best_stock = min(stock, key=lambda k: (float(np.median([cost(rep, k) for rep in per])), k)) if stock else None
    vs_ref = spread([rep["protocols"][default]["ratio_epochs"] or 0.0 for rep in per])
    vs_stock = spread([cost(rep, best_stock) / rep["protocols"][default]["epochs_to_target"]
                       if rep["protocols"][default]["reached"] else 0.0 for rep in per]) if best_stock else None
    return {"protocol": default, "speedup_vs_2022": vs_ref["median"], "speedup_vs_2022_iqr": vs_ref["iqr"],
            "speedup_vs_2022_min": vs_ref["min"],
            "speedup_vs_best_stock": vs_stock["median"] if vs_stock else None,
            "speedup_vs_best_stock_iqr": vs_stock["iqr"] if vs_stock else None,
            "speedup_vs_best_stock_min": vs_stock["min"] if vs_stock else None,
            "best_stock": best_stock, "reached": int(protos[default]["reached"]),
            "repetitions": int(summary["repetitions"])}


def regret_curves(runs: Mapping[str, Sequence[ReplayResult]], best_truth: float,
                  grid: np.ndarray | None = None) -> dict[str, Any]:
    """Median and IQR over repetitions of the regret (table's best true quality - the incumbent's) against
    trial-epochs, on a log-spaced grid."""
    if grid is None:
        hi = max(float(r.cum_epochs[-1]) for rs in runs.values() for r in rs)
        grid = np.unique(np.round(np.geomspace(1, hi, 40)))
    out: dict[str, Any] = {"epochs": [float(x) for x in grid], "protocols": {}}
    for name, rs in runs.items():
        reg = np.vstack([best_truth - r.truth_at(grid) for r in rs])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: before any protocol's first job
            out["protocols"][name] = {
                "median": [None if math.isnan(v) else float(v) for v in np.nanmedian(reg, axis=0)]
                if reg.size else [],
                "q25": [None if math.isnan(v) else float(v) for v in np.nanpercentile(reg, 25, axis=0)],
                "q75": [None if math.isnan(v) else float(v) for v in np.nanpercentile(reg, 75, axis=0)]}
    return out


SENSITIVITY_GRACE = (1, 2, 3, 5)
SENSITIVITY_RF = (2, 3, 4)


def sensitivity(table: Table, repetitions: int, *, grace: Sequence[int] = SENSITIVITY_GRACE,
                reduction_factors: Sequence[int] = SENSITIVITY_RF, asha_impl: str = "ray",
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """How the harness's stopping-ASHA protocols depend on ``grace_period`` and ``reduction_factor``: every
    (grace, rf) pair for TPE + ASHA and random + ASHA, against the same 2022 reference and targets as :func:`compare`
    (same seeds). Grace periods at or past the table's last epoch are skipped (ASHA would stop nothing).

    Per cell: repetitions that reached the target, the median ratio over those (``ratio_epochs``), and the median
    over all repetitions with an unreached one counted as ratio 0 (``ratio_epochs_all``, the conservative figure)."""
    ref = reference_protocol()
    tpe = harness_protocols(asha_impl=asha_impl)[0].sampler
    grid = [(g, rf) for g in grace for rf in reduction_factors if g < table.max_epochs]
    samplers = (("TPE", tpe), ("random", {"kind": "random", "seed": 0}))
    cells = [{"sampler": name, "grace_period": g, "reduction_factor": rf,
              "protocol": Protocol(f"{name} + ASHA (grace {g}, rf {rf})", smp, "asha", grace_period=g,
                                   reduction_factor=rf, max_trials=None, asha_impl=asha_impl)}
             for g, rf in grid for name, smp in samplers]
    log(f"  ASHA sensitivity: {len(grid)} (grace, rf) pairs x 2 samplers, {repetitions} repetitions")
    summary, _ = compare(table, [ref] + [c["protocol"] for c in cells], repetitions, log=lambda m: None)
    for c in cells:
        key = c.pop("protocol").name
        s = summary["protocols"][key]
        c.update(reached=s["reached"], ratio_epochs=s["ratio_epochs"], ratio_epochs_all=s["ratio_epochs_all"],
                 final_truth=s["final_truth"])
    best = max(cells, key=lambda c: c["ratio_epochs_all"]["median"])
    return {"repetitions": repetitions, "grace_periods": sorted({g for g, _ in grid}),
            "reduction_factors": list(reduction_factors), "cells": cells,
            "best": {k: best[k] for k in ("sampler", "grace_period", "reduction_factor")} | {
                "ratio_epochs_all_median": best["ratio_epochs_all"]["median"]}}
