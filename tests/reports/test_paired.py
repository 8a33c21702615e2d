"""The paired recipe test of reports.stats (runs matched by seed), checked against known answers.

* a hand-derived example and a naive (plain loop) reference for every estimated quantity;
* simulations of the two-way model with a seed component shared between the arms (correlation rho): size and
  CI coverage at rho in {0, 0.5, 0.9}, an A/A check whose arms differ (same recipe, other augmentation draws), and
  the power against the unpaired recipe test;
* compare_seeded_arms: runs matched by seed, the unpaired fallback, validation.

Every RNG is seeded: results are deterministic. Rates are judged against the binomial sd of the simulated rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.stats import (
    PAIRED_METHOD,
    PairedRecipeTest,
    QueryOnlyTest,
    RecipeTest,
    compare_seeded_arms,
    match_seeds,
    paired_arrays,
    paired_recipe_test,
    recipe_arrays,
    recipe_test,
)

ALPHA = 0.05
N_SIMS = 2000
N_QUERIES = 200
SEEDS = 5


def binomial_sd(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


def simulate_pairs(rng, n_sims, *, m=SEEDS, n=N_QUERIES, tau=0.02, omega=0.2, sigma_d=0.1, rho=0.0, delta=0.0,
                   tau_b=None):
    """``n_sims`` paired studies: X_A, X_B (n_sims, m, n), row s of both trained with seed s.

    mu_q^B ~ N(0.45, 0.25^2), mu_q^A = mu_q^B + delta + sigma_d z_q; seed effects s^A_s = tau (sqrt(rho) z0_s +
    sqrt(1 - rho) z1_s), s^B_s = tau_b (sqrt(rho) z0_s + sqrt(1 - rho) z2_s) (the shared part z0: initial weights
    and data order); run x query noise with the same correlation rho between the arms.  The run mAPs of the two
    arms then have correlation rho.
    """
    tau_b = tau if tau_b is None else tau_b
    a, b = math.sqrt(rho), math.sqrt(1.0 - rho)
    mu_b = rng.normal(0.45, 0.25, (n_sims, 1, n))
    mu_a = mu_b + delta + sigma_d * rng.standard_normal((n_sims, 1, n))
    z0 = rng.standard_normal((n_sims, m, 1))
    e0 = rng.standard_normal((n_sims, m, n))
    xa = mu_a + tau * (a * z0 + b * rng.standard_normal((n_sims, m, 1))) \
        + omega * (a * e0 + b * rng.standard_normal((n_sims, m, n)))
    xb = mu_b + tau_b * (a * z0 + b * rng.standard_normal((n_sims, m, 1))) \
        + omega * (a * e0 + b * rng.standard_normal((n_sims, m, n)))
    return xa, xb


# ----------------------------------------------------------------------------------------------------------
# hand-derived and naive references


def test_hand_derived_example():
    # D = A - B = (2,0,1; 3,3,3): r = (1, 3), Delta = 2, S_D^2 = 2; column means (2.5, 1.5, 2), grand 2;
    #   residuals (.5,-.5,0; -.5,.5,0): sum 1 over (2-1)(3-1) -> omega_f^2 = 0.5; var_q(col) = 0.25,
    #   Q = max(0, 0.25 - 0.5/2) = 0.  V = 2/2 = 1, t = 2, df = 1 (Cauchy): p = 1 - (2/pi) arctan 2.
    r = paired_recipe_test([[3, 1, 2], [5, 3, 4]], [[1, 1, 1], [2, 0, 1]])
    assert isinstance(r, PairedRecipeTest)
    assert (r.mean_a, r.mean_b, r.diff, r.se, r.t, r.df) == pytest.approx((3, 1, 2, 1, 2, 1), abs=1e-12)
    assert r.p_value == pytest.approx(1 - 2 * math.atan(2) / math.pi, rel=1e-12)
    half = math.tan(0.475 * math.pi)
    assert (r.ci_low, r.ci_high) == pytest.approx((2 - half, 2 + half), rel=1e-10)
    assert (r.diff_sd, r.noise_var, r.query_var, r.seed_var) == pytest.approx((math.sqrt(2), 0.5, 0, 2 - 0.5 / 3))
    assert math.isnan(r.correlation)  # 2 seeds: a correlation of two points says nothing
    assert (r.n_runs_a, r.n_runs_b, r.n_queries, r.seed_aware, r.paired, r.method) == (2, 2, 3, True, True,
                                                                                       PAIRED_METHOD)


def naive_paired(A, B, level=0.95):
    """The paired test by plain loops over seeds and queries (Python floats), scipy only for the t quantiles."""
    from scipy import stats

    m, n = len(A), len(A[0])
    D = [[A[s][q] - B[s][q] for q in range(n)] for s in range(m)]
    r = [sum(row) / n for row in D]
    delta = sum(r) / m
    s2 = sum((x - delta) ** 2 for x in r) / (m - 1)
    col = [sum(D[s][q] for s in range(m)) / m for q in range(n)]
    ss = 0.0
    for s in range(m):
        for q in range(n):
            ss += (D[s][q] - r[s] - col[q] + delta) ** 2
    w2 = ss / ((m - 1) * (n - 1))
    cbar = sum(col) / n
    q_var = max(0.0, sum((c - cbar) ** 2 for c in col) / (n - 1) - w2 / m)
    c1, c2 = s2 / m, q_var / n
    v = c1 + c2
    df = v**2 / (c1**2 / (m - 1) + c2**2 / (n - 1))
    t = delta / math.sqrt(v)
    p = 2 * stats.t.sf(abs(t), df)
    half = stats.t.ppf(0.5 + level / 2, df) * math.sqrt(v)
    ra = [sum(row) / n for row in A]
    rb = [sum(row) / n for row in B]
    ma, mb = sum(ra) / m, sum(rb) / m
    sab = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    saa = sum((x - ma) ** 2 for x in ra)
    sbb = sum((y - mb) ** 2 for y in rb)
    return dict(diff=delta, se=math.sqrt(v), df=df, t=t, p_value=p, ci_low=delta - half, ci_high=delta + half,
                diff_sd=math.sqrt(s2), noise_var=w2, query_var=q_var, correlation=sab / math.sqrt(saa * sbb),
                mean_a=ma, mean_b=mb)


@pytest.mark.parametrize("case", range(4))
def test_matches_the_naive_reference(case):
    rng = np.random.default_rng(100 + case)
    m, n = [(3, 7), (5, 40), (4, 11), (8, 25)][case]
    xa, xb = simulate_pairs(rng, 1, m=m, n=n, rho=0.6, sigma_d=0.3, omega=0.1)
    got = paired_recipe_test(xa[0], xb[0], level=0.9).to_dict()
    want = naive_paired(xa[0].tolist(), xb[0].tolist(), level=0.9)
    assert want["query_var"] > 0  # the query term is exercised
    for key, val in want.items():
        assert got[key] == pytest.approx(val, rel=1e-9, abs=1e-13), key


def test_the_vectorised_core_is_the_test():
    rng = np.random.default_rng(7)
    xa, xb = simulate_pairs(rng, 6, m=4, n=30, rho=0.5)
    arr = paired_arrays(xa, xb, 0.95)
    for i in range(6):
        r = paired_recipe_test(xa[i], xb[i])
        for key in ("diff", "se", "df", "p_value", "ci_low", "ci_high", "correlation", "query_var"):
            assert arr[key][i] == pytest.approx(getattr(r, key), rel=1e-12), key


def test_with_uncorrelated_arms_it_estimates_the_unpaired_variance():
    # Delta is the same; E[S_D^2] = E[S_A^2 + S_B^2] when the arms are independent (rho = 0): averaged over
    # studies the two variance estimates agree (their sd over 2000 studies is ~1.6% of the mean).
    rng = np.random.default_rng(11)
    xa, xb = simulate_pairs(rng, N_SIMS, rho=0.0, sigma_d=0.0)
    p, u = paired_arrays(xa, xb, 0.95), recipe_arrays(xa, xb, 0.95)
    np.testing.assert_allclose(p["diff"], u["diff"], rtol=0, atol=1e-15)
    ratio = np.mean(p["se"] ** 2) / np.mean(u["se"] ** 2)
    assert abs(ratio - 1.0) < 0.05


def test_identical_runs_are_degenerate_not_significant():
    x = np.random.default_rng(0).uniform(size=(4, 20))
    r = paired_recipe_test(x, x.copy())
    assert (r.diff, r.p_value, r.ci_low, r.ci_high, r.se) == (0.0, 1.0, 0.0, 0.0, 0.0)
    assert r.to_dict()["df"] is None
    shifted = paired_recipe_test(x + 0.1, x)  # every seed and query shifted by the same amount
    assert shifted.p_value == 0.0 and shifted.diff == pytest.approx(0.1)


# ----------------------------------------------------------------------------------------------------------
# simulations


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_size_and_coverage(rho):
    """Size under H0 and coverage of the 95% CI for a planted effect; 2,000 studies each, 5 seeds, 200 queries.
    Bands: 4 binomial sd of the simulated rate around the nominal one."""
    rng = np.random.default_rng(2024 + int(10 * rho))
    xa, xb = simulate_pairs(rng, N_SIMS, rho=rho)
    size = float(np.mean(paired_arrays(xa, xb, 0.95)["p_value"] < ALPHA))
    xa, xb = simulate_pairs(rng, N_SIMS, rho=rho, delta=0.02)
    r = paired_arrays(xa, xb, 0.95)
    coverage = float(np.mean((r["ci_low"] <= 0.02) & (0.02 <= r["ci_high"])))
    band = 4 * binomial_sd(ALPHA, N_SIMS)
    assert abs(size - ALPHA) <= band, size
    assert size <= 0.07
    assert abs(coverage - 0.95) <= band, coverage
    print(f"rho={rho}: size {size:.4f}, coverage {coverage:.4f}")


def test_aa_with_arms_whose_runs_differ():
    """A/A: one recipe (no per-query difference), each seed sharing its initial weights and data order between the
    arms (rho = 0.7) but with other augmentation draws, so the runs differ. The paired test keeps its size
    (conservative with no query term, where Q is truncated at 0)."""
    rng = np.random.default_rng(77)
    xa, xb = simulate_pairs(rng, N_SIMS, rho=0.7, sigma_d=0.0)
    r = paired_arrays(xa, xb, 0.95)
    size = float(np.mean(r["p_value"] < ALPHA))
    assert size <= ALPHA + 4 * binomial_sd(ALPHA, N_SIMS)
    assert np.all(r["se"] > 0)  # the runs differ: no degenerate study
    assert np.median(r["correlation"]) == pytest.approx(0.7, abs=0.15)
    print(f"A/A paired size {size:.4f}")


def test_with_a_shared_seed_component_it_is_far_more_powerful_than_the_unpaired_test():
    """rho = 0.9, a planted effect of about 1.2 run-mAP seed sd (3 pp; seed sd 2.45 pp), 5 seeds."""
    rng = np.random.default_rng(5)
    xa, xb = simulate_pairs(rng, N_SIMS, rho=0.9, delta=0.03)
    p = paired_arrays(xa, xb, 0.95)
    u = recipe_arrays(xa, xb, 0.95)
    power_p, power_u = float(np.mean(p["p_value"] < ALPHA)), float(np.mean(u["p_value"] < ALPHA))
    assert power_p >= 0.85 and power_u <= 0.6 and power_p - power_u >= 0.3, (power_p, power_u)
    assert np.median(p["correlation"]) == pytest.approx(0.9, abs=0.1)
    assert np.median(p["ci_high"] - p["ci_low"]) < 0.6 * np.median(u["ci_high"] - u["ci_low"])
    print(f"power paired {power_p:.4f}, unpaired {power_u:.4f}")


# ----------------------------------------------------------------------------------------------------------
# the front door and validation


def test_compare_seeded_arms_matches_runs_by_seed():
    rng = np.random.default_rng(3)
    xa, xb = simulate_pairs(rng, 1, m=4, n=30, rho=0.8)
    xa, xb = xa[0], xb[0]
    perm = [2, 0, 3, 1]
    r = compare_seeded_arms(xa, xb[perm], seeds_a=[10, 11, 12, 13], seeds_b=[12, 10, 13, 11])
    want = paired_recipe_test(xa, xb)
    assert isinstance(r, PairedRecipeTest) and r.seeds == (10, 11, 12, 13)
    assert (r.diff, r.se, r.p_value, r.correlation) == pytest.approx((want.diff, want.se, want.p_value,
                                                                      want.correlation), rel=1e-12)
    assert r.to_dict()["seeds"] == [10, 11, 12, 13]


def test_compare_seeded_arms_falls_back_to_the_unpaired_test():
    rng = np.random.default_rng(4)
    xa, xb = (x[0] for x in simulate_pairs(rng, 1, m=3, n=20))
    unpaired = recipe_test(xa, xb)
    for kwargs in (dict(), dict(seeds_a=[0, 1, 2], seeds_b=[0, 1, 3]), dict(seeds_a=[0, 1, 1], seeds_b=[0, 1, 1]),
                   dict(seeds_a=[0, 1, None], seeds_b=[0, 1, None]),
                   dict(seeds_a=[0, 1, 2], seeds_b=[0, 1, 2], paired="never")):
        r = compare_seeded_arms(xa, xb, **kwargs)
        assert isinstance(r, RecipeTest) and r.p_value == unpaired.p_value, kwargs
    one = compare_seeded_arms(xa[:1], xb[:1], seeds_a=[0], seeds_b=[0], n_resamples=200)
    assert isinstance(one, QueryOnlyTest)
    with pytest.raises(ValueError, match="cannot be paired"):
        compare_seeded_arms(xa, xb, seeds_a=[0, 1, 2], seeds_b=[0, 1, 3], paired="always")
    with pytest.raises(ValueError, match="paired must be one of"):
        compare_seeded_arms(xa, xb, paired="yes")
    with pytest.raises(ValueError, match="seeds_b has 2 seeds for 3 runs"):
        compare_seeded_arms(xa, xb, seeds_a=[0, 1, 2], seeds_b=[0, 1])


def test_match_seeds():
    assert match_seeds([3, 1, 2], [1, 2, 3]) == ([1, 2, 0], [0, 1, 2], [1, 2, 3])
    assert match_seeds([1, 2], [1, 3]) is None
    assert match_seeds(None, [1]) is None


def test_validation():
    x = np.zeros((3, 5))
    with pytest.raises(ValueError, match="one run per seed"):
        paired_recipe_test(x, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="same queries"):
        paired_recipe_test(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        paired_recipe_test(x[:1], x[:1])
    with pytest.raises(ValueError, match="at least 2 queries"):
        paired_recipe_test(np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        paired_recipe_test([[0, np.nan], [1, 1]], [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="seeds has 2 entries"):
        paired_recipe_test(x, x, seeds=[0, 1])
    with pytest.raises(ValueError, match="equal shape"):
        paired_arrays(x, np.zeros((4, 5)), 0.95)
