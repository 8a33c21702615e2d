"""Sequential ablations (reports.stats.sequential): boundaries against published values and an independent method,
the exact t levels against simulation, the API against the vectorised simulation, and the error rates, seeds and
power of simulated ablations.

Every RNG is seeded (results are deterministic); rates are judged against the binomial sd of the simulated rate.
One design (looks at 3 .. 10 seeds) is used throughout, so its level table is computed once per session.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reports.stats import (
    EFFECT,
    NO_EFFECT,
    UNDECIDED,
    Decision,
    SequentialDesign,
    decide_ablation,
    group_sequential_boundaries,
    holm,
    obrien_fleming_spending,
    paired_recipe_test,
    sequential_t_levels,
    simulate_sequential,
)
from reports.stats.sequential import _holm_last_axis, _run_studies, _t_levels

ALPHA = 0.05
DESIGN = SequentialDesign(min_seeds=3, max_seeds=10, delta=0.01)
N_STUDIES = 4000
#: SynthCaps-small, one configuration, seeds 0-7: test mAP@10 (500 queries), seed sd 3.35 pp.
SYNTHCAPS_SEED_MAPS = np.array([0.400, 0.453, 0.492, 0.426, 0.448, 0.479, 0.425, 0.489])
#: measured: run-mAP seed sd 1.7 pp (base config), 2.35-2.95 pp (DCASE 2022 incumbent); 1000 test queries; the
#: variance of per-query AP differences between two arms, sigma_d^2, taken as 0.2^2 (query term 0.63 pp)
BASE_SD, INCUMBENT_SD, QUERY_VAR, N_QUERIES = 0.017, 0.0265, 0.04, 1000


def binomial_sd(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


# ----------------------------------------------------------------------------------------------------------
# spending and z boundaries


def test_spending_is_monotone_and_spends_alpha_at_the_end():
    t = np.linspace(0.01, 1.0, 100)
    a = obrien_fleming_spending(t, ALPHA)
    assert np.all(np.diff(a) > 0) and a[-1] == pytest.approx(ALPHA, rel=1e-12)
    assert obrien_fleming_spending(0.3, ALPHA) < 1e-4  # O'Brien-Fleming spends almost nothing early
    # each side spends alpha/2 with the one-sided O'Brien-Fleming-type function
    assert obrien_fleming_spending(0.5, ALPHA) == pytest.approx(4 * stats.norm.sf(stats.norm.isf(0.0125) / 0.5**0.5))


def test_boundaries_match_the_published_lan_demets_obrien_fleming_values():
    """5 equally spaced looks, two-sided 0.05 (0.025 per side): 4.877, 3.357, 2.680, 2.290, 2.031 (the values of
    ldbounds / gsDesign for sfLDOF); one look: 1.960."""
    c = group_sequential_boundaries(np.arange(1, 6) / 5, ALPHA)
    np.testing.assert_allclose(c, [4.877, 3.357, 2.680, 2.290, 2.031], atol=1e-3)
    assert group_sequential_boundaries([1.0], ALPHA)[0] == pytest.approx(stats.norm.isf(0.025), rel=1e-12)


@pytest.mark.parametrize("fractions", [np.arange(1, 6) / 5, np.array([0.3, 0.45, 0.7, 1.0])])
def test_boundaries_spend_what_the_spending_function_says(fractions):
    """An independent check: the probability of no crossing up to each look, by scipy's multivariate normal CDF
    (Genz's algorithm) under corr(Z_j, Z_k) = sqrt(t_j / t_k), is 1 - alpha(t_k)."""
    c = group_sequential_boundaries(fractions, ALPHA)
    spent = obrien_fleming_spending(fractions, ALPHA)
    for k in range(2, fractions.size + 1):
        t = fractions[:k]
        cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
        inside = stats.multivariate_normal(np.zeros(k), cov).cdf(c[:k], lower_limit=-c[:k])
        assert 1.0 - inside == pytest.approx(spent[k - 1], abs=2e-5)


# ----------------------------------------------------------------------------------------------------------
# exact t levels


def test_the_first_look_spends_exactly_and_the_levels_grow():
    levels = sequential_t_levels(DESIGN.looks, ALPHA)
    spent = obrien_fleming_spending(np.asarray(DESIGN.looks) / 10, ALPHA)
    assert levels[0] == pytest.approx(spent[0], rel=1e-12)
    assert np.all(np.diff(levels) > 0) and levels[-1] < ALPHA
    np.testing.assert_allclose(levels, [8.5e-5, 7.1e-4, 2.5e-3, 5.7e-3, 0.0105, 0.0167, 0.0242, 0.0327], rtol=0.02)
    np.testing.assert_array_equal(DESIGN.levels, levels)


def test_exact_t_levels_hold_the_size_for_normal_data_where_z_levels_do_not():
    """40,000 normal null rows, no query term: the t-tests at the exact levels reject 0.05 of the time (the
    recursion), the same t-tests at the nominal levels of the z boundaries (the significance level approach)
    about 0.057."""
    rng = np.random.default_rng(40)
    n = 40_000
    x = rng.standard_normal((n, 10))
    z_levels = 2 * stats.norm.sf(group_sequential_boundaries(np.asarray(DESIGN.looks) / 10, ALPHA))
    exact, approx = np.zeros(n, bool), np.zeros(n, bool)
    for k, m in enumerate(DESIGN.looks):
        r = x[:, :m]
        p = 2 * stats.t.sf(np.abs(r.mean(1)) / (r.std(1, ddof=1) / math.sqrt(m)), m - 1)
        exact |= p <= DESIGN.levels[k]
        approx |= p <= z_levels[k]
    sd = binomial_sd(ALPHA, n)
    assert abs(exact.mean() - ALPHA) <= 4 * sd, exact.mean()
    assert approx.mean() - ALPHA > 4 * sd, approx.mean()
    print(f"exact t levels {exact.mean():.4f}, z levels {approx.mean():.4f}")


def test_a_seed_without_a_look_and_a_single_look():
    """Looks at 3, 5, 8 of 8 (seeds 4, 6, 7 without a look) hold the size; one look is the t-test at alpha."""
    levels = sequential_t_levels((3, 5, 8), ALPHA)
    rng = np.random.default_rng(41)
    x = rng.standard_normal((40_000, 8))
    rej = np.zeros(x.shape[0], bool)
    for k, m in enumerate((3, 5, 8)):
        r = x[:, :m]
        rej |= 2 * stats.t.sf(np.abs(r.mean(1)) / (r.std(1, ddof=1) / math.sqrt(m)), m - 1) <= levels[k]
    assert abs(rej.mean() - ALPHA) <= 4 * binomial_sd(ALPHA, x.shape[0]), rej.mean()
    assert sequential_t_levels((5,), ALPHA)[0] == pytest.approx(ALPHA, rel=1e-12)


def test_repeated_p_values_invert_the_levels():
    """The interpolated repeated p-value against the exact inversion (Brent's method on the level of the design)."""
    from scipy.optimize import brentq

    for look, p in ((3, 2e-3), (7, 0.03), (7, 1e-4)):
        u = math.exp(brentq(lambda lu: _t_levels(DESIGN.looks[:look + 1], 10, math.exp(lu))[look] - p,
                            math.log(1e-6), math.log(0.99), xtol=1e-6))
        assert float(DESIGN.repeated_p(p, look)) == pytest.approx(u, rel=5e-3), (look, p)
    # the first look's repeated p-value in closed form: the u whose spending at t_1 is the p-value
    p = 1e-4
    u = 4 * stats.norm.sf(stats.norm.isf(p / 4) * math.sqrt(0.3))
    assert float(DESIGN.repeated_p(p, 0)) == pytest.approx(u, rel=5e-3)
    assert DESIGN.repeated_p(0.0, 3) == 0.0 and DESIGN.repeated_p(1.0, 3) == 1.0


def test_holm_vectorised():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.2, (50, 5))
    p[3, :2] = p[3, 2]  # ties
    want = np.stack([holm(row) for row in p])
    np.testing.assert_allclose(_holm_last_axis(p), want, rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------------------------------------
# the API


def test_decide_step_by_step_is_the_simulation():
    """A runner's loop -- decide, then one more seed for rows_needing_more_seeds -- gives the statuses, seeds,
    p-values and CIs of the vectorised simulation on the same draws (3 rows: null, small, large effect; query
    term)."""
    rng = np.random.default_rng(3)
    n_st, effects = 16, np.array([0.0, 0.01, 0.04])
    r = effects[None, :, None] + 0.015 * rng.standard_normal((n_st, 3, 10))
    q = np.full((n_st, 3), QUERY_VAR) * rng.chisquare(N_QUERIES - 1, (n_st, 3)) / (N_QUERIES - 1)
    design = SequentialDesign(min_seeds=3, max_seeds=10, delta=0.025)
    sim = _run_studies(design, r, q / N_QUERIES, N_QUERIES)
    assert {str(x) for x in sim["status"].ravel()} == {EFFECT, NO_EFFECT, UNDECIDED}
    for i in range(n_st):
        rows = {name: 3 for name in "abc"}
        while True:
            dec = design.decide({name: r[i, j, :rows[name]] for j, name in enumerate("abc")},
                                query_var={name: q[i, j] for j, name in enumerate("abc")}, n_queries=N_QUERIES)
            more = design.rows_needing_more_seeds(dec)
            if not more:
                break
            for name in more:
                rows[name] += 1
        for j, name in enumerate("abc"):
            d = dec[name]
            assert isinstance(d, Decision) and d.final
            assert (d.status, d.n, d.sign) == (sim["status"][i, j], sim["n"][i, j], sim["sign"][i, j])
            assert (d.p_value, d.p_holm, d.ci_low, d.ci_high) == pytest.approx(
                (sim["p_value"][i, j], sim["p_holm"][i, j], sim["ci_low"][i, j], sim["ci_high"][i, j]), rel=1e-9)


def test_a_fixed_design_is_the_t_test_on_the_per_seed_differences():
    """min_seeds = max_seeds: one look at alpha; without a query term the p-value is the paired t-test's on the
    run mAP differences (the paired recipe test with one query)."""
    design = SequentialDesign(min_seeds=5, max_seeds=5, delta=0.0)
    rng = np.random.default_rng(8)
    a, b = rng.normal(0.45, 0.02, (5, 1)), rng.normal(0.44, 0.02, (5, 1))
    d = design.decide({"row": (a - b)[:, 0]})["row"]
    want = stats.ttest_rel(a[:, 0], b[:, 0])
    assert d.p_value == pytest.approx(want.pvalue, rel=1e-3) and d.n == 5 and d.final
    assert (d.status == EFFECT) == (want.pvalue <= ALPHA)


def test_decide_runs_uses_the_paired_test_on_the_runs():
    rng = np.random.default_rng(9)
    shared = rng.normal(0, 0.02, (4, 1))
    xa = 0.5 + shared + rng.normal(0, 0.2, (4, 300)) + 0.03
    xb = 0.5 + shared + rng.normal(0, 0.2, (4, 300))
    got = DESIGN.decide_runs({"row": (xa[:4], xb[:4])})["row"]
    pt = paired_recipe_test(xa, xb)
    want = DESIGN.decide({"row": xa.mean(1) - xb.mean(1)}, query_var=pt.query_var, n_queries=300)["row"]
    assert got == want and got.diff == pytest.approx(pt.diff)


def test_decide_ablation_pairs_each_row_with_the_control_on_shared_seeds_in_run_order():
    rng = np.random.default_rng(3)
    seed_term = {s: rng.normal(0, 0.03) for s in range(12)}

    def runs(seeds, shift):
        return {s: 0.4 + seed_term[s] + shift + rng.normal(0, 0.1, 200) for s in seeds}

    control = runs([5, 1, 9, 3, 7, 11], 0.0)
    rows = {"a": runs([1, 5, 9, 3], -0.05), "b": runs([9, 1], 0.0), "c": runs([5, 1, 9, 3, 7, 11], 0.01),
            "d": runs([1, 5, 8], 0.0)}  # d shares only 1 and 5 with the control
    order = [5, 1, 9, 3, 7, 11, 8]
    design = SequentialDesign(min_seeds=3, max_seeds=5, delta=0.02)
    got = decide_ablation(design, rows, control, order)
    assert got["b"] is None and got["d"] is None  # fewer than min_seeds pairs: not looked at
    assert got["a"].n == 4 and got["c"].n == 5  # c: the first max_seeds pairs in run order (5, 1, 9, 3, 7)
    want = design.decide_runs({
        "a": (np.stack([rows["a"][s] for s in (5, 1, 9, 3)]), np.stack([control[s] for s in (5, 1, 9, 3)])),
        "c": (np.stack([rows["c"][s] for s in (5, 1, 9, 3, 7)]), np.stack([control[s] for s in (5, 1, 9, 3, 7)]))})
    assert got["a"] == want["a"] and got["c"] == want["c"]


def test_decisions_and_validation():
    """One row at a time (n_k - 1 df): a large consistent effect, a tiny one, a noisy one; then three rows together,
    where the pooled floor lifts the consistent row's variance to the pool's."""
    rows = {"big": np.full(3, 0.05) + np.array([0.0, 1e-4, -1e-4]),
            "tiny": np.array([0.001, -0.001, 0.0005, 0.0, -0.0005]), "noisy": np.array([0.03, -0.03, 0.0])}
    d = {name: DESIGN.decide({name: x})[name] for name, x in rows.items()}
    assert d["big"].status == EFFECT and d["big"].sign == 1 and d["big"].final
    assert d["tiny"].status == NO_EFFECT and d["tiny"].within_delta and d["tiny"].final
    assert d["noisy"].status == UNDECIDED and not d["noisy"].final
    assert DESIGN.rows_needing_more_seeds(d) == ["noisy"]
    assert d["noisy"].to_dict()["status"] == UNDECIDED
    together = DESIGN.decide(rows)
    assert together["big"].se > d["big"].se and together["noisy"].se == d["noisy"].se
    at_max = DESIGN.decide({"noisy": np.resize([0.03, -0.03, 0.0], 10)})["noisy"]
    assert at_max.status == UNDECIDED and at_max.final
    with pytest.raises(ValueError, match="looks at"):
        DESIGN.decide({"row": np.zeros(11)})
    with pytest.raises(ValueError, match="n_queries"):
        DESIGN.decide({"row": np.zeros(3)}, query_var=0.01)
    with pytest.raises(ValueError, match="min_seeds"):
        SequentialDesign(min_seeds=2, max_seeds=10, delta=0.01)
    with pytest.raises(ValueError, match="max_seeds"):
        SequentialDesign(min_seeds=5, max_seeds=4, delta=0.01)
    with pytest.raises(ValueError, match="looks must"):
        SequentialDesign(min_seeds=3, max_seeds=10, delta=0.01, looks=(3, 5, 9))
    with pytest.raises(ValueError, match="alpha must be below 0.5"):
        SequentialDesign(min_seeds=3, max_seeds=10, delta=0.01, alpha=0.6)
    with pytest.raises(ValueError, match="exactly one of"):
        simulate_sequential(DESIGN, n_studies=10)
    assert DESIGN.decide({}) == {}


# ----------------------------------------------------------------------------------------------------------
# simulated ablations


def _check_fpr(sim, label: str) -> None:
    bound = ALPHA + 3 * binomial_sd(ALPHA, sim.n_studies)
    assert sim.fpr <= 0.06 and sim.fpr <= bound, (label, sim.fpr)
    print(f"{label}: FPR {sim.fpr:.4f} (sd {sim.fpr_sd:.4f}), mean seeds {sim.mean_seeds:.2f}")


@pytest.mark.parametrize("rows", [1, 4])
def test_aa_false_positive_rate_at_the_measured_variance_components(rows):
    """A/A rows (the arms' run mAPs with seed sd 1.7 pp, correlation 0.5 between the arms of a seed; 2.65 pp and
    0.9 for the incumbent) and the query term, 4,000 studies: familywise FPR <= 0.06."""
    for sd, rho, name in ((BASE_SD, 0.5, "base"), (INCUMBENT_SD, 0.9, "incumbent")):
        sim = simulate_sequential(DESIGN, n_studies=N_STUDIES, effects=(0.0,) * rows, seed_sd=sd, rho=rho,
                                  query_var=QUERY_VAR, n_queries=N_QUERIES, seed=10 + rows)
        _check_fpr(sim, f"{name}, {rows} row(s)")
        assert sim.mean_seeds > 9.5  # null rows rarely stop (delta 1 pp is below what 10 seeds can resolve)
    no_query = simulate_sequential(DESIGN, n_studies=N_STUDIES, effects=(0.0,) * rows, seed_sd=BASE_SD, rho=0.5,
                                   seed=20 + rows)
    _check_fpr(no_query, f"base without query term, {rows} row(s)")


@pytest.mark.parametrize("rows", [1, 4])
def test_aa_false_positive_rate_resampling_real_and_skewed_seed_distributions(rows):
    """A/A pairs of runs drawn from the 8 measured SynthCaps seed mAPs, from a distribution with 5% collapsed seeds
    (skewed) and from a lognormal (skewed, heavy-tailed), with the query term: familywise FPR <= 0.06."""
    rng = np.random.default_rng(30)
    pools = {"SynthCaps seeds": SYNTHCAPS_SEED_MAPS,
             "5% collapsed seeds": 0.45 + 0.017 * (rng.standard_normal(400) - 5.0 * (rng.random(400) < 0.05)),
             "lognormal": 0.45 - 0.017 * rng.lognormal(0.0, 1.0, 400)}
    for i, (name, pool) in enumerate(pools.items()):
        sim = simulate_sequential(DESIGN, n_studies=N_STUDIES, effects=(0.0,) * rows, runs_pool=pool,
                                  query_var=QUERY_VAR, n_queries=N_QUERIES, seed=40 + 10 * i + rows)
        _check_fpr(sim, f"{name} (skewness {stats.skew(pool):+.1f}), {rows} row(s)")


def test_the_pooled_floor_keeps_the_size_where_welch_df_alone_do_not_and_buys_power():
    """4 rows with per-seed differences of sd 4.7 pp and a query term of 0.63 pp (5% of V): Welch-Satterthwaite df
    on each row's own S^2 are liberal (module docstring: 0.086); the pooled floor keeps the familywise error below
    alpha, as do n - 1 df. With a query term of half of V the floor has about twice the power of n - 1 df."""
    floor, own = DESIGN, SequentialDesign(min_seeds=3, max_seeds=10, delta=0.01, pooled_floor=False)
    for design in (floor, own):
        sim = simulate_sequential(design, n_studies=N_STUDIES, effects=(0.0,) * 4, diff_sd=0.047,
                                  query_var=QUERY_VAR, n_queries=N_QUERIES, seed=60)
        _check_fpr(sim, f"sd 4.7 pp, pooled_floor={design.pooled_floor}")
    power = {design.pooled_floor: simulate_sequential(design, n_studies=N_STUDIES, effects=(0.02, 0.0, 0.0, 0.0),
                                                      diff_sd=0.017, query_var=QUERY_VAR, n_queries=N_QUERIES,
                                                      seed=61).power for design in (floor, own)}
    assert power[True] > 1.5 * power[False], power
    print(f"power for 2 pp, sd 1.7 pp, query term 0.63 pp: pooled floor {power[True]:.3f}, n - 1 df {power[False]:.3f}")


def test_a_large_effect_stops_early_and_a_small_one_is_called_no_effect():
    """Rows: 4 pp (large: 2.4 sd of a per-seed difference), 0.2 pp (inside delta = 2.5 pp), 0 (null); per-seed
    differences sd 1.7 pp, query term 0.32 pp."""
    design = SequentialDesign(min_seeds=3, max_seeds=10, delta=0.025)
    sim = simulate_sequential(design, n_studies=N_STUDIES, effects=(0.04, 0.002, 0.0), diff_sd=0.017,
                              query_var=0.01, n_queries=N_QUERIES, seed=50)
    large, small, null = range(3)
    assert sim.effect_rate[large] >= 0.95 and sim.wrong_sign_rate[large] == 0.0
    assert sim.seeds_per_row[large] < 8.0  # stops early: the fixed design would run 10 seeds
    assert sim.no_effect_rate[small] >= 0.7 and sim.effect_rate[small] <= 0.1
    assert sim.no_effect_rate[null] >= 0.7
    assert sim.mean_seeds < design.max_seeds
    assert sim.fpr <= ALPHA + 3 * binomial_sd(ALPHA, N_STUDIES)
    print(f"large: power {sim.effect_rate[large]:.3f}, {sim.seeds_per_row[large]:.2f} seeds; small: no effect "
          f"{sim.no_effect_rate[small]:.3f}, {sim.seeds_per_row[small]:.2f} seeds; null: no effect "
          f"{sim.no_effect_rate[null]:.3f}; mean seeds {sim.mean_seeds:.2f}")
