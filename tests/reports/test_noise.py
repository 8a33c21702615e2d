"""Seed noise in the summary table: pooled within-configuration sd (against hand computations), the minimum
detectable Δ of the study's design, and "not available" when no configuration ran twice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution

from reports.collect import collect_study
from reports.noise import pooled_sd, seed_noise
from reports.stats import compare_seeded_arms, minimum_detectable_effect, recipe_test
from reports.analysis import Settings, analyse_study
from reports.tables import summary_table

SETTINGS = Settings(resamples=500, seed=0)
SD_MAP = "seed sd of test mAP@10 (within configuration)"
SD_OBJ = "seed sd of val_map10 (within configuration)"
MDE = "minimum detectable Δ test mAP@10"


def _summary(data):
    table = summary_table(analyse_study(data, SETTINGS, importance=False))
    raw = {r["quantity"]: r["value"] for r in table.rows}
    shown = {c[0]: c[1] for c in table.cells}
    return table, raw, shown


def _arms(data, key, value):
    return [t.ap for t in sorted(data.included, key=lambda t: t.number) if t.params.get(key) == value]


def test_pooled_sd_by_hand():
    # group 1: mean 2, squared deviations 1 + 0 + 1 = 2; group 2: mean 5, 1 + 1 = 2; df = 2 + 1; a lone run adds nothing
    assert pooled_sd([[1.0, 2.0, 3.0], [4.0, 6.0], [9.0]]) == pytest.approx(math.sqrt(4.0 / 3.0), abs=1e-15)
    assert pooled_sd([[1.0], [2.0]]) is None and pooled_sd([]) is None


def test_two_seeds_per_configuration_pooled_sd_and_mde(ablation_study):
    """3 variants x 2 seeds: with two runs, s_i^2 = (x_1 - x_2)^2 / 2, so s_pooled^2 is the mean of those."""
    data = collect_study(storage=ablation_study["url"], study="abl")
    table, raw, shown = _summary(data)
    ap = ablation_study["ap"]
    hand = math.sqrt(np.mean([(ap[(v, 0)].mean() - ap[(v, 1)].mean()) ** 2 / 2 for v in ("full", "no_x", "same")]))
    assert raw[SD_MAP] == pytest.approx(hand, rel=1e-9)
    values = {(t.params["variant"], t.seed): t.value for t in data.included}
    hand_obj = math.sqrt(np.mean([(values[(v, 0)] - values[(v, 1)]) ** 2 / 2 for v in ("full", "no_x", "same")]))
    assert raw[SD_OBJ] == pytest.approx(hand_obj, rel=1e-9)
    assert raw["seed-noise configurations"] == 3 and raw["seed-noise runs"] == 6
    assert raw["MDE seeds per configuration"] == 2
    # query variance: the median Q of the ablation table's two recipe comparisons, recomputed on the arms
    qs = [recipe_test(_arms(data, "variant", v), _arms(data, "variant", "full")).query_var for v in ("no_x", "same")]
    assert raw["MDE query variance"] == pytest.approx(np.median(qs), rel=1e-9, abs=1e-15)
    assert raw[MDE] == pytest.approx(minimum_detectable_effect(
        n_runs_a=2, n_runs_b=2, n_queries=300, run_var_a=hand**2, run_var_b=hand**2, query_var=float(np.median(qs))),
        rel=1e-6)
    assert shown[SD_MAP] == f"{100 * hand:.2f} pp (3 configurations with ≥ 2 runs, 6 runs)"
    assert shown[MDE].startswith(f"{100 * raw[MDE]:.2f} pp (2 vs 2 seeds, 300 queries; power 0.8")
    assert "median Q of the report's 2 recipe comparison(s)" in shown["MDE query variance"]
    assert analyse_study(data, SETTINGS, importance=False).noise.available


def test_unequal_seed_counts_use_the_weighted_formula_and_the_most_common_count(conditional_grid_study):
    """none and late have 3 runs, mid/1 and mid/2 have 2: weights n_i - 1 = 2, 2, 1, 1; m = 2 (tie: the smaller)."""
    data = collect_study(storage=conditional_grid_study["url"], study="gridc")
    _, raw, _ = _summary(data)
    groups: dict[tuple, list[float]] = {}
    for t in data.included:
        groups.setdefault((t.params["fusion.kind"], t.params.get("fusion.mid.layers")), []).append(t.metrics["map10"])
    assert sorted(len(g) for g in groups.values()) == [2, 2, 3, 3]
    num = sum((len(g) - 1) * np.var(g, ddof=1) for g in groups.values())
    assert raw[SD_MAP] == pytest.approx(math.sqrt(num / (2 + 2 + 1 + 1)), rel=1e-9)
    assert raw[SD_MAP] != pytest.approx(np.mean([np.std(g, ddof=1) for g in groups.values()]), rel=1e-3)
    assert raw["MDE seeds per configuration"] == 2 and raw["seed-noise runs"] == 10
    # the report's recipe comparisons: late vs none (fusion table), layers 2 vs 1 (its own table), each pair of arms
    # on the same seeds, so paired (stats version 2)
    inc = sorted(data.included, key=lambda t: t.number)

    def paired_q(key, row, base):
        a, b = ([t for t in inc if t.params.get(key) == v] for v in (row, base))
        r = compare_seeded_arms([t.ap for t in a], [t.ap for t in b], seeds_a=[t.seed for t in a],
                                seeds_b=[t.seed for t in b])
        assert r.paired
        return r.query_var

    q_fusion, q_layers = paired_q("fusion.kind", "late", "none"), paired_q("fusion.mid.layers", 2, 1)
    assert raw["MDE query variance"] == pytest.approx((q_fusion + q_layers) / 2, rel=1e-9, abs=1e-15)


def test_without_recipe_comparisons_the_query_variance_comes_from_pairs_of_configurations(tmp_path, fab):
    """A TPE study (every comparison exploratory) whose configurations ran for 2 and 3 seeds."""
    study, url = fab.new_study(tmp_path, "tpe", sampler="tpe")
    dists = {"fusion.kind": CategoricalDistribution(["none", "late", "mid"])}
    base = fab.base_scores(120, seed=1)
    rng = np.random.default_rng(0)
    for kind, seeds in (("none", (0, 1)), ("late", (0, 1, 2)), ("mid", (0, 1))):
        for seed in seeds:
            ap = np.clip(base + 0.05 * (kind == "late") + 0.01 * seed + rng.normal(0, 0.03, base.size), 0, 1)
            fab.add_trial(study, params={"fusion.kind": kind}, distributions=dists, value=float(ap.mean()),
                          run_dir=fab.write_run(tmp_path / f"{kind}{seed}", ap), seed=seed)
    data = collect_study(storage=url, study="tpe")
    _, raw, shown = _summary(data)
    ref = _arms(data, "fusion.kind", "late")  # the configuration with the most runs
    qs = [recipe_test(_arms(data, "fusion.kind", k), ref).query_var for k in ("none", "mid")]
    assert raw["MDE query variance"] == pytest.approx(np.median(qs), rel=1e-9, abs=1e-15)
    assert "each configuration with ≥ 2 runs against the one with the most runs (trial #2's)" in \
        shown["MDE query variance"]
    assert raw["MDE seeds per configuration"] == 2 and isinstance(raw[MDE], float)


def test_one_repeated_configuration_gives_a_lower_bound(tmp_path, fab):
    study, url = fab.new_study(tmp_path, "lb")
    dists = {"variant": CategoricalDistribution(["full", "no_x"]), "seed": CategoricalDistribution([0, 1])}
    base = fab.base_scores(100)
    for v, seed, shift in (("full", 0, 0.0), ("full", 1, 0.03), ("no_x", 0, -0.1)):
        ap = np.clip(base + shift, 0, 1)
        fab.add_trial(study, params={"variant": v, "seed": seed}, distributions=dists, value=float(ap.mean()),
                      run_dir=fab.write_run(tmp_path / f"{v}{seed}", ap), seed=seed)
    data = collect_study(storage=url, study="lb")
    _, raw, shown = _summary(data)
    noise = seed_noise(data)
    assert noise.mde_lower_bound and noise.query_var is None
    assert raw[MDE] == pytest.approx(minimum_detectable_effect(
        n_runs_a=2, n_runs_b=2, n_queries=100, run_var_a=raw[SD_MAP] ** 2, run_var_b=raw[SD_MAP] ** 2, query_var=0.0),
        rel=1e-6)
    assert shown[MDE].startswith("≥ ") and "unknown (a single configuration with ≥ 2 runs" in \
        shown["MDE query variance"]


def test_single_runs_make_the_seed_noise_not_available(single_seed_study):
    data = collect_study(storage=single_seed_study["url"], study="one_seed")
    table, raw, shown = _summary(data)
    for key in (SD_MAP, SD_OBJ):
        assert raw[key].startswith("not available: no configuration has 2 included runs") and shown[key] == raw[key]
    assert raw[MDE] == "not available: no seed noise measured"
    assert "MDE seeds per configuration" not in raw and "seed-noise runs" not in raw
    assert "Not available here" in table.notes[-1]
