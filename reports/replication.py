"""Claims that replicate: a recipe comparison measured on a discovery seed set and confirmed on a disjoint one.

The project publishes a claim (a planted effect, a fusion gain, a seed-noise figure) only when it holds on seeds it
was not found on (the design contract "Comparisons: replication", docs/replication.md). Each arm is trained on two disjoint seed sets fixed
before the run: the **discovery** set (default ``0 .. N-1``) and the **replication** set (default
``REPLICATION_START .. REPLICATION_START + N - 1``). For one comparison (arm A against arm B, runs x queries
matrices on each set) :func:`replication_record` keeps:

* ``discovery`` and ``replication``: the recipe test (:func:`reports.stats.recipe_test`) on each set alone, every
  field of :class:`reports.stats.RecipeTest` (``diff``, ``ci_low``, ``ci_high``, ``p_value``, ``n_runs_a``,
  ``n_runs_b``, ``seed_aware`` ...), ``significant`` (``p < alpha``), and the same test without a seed-variance
  floor as ``welch_p_value``, ``welch_ci_low``, ``welch_ci_high`` (equal to the above when no floor is given);
* ``replicated`` (:func:`is_replicated`): the replication's Δ has the discovery's sign **and** its CI excludes 0.
  ``None`` when there is no replication set;
* ``detected`` (:func:`is_detected`): the discovery is significant **and** replicated -- the only comparisons a
  table may call detected;
* ``pooled``: the recipe test over both sets together (2N runs per arm): the best *estimate* of the effect, not a
  confirmation (its data include the discovery).

Under H0 (no effect) a false "detected" needs two errors, ``alpha * alpha / 2`` (0.00125 at alpha 0.05) for one
comparison when they are independent. They are independent over seeds, but both sets are scored on the same test
queries: when the per-query differences dominate (``Q/n`` of the recipe test large against the seed terms), the
two sets share that draw of queries and the rate is higher (the CIs still cover query sampling, each on its own).
The replication answers "does it hold on other seeds?"; other queries need another test split. An effect with
power ``p`` per set is detected with probability about ``p^2`` (80% per set: 64%): the price of not publishing
claims such as the text-augmentation gain measured on main (+1.88 pp, p 0.016 on seeds 0-4), which reversed on
seeds 10-14 (−1.49 pp, p 0.12).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .stats import SeedVarianceFloor, recipe_test

__all__ = ["REPLICATION_START", "is_detected", "is_replicated", "replication_record", "seeds_text", "set_record",
           "verdict"]

#: First seed of the default replication set (discovery ``0 .. N-1``, replication ``100 .. 100 + N - 1``).
REPLICATION_START = 100


def set_record(runs_a, runs_b, *, seed_var_floor: SeedVarianceFloor | None = None, level: float = 0.95,
               alpha: float = 0.05) -> dict[str, Any]:
    """The recipe test of arm A against arm B on one seed set, as a dict: every :class:`RecipeTest` field,
    ``significant`` and the floor-free Welch ``welch_p_value`` / ``welch_ci_low`` / ``welch_ci_high``."""
    r = recipe_test(runs_a, runs_b, level=level, seed_var_floor=seed_var_floor).to_dict()
    w = r if seed_var_floor is None else recipe_test(runs_a, runs_b, level=level).to_dict()
    r.update(significant=bool(r["p_value"] is not None and r["p_value"] < alpha), welch_p_value=w["p_value"],
             welch_ci_low=w["ci_low"], welch_ci_high=w["ci_high"])
    return r


def is_replicated(discovery: Mapping[str, Any], replication: Mapping[str, Any] | None) -> bool | None:
    """True when ``replication``'s Δ has the sign of ``discovery``'s and its CI excludes 0; ``None`` without a
    replication set. A discovery Δ of exactly 0 has no sign to replicate: False."""
    if replication is None:
        return None
    d = float(discovery["diff"])
    excludes_zero = replication["ci_low"] > 0.0 or replication["ci_high"] < 0.0
    return bool(d != 0.0 and excludes_zero and np.sign(replication["diff"]) == np.sign(d))


def is_detected(discovery: Mapping[str, Any], replication: Mapping[str, Any] | None) -> bool:
    """The discovery is significant and :func:`is_replicated`."""
    return bool(discovery.get("significant")) and is_replicated(discovery, replication) is True


def replication_record(disc_a, disc_b, rep_a=None, rep_b=None, *,
                       floors: Mapping[str, SeedVarianceFloor | None] | None = None, level: float = 0.95,
                       alpha: float = 0.05) -> dict[str, Any]:
    """``discovery``, ``replication`` (``None`` when ``rep_a`` is None), ``replicated``, ``detected`` and
    ``pooled`` of arm A against arm B (runs x queries matrices per set, all over the same queries).

    ``floors``: the seed-variance floor of each set (``"discovery"``, ``"replication"``, ``"pooled"``; missing or
    ``None``: no floor), e.g. :func:`reports.stats.pooled_seed_variance` over every arm of the benchmark on that
    set, so that the two sets stay independent."""
    floors = dict(floors or {})
    kw = dict(level=level, alpha=alpha)
    discovery = set_record(disc_a, disc_b, seed_var_floor=floors.get("discovery"), **kw)
    replication = pooled = None
    if rep_a is not None:
        replication = set_record(rep_a, rep_b, seed_var_floor=floors.get("replication"), **kw)
        pooled = set_record(np.vstack([disc_a, rep_a]), np.vstack([disc_b, rep_b]),
                            seed_var_floor=floors.get("pooled"), **kw)
    return {"discovery": discovery, "replication": replication,
            "replicated": is_replicated(discovery, replication), "detected": is_detected(discovery, replication),
            "pooled": pooled if pooled is not None else discovery}


def verdict(record: Mapping[str, Any]) -> str:
    """The word a table prints for a comparison: ``detected`` (significant on discovery and replicated),
    ``not replicated`` (significant on discovery only), ``discovery only`` (significant, no replication set:
    pending), ``not detected``."""
    d = record["discovery"]
    if record.get("replication") is None:
        return "discovery only, pending replication" if d.get("significant") else "not detected"
    if record.get("detected"):
        return "detected"
    return "NOT replicated" if d.get("significant") else "not detected"


def seeds_text(seeds: Sequence[int]) -> str:
    """``0–4`` for a run of consecutive seeds, else ``0, 2, 5``."""
    s = list(seeds)
    if not s:
        return "none"
    if len(s) > 2 and s == list(range(s[0], s[0] + len(s))):
        return f"{s[0]}–{s[-1]}"
    return ", ".join(str(v) for v in s)
