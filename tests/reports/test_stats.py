"""Statistical tests of reports.stats, checked against known answers.

* size of the sign-flip test under H0 (binomial bands on the rejection rate),
* power against the exact (noncentral-t) power of the t-test for normal differences,
* p-values against scipy.stats.permutation_test (Monte Carlo and exact enumeration) and against
  an exact integer dynamic programme for tied, AP@10-like data,
* Holm against a hand-worked example and the textbook definition,
* bootstrap CI coverage, shrinkage with n, determinism,
* input validation messages.
"""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from reports.stats import (
    PairedTest,
    compare_paired,
    holm,
    mean_over_seeds,
    paired_bootstrap_ci,
    paired_randomization_test,
    significance_mark,
)

ALPHA = 0.05

# ----------------------------------------------------------------------------------------------------------
# helpers


def mean_diff(x, y, axis=-1):
    return np.mean(x - y, axis=axis)


def scipy_perm_p(a, b, *, n_resamples, alternative="two-sided", seed=12345):
    res = stats.permutation_test(
        (a, b),
        mean_diff,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return float(res.pvalue)


def binomial_band(n_trials: int, p0: float, tail: float = 1e-4) -> tuple[float, float]:
    """Central (1 - 2*tail) acceptance band for a rejection *rate* when the true rate is p0."""
    lo = stats.binom.ppf(tail, n_trials, p0) / n_trials
    hi = stats.binom.isf(tail, n_trials, p0) / n_trials
    return lo, hi


def ap10_scores(rng, size, p_hit):
    """AP@10 with one relevant item per caption: 1/rank if rank <= 10 else 0 (rank ~ geometric)."""
    rank = rng.geometric(p_hit, size=size)
    return np.where(rank <= 10, 1.0 / rank, 0.0)


def rejection_rate_h0(n_sims, n_queries, n_resamples, seed):
    """Size of the test: a ~ Beta(2, 5) (AP-like), b = a + zero-mean symmetric noise."""
    rng = np.random.default_rng(seed)
    rejections = 0
    for i in range(n_sims):
        a = rng.beta(2.0, 5.0, size=n_queries)
        b = a + rng.uniform(-0.15, 0.15, size=n_queries)
        p = paired_randomization_test(a, b, n_resamples=n_resamples, seed=10_000 + i)
        rejections += p <= ALPHA
    return rejections / n_sims


# ----------------------------------------------------------------------------------------------------------
# randomization test: known small cases


def test_hand_worked_exact_cases():
    # d = [1, 2, 3]: the 8 sign-flip sums are +-6, +-4, +-2, 0, 0; |S*| >= 6 for 2 of 8 -> p = 0.25.
    assert paired_randomization_test([1, 2, 3], [0, 0, 0]) == 0.25
    # d = [1]*5: only the all-(+1) and all-(-1) vectors reach |S*| = 5 -> p = 2/32.
    assert paired_randomization_test(np.ones(5), np.zeros(5)) == 2 / 32
    # one-sided: only the identity reaches S* >= 5 -> 1/32; "less" is satisfied by all 32.
    assert paired_randomization_test(np.ones(5), np.zeros(5), alternative="greater") == 1 / 32
    assert paired_randomization_test(np.ones(5), np.zeros(5), alternative="less") == 1.0
    # n = 1: both sign vectors are as extreme.
    assert paired_randomization_test([0.7], [0.2]) == 1.0


def test_all_zero_differences_give_p_one():
    a = np.array([0.1, 0.5, 1.0, 0.0] * 50)
    for alt in ("two-sided", "greater", "less"):
        assert paired_randomization_test(a, a.copy(), n_resamples=100, alternative=alt) == 1.0
    res = compare_paired(a, a.copy(), n_resamples=200)
    assert res.p_randomization == 1.0
    assert res.p_wilcoxon is None
    assert res.diff == 0.0 and res.ci_low == 0.0 and res.ci_high == 0.0


def test_monte_carlo_p_value_bounds_and_determinism():
    rng = np.random.default_rng(0)
    a = rng.beta(2, 5, 300)
    b = a - 0.2  # every difference positive: the observed T is the unique maximum
    p = paired_randomization_test(a, b, n_resamples=999, seed=3)
    assert p == 1 / 1000  # smallest possible value (1 + 0) / (1 + R): never 0

    b = a + rng.normal(0, 0.1, 300)
    p1 = paired_randomization_test(a, b, n_resamples=2000, seed=7)
    p2 = paired_randomization_test(a, b, n_resamples=2000, seed=7)
    p3 = paired_randomization_test(a, b, n_resamples=2000, seed=8)
    assert p1 == p2
    assert p1 != p3
    assert 0 < p1 <= 1
    # p is a multiple of 1 / (R + 1)
    k = p1 * 2001
    assert abs(k - round(k)) < 1e-9


# ----------------------------------------------------------------------------------------------------------
# agreement with scipy.stats.permutation_test


@pytest.mark.parametrize("n", [2, 3, 5, 8, 10])  # scipy needs n >= 2; n = 1 is hand-worked above
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_exact_enumeration_equals_scipy_exact(n, alternative):
    # n_resamples >= 2**n: both enumerate all 2**n sign vectors, so the p-values must be identical.
    rng = np.random.default_rng(100 + n)
    for shift in (0.0, 0.3, -0.5):
        a = rng.random(n)
        b = rng.random(n) - shift
        ours = paired_randomization_test(a, b, n_resamples=2**n, seed=0, alternative=alternative)
        theirs = scipy_perm_p(a, b, n_resamples=2**n, alternative=alternative)
        assert ours == pytest.approx(theirs, abs=1e-12), (n, shift, alternative)
        # an exact p-value is a multiple of 2**-n, and does not depend on the seed
        assert (ours * 2**n) == pytest.approx(round(ours * 2**n), abs=1e-9)
        assert ours == paired_randomization_test(a, b, n_resamples=5000, seed=99, alternative=alternative)


def test_exact_threshold_is_two_to_the_n():
    # n = 6: 2**6 = 64. With 64 resamples -> exact (p multiple of 1/64); with 63 -> Monte Carlo
    # (p multiple of 1/64 too, but via (1 + k)/(1 + 63)); check via seed (in)dependence instead.
    rng = np.random.default_rng(5)
    a, b = rng.random(6), rng.random(6)
    exact = {paired_randomization_test(a, b, n_resamples=64, seed=s) for s in range(5)}
    assert len(exact) == 1
    mc = {paired_randomization_test(a, b, n_resamples=63, seed=s) for s in range(20)}
    assert len(mc) > 1


def _datasets_for_scipy():
    rng = np.random.default_rng(2024)
    out = []
    a = rng.beta(2, 5, 200)  # AP-like, small real shift -> moderate p
    out.append(("beta-shift", a, a - 0.012 + rng.normal(0, 0.1, 200)))
    a = rng.normal(0, 1, 50)  # strong shift -> small p
    out.append(("normal-strong", a, a - 0.45 + rng.normal(0, 1, 50)))
    a = rng.uniform(0, 1, 30)  # H0 -> large p
    out.append(("uniform-h0", a, a + rng.uniform(-0.2, 0.2, 30)))
    a = rng.beta(1, 3, 120)  # skewed differences
    out.append(("skewed", a, a - 0.03 + (rng.exponential(0.1, 120) - 0.1)))
    return out


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_monte_carlo_p_agrees_with_scipy(alternative):
    r_ours, r_scipy = 20_000, 5_000
    for name, a, b in _datasets_for_scipy():
        ours = paired_randomization_test(a, b, n_resamples=r_ours, seed=1, alternative=alternative)
        theirs = scipy_perm_p(a, b, n_resamples=r_scipy, alternative=alternative)
        p = min(max(theirs, 1e-4), 1 - 1e-4)
        # two independent Monte Carlo estimates of the same p: 4 standard errors of the difference
        tol = 4 * math.sqrt(p * (1 - p) * (1 / r_ours + 1 / r_scipy)) + 0.005
        assert abs(ours - theirs) < tol, (name, alternative, ours, theirs, tol)


# ----------------------------------------------------------------------------------------------------------
# ties (AP@10 values such as 1/3, 1/7) against an exact integer computation

_LCM = 2520  # lcm(1..10): AP@10 = 1/rank becomes an integer after scaling


def signflip_sum_distribution(k: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact distribution of S* = sum_i s_i k_i (s_i = +-1 uniform) for integers k: (probs over -span..span, span)."""
    k = np.abs(k.astype(np.int64))
    span = int(k.sum())
    dist = np.zeros(2 * span + 1)
    dist[span] = 1.0
    for ki in k:
        if ki == 0:
            continue
        new = np.zeros_like(dist)
        new[ki:] += 0.5 * dist[:-ki]
        new[:-ki] += 0.5 * dist[ki:]
        dist = new
    return dist, span


def test_ties_brute_force_fractions():
    # exact mode on AP@10-like differences vs enumeration in exact rational arithmetic
    rng = np.random.default_rng(11)
    for n in (6, 9, 12):
        a = ap10_scores(rng, n, 0.4)
        b = ap10_scores(rng, n, 0.4)
        if not np.any(a - b):
            continue
        fa = [Fraction(1, round(1 / x)) if x else Fraction(0) for x in a]
        fb = [Fraction(1, round(1 / x)) if x else Fraction(0) for x in b]
        d = [x - y for x, y in zip(fa, fb)]
        obs = abs(sum(d))
        count = sum(abs(sum(s * di for s, di in zip(signs, d))) >= obs for signs in itertools.product((1, -1), repeat=n))
        assert paired_randomization_test(a, b, n_resamples=2**n) == count / 2**n


@pytest.mark.parametrize("n, p_hit_a, p_hit_b, data_seed", [(40, 0.7, 0.6, 0), (80, 0.8, 0.7, 2)])
def test_ties_monte_carlo_against_exact_integer_distribution(n, p_hit_a, p_hit_b, data_seed):
    # AP@10 scores with many exact ties: compare the Monte Carlo p with the exact p from the integer
    # convolution. Counting ties as "as extreme" matters: P(|S*| = |S|) is 1-2% here, so comparing
    # with a strict ">" (or losing ties to rounding of 1/3, 1/7 ...) would fail the last assert.
    rng = np.random.default_rng(data_seed)
    a = ap10_scores(rng, n, p_hit_a)
    b = ap10_scores(rng, n, p_hit_b)
    k = np.rint((a - b) * _LCM).astype(np.int64)
    assert np.allclose(k, (a - b) * _LCM, rtol=0, atol=1e-6)  # exactly representable after scaling
    dist, span = signflip_sum_distribution(k)
    s_obs = abs(int(k.sum()))
    values = np.arange(-span, span + 1)
    p_exact = dist[np.abs(values) >= s_obs].sum()
    p_tie = dist[np.abs(values) == s_obs].sum()
    assert p_tie > 0.01
    r = 40_000
    ours = paired_randomization_test(a, b, n_resamples=r, seed=0)
    tol = 4 * math.sqrt(p_exact * (1 - p_exact) / r) + 1 / r
    assert abs(ours - p_exact) < tol, (ours, p_exact, p_tie)
    assert abs(ours - p_exact) < p_tie / 2


# ----------------------------------------------------------------------------------------------------------
# size and power


def test_size_under_h0():
    # 2,000 simulated comparisons, n = 200 queries, 500 sign flips each. With a continuous null the
    # valid p-value gives P(p <= 0.05) = floor(0.05 * 501) / 501 = 25 / 501 = 0.0499; the binomial
    # sd of the rate is 0.0049, so [0.03, 0.07] is about +-4 sd.
    rate = rejection_rate_h0(n_sims=2_000, n_queries=200, n_resamples=500, seed=1)
    assert 0.03 <= rate <= 0.07, rate


def test_size_under_h0_small_fast_band():
    # 400 comparisons with an acceptance band computed from Binomial(400, 25/501).
    lo, hi = binomial_band(400, 25 / 501)
    rate = rejection_rate_h0(n_sims=400, n_queries=200, n_resamples=500, seed=2)
    assert lo <= rate <= hi, (rate, lo, hi)


@pytest.mark.slow
def test_size_under_h0_large():
    n_sims, r = 20_000, 999
    lo, hi = binomial_band(n_sims, 50 / 1000)  # P(p <= 0.05) = floor(0.05 * 1000) / 1000
    rate = rejection_rate_h0(n_sims=n_sims, n_queries=200, n_resamples=r, seed=3)
    assert lo <= rate <= hi, (rate, lo, hi)


def test_size_under_h0_discrete_ap10_ties():
    # H0 with exchangeable pairs of AP@10 scores (many zero and tied differences). The conditional
    # sign-flip test stays valid (it can only be conservative with ties): rate <= binomial upper bound.
    rng = np.random.default_rng(4)
    n_sims = 1_000
    rejections = 0
    for i in range(n_sims):
        x = ap10_scores(rng, 150, 0.3)
        y = ap10_scores(rng, 150, 0.3)
        rejections += paired_randomization_test(x, y, n_resamples=500, seed=i) <= ALPHA
    rate = rejections / n_sims
    _, hi = binomial_band(n_sims, 25 / 501)
    assert 0.02 <= rate <= hi, rate


@pytest.mark.parametrize("delta", [0.3, 0.45])
def test_power_matches_t_test_power_for_normal_differences(delta):
    # d ~ N(delta, 1), n = 40. Known answer: the two-sided one-sample t-test has exact power
    # P(|T'| > t_{0.975, 39}) with T' ~ noncentral t(39, delta * sqrt(40)); the randomization test is
    # asymptotically equivalent (Pitman efficiency 1; a 16,000-run simulation gave gaps < 0.01).
    n, n_sims = 40, 1_000
    df = n - 1
    tcrit = stats.t.ppf(1 - ALPHA / 2, df)
    ncp = delta * math.sqrt(n)
    power = stats.nct.sf(tcrit, df, ncp) + stats.nct.cdf(-tcrit, df, ncp)
    rng = np.random.default_rng(int(delta * 100))
    zeros = np.zeros(n)
    rejections = 0
    for i in range(n_sims):
        d = rng.normal(delta, 1.0, n)
        rejections += paired_randomization_test(d, zeros, n_resamples=500, seed=i) <= ALPHA
    rate = rejections / n_sims
    tol = 4 * math.sqrt(power * (1 - power) / n_sims) + 0.02
    assert abs(rate - power) < tol, (rate, power, tol)


def test_power_matches_scipy_permutation_test_rejection_rate():
    # same planted shift on AP-like scores; the rejection rates of our test and scipy's must agree
    # within the binomial error of two rates over the same 150 datasets.
    rng = np.random.default_rng(77)
    n_sims, n = 150, 60
    ours = theirs = 0
    for i in range(n_sims):
        a = rng.beta(2, 5, n)
        b = a - 0.03 + rng.normal(0, 0.1, n)
        ours += paired_randomization_test(a, b, n_resamples=1000, seed=i) <= ALPHA
        theirs += scipy_perm_p(a, b, n_resamples=1000, seed=i) <= ALPHA
    r1, r2 = ours / n_sims, theirs / n_sims
    assert 0.2 < r2 < 0.95  # the shift gives intermediate power
    assert abs(r1 - r2) < 4 * math.sqrt(r2 * (1 - r2) * 2 / n_sims), (r1, r2)


# ----------------------------------------------------------------------------------------------------------
# bootstrap CI


def test_bootstrap_ci_coverage():
    # a ~ Beta(2, 3) (mean 0.4), b ~ Beta(3, 3) (mean 0.5): true mean difference -0.1.
    rng = np.random.default_rng(21)
    n_sims, n = 300, 100
    covered = 0
    for i in range(n_sims):
        a = rng.beta(2, 3, n)
        b = rng.beta(3, 3, n)
        lo, hi = paired_bootstrap_ci(a, b, n_resamples=1000, level=0.95, seed=i)
        covered += lo <= -0.1 <= hi
    coverage = covered / n_sims
    assert 0.90 <= coverage <= 0.99, coverage


def test_bootstrap_ci_shrinks_with_n_and_contains_estimate():
    rng = np.random.default_rng(22)
    widths = []
    for n in (100, 400, 1600):
        a = rng.beta(2, 5, n)
        b = a + rng.normal(0.0, 0.2, n)
        lo, hi = paired_bootstrap_ci(a, b, n_resamples=2000, seed=0)
        assert lo <= np.mean(a - b) <= hi
        widths.append(hi - lo)
    # width ~ 1/sqrt(n): quadrupling n roughly halves it
    for w_small, w_big in zip(widths, widths[1:]):
        assert 0.35 < w_big / w_small < 0.65, widths


def test_bootstrap_ci_width_matches_normal_theory_and_levels_nest():
    rng = np.random.default_rng(23)
    n = 500
    a = rng.random(n)
    b = a + rng.normal(0, 0.3, n)
    d = a - b
    lo, hi = paired_bootstrap_ci(a, b, n_resamples=5000, seed=1)
    # bootstrap sd of the mean is ~ sd(d) * sqrt((n-1)/n) / sqrt(n); 95% width ~ 2 * 1.96 * that
    expected = 2 * 1.959964 * d.std() / math.sqrt(n)
    assert hi - lo == pytest.approx(expected, rel=0.08)
    lo80, hi80 = paired_bootstrap_ci(a, b, n_resamples=5000, level=0.8, seed=1)
    assert lo < lo80 < hi80 < hi


def test_bootstrap_ci_deterministic_given_seed():
    rng = np.random.default_rng(24)
    a, b = rng.random(150), rng.random(150)
    assert paired_bootstrap_ci(a, b, n_resamples=500, seed=5) == paired_bootstrap_ci(a, b, n_resamples=500, seed=5)
    assert paired_bootstrap_ci(a, b, n_resamples=500, seed=5) != paired_bootstrap_ci(a, b, n_resamples=500, seed=6)
    # constant differences: degenerate interval at the difference
    lo, hi = paired_bootstrap_ci(np.full(10, 0.5), np.full(10, 0.25), n_resamples=200)
    assert lo == pytest.approx(0.25) and hi == pytest.approx(0.25)


def test_resampling_memory_is_bounded():
    # 1,000 resamples x 50,000 queries: one full index matrix alone would be 400 MB (int64).
    rng = np.random.default_rng(25)
    n = 50_000
    a = rng.random(n)
    b = a + rng.normal(0, 0.1, n)
    tracemalloc.start()
    try:
        paired_randomization_test(a, b, n_resamples=1_000, seed=0)
        paired_bootstrap_ci(a, b, n_resamples=1_000, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 80e6, peak


# ----------------------------------------------------------------------------------------------------------
# compare_paired / PairedTest


def test_compare_paired_fields_match_standalone_functions():
    rng = np.random.default_rng(31)
    a = rng.beta(2, 5, 120)
    b = a - 0.02 + rng.normal(0, 0.08, 120)
    res = compare_paired(a, b, n_resamples=3000, seed=4, level=0.9)
    assert isinstance(res, PairedTest)
    assert res.mean_a == pytest.approx(a.mean()) and res.mean_b == pytest.approx(b.mean())
    assert res.diff == pytest.approx(np.mean(a - b))
    assert (res.ci_low, res.ci_high) == paired_bootstrap_ci(a, b, n_resamples=3000, level=0.9, seed=4)
    assert res.p_randomization == paired_randomization_test(a, b, n_resamples=3000, seed=4)
    assert res.p_wilcoxon == pytest.approx(stats.wilcoxon(a - b).pvalue)
    assert (res.n, res.n_resamples, res.seed, res.ci_level) == (120, 3000, 4, 0.9)
    d = res.to_dict()
    assert list(d) == [
        "mean_a", "mean_b", "diff", "ci_low", "ci_high", "ci_level",
        "p_randomization", "p_wilcoxon", "n", "n_resamples", "seed",
    ]  # fmt: skip
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(AttributeError):
        res.diff = 0.0  # frozen


# ----------------------------------------------------------------------------------------------------------
# Holm


def holm_reference(p):
    """Textbook Holm step-down, written as loops."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj = [0.0] * m
    running = 0.0
    for k, i in enumerate(order, start=1):
        running = max(running, min(1.0, (m - k + 1) * p[i]))
        adj[i] = running
    return adj


def test_holm_hand_worked_example():
    # p = [0.01, 0.04, 0.03, 0.005], m = 4. Sorted: 0.005, 0.01, 0.03, 0.04.
    #   0.005 * 4 = 0.02
    #   0.01  * 3 = 0.03                 -> max(0.02, 0.03) = 0.03
    #   0.03  * 2 = 0.06                 -> max(0.03, 0.06) = 0.06
    #   0.04  * 1 = 0.04                 -> max(0.06, 0.04) = 0.06  (monotonicity)
    # back in the original order: [0.03, 0.06, 0.06, 0.02]
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)


def test_holm_monotone_capped_and_matches_reference():
    rng = np.random.default_rng(41)
    for m in (1, 2, 5, 17, 60):
        p = rng.random(m) ** 3
        adj = holm(p)
        np.testing.assert_allclose(adj, holm_reference(list(p)), rtol=0, atol=1e-15)
        order = np.argsort(p)
        assert np.all(np.diff(adj[order]) >= 0)  # monotone in the raw p-values
        assert np.all(adj >= p) and np.all(adj <= 1.0)
    np.testing.assert_allclose(holm([0.5, 0.9, 0.3]), [1.0, 1.0, 0.9], atol=1e-15)  # 3*0.3 = 0.9; 2*0.5 -> 1
    assert holm([]).shape == (0,)
    np.testing.assert_allclose(holm([0.02, 0.02]), [0.04, 0.04], atol=1e-15)  # ties share a value


def test_holm_nan_passes_through():
    adj = holm([0.01, np.nan, 0.04, 0.03, np.nan, 0.005])
    assert np.isnan(adj[1]) and np.isnan(adj[4])
    # NaNs are not part of the family: same as the 4-test example
    np.testing.assert_allclose(adj[[0, 2, 3, 5]], [0.03, 0.06, 0.06, 0.02], atol=1e-15)
    assert np.isnan(holm([np.nan])).all()


def test_holm_validation():
    with pytest.raises(ValueError, match=r"pvalues\[1\]"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match=r"pvalues\[0\]"):
        holm([-0.1])
    with pytest.raises(ValueError, match="1-D"):
        holm([[0.1, 0.2]])


# ----------------------------------------------------------------------------------------------------------
# significance marks, seeds


def test_significance_mark():
    assert significance_mark(0.0005) == "***"
    assert significance_mark(0.001) == "**"  # thresholds are strict: p < t
    assert significance_mark(0.005) == "**"
    assert significance_mark(0.03) == "*"
    assert significance_mark(0.05) == ""
    assert significance_mark(0.7) == ""
    assert significance_mark(float("nan")) == ""
    assert significance_mark(0.03, levels=((0.05, "+"), (0.01, "++"))) == "+"
    assert significance_mark(0.003, levels=((0.05, "+"), (0.01, "++"))) == "++"
    with pytest.raises(ValueError, match="p must be in"):
        significance_mark(1.2)


def test_mean_over_seeds():
    runs = [np.array([0.0, 1.0, 0.5]), np.array([1.0, 1.0, 0.0]), np.array([0.5, 0.25, 1.0])]
    np.testing.assert_allclose(mean_over_seeds(runs), [0.5, 0.75, 0.5])
    np.testing.assert_allclose(mean_over_seeds([runs[0]]), runs[0])
    with pytest.raises(ValueError, match=r"per_seed\[1\].*2 query scores.*per_seed\[0\] has 3"):
        mean_over_seeds([runs[0], runs[1][:2]])
    with pytest.raises(ValueError, match="per_seed is empty"):
        mean_over_seeds([])
    with pytest.raises(ValueError, match=r"per_seed\[2\] contains NaN at index 1"):
        mean_over_seeds([runs[0], runs[1], np.array([0.1, np.nan, 0.2])])
    with pytest.raises(ValueError, match=r"per_seed\[0\] must be 1-D"):
        mean_over_seeds([np.zeros((2, 3))])


# ----------------------------------------------------------------------------------------------------------
# validation of paired inputs


@pytest.mark.parametrize(
    "func",
    [paired_randomization_test, paired_bootstrap_ci, compare_paired],
    ids=["randomization", "bootstrap", "compare"],
)
def test_paired_input_validation(func):
    good = np.array([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"same length.*len\(a\)=3.*len\(b\)=2"):
        func(good, good[:2])
    with pytest.raises(ValueError, match="a is empty"):
        func([], [])
    with pytest.raises(ValueError, match="b is empty"):
        func(good, [])
    with pytest.raises(ValueError, match="a contains NaN at index 1"):
        func([0.1, np.nan, np.nan], good)
    with pytest.raises(ValueError, match="b contains NaN at index 2"):
        func(good, [0.1, 0.2, np.nan])
    with pytest.raises(ValueError, match="b contains a non-finite value at index 0"):
        func(good, [np.inf, 0.2, 0.3])
    with pytest.raises(ValueError, match="a must be 1-D"):
        func(np.zeros((3, 1)), good)
    with pytest.raises(ValueError, match="a must be a 1-D array of real numbers"):
        func(["x", "y", "z"], good)
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        func(good, good, n_resamples=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        func(good, good, seed=-1)


def test_option_validation():
    good = np.array([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="alternative must be one of"):
        paired_randomization_test(good, good, alternative="two_sided")
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        paired_bootstrap_ci(good, good, level=95)
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        compare_paired(good, good, level=1.0)
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        paired_bootstrap_ci(good, good, n_resamples=10.5)
