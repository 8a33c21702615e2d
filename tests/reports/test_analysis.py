"""The analysis of a study: one immutable record that the tables and figures only format."""

from __future__ import annotations

import statistics
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from reports.analysis import QUERY_ONLY, RECIPE, Settings, analyse_study
from reports.collect import collect_study
from reports.stats import holm, recipe_test, significance_mark
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
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    analysis = analyse_study(data, SETTINGS, importance=False)
    (ablation,) = analysis.factors
    names = [g.values[0] for g in ablation.groups]
    assert names == ["full", "no_x", "same", "once"] and ablation.comparisons[0] is None
    kinds = [c.kind for c in ablation.comparisons[1:]]
    assert kinds == [RECIPE, RECIPE, QUERY_ONLY] and ablation.n_family == 2
    arms = {g.values[0]: [t.ap for t in g.trials] for g in ablation.groups}
    recipe = ablation.comparisons[1:3]
    for c, name in zip(recipe, ("no_x", "same")):
        assert c.test == recipe_test(arms[name], arms["full"])
    adjusted = holm([c.p_value for c in recipe])
    assert [c.p_holm for c in recipe] == [float(p) for p in adjusted]
    assert [c.mark for c in recipe] == [significance_mark(float(p)) for p in adjusted]
    once = ablation.comparisons[3]
    assert once.p_value is None and once.p_holm is None and once.mark == ""
    assert np.allclose(ablation.groups[0].ap, np.mean(arms["full"], axis=0))
    # the summary's minimum detectable Δ uses the query variance of these recipe comparisons
    assert analysis.noise.query_var == pytest.approx(statistics.median(c.test.query_var for c in recipe))
