"""Hyperparameter importance of a study, computed also inside each branch of a conditional search space.

Optuna's importance evaluators look at the *intersection* search space: a parameter that is not present in every
trial (``fusion.mid.layers`` exists only when ``fusion.kind == mid``, ``audio_encoder.width`` only for
``cnn-small``) is silently left out. :func:`importance_table` therefore evaluates importance twice:

* **branch ``all``** -- every COMPLETE trial with a finite objective, over the parameters that every such trial has;
* **one branch per conditional parameter set** -- let ``C`` be the parameters that only some trials have. Trials are
  grouped by the set ``K = params(trial) & C`` they hold; for every distinct non-empty ``K`` the branch is made of
  the trials that hold all of ``K`` (with one level of conditions these are exactly the trials with that parameter
  set; with crossed conditions, e.g. ``audio_encoder.width`` and ``fusion.mid.layers``, the branch of
  ``{fusion.mid.layers}`` keeps every mid-fusion trial whatever its encoder). Inside a branch the parameters are
  those every trial of the branch has, so the conditional ones are evaluated there.

A branch is labelled by its conditions: for each parameter ``p`` in ``K``, the parameters that are constant (value
``v``) in the trials holding ``p`` and take another value (or are absent) in every trial without ``p`` --
``fusion.kind=mid``. Categorical conditions are preferred when numeric ones separate as well; a parameter with no
such condition is written ``p present``. Parts are sorted and joined with ``", "``.

Evaluators (``evaluator`` column):

* ``fanova``: :class:`optuna.importance.FanovaImportanceEvaluator` (``seed=seed``), the share of the objective's
  variance that a random-forest fANOVA attributes to each parameter's main effect (Hutter et al., 2014);
* ``ped_anova``: :class:`optuna.importance.PedAnovaImportanceEvaluator`, the Pearson divergence between the
  parameter's distribution in the top trials and in all trials (Watanabe et al., 2023). The top quantile is
  ``min(max(0.1, 5 / n), 0.5)`` of the ``n`` trials, so that about five trials form the "good" set in small
  studies (Optuna's default is 0.1, which leaves one or two; its documentation asks for at least five).

Importances are normalised to sum to 1 within each (branch, evaluator) and rounded to 6 decimals. The trial seed
parameter (``seed``, the grid dimension of ``studies.spec.SEED``) and parameters with a single distinct value in the
trials at hand are ignored. A (branch, evaluator) with too few trials, no varying parameter, a constant objective,
or an evaluator that finds no effect at all yields no rows; so does a conditional parameter that only pruned or
failed trials have. The reason is in ``frame.attrs["skipped"]`` as ``(branch, evaluator, reason)`` tuples.

Example::

    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> trials = [optuna.trial.create_trial(params={"a": a, "b": b}, value=10 * a + 0 * b,
    ...           distributions={"a": FloatDistribution(0, 1), "b": FloatDistribution(0, 1)})
    ...           for a, b in zip([0.1, 0.5, 0.9, 0.3, 0.7, 0.2], [0.8, 0.2, 0.5, 0.1, 0.9, 0.6])]
    >>> frame = importance_table(trials)
    >>> frame[frame.evaluator == "fanova"].param.tolist()
    ['a', 'b']
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution
from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator
from optuna.search_space import intersection_search_space
from optuna.trial import FrozenTrial, TrialState

__all__ = ["ALL_BRANCH", "COLUMNS", "EVALUATORS", "MIN_TRIALS", "SEED_PARAM", "branch_label", "importance_table",
           "usable_trials"]

COLUMNS = ("branch", "evaluator", "param", "importance", "n_trials")
EVALUATORS = ("fanova", "ped_anova")
ALL_BRANCH = "all"
#: the grid-sampler seed parameter (``studies.spec.SEED``; not imported so that reports need not load the studies
#: package): a replicate index, not a hyperparameter
SEED_PARAM = "seed"
#: fewer COMPLETE trials than this in a branch and its importance is not computed
MIN_TRIALS = 5
#: PED-ANOVA's "good" set is the top min(max(PED_ANOVA_QUANTILE, PED_ANOVA_MIN_TOP / n), PED_ANOVA_MAX_QUANTILE) of
#: the n trials: Optuna's default 0.1 leaves one or two "good" trials in a small study, and its documentation asks
#: for at least five
PED_ANOVA_QUANTILE = 0.1
PED_ANOVA_MIN_TOP = 5
PED_ANOVA_MAX_QUANTILE = 0.5


def usable_trials(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The trials importance can use: COMPLETE, single objective, finite value (in the given order)."""
    out = []
    for t in trials:
        if t.state != TrialState.COMPLETE or t.values is None or len(t.values) != 1:
            continue
        if t.values[0] is not None and math.isfinite(float(t.values[0])):
            out.append(t)
    return out


def importance_table(trials: list[FrozenTrial], *, direction: str = "maximize", seed: int = 0,
                     min_trials: int = MIN_TRIALS, fidelity: bool = True) -> pd.DataFrame:
    """Hyperparameter importance per branch of the search space and per evaluator (see the module docstring).

    With ``fidelity`` (the default) and a study whose scheduler stopped trials early (PRUNED trials with
    intermediate values), importance is computed a second time on the objective *at the first rung*: epoch ``E``, the
    last epoch that every COMPLETE and PRUNED trial reached (``E = min over those trials of their last reported
    epoch``). There every trial of an ASHA/HyperBand study is comparable, so pruned trials count too. Those rows have
    the branch label suffixed with ``" @ epoch E"``. Final-value rows use COMPLETE trials only.
    """
    frame = _final_importance(trials, direction=direction, seed=seed, min_trials=min_trials)
    if not fidelity:
        return frame
    low = _first_rung_trials(trials)
    if low is None:
        return frame
    epoch, surrogate = low
    # the surrogates are COMPLETE and PRUNED trials re-made as COMPLETE ones: count them as what they were
    extra = _final_importance(surrogate, direction=direction, seed=seed, min_trials=min_trials,
                              counted="COMPLETE or PRUNED trial", valued=f"with a finite value at epoch {epoch}")
    suffix = f" @ epoch {epoch}"
    rows = [(f"{r.branch}{suffix}", r.evaluator, r.param, float(r.importance), int(r.n_trials))
            for r in extra.itertuples(index=False)]
    rows += [(r.branch, r.evaluator, r.param, float(r.importance), int(r.n_trials))
             for r in frame.itertuples(index=False)]
    skipped = list(frame.attrs.get("skipped", [])) + [(f"{b}{suffix}", e, why)
                                                      for b, e, why in extra.attrs.get("skipped", [])]
    return _frame(rows, skipped)


def _first_rung_trials(trials: Sequence[FrozenTrial]) -> tuple[int, list[FrozenTrial]] | None:
    """``(E, trials)``: COMPLETE and PRUNED trials re-made as COMPLETE trials whose value is their intermediate value
    at epoch ``E`` (the last epoch all of them reached); None when no trial was pruned with intermediate values."""
    pool = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.intermediate_values]
    if not any(t.state == TrialState.PRUNED for t in pool):
        return None
    epoch = min(max(t.intermediate_values) for t in pool)
    out = []
    for t in pool:
        v = t.intermediate_values.get(epoch)
        if v is None or not math.isfinite(float(v)):
            continue
        out.append(optuna.trial.create_trial(params=dict(t.params), distributions=dict(t.distributions),
                                             value=float(v)))
    return int(epoch), out


def _final_importance(trials: list[FrozenTrial], *, direction: str = "maximize", seed: int = 0,
                      min_trials: int = MIN_TRIALS, counted: str = "COMPLETE trial",
                      valued: str = "with a finite objective") -> pd.DataFrame:
    """Hyperparameter importance per branch of the search space and per evaluator (see the module docstring).

    Args:
        trials: the study's trials (any states; only COMPLETE ones with a finite value are used).
        direction: ``"maximize"`` or ``"minimize"`` (or an :class:`optuna.study.StudyDirection`); PED-ANOVA's top
            trials are the best ones in this direction. fANOVA does not depend on it.
        seed: the fANOVA random forest's seed.
        min_trials: the fewest trials a branch needs (at least 3).
        counted, valued: what the skip reasons call the trials they count (``"only 4 <counted>(s) <valued>"``).

    Returns:
        A frame with columns ``branch, evaluator, param, importance, n_trials``, sorted by branch (``all`` first,
        then the others alphabetically), evaluator, importance (descending) and param. ``frame.attrs["skipped"]``
        lists ``(branch, evaluator, reason)`` for everything that produced no rows. Equal inputs give an equal
        frame.

    Raises:
        ValueError: an unknown ``direction`` or ``min_trials < 3``.
    """
    direction = _direction(direction)
    if isinstance(min_trials, bool) or not isinstance(min_trials, int) or min_trials < 3:
        raise ValueError(f"min_trials must be an integer >= 3, got {min_trials!r}")
    usable = usable_trials(trials)
    rows: list[tuple[str, str, str, float, int]] = []
    skipped: list[tuple[str, str, str]] = []
    if not usable:
        for ev in EVALUATORS:
            skipped.append((ALL_BRANCH, ev, f"no {counted} {valued} (of {len(trials)} trials)"))
        return _frame(rows, skipped)

    names = [set(t.params) - {SEED_PARAM} for t in usable]
    common = set.intersection(*names)
    conditional = set.union(*names) - common
    branches: list[tuple[str, list[FrozenTrial]]] = [(ALL_BRANCH, usable)]
    seen: set[tuple[int, ...]] = {tuple(range(len(usable)))}
    for key in sorted({frozenset(n & conditional) for n in names} - {frozenset()}, key=sorted):
        idx = tuple(i for i, n in enumerate(names) if key <= n)
        if idx in seen:  # the same trials as another branch: nothing new to learn
            continue
        seen.add(idx)
        branches.append((branch_label(usable, key), [usable[i] for i in idx]))

    for label, members in branches:
        r, s = _branch_importance(label, members, direction=direction, seed=seed, min_trials=min_trials,
                                  counted=f"{counted}(s) {valued}")
        rows.extend(r)
        skipped.extend(s)
    # a conditional branch whose trials were all pruned or failed: say so rather than leave it out silently
    unseen = set().union(*(t.params for t in trials)) - set.union(*names) - {SEED_PARAM}
    for p in sorted(unseen):
        holders = [t for t in trials if p in t.params]
        states = ", ".join(f"{k} {v}" for k, v in sorted(_count_states(holders).items()))
        label = branch_label([t for t in trials if t.params], {p})
        skipped.extend((label, ev, f"{p}: no {counted} {valued} has it ({states})")
                       for ev in EVALUATORS)
    return _frame(rows, skipped)


def branch_label(trials: Sequence[FrozenTrial], key: frozenset[str] | set[str]) -> str:
    """The label of the branch of ``trials`` that hold every parameter in ``key`` (see the module docstring).

    For each ``p`` in ``key`` a condition ``c=v`` qualifies when ``c`` is constant (``v``) in the trials holding
    ``p``, no trial without ``p`` has ``c == v``, and some trial without ``p`` has ``c`` (otherwise ``c`` merely
    exists alongside ``p``: a sibling, not a condition).
    """
    parts: set[str] = set()
    for p in sorted(key):
        with_p = [t for t in trials if p in t.params]
        without = [t for t in trials if p not in t.params]
        found: list[tuple[bool, str]] = []
        candidates = set.intersection(*(set(t.params) for t in with_p)) - {p, SEED_PARAM} if with_p else set()
        for c in sorted(candidates):
            if len({_hashable(t.params[c]) for t in with_p}) != 1:
                continue
            v = with_p[0].params[c]
            if not any(c in t.params for t in without):
                continue
            if any(c in t.params and _same(t.params[c], v) for t in without):
                continue
            categorical = isinstance(with_p[0].distributions.get(c), CategoricalDistribution)
            found.append((categorical, f"{c}={_fmt(v)}"))
        if any(cat for cat, _ in found):
            found = [f for f in found if f[0]]
        if found:
            parts.update(text for _, text in found)
        else:
            parts.add(f"{p} present")
    return ", ".join(sorted(parts))


# ------------------------------------------------------------------------------------------------- internals
def _branch_importance(label: str, members: list[FrozenTrial], *, direction: str, seed: int, min_trials: int,
                       counted: str = "COMPLETE trial(s) with a finite objective"
                       ) -> tuple[list[tuple[str, str, str, float, int]], list[tuple[str, str, str]]]:
    n = len(members)

    def skip_all(reason: str) -> tuple[list, list]:
        return [], [(label, ev, reason) for ev in EVALUATORS]

    if n < min_trials:
        return skip_all(f"only {n} {counted} (need at least {min_trials})")
    values = np.array([float(t.values[0]) for t in members])
    if np.ptp(values) == 0.0:
        return skip_all(f"the objective is constant ({values[0]:.6g}) in all {n} trials")
    space = intersection_search_space(members)
    present = set.intersection(*(set(t.params) for t in members)) - {SEED_PARAM}
    notes = [f"{p} left out: its distribution differs between trials" for p in sorted(present - set(space))]
    params = sorted(p for p in present & set(space)
                    if len({_hashable(t.params[p]) for t in members}) > 1 and not space[p].single())
    skipped = [(label, ev, note) for note in notes for ev in EVALUATORS]
    if not params:
        return [], skipped + [(label, ev, f"no parameter takes two or more values in its {n} trials")
                              for ev in EVALUATORS]

    rows: list[tuple[str, str, str, float, int]] = []
    quantile = min(max(PED_ANOVA_QUANTILE, PED_ANOVA_MIN_TOP / n), PED_ANOVA_MAX_QUANTILE)
    evaluators = {"fanova": lambda: FanovaImportanceEvaluator(seed=seed),
                  "ped_anova": lambda: PedAnovaImportanceEvaluator(target_quantile=quantile)}
    with _quiet():
        study = optuna.create_study(direction=direction, storage=optuna.storages.InMemoryStorage())
        study.add_trials(_stripped(members, params))
        for name in EVALUATORS:
            try:
                raw = evaluators[name]().evaluate(study, params=list(params))
            except ImportError as exc:  # fANOVA needs scikit-learn (installed with librosa)
                skipped.append((label, name, f"not available: {exc}"))
                continue
            except (ValueError, RuntimeError, FloatingPointError, ZeroDivisionError) as exc:
                skipped.append((label, name, f"{type(exc).__name__}: {exc}"))
                continue
            total = float(sum(v for v in raw.values() if math.isfinite(v)))
            if not total > 0.0:
                skipped.append((label, name, f"no parameter has any measurable effect in its {n} trials"))
                continue
            rows.extend((label, name, p, round(float(raw[p]) / total, 6), n) for p in params)
    return rows, skipped


def _stripped(trials: Sequence[FrozenTrial], params: Sequence[str]) -> list[FrozenTrial]:
    """Copies of ``trials`` with only ``params`` (so that the evaluators see exactly the branch's space)."""
    out = []
    for t in trials:
        out.append(optuna.trial.create_trial(
            state=TrialState.COMPLETE, value=float(t.values[0]),
            params={p: t.params[p] for p in params}, distributions={p: t.distributions[p] for p in params}))
    return out


def _frame(rows: list[tuple[str, str, str, float, int]], skipped: list[tuple[str, str, str]]) -> pd.DataFrame:
    order = {name: i for i, name in enumerate(EVALUATORS)}
    rows = sorted(rows, key=lambda r: (r[0] != ALL_BRANCH, r[0], order[r[1]], -r[3], r[2]))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({"branch": object, "evaluator": object, "param": object, "importance": "float64",
                          "n_trials": "int64"})
    frame.attrs["skipped"] = sorted(set(skipped), key=lambda s: (s[0] != ALL_BRANCH, s[0], order[s[1]], s[2]))
    return frame


def _direction(direction: Any) -> str:
    if isinstance(direction, optuna.study.StudyDirection):
        direction = direction.name
    text = str(direction).lower()
    if text not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return text


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Optuna's study-creation log lines and its small-sample warnings for the duration."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        optuna.logging.set_verbosity(level)


def _count_states(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def _hashable(value: Any) -> Any:
    return (type(value).__name__, value) if isinstance(value, (bool, type(None))) else value


def _same(a: Any, b: Any) -> bool:
    return _hashable(a) == _hashable(b)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)

