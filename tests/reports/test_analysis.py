"""The analysis of a study: one immutable record that the tables and figures only format."""

from __future__ import annotations

import statistics
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest

from reports.analysis import QUERY_ONLY, RECIPE, Settings, analyse_study
from reports.collect import collect_study
from reports.stats import PairedRecipeTest, holm, paired_recipe_test, recipe_test, significance_mark
from reports.tables import report_tables

SETTINGS = Settings(resamples=300, seed=0)


def test_the_analysis_is_immutable_and_formatting_leaves_it_as_it_is(seeded_ablation_study):
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    analysis = analyse_study(data, SETTINGS, importance=False)
    (ablation,) = analysis.factors
    with pytest.raises(FrozenInstanceError):
        analysis.noise = None
    with pytest.raises(FrozenInstanceError):
        ablation.comparisons[1].mark = "***"
    assert isinstance(analysis.factors, tuple) and isinstance(ablation.groups[0].trials, tuple)
    with pytest.raises(ValueError):
        ablation.groups[0].ap[0] = 1.0  # read-only
    first = [t.texts() for t in report_tables(analysis)]
    assert [t.texts() for t in report_tables(analysis)] == first
    assert analysis.importance is None and analysis.problems == ()


def test_comparisons_carry_their_tests_holm_marks_and_feed_the_seed_noise(seeded_ablation_study):
    """Stats version 1: every recipe row by the unpaired recipe test."""
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    analysis = analyse_study(data, replace(SETTINGS, stats_version=1), importance=False)
    (ablation,) = analysis.factors
    names = [g.values[0] for g in ablation.groups]
    assert names == ["full", "no_x", "same", "once"] and ablation.comparisons[0] is None
    kinds = [c.kind for c in ablation.comparisons[1:]]
    assert kinds == [RECIPE, RECIPE, QUERY_ONLY] and ablation.n_family == 2
    arms = {g.values[0]: [t.ap for t in g.trials] for g in ablation.groups}
    recipe = ablation.comparisons[1:3]
    for c, name in zip(recipe, ("no_x", "same")):
        assert c.test == recipe_test(arms[name], arms["full"])
        assert not c.paired and c.correlation is None
    adjusted = holm([c.p_value for c in recipe])
    assert [c.p_holm for c in recipe] == [float(p) for p in adjusted]
    assert [c.mark for c in recipe] == [significance_mark(float(p)) for p in adjusted]
    once = ablation.comparisons[3]
    assert once.p_value is None and once.p_holm is None and once.mark == ""
    assert np.allclose(ablation.groups[0].ap, np.mean(arms["full"], axis=0))
    # the summary's minimum detectable Δ uses the query variance of these recipe comparisons
    assert analysis.noise.query_var == pytest.approx(statistics.median(c.test.query_var for c in recipe))


def test_arms_that_ran_the_same_seeds_are_compared_paired(seeded_ablation_study):
    """Stats version 2 (the default): no_x and same ran seeds 0-2 as the baseline did, so their runs are matched by
    seed and judged by the paired recipe test, in the Holm family and feeding the seed noise like unpaired ones;
    'once' (one run) stays query-only."""
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    analysis = analyse_study(data, SETTINGS, importance=False)
    assert SETTINGS.stats_version == 2
    (ablation,) = analysis.factors
    by_seed = {g.values[0]: {t.seed: t.ap for t in g.trials} for g in ablation.groups}
    recipe = ablation.comparisons[1:3]
    for c, name in zip(recipe, ("no_x", "same")):
        want = paired_recipe_test([by_seed[name][s] for s in (0, 1, 2)], [by_seed["full"][s] for s in (0, 1, 2)],
                                  seeds=(0, 1, 2))
        assert isinstance(c.test, PairedRecipeTest) and c.test == want
        assert c.kind == RECIPE and c.paired and c.correlation == want.correlation
        assert (c.diff, c.ci_low, c.ci_high, c.p_value) == (want.diff, want.ci_low, want.ci_high, want.p_value)
    assert [c.p_holm for c in recipe] == [float(p) for p in holm([c.p_value for c in recipe])]
    assert ablation.comparisons[3].kind == QUERY_ONLY and not ablation.comparisons[3].paired
    assert analysis.noise.query_var == pytest.approx(statistics.median(c.test.query_var for c in recipe))


def test_arms_with_other_seeds_stay_unpaired(seeded_ablation_study):
    """Version 2 pairs only arms with the same seed set: without the baseline's seed-2 run the rows are unpaired."""
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    drop = next(t for t in data.included if t.params["variant"] == "full" and t.seed == 2)
    analysis = analyse_study(replace(data, trials=[t for t in data.trials if t is not drop]), SETTINGS,
                             importance=False)
    (ablation,) = analysis.factors
    assert [len(g.trials) for g in ablation.groups] == [2, 3, 3, 1]
    assert [c.paired for c in ablation.comparisons[1:]] == [False, False, False]
    arms = {g.values[0]: [t.ap for t in g.trials] for g in ablation.groups}
    assert ablation.comparisons[1].test == recipe_test(arms["no_x"], arms["full"])


def test_stats_versions_are_checked_and_old_records_mean_version_1():
    from reports.analysis import STATS_VERSION, settings_from_record

    from reports.cli import build_parser

    assert Settings().stats_version == STATS_VERSION == 2
    assert build_parser().parse_args(["build", "--out", "x"]).stats_version == STATS_VERSION  # the CLI's default
    assert settings_from_record({"resamples": 500, "seed": 0, "top_k": 10}).stats_version == 1
    assert settings_from_record({"resamples": 5, "seed": 0, "top_k": 1, "stats_version": 2}).stats_version == 2
    with pytest.raises(ValueError, match="stats_version must be one of 1, 2"):
        Settings(stats_version=3)
