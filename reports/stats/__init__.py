"""Significance statistics for per-query retrieval scores (e.g. AP@10): systems and recipes.

System vs recipe comparisons
----------------------------
A **system** is a fixed artifact -- one trained checkpoint, a leaderboard submission: the only
randomness in its score is which queries the test set holds, and paired tests over queries answer
"would A beat B on other queries?".  A **recipe** (architecture + hyperparameters + training
procedure) is a random variable: every training seed gives a different system, and the claim
"recipe A beats recipe B" must survive the training noise too.  On SynthCaps-small the query-only
test calls seed 0 vs seed 1 *of the same recipe* different at p = 0.0013 (details, derivations,
simulations and references in the modules below).

One module per family, each with its part of the justification in its docstring:

* :mod:`reports.stats.system`   -- system comparisons: paired sign-flip test, paired bootstrap CI,
  Wilcoxon (:func:`paired_randomization_test`, :func:`paired_bootstrap_ci`, :func:`compare_paired`,
  :class:`PairedTest`), and :func:`mean_over_seeds`; determinism and memory of the resampling.
* :mod:`reports.stats.recipe`   -- recipe comparisons: the seed- and query-aware :func:`recipe_test`
  (:class:`RecipeTest`) with its model, estimators, "why not" alternatives, measured limits and the
  robust variant with a seed-variance floor (:func:`pooled_seed_variance`,
  :class:`SeedVarianceFloor`); :func:`compare_arms`, the front door that falls back to the query-only
  test (:class:`QueryOnlyTest`) when an arm has one run; :func:`recipe_arrays`, the test vectorised.
* :mod:`reports.stats.paired`   -- recipe comparisons whose runs are matched by training seed (common random
  numbers): :func:`paired_recipe_test` (:class:`PairedRecipeTest`) on the per-seed differences plus the query
  term, :func:`paired_arrays` vectorised, and :func:`compare_seeded_arms`, which pairs the runs when both arms ran
  the same seeds and falls back to :func:`compare_arms` otherwise.
* :mod:`reports.stats.sequential` -- sequential ablations that add seeds only to undecided rows:
  :class:`SequentialDesign` (``decide``, ``rows_needing_more_seeds``), Lan-DeMets O'Brien-Fleming-type spending
  with exact group-sequential t levels (:func:`sequential_t_levels`, :func:`group_sequential_boundaries`), repeated
  p-values with Holm across rows, "no effect larger than delta" from repeated CIs, and
  :func:`simulate_sequential` (false-positive rate, seeds used, power).
* :mod:`reports.stats.power`    -- planning: :func:`recipe_power`, :func:`minimum_detectable_effect`.
* :mod:`reports.stats.multiple` -- both families: :func:`holm` (Holm-Bonferroni adjusted p-values)
  and :func:`significance_mark` (``"***"`` / ``"**"`` / ``"*"`` / ``""``).
* :mod:`reports.stats.common`   -- what they share: input validation, the Welch-Satterthwaite df.

The rest of the project imports this package (``from reports.stats import recipe_test``), never one
of its modules.
"""

from __future__ import annotations

from .multiple import holm, significance_mark
from .paired import PAIRED_METHOD, PairedRecipeTest, compare_seeded_arms, match_seeds, paired_arrays, paired_recipe_test
from .power import minimum_detectable_effect, recipe_power
from .sequential import (
    EFFECT,
    NO_EFFECT,
    UNDECIDED,
    Decision,
    SequentialDesign,
    SequentialSimulation,
    decide_ablation,
    group_sequential_boundaries,
    obrien_fleming_spending,
    sequential_t_levels,
    simulate_sequential,
)
from .recipe import (
    QUERY_ONLY_METHOD,
    RECIPE_FLOOR_METHOD,
    RECIPE_METHOD,
    QueryOnlyTest,
    RecipeTest,
    SeedVarianceFloor,
    compare_arms,
    pooled_seed_variance,
    recipe_arrays,
    recipe_test,
)
from .system import PairedTest, compare_paired, mean_over_seeds, paired_bootstrap_ci, paired_randomization_test

__all__ = [
    "Decision",
    "EFFECT",
    "NO_EFFECT",
    "PAIRED_METHOD",
    "PairedRecipeTest",
    "PairedTest",
    "QUERY_ONLY_METHOD",
    "QueryOnlyTest",
    "RECIPE_FLOOR_METHOD",
    "RECIPE_METHOD",
    "RecipeTest",
    "SeedVarianceFloor",
    "SequentialDesign",
    "SequentialSimulation",
    "UNDECIDED",
    "compare_arms",
    "compare_paired",
    "compare_seeded_arms",
    "decide_ablation",
    "group_sequential_boundaries",
    "holm",
    "match_seeds",
    "mean_over_seeds",
    "minimum_detectable_effect",
    "obrien_fleming_spending",
    "paired_arrays",
    "paired_bootstrap_ci",
    "paired_randomization_test",
    "paired_recipe_test",
    "pooled_seed_variance",
    "recipe_arrays",
    "recipe_power",
    "recipe_test",
    "sequential_t_levels",
    "significance_mark",
    "simulate_sequential",
]
