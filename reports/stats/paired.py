"""Paired recipe comparisons: two arms whose runs are matched by training seed (common random numbers).

With split random streams, seed ``s`` gives the same initial weights and the same data order in every arm of an
ablation, and turning one augmentation off leaves the other augmentations' draws unchanged.  The run of arm A and
the run of arm B with seed ``s`` then share part of their training noise, and the difference of the two runs
does not contain it.  :func:`paired_recipe_test` uses the per-seed differences (plus the query term of
:mod:`reports.stats.recipe`); :func:`compare_seeded_arms` chooses it when both arms ran the same seeds, and the
unpaired :func:`reports.stats.recipe_test` otherwise.

* :func:`paired_recipe_test` -- the paired test below, a :class:`PairedRecipeTest`;
* :func:`paired_arrays`      -- the same, vectorised over stacked studies (simulations);
* :func:`compare_seeded_arms` -- the front door: paired when the arms' seed sets are equal (runs matched by seed),
  else :func:`reports.stats.compare_arms`.

The paired recipe test
----------------------
Data: ``m`` seeds; arm A's run and arm B's run with seed ``s`` are rows ``s`` of ``X_A`` and ``X_B`` (m x n,
the same ``n`` queries in the same order).  Model (the crossed model of :mod:`reports.stats.recipe` in each arm,
with the seed effects and the run x query noise of the two runs of one seed allowed to be correlated):

    x^A_{s,q} = mu^A_q + s^A_s + e^A_{s,q},        x^B_{s,q} = mu^B_q + s^B_s + e^B_{s,q},
    (s^A_s, s^B_s) independent over s, corr(s^A_s, s^B_s) = rho (the shared seed component),
    (e^A_{s,q}, e^B_{s,q}) independent over (s, q), any correlation between the arms,
    d_q = mu^A_q - mu^B_q   drawn from a query population with mean delta, variance sigma_d^2.

The per-seed, per-query difference ``D_{s,q} = x^A_{s,q} - x^B_{s,q}`` is

    D_{s,q} = d_q + u_s + f_{s,q},    u_s = s^A_s - s^B_s,    f_{s,q} = e^A_{s,q} - e^B_{s,q},

one arm of the crossed model with seed effect ``u_s ~ (0, tau_u^2)``, ``tau_u^2 = tau_A^2 + tau_B^2 - 2 rho tau_A
tau_B``, and run x query noise ``f ~ (0, omega_f^2)``.  The shared seed component cancels in ``u_s``: that is the
whole gain.  The estimate is the one of the unpaired test,

    Delta = mean_s(mAP^A_s) - mean_s(mAP^B_s) = mean_s(r_s),    r_s = mAP^A_s - mAP^B_s = mean_q D_{s,q},

and its variance over seeds and over the draw of the ``n`` queries is

    Var(Delta) = sigma_d^2 / n + (tau_u^2 + omega_f^2 / n) / m.

Estimators, exactly those of :mod:`reports.stats.recipe` applied to the one arm ``D``:

* ``S_D^2`` = sample variance (ddof 1) of the per-seed differences ``r_s``; it estimates ``tau_u^2 + omega_f^2/n``;
* ``omegahat_f^2 = sum e^2 / ((m - 1)(n - 1))`` from the two-way residuals of ``D``,
  ``e_{s,q} = D_{s,q} - Dbar_{s.} - Dbar_{.q} + Dbar_{..}``;
* query term: ``Dbar_{.q} = abar_q - bbar_q = d_q + ubar + fbar_{.q}``, so ``E var_q(Dbar_{.q}) = sigma_d^2 +
  omega_f^2 / m``, and ``Q = max(0, var_q(Dbar_{.q}) - omegahat_f^2 / m)`` estimates ``sigma_d^2``.  (The unpaired
  test subtracts ``(omegahat_A^2 + omegahat_B^2) / m``, which is right only when the arms' run x query noise is
  uncorrelated; the residuals of ``D`` estimate ``omega_f^2`` whatever that correlation.)

Then

    V = S_D^2 / m + Q / n,    SE = sqrt(V),    t = Delta / SE,
    df = V^2 / ((S_D^2/m)^2 / (m - 1) + (Q/n)^2 / (n - 1))       (Welch-Satterthwaite),

two-sided ``p = 2 P(T_df >= |t|)`` and CI ``Delta +- t_{df, (1 + level)/2} SE``.  With ``Q = 0`` this is the
paired t-test on the per-seed mAP differences; with one query it is the paired t-test on the run scores.
``V = 0`` (every seed gives the same difference at every query) is degenerate as in the unpaired test: ``p = 1``
and CI ``[Delta, Delta]`` when ``Delta = 0`` -- two arms whose runs are *identical*, e.g. an A/A comparison of one
recipe with itself on the same seeds --, else ``p = 0``.

When it is valid, and what it buys
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
* The pairs must be independent across seeds (seed ``s`` of both arms independent of seed ``s'``), and the runs
  matched by seed -- the test makes no assumption on how the two runs of one seed are related.  It is the
  one-sample t-test of the ``r_s`` plus the query term, valid for any ``rho`` and any (unequal) seed variances of
  the arms.
* Without split streams (seed ``s`` draws different weights or data order in the two arms) ``rho ~ 0``: the test
  stays valid, since the pairs are still independent, but it is less powerful than the unpaired test: its
  ``S_D^2 / m`` has the expectation of the unpaired ``S_A^2/m + S_B^2/m`` but ``m - 1`` degrees of freedom
  instead of up to ``2(m - 1)``.  With equal seed variances and no query term the paired CI is the narrower one
  when ``1 - rho < (t_{2m-2} / t_{m-1})^2`` (95%): ``rho > 0.89`` with 2 seeds, ``0.58`` with 3, ``0.31`` with 5,
  ``0.14`` with 10.  The choice between the tests is made by the design (the arms share their seeds), never by
  the observed correlation: choosing the test after seeing which gives the smaller p would inflate the error rate.
  :attr:`PairedRecipeTest.correlation` reports the measured between-arm correlation of the run means so a reader
  can see whether the pairing helped.
* An A/A check of the paired design must use arms whose runs differ (e.g. one recipe with different augmentation
  draws, or the data-order stream split from the augmentation stream): one recipe on the same seeds gives
  identical runs and the degenerate ``Delta = 0, p = 1``.

Measured (``tests/reports/test_paired.py``: 2,000 simulated studies per design, 5 seeds, 200 queries, run-mAP
seed sd 2.45 pp, query term 17% (rho 0) to 68% (rho 0.9) of ``V``): size 0.060, 0.063, 0.045 at ``rho`` = 0,
0.5, 0.9 and coverage of the 95% CI 0.950, 0.942, 0.950 for a planted effect; with ``rho = 0.9`` a planted effect
of 3 pp (1.2 seed sd) is found in 92% of studies by the paired test and in 38% by the unpaired test.  Over 20,000
studies the size at ``rho`` = 0 and 0.5 is 0.058: slightly liberal, as the unpaired test is in some designs
(:mod:`reports.stats.recipe`, "Limits"), because the Welch-Satterthwaite df grows when ``S_D^2`` happens to be
small; with ``df = m - 1`` the test would be far too conservative (0.03).  Without a query term it is the exact
paired t-test.

References: "Student" (1908) and every text on the paired t-test; common random numbers as a variance-reduction
device: A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill 2015, section 11.2; variance
components and Welch-Satterthwaite: see :mod:`reports.stats.recipe`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .common import Difference, _check_level, _welch_satterthwaite
from .recipe import QueryOnlyTest, RecipeTest, _as_arms, _finite_or_none, _t_inference, compare_arms

__all__ = ["PAIRED_METHOD", "PairedRecipeTest", "compare_seeded_arms", "match_seeds", "paired_arrays",
           "paired_recipe_test"]

#: ``method`` of a :class:`PairedRecipeTest`.
PAIRED_METHOD = "paired recipe t-test over seeds and queries (runs matched by seed, Welch-Satterthwaite)"

#: ``paired`` choices of :func:`compare_seeded_arms`.
PAIRED_CHOICES = ("auto", "never", "always")


@dataclass(frozen=True)
class PairedRecipeTest(Difference):
    """Result of :func:`paired_recipe_test`: arm A against arm B, ``m`` runs each matched by seed, ``n`` queries.

    Attributes
    ----------
    mean_a, mean_b : mean over the arm's runs of the run's mean score (mAP).
    diff : ``Delta = mean_a - mean_b`` (the mean of the per-seed differences ``r_s``).
    ci_low, ci_high, ci_level : ``Delta -+ t_{df, (1 + level)/2} * se``.
    p_value : two-sided ``2 * P(T_df >= |t|)``.
    t, df, se : ``t = Delta / se``, Welch-Satterthwaite df, ``se = sqrt(S_D^2/m + Q/n)``; ``df`` NaN and ``t`` 0 or
        +-inf when ``V = 0``.
    diff_sd : ``S_D``, sample sd (ddof 1) of the per-seed differences of run mAPs.
    seed_sd_a, seed_sd_b : sample sd (ddof 1) of each arm's run mAPs (as in :class:`RecipeTest`).
    correlation : Pearson correlation over seeds of the two arms' run mAPs (the measured between-arm correlation);
        NaN with fewer than 3 seeds or when an arm's run mAPs are all equal.
    seed_var : ``max(0, S_D^2 - omegahat_f^2 / n)``, the seed variance of the difference ``tau_u^2``.
    noise_var : ``omegahat_f^2``, run x query noise variance of the per-seed differences (two-way residuals).
    query_var : ``Q``, estimate of ``sigma_d^2``, the variance of per-query differences over queries.
    n_runs_a, n_runs_b : ``m`` (both arms), n_queries : ``n``.
    seeds : the matched seeds in the order of the pairs (empty when the runs were matched by position).
    seed_aware, paired : always ``True``.
    method : :data:`PAIRED_METHOD`.
    """

    p_value: float
    t: float
    df: float
    se: float
    diff_sd: float
    seed_sd_a: float
    seed_sd_b: float
    correlation: float
    seed_var: float
    noise_var: float
    query_var: float
    n_runs_a: int
    n_runs_b: int
    n_queries: int
    seeds: tuple = ()
    seed_aware: bool = True
    paired: bool = True
    method: str = PAIRED_METHOD

    def to_dict(self) -> dict:
        """Plain ``dict`` of the fields (``seeds`` a list); non-finite floats become ``None``."""
        out = {k: _finite_or_none(v) for k, v in asdict(self).items()}
        out["seeds"] = list(self.seeds)
        return out


def paired_arrays(xa: np.ndarray, xb: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """The paired recipe test, vectorised over stacked studies: ``xa``, ``xb`` of shape (..., m, n), row ``s`` of
    both the runs of one seed.  Every entry of the result has the leading shape ``(...)``; the formulas are those
    of the module docstring.  :func:`paired_recipe_test` is this function on one study."""
    if xa.shape != xb.shape:
        raise ValueError(f"the paired test needs arms of equal shape (seeds x queries), got {xa.shape} and {xb.shape}")
    m, n = xa.shape[-2], xa.shape[-1]
    if m < 2 or n < 2:
        raise ValueError(f"the paired test needs >= 2 seeds and >= 2 queries, got m={m}, n={n}")
    d = xa - xb  # D_{s,q}
    run_a, run_b = xa.mean(axis=-1), xb.mean(axis=-1)  # run mAPs
    r = d.mean(axis=-1)  # r_s, the per-seed differences
    diff = r.mean(axis=-1)  # Delta
    s2d = r.var(axis=-1, ddof=1)  # S_D^2
    col = d.mean(axis=-2)  # Dbar_{.q}
    res = d - r[..., :, None] - col[..., None, :] + diff[..., None, None]
    w2 = np.sum(res**2, axis=(-2, -1)) / ((m - 1) * (n - 1))  # omegahat_f^2
    q = np.maximum(0.0, col.var(axis=-1, ddof=1) - w2 / m)  # Q
    c = (s2d / m, q / n)
    se = np.sqrt(c[0] + c[1])
    df = _welch_satterthwaite(c, (m - 1, n - 1))

    ca, cb = run_a - run_a.mean(axis=-1, keepdims=True), run_b - run_b.mean(axis=-1, keepdims=True)
    saa, sbb, sab = np.sum(ca**2, axis=-1), np.sum(cb**2, axis=-1), np.sum(ca * cb, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where((m >= 3) & (saa > 0) & (sbb > 0), sab / np.sqrt(saa * sbb), np.nan)

    t, df, p, half = _t_inference(diff, se, df, xa, xb, level)
    return {
        "mean_a": run_a.mean(axis=-1), "mean_b": run_b.mean(axis=-1), "diff": diff, "ci_low": diff - half,
        "ci_high": diff + half, "p_value": p, "t": t, "df": df, "se": se, "diff_sd": np.sqrt(s2d),
        "seed_sd_a": run_a.std(axis=-1, ddof=1), "seed_sd_b": run_b.std(axis=-1, ddof=1), "correlation": corr,
        "seed_var": np.maximum(0.0, s2d - w2 / n), "noise_var": w2, "query_var": q,
    }  # fmt: skip


def paired_recipe_test(runs_a, runs_b, *, level: float = 0.95, seeds: Sequence[int] = ()) -> PairedRecipeTest:
    r"""Seed- and query-aware comparison of two recipes whose runs are matched by seed (row ``s`` of both arms).

    ``runs_a``, ``runs_b``: ``m >= 2`` runs each (sequences of 1-D per-query score arrays, or 2-D arrays, seeds x
    queries), over the same ``n >= 2`` queries, run ``s`` of A trained with the same seed as run ``s`` of B
    (:func:`compare_seeded_arms` matches them by seed).  With ``r_s = mAP^A_s - mAP^B_s``, ``D = X_A - X_B``:

        Delta = mean_s r_s,    S_D^2 = var_s(r_s),    omegahat_f^2 = two-way residual variance of D,
        Q     = max(0, var_q(mean_s D_{s,q}) - omegahat_f^2 / m)
        V     = S_D^2 / m + Q / n,    t = Delta / sqrt(V),    df = Welch-Satterthwaite of (S_D^2/m, Q/n)
        p     = 2 P(T_df >= |t|),    CI = Delta -+ t_{df, (1+level)/2} sqrt(V)

    which estimates ``Var(Delta) = sigma_d^2/n + (tau_u^2 + omega_f^2/n)/m`` (module docstring).  ``seeds``: the
    seeds of the pairs, recorded in the result.

    Raises ``ValueError`` when the arms differ in their number of runs or queries (the runs cannot be paired), for
    fewer than 2 seeds (the variance of the differences cannot be estimated: use the unpaired
    :func:`reports.stats.compare_arms`), fewer than 2 queries, or invalid scores.
    """
    xa, xb = _as_arms(runs_a, runs_b)
    level = _check_level(level)
    if xa.shape[0] != xb.shape[0]:
        raise ValueError(f"the paired test needs one run per seed in each arm: runs_a has {xa.shape[0]} runs, "
                         f"runs_b has {xb.shape[0]}; use the unpaired recipe_test (or compare_seeded_arms)")
    if xa.shape[0] < 2:
        raise ValueError(f"the paired test needs at least 2 seeds (pairs of runs) to estimate the variance of the "
                         f"per-seed differences, got {xa.shape[0]}")
    if xa.shape[1] < 2:
        raise ValueError(f"the paired test needs at least 2 queries, got {xa.shape[1]}")
    seeds = tuple(seeds)
    if seeds and len(seeds) != xa.shape[0]:
        raise ValueError(f"seeds has {len(seeds)} entries for {xa.shape[0]} pairs of runs")
    r = {key: float(val) for key, val in paired_arrays(xa, xb, level).items()}
    return PairedRecipeTest(ci_level=level, n_runs_a=int(xa.shape[0]), n_runs_b=int(xb.shape[0]),
                            n_queries=int(xa.shape[1]), seeds=seeds, **r)


def match_seeds(seeds_a: Sequence | None, seeds_b: Sequence | None) -> tuple[list[int], list[int], list] | None:
    """How to pair two arms' runs by seed: ``(order_a, order_b, seeds)`` -- run ``order_a[i]`` of A and run
    ``order_b[i]`` of B have seed ``seeds[i]``, seeds ascending -- or ``None`` when the runs cannot be paired:
    a seed list is missing, a seed is ``None``, an arm repeats a seed, or the arms' seed sets differ."""
    if seeds_a is None or seeds_b is None:
        return None
    sa, sb = list(seeds_a), list(seeds_b)
    if any(s is None for s in sa + sb) or len(set(sa)) != len(sa) or len(set(sb)) != len(sb) or set(sa) != set(sb):
        return None
    order = sorted(sa)
    return [sa.index(s) for s in order], [sb.index(s) for s in order], order


def compare_seeded_arms(runs_a, runs_b, *, seeds_a: Sequence | None = None, seeds_b: Sequence | None = None,
                        paired: str = "auto", n_resamples: int = 10_000, seed: int = 0, level: float = 0.95,
                        seed_var_floor=None) -> PairedRecipeTest | RecipeTest | QueryOnlyTest:
    """Compare two arms of runs, paired by training seed when the design allows it.

    ``seeds_a``, ``seeds_b``: the training seed of each run (in the order of ``runs_a``, ``runs_b``).
    ``paired``:

    * ``"auto"``: :func:`paired_recipe_test` when both arms ran the same set of >= 2 distinct seeds (runs matched
      by seed, :func:`match_seeds`), else :func:`reports.stats.compare_arms` (the unpaired recipe test, or the
      query-only test for a one-run arm);
    * ``"never"``: always :func:`reports.stats.compare_arms`;
    * ``"always"``: :func:`paired_recipe_test`, or ``ValueError`` saying why the runs cannot be paired.

    The caller decides that the arms differ only in the compared keys (e.g. :mod:`reports.analysis`); the choice
    depends on the seeds only, never on the scores.  ``seed_var_floor`` applies to the unpaired test only (the
    paired test has no per-arm seed variance to floor).
    """
    if paired not in PAIRED_CHOICES:
        raise ValueError(f"paired must be one of {', '.join(PAIRED_CHOICES)}, got {paired!r}")
    xa, xb = _as_arms(runs_a, runs_b)
    for name, seeds, x in (("seeds_a", seeds_a, xa), ("seeds_b", seeds_b, xb)):
        if seeds is not None and len(seeds) != x.shape[0]:
            raise ValueError(f"{name} has {len(seeds)} seeds for {x.shape[0]} runs")
    if paired != "never":
        match = match_seeds(seeds_a, seeds_b)
        if match is not None and len(match[2]) >= 2:
            ia, ib, seeds = match
            return paired_recipe_test(xa[ia], xb[ib], level=level, seeds=seeds)
        if paired == "always":
            why = ("fewer than 2 seeds" if match is not None else
                   "the arms' seeds are missing, repeated or not the same set")
            raise ValueError(f"paired='always' but the runs cannot be paired by seed: {why} "
                             f"(seeds_a={seeds_a!r}, seeds_b={seeds_b!r})")
    return compare_arms(xa, xb, n_resamples=n_resamples, seed=seed, level=level, seed_var_floor=seed_var_floor)
