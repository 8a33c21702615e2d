"""The recipe comparison of reports.stats (arms of seed runs), checked against known answers.

* hand-derived and exact-fraction (naive loop) references for every estimated quantity,
* simulations with known variance components (x_{r,q} = mu_q^arm + s_r + e_{r,q}): size under H0
  for several designs, power growing with seeds and effect size and matching recipe_power, CI
  coverage, the minimum detectable effect,
* the query-only test on the same H0 data (grossly inflated false-positive rate),
* an A/A check on the 8 measured SynthCaps-small seed mAPs (3-vs-3 splits),
* compare_arms' fallback to the query-only test, degenerate inputs, validation.

Simulations call the vectorised core ``recipe_arrays`` (shown equal to :func:`recipe_test`) and, for
the front door, :func:`compare_arms` itself. Every RNG is seeded: results are deterministic.
"""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from reports.stats import (
    QUERY_ONLY_METHOD,
    RECIPE_METHOD,
    QueryOnlyTest,
    RecipeTest,
    recipe_arrays,
    compare_arms,
    compare_paired,
    mean_over_seeds,
    minimum_detectable_effect,
    paired_randomization_test,
    recipe_power,
    recipe_test,
)

ALPHA = 0.05
N_QUERIES = 200

#: SynthCaps-small, one configuration, seeds 0-7: test mAP@10 (500 queries), seed sd 3.35 pp.
SYNTHCAPS_SEED_MAPS = np.array([0.400, 0.453, 0.492, 0.426, 0.448, 0.479, 0.425, 0.489])


# ----------------------------------------------------------------------------------------------------------
# simulation helpers


def simulate(rng, n_sims, *, m, k, tau_a, tau_b, omega_a, omega_b, sigma_d, delta=0.0, n=N_QUERIES):
    """``n_sims`` studies of the model: X_A (n_sims, m, n), X_B (n_sims, k, n).

    mu_q^B ~ N(0.45, 0.25^2) (query difficulty, shared), mu_q^A = mu_q^B + delta + sigma_d z_q,
    s_r ~ N(0, tau^2), e_{r,q} ~ N(0, omega^2), all independent. True Var(Delta) =
    sigma_d^2/n + (tau_a^2 + omega_a^2/n)/m + (tau_b^2 + omega_b^2/n)/k.
    """
    mu_b = rng.normal(0.45, 0.25, (n_sims, 1, n))
    mu_a = mu_b + delta + sigma_d * rng.standard_normal((n_sims, 1, n))
    xa = mu_a + tau_a * rng.standard_normal((n_sims, m, 1)) + omega_a * rng.standard_normal((n_sims, m, n))
    xb = mu_b + tau_b * rng.standard_normal((n_sims, k, 1)) + omega_b * rng.standard_normal((n_sims, k, n))
    return xa, xb


def design_kwargs(d, n=N_QUERIES):
    """recipe_power / minimum_detectable_effect arguments at a design's true variance components."""
    return dict(n_runs_a=d["m"], n_runs_b=d["k"], n_queries=n, run_var_a=d["tau_a"] ** 2 + d["omega_a"] ** 2 / n,
                run_var_b=d["tau_b"] ** 2 + d["omega_b"] ** 2 / n, query_var=d["sigma_d"] ** 2)


def D(m, k, tau_a, tau_b, omega_a, omega_b, sigma_d):
    return dict(m=m, k=k, tau_a=tau_a, tau_b=tau_b, omega_a=omega_a, omega_b=omega_b, sigma_d=sigma_d)


#: H0 designs: name -> components. Seed-dominated (as measured on SynthCaps), no seed effect, pure noise,
#: query-dominated, unequal seed counts, heteroscedastic arms with equal counts.
H0_DESIGNS = {
    "3v3 seed-dominated": D(3, 3, 0.03, 0.03, 0.25, 0.25, 0.10),
    "5v5 seed-dominated": D(5, 5, 0.03, 0.03, 0.25, 0.25, 0.10),
    "3v5 mild heteroscedastic": D(3, 5, 0.03, 0.02, 0.25, 0.20, 0.10),
    "3v5 5-seed arm noisier": D(3, 5, 0.01, 0.03, 0.15, 0.25, 0.10),
    "3v3 no seed effect": D(3, 3, 0.0, 0.0, 0.25, 0.25, 0.10),
    "3v3 pure run x query noise": D(3, 3, 0.0, 0.0, 0.30, 0.30, 0.0),
    "3v5 query-dominated": D(3, 5, 0.005, 0.005, 0.20, 0.30, 0.25),
    "3v3 heteroscedastic": D(3, 3, 0.045, 0.015, 0.25, 0.25, 0.10),
}


def binomial_band(n_trials: int, p0: float, tail: float = 1e-4) -> tuple[float, float]:
    lo = stats.binom.ppf(tail, n_trials, p0) / n_trials
    hi = stats.binom.isf(tail, n_trials, p0) / n_trials
    return lo, hi


# ----------------------------------------------------------------------------------------------------------
# hand-derived and naive references


def test_hand_derived_example():
    # A runs (3,1,2), (5,3,4): run means 2, 4 -> S^2_A = 2; column means (4,2,3), grand 3 -> all two-way
    #   residuals 0 -> omega^2_A = 0.
    # B runs (1,1,1), (2,0,1): run means 1, 1 -> S^2_B = 0; column means (1.5,0.5,1), grand 1 -> residuals
    #   (-.5,.5,0; .5,-.5,0), sum 1 over (2-1)(3-1) = 2 -> omega^2_B = 0.5.
    # dhat = (2.5, 1.5, 2): var 0.25; Q = max(0, 0.25 - 0/2 - 0.5/2) = 0.
    # V = 2/2 + 0/2 + 0/3 = 1, Delta = 3 - 1 = 2, t = 2, df = 1^2 / (1^2/1) = 1 (Cauchy):
    #   p = 2 P(T_1 >= 2) = 1 - (2/pi) arctan 2;  t_{1, 0.975} = tan(0.475 pi).
    r = recipe_test([[3, 1, 2], [5, 3, 4]], [[1, 1, 1], [2, 0, 1]])
    assert isinstance(r, RecipeTest)
    assert (r.mean_a, r.mean_b, r.diff, r.se, r.t, r.df) == pytest.approx((3, 1, 2, 1, 2, 1), abs=1e-12)
    assert r.p_value == pytest.approx(1 - 2 * math.atan(2) / math.pi, rel=1e-12)
    half = math.tan(0.475 * math.pi)
    assert (r.ci_low, r.ci_high) == pytest.approx((2 - half, 2 + half), rel=1e-10)
    assert (r.seed_sd_a, r.seed_sd_b) == pytest.approx((math.sqrt(2), 0), abs=1e-12)
    assert (r.noise_var_a, r.noise_var_b, r.query_var) == pytest.approx((0, 0.5, 0), abs=1e-12)
    assert (r.seed_var_a, r.seed_var_b) == pytest.approx((2, 0), abs=1e-12)  # max(0, S^2 - omega^2/n)
    assert (r.n_runs_a, r.n_runs_b, r.n_queries, r.seed_aware, r.method) == (2, 2, 3, True, RECIPE_METHOD)


def naive_reference(A, B):
    """Every quantity of the recipe test with plain loops over exact fractions."""
    m, k, n = len(A), len(B), len(A[0])

    def mean(xs):
        return sum(xs, Fraction(0)) / len(xs)

    def var(xs):
        mu = mean(xs)
        return sum(((x - mu) ** 2 for x in xs), Fraction(0)) / (len(xs) - 1)

    def arm(X):
        r = len(X)
        rows = [mean(X[i]) for i in range(r)]
        cols = [mean([X[i][q] for i in range(r)]) for q in range(n)]
        grand = mean(rows)
        ss = Fraction(0)
        for i in range(r):
            for q in range(n):
                ss += (X[i][q] - rows[i] - cols[q] + grand) ** 2
        return rows, cols, grand, var(rows), ss / ((r - 1) * (n - 1))

    ra, ca, ga, s2a, w2a = arm(A)
    rb, cb, gb, s2b, w2b = arm(B)
    dq = [ca[q] - cb[q] for q in range(n)]
    q_term = max(Fraction(0), var(dq) - w2a / m - w2b / k)
    c1, c2, c3 = s2a / m, s2b / k, q_term / n
    v = c1 + c2 + c3
    df = v**2 / (c1**2 / (m - 1) + c2**2 / (k - 1) + c3**2 / (n - 1))
    diff = ga - gb
    return dict(diff=diff, s2a=s2a, s2b=s2b, w2a=w2a, w2b=w2b, q=q_term, v=v, df=df, mean_a=ga, mean_b=gb)


def test_against_naive_fraction_loops():
    # AP@10-like scores (1/rank or 0) for 3 runs of A and 4 runs of B over 7 queries; every component > 0.
    rng = np.random.default_rng(5)
    ranks_a = rng.integers(1, 13, (3, 7))
    ranks_b = rng.integers(1, 13, (4, 7))
    A = [[Fraction(1, int(r)) if r <= 10 else Fraction(0) for r in row] for row in ranks_a]
    B = [[Fraction(1, int(r)) if r <= 10 else Fraction(0) for r in row] for row in ranks_b]
    ref = naive_reference(A, B)
    assert ref["q"] > 0 and ref["s2a"] > 0 and ref["s2b"] > 0  # the example exercises all three terms
    res = recipe_test(np.array(A, dtype=float), [np.array(row, dtype=float) for row in B], level=0.9)
    se = math.sqrt(ref["v"])
    t = float(ref["diff"]) / se
    df = float(ref["df"])
    assert res.diff == pytest.approx(float(ref["diff"]), abs=1e-14)
    assert (res.mean_a, res.mean_b) == pytest.approx((float(ref["mean_a"]), float(ref["mean_b"])), rel=1e-13)
    assert res.seed_sd_a**2 == pytest.approx(float(ref["s2a"]), rel=1e-12)
    assert res.seed_sd_b**2 == pytest.approx(float(ref["s2b"]), rel=1e-12)
    assert (res.noise_var_a, res.noise_var_b) == pytest.approx((float(ref["w2a"]), float(ref["w2b"])), rel=1e-12)
    assert res.query_var == pytest.approx(float(ref["q"]), rel=1e-12)
    assert res.seed_var_a == pytest.approx(max(0.0, float(ref["s2a"] - ref["w2a"] / 7)), abs=1e-14)
    assert res.se == pytest.approx(se, rel=1e-12) and res.df == pytest.approx(df, rel=1e-12)
    assert res.t == pytest.approx(t, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-10)
    half = stats.t.ppf(0.95, df) * se
    assert (res.ci_low, res.ci_high) == pytest.approx((float(ref["diff"]) - half, float(ref["diff"]) + half), rel=1e-10)
    assert (res.n_runs_a, res.n_runs_b, res.n_queries, res.ci_level) == (3, 4, 7, 0.9)


def test_query_term_subtracts_run_by_query_noise():
    # Q would otherwise count the run x query noise a second time (it is already in S^2): with sigma_d = 0
    # and tau = 0, var_q(dhat_q) ~ omega^2 (1/m + 1/k) while Q stays near 0.
    rng = np.random.default_rng(8)
    xa, xb = simulate(rng, 400, m=3, k=3, tau_a=0, tau_b=0, omega_a=0.3, omega_b=0.3, sigma_d=0.0)
    r = recipe_arrays(xa, xb, 0.95)
    raw = (xa.mean(1) - xb.mean(1)).var(-1, ddof=1)
    assert np.mean(raw) == pytest.approx(0.09 * (2 / 3), rel=0.02)
    untruncated = raw - r["noise_var_a"] / 3 - r["noise_var_b"] / 3
    assert abs(np.mean(untruncated)) < 0.001  # unbiased for sigma_d^2 = 0 (sd of one value ~0.006)
    assert np.mean(r["query_var"] == 0) > 0.4  # Q = max(0, .) is 0 about half the time ...
    assert np.mean(r["query_var"]) < 0.1 * np.mean(raw)  # ... and small otherwise
    assert np.mean(r["noise_var_a"]) == pytest.approx(0.09, rel=0.01)  # omegahat^2 unbiased


def test_vectorised_core_equals_recipe_test():
    rng = np.random.default_rng(2)
    xa, xb = simulate(rng, 6, m=3, k=4, tau_a=0.03, tau_b=0.02, omega_a=0.2, omega_b=0.25, sigma_d=0.1, delta=0.02)
    batch = recipe_arrays(xa, xb, 0.95)
    for i in range(6):
        one = recipe_test(list(xa[i]), xb[i]).to_dict()
        for key, vals in batch.items():
            assert one[key] == pytest.approx(float(vals[i]), rel=1e-12, abs=1e-15), key


def test_invariances():
    rng = np.random.default_rng(3)
    xa, xb = simulate(rng, 1, m=3, k=4, tau_a=0.03, tau_b=0.02, omega_a=0.2, omega_b=0.25, sigma_d=0.1, delta=0.03)
    xa, xb = xa[0], xb[0]
    r = recipe_test(xa, xb)
    swapped = recipe_test(xb, xa)
    assert swapped.diff == pytest.approx(-r.diff) and swapped.p_value == pytest.approx(r.p_value)
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-r.ci_high, -r.ci_low))
    # query difficulty shared by both arms cancels; so does a constant added to every score
    shift = rng.normal(0, 1, xa.shape[1])
    moved = recipe_test(xa + shift + 5.0, xb + shift + 5.0)
    assert moved.diff == pytest.approx(r.diff, abs=1e-12) and moved.p_value == pytest.approx(r.p_value, rel=1e-8)
    # run order within an arm does not matter
    assert recipe_test(xa[::-1], xb[[2, 0, 3, 1]]).p_value == pytest.approx(r.p_value, rel=1e-12)


# ----------------------------------------------------------------------------------------------------------
# size, coverage and the query-only test under H0


@pytest.mark.parametrize("name", list(H0_DESIGNS))
def test_size_under_h0(name):
    # 4,000 simulated studies per design, delta = 0: rejection rate at alpha = 0.05 within [0.03, 0.07]
    # (binomial sd 0.0034). Also the CI, which is dual to the test: coverage = 1 - rate.
    d = H0_DESIGNS[name]
    rng = np.random.default_rng(1000 + list(H0_DESIGNS).index(name))
    xa, xb = simulate(rng, 4000, **d)
    r = recipe_arrays(xa, xb, 0.95)
    rate = float(np.mean(r["p_value"] < ALPHA))
    assert 0.03 <= rate <= 0.07, (name, rate)
    covered = float(np.mean((r["ci_low"] <= 0) & (0 <= r["ci_high"])))
    assert covered == pytest.approx(1 - rate, abs=1e-12)
    # the estimated variance is unbiased for the true Var(Delta), up to the truncation Q = max(0, .), which
    # only matters (upwards: conservative) when sigma_d^2 is ~0
    kw = design_kwargs(d)
    true_var = kw["run_var_a"] / d["m"] + kw["run_var_b"] / d["k"] + kw["query_var"] / N_QUERIES
    assert 0.95 * true_var <= np.mean(r["se"] ** 2) <= (1.05 if d["sigma_d"] > 0 else 1.10) * true_var
    assert np.var(r["diff"]) == pytest.approx(true_var, rel=0.08)


def test_size_known_limit_fewer_seeds_in_the_noisier_arm():
    # Welch-Satterthwaite with 2 df is slightly liberal when the arm with fewer seeds has the larger seed
    # variance (a known property of Welch's test; documented in the module docstring). Seed sd ratio ~2.4,
    # 3 vs 5 seeds: ~0.075. Pinned so that it cannot silently get worse.
    rng = np.random.default_rng(77)
    xa, xb = simulate(rng, 4000, m=3, k=5, tau_a=0.03, tau_b=0.01, omega_a=0.25, omega_b=0.15, sigma_d=0.1)
    rate = float(np.mean(recipe_arrays(xa, xb, 0.95)["p_value"] < ALPHA))
    assert 0.04 <= rate <= 0.095, rate


@pytest.mark.parametrize("name,delta", [("3v3 seed-dominated", 0.05), ("3v5 mild heteroscedastic", -0.04),
                                        ("5v5 seed-dominated", 0.03), ("3v5 query-dominated", 0.02)])
def test_ci_coverage_under_an_effect(name, delta):
    d = H0_DESIGNS[name]
    rng = np.random.default_rng(int(abs(delta) * 1000) + list(H0_DESIGNS).index(name))
    xa, xb = simulate(rng, 4000, delta=delta, **d)
    r = recipe_arrays(xa, xb, 0.95)
    coverage = float(np.mean((r["ci_low"] <= delta) & (delta <= r["ci_high"])))
    assert 0.93 <= coverage <= 0.97, (name, coverage)
    r90 = recipe_arrays(xa, xb, 0.90)
    assert 0.875 <= float(np.mean((r90["ci_low"] <= delta) & (delta <= r90["ci_high"]))) <= 0.925
    assert np.all(r90["ci_high"] - r90["ci_low"] < r["ci_high"] - r["ci_low"])


def test_front_door_keeps_size_where_query_only_tests_do_not():
    # Same H0 data (3 vs 3 seeds, seed sd ~3.3 pp as on SynthCaps, n = 200): compare_arms (seed-aware) keeps
    # its size; the query-only test of the seed-averaged per-query scores, and the single-run comparison of
    # one seed against one seed, reject a true H0 far more often than 5%. Swapping the query-only test
    # into compare_arms fails this test.
    rng = np.random.default_rng(12)
    n_sims = 300
    xa, xb = simulate(rng, n_sims, **H0_DESIGNS["3v3 seed-dominated"])
    recipe = [compare_arms(list(a), list(b)) for a, b in zip(xa, xb)]
    assert all(r.seed_aware and r.method == RECIPE_METHOD for r in recipe)
    p_recipe = np.array([r.p_value for r in recipe])
    np.testing.assert_allclose(p_recipe, recipe_arrays(xa, xb, 0.95)["p_value"], rtol=1e-12)
    assert np.mean(p_recipe < ALPHA) <= 0.09
    p_avg = np.array([paired_randomization_test(mean_over_seeds(a), mean_over_seeds(b), n_resamples=1000, seed=i)
                      for i, (a, b) in enumerate(zip(xa, xb))])
    assert np.mean(p_avg < ALPHA) >= 0.18, np.mean(p_avg < ALPHA)
    single = [compare_arms([a[0]], [b[0]], n_resamples=1000, seed=i) for i, (a, b) in enumerate(zip(xa, xb))]
    assert not any(s.seed_aware for s in single)
    assert np.mean([s.p_value < ALPHA for s in single]) >= 0.3


def test_synthcaps_seed_maps_a_a_splits():
    # A/A on the 8 measured seed mAPs of one SynthCaps-small configuration: per-query AP around each run's
    # mean (query difficulty + run x query noise omega = 0.26, n = 500, calibrated so that seed 0 vs seed 1
    # gets p ~ 0.002 as measured), shifted so every run's mean is its measured mAP. Over the 280 ways to split
    # the seeds 3 vs 3, the recipe test rejects <= 10% (all arms are the same recipe); the query-only test of
    # the seed-averaged scores rejects about half of them (measured on the real runs: 52%).
    rng = np.random.default_rng(11)
    n = 500
    x = rng.uniform(0, 1, n) + 0.26 * rng.standard_normal((8, n))
    x += (SYNTHCAPS_SEED_MAPS - x.mean(axis=1))[:, None]
    np.testing.assert_allclose(x.mean(axis=1), SYNTHCAPS_SEED_MAPS, atol=1e-12)
    splits = [(a, b) for a in itertools.combinations(range(8), 3)
              for b in itertools.combinations(sorted(set(range(8)) - set(a)), 3) if a < b]
    assert len(splits) == 280
    xa = np.stack([x[list(a)] for a, _ in splits])
    xb = np.stack([x[list(b)] for _, b in splits])
    r = recipe_arrays(xa, xb, 0.95)
    assert np.mean(r["p_value"] < ALPHA) <= 0.10
    p_query = np.array([paired_randomization_test(a.mean(0), b.mean(0), n_resamples=1000, seed=i)
                        for i, (a, b) in enumerate(zip(xa, xb))])
    assert np.mean(p_query < ALPHA) >= 0.35
    # compare_arms on one split equals the batch
    i = 17
    assert compare_arms(xa[i], xb[i]).p_value == pytest.approx(float(r["p_value"][i]), rel=1e-12)


# ----------------------------------------------------------------------------------------------------------
# power and the minimum detectable effect

POWER_BASE = dict(tau_a=0.03, tau_b=0.03, omega_a=0.25, omega_b=0.25, sigma_d=0.10)


def simulated_power(m, k, delta, n_sims, seed):
    rng = np.random.default_rng(seed)
    xa, xb = simulate(rng, n_sims, m=m, k=k, delta=delta, **POWER_BASE)
    return float(np.mean(recipe_arrays(xa, xb, 0.95)["p_value"] < ALPHA))


def test_power_grows_with_seeds_and_effect_and_matches_recipe_power():
    seeds, deltas, n_sims = (3, 5, 8), (0.03, 0.06, 0.10), 1000
    table = np.array([[simulated_power(s, s, dl, n_sims, 100 * s + int(dl * 100)) for dl in deltas] for s in seeds])
    assert np.all(np.diff(table, axis=0) > 0.03), table  # more seeds, more power
    assert np.all(np.diff(table, axis=1) > 0.05), table  # larger effect, more power
    assert table[-1, -1] >= 0.99 and table[0, 0] < 0.3, table
    for i, s in enumerate(seeds):
        for j, dl in enumerate(deltas):
            expected = recipe_power(dl, **design_kwargs(dict(m=s, k=s, **POWER_BASE)))
            tol = 4 * math.sqrt(expected * (1 - expected) / n_sims) + 0.015
            assert abs(table[i, j] - expected) < tol, (s, dl, table[i, j], expected)


def test_large_effect_is_detected_almost_always():
    assert simulated_power(5, 5, 0.15, 1000, 9) >= 0.99
    assert simulated_power(3, 3, 0.25, 1000, 10) >= 0.99


def test_recipe_power_references():
    # no seed terms: the test is Delta / SE with SE known and df = n - 1, so (hand-derived)
    # power = Phi(delta/SE - c) + Phi(-delta/SE - c), c = t_{n-1, 0.975}
    kw = dict(n_runs_a=3, n_runs_b=4, n_queries=50, run_var_a=0.0, run_var_b=0.0, query_var=0.04)
    se, c = math.sqrt(0.04 / 50), stats.t.ppf(0.975, 49)
    for delta in (0.0, 0.02, 0.05, -0.07):
        ref = stats.norm.cdf(delta / se - c) + stats.norm.cdf(-delta / se - c)
        assert recipe_power(delta, **kw) == pytest.approx(ref, abs=1e-9)
    # the general case against a Monte Carlo of the same decision rule: Delta ~ N(delta, SE^2),
    # S^2 / run_var ~ chi^2_{nu} / nu, reject when |Delta| > t_{dfhat, 0.975} sqrt(Vhat)
    rng = np.random.default_rng(13)
    cases = [(3, 5, 2e-3, 3e-4, 0.04, 0.05), (3, 3, 1.2e-3, 1.2e-3, 0.01, 0.1), (2, 4, 1e-3, 1e-3, 0.0, 0.06)]
    for m, k, va, vb, vq, delta in cases:
        n, size = 200, 200_000
        ca, cb, cq = va / m, vb / k, vq / n
        d = delta + math.sqrt(ca + cb + cq) * rng.standard_normal(size)
        a = ca * rng.chisquare(m - 1, size) / (m - 1)
        b = cb * rng.chisquare(k - 1, size) / (k - 1)
        v = a + b + cq
        df = v**2 / (a**2 / (m - 1) + b**2 / (k - 1) + cq**2 / (n - 1))
        mc = np.mean(np.abs(d) > stats.t.ppf(0.975, df) * np.sqrt(v))
        got = recipe_power(delta, n_runs_a=m, n_runs_b=k, n_queries=n, run_var_a=va, run_var_b=vb, query_var=vq)
        assert got == pytest.approx(mc, abs=0.005 if min(m, k) == 2 else 0.003), (m, k, got, mc)
    # symmetric in delta, increasing in |delta|, and the size of the test under the model at delta = 0
    kw = design_kwargs(H0_DESIGNS["3v3 seed-dominated"])
    assert recipe_power(0.04, **kw) == pytest.approx(recipe_power(-0.04, **kw), abs=1e-12)
    curve = [recipe_power(dl, **kw) for dl in np.linspace(0, 0.2, 11)]
    assert all(x < y for x, y in zip(curve, curve[1:])) and curve[-1] > 0.99
    assert 0.03 < curve[0] < 0.06


def test_minimum_detectable_effect_hand_derived_and_simulated():
    # seed sd 3.35 pp in both arms, 3 vs 3 seeds, no query term: SE = 0.0335 sqrt(2/3), df = 4 (Welch, equal
    # variances); the closed form (t_{4,0.975} + t_{4,0.8}) SE = (2.7764 + 0.9410) * 0.027353 = 0.1017 treats the
    # df as known and is optimistic; the MDE solves recipe_power = 0.8 and is larger.
    kw = dict(n_runs_a=3, n_runs_b=3, n_queries=500, run_var_a=0.0335**2, run_var_b=0.0335**2, query_var=0.0)
    closed = (stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)) * 0.0335 * math.sqrt(2 / 3)
    assert closed == pytest.approx(0.1017, abs=2e-4)
    mde = minimum_detectable_effect(**kw)
    assert closed < mde < 1.25 * closed
    assert recipe_power(mde, **kw) == pytest.approx(0.8, abs=1e-6)
    assert recipe_power(closed, **kw) < 0.75
    # with many seeds the two agree
    many = {**kw, "n_runs_a": 30, "n_runs_b": 30}
    closed30 = (stats.t.ppf(0.975, 58) + stats.t.ppf(0.8, 58)) * 0.0335 * math.sqrt(2 / 30)
    assert minimum_detectable_effect(**many) == pytest.approx(closed30, rel=0.02)
    # more seeds, smaller MDE; stricter alpha or higher power, larger MDE
    more = [minimum_detectable_effect(**{**kw, "n_runs_a": s, "n_runs_b": s}) for s in (2, 3, 5, 10, 30)]
    assert all(a > b for a, b in zip(more, more[1:]))
    assert minimum_detectable_effect(**kw, alpha=0.01) > mde < minimum_detectable_effect(**kw, power=0.9)
    # simulated studies at the MDE of their design have power ~0.8 (binomial sd 0.009)
    for s, seed in ((3, 21), (5, 22)):
        d = dict(m=s, k=s, **POWER_BASE)
        target = minimum_detectable_effect(**design_kwargs(d))
        assert simulated_power(s, s, target, 2000, seed) == pytest.approx(0.8, abs=0.04), s


def test_recipe_test_mde_method_uses_its_estimates():
    rng = np.random.default_rng(4)
    xa, xb = simulate(rng, 1, m=3, k=3, **POWER_BASE)
    r = recipe_test(xa[0], xb[0])
    assert r.minimum_detectable_effect() == pytest.approx(minimum_detectable_effect(
        n_runs_a=3, n_runs_b=3, n_queries=N_QUERIES, run_var_a=r.seed_sd_a**2, run_var_b=r.seed_sd_b**2,
        query_var=r.query_var))
    assert r.minimum_detectable_effect(n_runs_a=10, n_runs_b=10) < r.minimum_detectable_effect()


@pytest.mark.parametrize("kwargs,needle", [
    (dict(n_runs_a=1), "n_runs_a must be an integer >= 2"),
    (dict(n_queries=1), "n_queries must be an integer >= 2"),
    (dict(run_var_b=-0.1), "run_var_b must be a finite number >= 0"),
    (dict(query_var=float("nan")), "query_var must be a finite number >= 0"),
    (dict(run_var_a=0.0, run_var_b=0.0, query_var=0.0), "no variance"),
    (dict(alpha=1.5), "alpha must be in (0, 1)"),
])  # fmt: skip
def test_planning_validation(kwargs, needle):
    base = dict(n_runs_a=3, n_runs_b=3, n_queries=100, run_var_a=1e-3, run_var_b=1e-3, query_var=0.01)
    with pytest.raises(ValueError) as e:
        minimum_detectable_effect(**{**base, **kwargs})
    assert needle in str(e.value)
    with pytest.raises(ValueError) as e:
        recipe_power(0.05, **{**base, **kwargs})
    assert needle in str(e.value)
    with pytest.raises(ValueError, match="power must be in"):
        minimum_detectable_effect(**base, power=1.0)
    with pytest.raises(ValueError, match="power must exceed alpha"):
        minimum_detectable_effect(**base, power=0.05)


# ----------------------------------------------------------------------------------------------------------
# compare_arms: the front door and its query-only fallback


def test_compare_arms_one_run_each_is_compare_paired():
    rng = np.random.default_rng(6)
    a, b = rng.beta(2, 5, 150), rng.beta(2, 5, 150)
    r = compare_arms([a], [b], n_resamples=2000, seed=3, level=0.9)
    ref = compare_paired(a, b, n_resamples=2000, seed=3, level=0.9)
    assert isinstance(r, QueryOnlyTest) and not r.seed_aware and r.method == QUERY_ONLY_METHOD
    assert "query sampling only" in r.method
    assert (r.diff, r.ci_low, r.ci_high, r.p_randomization, r.p_wilcoxon) == (
        ref.diff, ref.ci_low, ref.ci_high, ref.p_randomization, ref.p_wilcoxon)
    assert r.p_value == ref.p_randomization
    assert (r.n_runs_a, r.n_runs_b, r.n_queries, r.seed_sd_a, r.seed_sd_b) == (1, 1, 150, None, None)


def test_compare_arms_mixed_arms_compare_the_per_query_means():
    rng = np.random.default_rng(7)
    runs_a = [rng.beta(2, 5, 120) for _ in range(3)]
    b = rng.beta(2, 5, 120)
    r = compare_arms(runs_a, [b], n_resamples=1500, seed=1)
    ref = compare_paired(mean_over_seeds(runs_a), b, n_resamples=1500, seed=1)
    assert not r.seed_aware and (r.n_runs_a, r.n_runs_b) == (3, 1)
    assert r.diff == pytest.approx(ref.diff) and r.p_value == ref.p_randomization
    assert r.diff == pytest.approx(np.mean([x.mean() for x in runs_a]) - b.mean())
    assert r.seed_sd_a == pytest.approx(np.std([x.mean() for x in runs_a], ddof=1)) and r.seed_sd_b is None
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d


def test_compare_arms_two_runs_each_is_the_recipe_test():
    rng = np.random.default_rng(8)
    xa, xb = simulate(rng, 1, m=2, k=4, **POWER_BASE)
    r = compare_arms(list(xa[0]), xb[0], n_resamples=10, seed=0)
    assert isinstance(r, RecipeTest) and r.seed_aware
    assert r == recipe_test(xa[0], xb[0])
    common = {"diff", "ci_low", "ci_high", "ci_level", "p_value", "mean_a", "mean_b", "seed_aware", "n_runs_a",
              "n_runs_b", "n_queries", "seed_sd_a", "seed_sd_b", "method"}
    q = compare_arms([xa[0][0]], xb[0], n_resamples=10)
    assert common <= set(r.to_dict()) and common <= set(q.to_dict())
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d


def test_degenerate_zero_variance():
    base = np.linspace(0.1, 0.9, 50)
    same = recipe_test([base, base, base], [base, base])  # identical arms
    assert same.p_value == 1.0 and same.diff == 0.0 and same.ci_low == same.ci_high == 0.0 and same.t == 0.0
    assert same.to_dict()["df"] is None
    # every arm's runs identical and a constant per-query shift: V = 0 with Delta != 0 -> p = 0 (t = +inf)
    shifted = recipe_test([base, base], [base - 0.1, base - 0.1])
    assert shifted.p_value == 0.0 and shifted.t == math.inf and shifted.diff == pytest.approx(0.1)
    assert shifted.ci_low == shifted.ci_high == pytest.approx(0.1)
    assert json.loads(json.dumps(shifted.to_dict()))["t"] is None
    # identical runs within each arm but a varying per-query difference: only the query term is left
    rng = np.random.default_rng(1)
    other = base + rng.normal(0, 0.05, base.size)
    r = recipe_test([base, base], [other, other])
    assert r.seed_sd_a == pytest.approx(0, abs=1e-15) and r.df == pytest.approx(base.size - 1)
    assert r.p_value == pytest.approx(stats.ttest_rel(base, other).pvalue, rel=1e-6)


@pytest.mark.parametrize("case,needle", [
    ("one_run_a", "runs_a has 1 run: the recipe test needs at least 2 runs"),
    ("one_run_b", "runs_b has 1 run"),
    ("lengths_in_arm", "runs_b[1] has 9 query scores but runs_b[0] has 10"),
    ("lengths_between_arms", "runs_a has 10 query scores per run, runs_b has 9"),
    ("nan", "runs_a[2] contains NaN at index 4"),
    ("flat", "wrap a single run in a list"),
    ("empty", "runs_b is empty"),
    ("one_query", "needs at least 2 queries"),
    ("level", "level must be in (0, 1)"),
])  # fmt: skip
def test_recipe_input_validation(case, needle):
    rng = np.random.default_rng(0)
    a = [rng.random(10) for _ in range(3)]
    b = [rng.random(10) for _ in range(2)]
    kwargs = {}
    if case == "one_run_a":
        a = a[:1]
    elif case == "one_run_b":
        b = b[:1]
    elif case == "lengths_in_arm":
        b[1] = b[1][:9]
    elif case == "lengths_between_arms":
        b = [x[:9] for x in b]
    elif case == "nan":
        a[2][4] = np.nan
    elif case == "flat":
        a = a[0]
    elif case == "empty":
        b = []
    elif case == "one_query":
        a, b = [x[:1] for x in a], [x[:1] for x in b]
    else:
        kwargs = {"level": 95}
    with pytest.raises(ValueError) as e:
        recipe_test(a, b, **kwargs)
    assert needle in str(e.value)
    if case not in ("one_run_a", "one_run_b", "one_query"):  # the front door validates the same way
        with pytest.raises(ValueError) as e:
            compare_arms(a, b, **kwargs)
        assert needle in str(e.value)
