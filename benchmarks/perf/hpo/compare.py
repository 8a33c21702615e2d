"""The comparison: every protocol against the 2022 reference over repetitions (:func:`compare`), and the ASHA
(grace period, reduction factor) sensitivity grid (:func:`sensitivity`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .protocols import Protocol, default_protocols
from .replay import ReplayResult, replay
from .table import Table

TARGET_TOLERANCE = 0.01  # "within 1 pp" of the 2022 protocol's best


def _spread(x: Sequence[float]) -> dict[str, float]:
    a = np.asarray([v for v in x if v is not None and math.isfinite(v)], dtype=float)
    if a.size == 0:
        return {"median": float("nan"), "q25": float("nan"), "q75": float("nan"), "min": float("nan"),
                "max": float("nan"), "n": 0}
    return {"median": float(np.median(a)), "q25": float(np.percentile(a, 25)), "q75": float(np.percentile(a, 75)),
            "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


def compare(table: Table, protocols: Sequence[Protocol], repetitions: int, *, first_seed: int = 0,
            tolerance: float = TARGET_TOLERANCE,
            log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, list[ReplayResult]]]:
    """Replay every protocol ``repetitions`` times; the first protocol is the reference (the 2022 protocol).

    Per repetition ``r`` (sampler seed ``first_seed + r`` for every protocol): the reference runs its full budget;
    target = its best - ``tolerance``; protocols without a trial budget get the reference's trial-epochs as their
    budget. Returns the summary (per protocol: reached, compute to target, ratios against the reference, final best)
    and the raw replays.
    """
    ref, others = protocols[0], list(protocols[1:])
    runs: dict[str, list[ReplayResult]] = {p.name: [] for p in protocols}
    per_rep: list[dict[str, Any]] = []
    for r in range(repetitions):
        seed = first_seed + r
        ref_run = replay(table, ref, seed)
        runs[ref.name].append(ref_run)
        target = ref_run.best - tolerance
        budget_e = float(ref_run.cum_epochs[-1])
        rec = {"seed": seed, "target": target, "reference_best": ref_run.best, "reference_budget_epochs": budget_e,
               "reference_budget_s": float(ref_run.cum_seconds[-1]), "protocols": {}}
        ref_cost = ref_run.cost_to_reach(target)
        assert ref_cost is not None  # the reference reaches its own best
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
    summary = {"reference": ref.name, "tolerance": tolerance, "repetitions": repetitions, "per_repetition": per_rep,
               "table_best": table.best, "protocols": {}}
    for p in protocols:
        recs = [rep["protocols"][p.name] for rep in per_rep]
        summary["protocols"][p.name] = {
            "sampler": p.sampler.get("kind"), "scheduler": p.scheduler, "patience": p.patience,
            "grace_period": p.grace_period if p.scheduler == "asha" else None,
            "reduction_factor": p.reduction_factor if p.scheduler == "asha" else None,
            "asha_impl": p.asha_impl if p.scheduler == "asha" else None,
            "reached": sum(x["reached"] for x in recs),
            "epochs_to_target": _spread([x["epochs_to_target"] for x in recs]),
            "seconds_to_target": _spread([x["seconds_to_target"] for x in recs]),
            "ratio_epochs": _spread([x["ratio_epochs"] for x in recs]),
            "ratio_seconds": _spread([x["ratio_seconds"] for x in recs]),
            "ratio_epochs_vs_reference_full_budget": _spread([
                rep["reference_budget_epochs"] / x["epochs_to_target"] if x["reached"] else None
                for rep, x in zip(per_rep, recs)]),
            "final_best": _spread([x["final_best"] for x in recs]),
            "trials": _spread([x["trials"] for x in recs]),
            "pruned": _spread([x["pruned"] for x in recs]),
        }
    return summary, runs


def _cost_record(run: ReplayResult, target: float, ref_cost: tuple[float, float]) -> dict[str, Any]:
    cost = run.cost_to_reach(target)
    return {"reached": cost is not None, "epochs_to_target": cost[0] if cost else None,
            "seconds_to_target": cost[1] if cost else None,
            "ratio_epochs": ref_cost[0] / cost[0] if cost else None,
            "ratio_seconds": ref_cost[1] / cost[1] if cost else None,
            "final_best": run.best, "trials": len(run.trials),
            "pruned": sum(t["state"] == "PRUNED" for t in run.trials),
            "spent_epochs": float(run.cum_epochs[-1]), "spent_seconds": float(run.cum_seconds[-1])}


def _fmt_cost(rec: Mapping[str, Any]) -> str:
    if not rec["reached"]:
        return f"not reached in {rec['spent_epochs']:.0f} epochs"
    return f"{rec['epochs_to_target']:.0f} epochs"


SENSITIVITY_GRACE = (1, 2, 3, 5)
SENSITIVITY_RF = (2, 3, 4)


def sensitivity(table: Table, repetitions: int, *, grace: Sequence[int] = SENSITIVITY_GRACE,
                reduction_factors: Sequence[int] = SENSITIVITY_RF, asha_impl: str = "ray",
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """How the ASHA protocols' compute ratio depends on ASHA's ``grace_period`` and ``reduction_factor``: every
    (grace, rf) pair for TPE + ASHA and random + ASHA, against the same 2022 reference and targets as :func:`compare`
    (same seeds). Grace periods at or past the table's last epoch are skipped (ASHA would stop nothing).

    Per cell: repetitions that reached the target, the median ratio over those (``ratio_epochs``), and the median
    over all repetitions with an unreached one counted as ratio 0 (``ratio_epochs_all``, the conservative figure)."""
    base = default_protocols(asha_impl=asha_impl)
    ref, tpe = base[0], base[1].sampler
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
        ratios = [rep["protocols"][key]["ratio_epochs"] or 0.0 for rep in summary["per_repetition"]]
        c.update(reached=s["reached"], ratio_epochs=s["ratio_epochs"], ratio_epochs_all=_spread(ratios),
                 final_best=s["final_best"])
    best = max(cells, key=lambda c: c["ratio_epochs_all"]["median"])
    return {"repetitions": repetitions, "grace_periods": sorted({g for g, _ in grid}),
            "reduction_factors": list(reduction_factors), "cells": cells,
            "best": {k: best[k] for k in ("sampler", "grace_period", "reduction_factor")} | {
                "ratio_epochs_all_median": best["ratio_epochs_all"]["median"]}}

