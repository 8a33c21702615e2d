"""reports.importance: planted effects are found by both evaluators, also for parameters that exist in one branch of
a conditional space only; the frame is deterministic, sorted and says what it skipped and why."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from reports.importance import (
    ALL_BRANCH,
    COLUMNS,
    EVALUATORS,
    SEED_PARAM,
    branch_label,
    importance_table,
    usable_trials,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

U = FloatDistribution(0.0, 1.0)
KIND = CategoricalDistribution(("none", "late", "mid"))
LAYERS = IntDistribution(1, 4)


def planted_flat(n: int = 40, seed: int = 0) -> list:
    """objective = 5 a + small noise; b is irrelevant."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b = float(rng.uniform()), float(rng.uniform())
        out.append(create_trial(params={"a": a, "b": b}, distributions={"a": U, "b": U},
                                value=5 * a + 0.05 * float(rng.normal())))
    return out


def planted_conditional(n: int = 60, seed: int = 0) -> list:
    """fusion-like space: `layers` exists only when kind == mid and drives the objective there; `a` is weak."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = KIND.choices[i % 3]
        a, b = float(rng.uniform()), float(rng.uniform())
        params, dists = {"kind": kind, "a": a, "b": b}, {"kind": KIND, "a": U, "b": U}
        value = 0.5 * a + 0.05 * float(rng.normal())
        if kind == "mid":
            layers = int(rng.integers(1, 5))
            params["layers"], dists["layers"] = layers, LAYERS
            value += 3.0 * layers
        out.append(create_trial(params=params, distributions=dists, value=value))
    return out


def rows(frame: pd.DataFrame, branch: str, evaluator: str) -> dict[str, float]:
    sub = frame[(frame.branch == branch) & (frame.evaluator == evaluator)]
    return dict(zip(sub.param, sub.importance))


# ------------------------------------------------------------------------------------------- planted effects
def test_relevant_parameter_beats_irrelevant_one_for_both_evaluators():
    frame = importance_table(planted_flat())
    assert list(frame.columns) == list(COLUMNS)
    assert set(frame.branch) == {ALL_BRANCH}
    for ev in EVALUATORS:
        imp = rows(frame, ALL_BRANCH, ev)
        assert set(imp) == {"a", "b"}
        assert imp["a"] > 0.6 > imp["b"], (ev, imp)
        assert math.isclose(sum(imp.values()), 1.0, abs_tol=1e-5)
    assert set(frame.n_trials) == {40}


def test_conditional_parameter_is_evaluated_in_its_branch():
    trials = planted_conditional()
    frame = importance_table(trials)
    assert "layers" not in set(frame[frame.branch == ALL_BRANCH].param)  # not in every trial
    assert set(frame.branch) == {ALL_BRANCH, "kind=mid"}
    for ev in EVALUATORS:
        imp = rows(frame, "kind=mid", ev)
        assert max(imp, key=imp.get) == "layers", (ev, imp)
        assert imp["layers"] > 0.7
        # over all trials, kind (mid is far better) is the top parameter
        top = rows(frame, ALL_BRANCH, ev)
        assert max(top, key=top.get) == "kind", (ev, top)
    mid = frame[frame.branch == "kind=mid"]
    assert set(mid.n_trials) == {20}
    assert set(frame[frame.branch == ALL_BRANCH].n_trials) == {60}
    # `kind` is constant inside its branch: it is not a parameter there
    assert "kind" not in set(mid.param)


def test_deterministic_sorted_and_rounded():
    trials = planted_conditional(seed=3)
    first, second = importance_table(trials, seed=7), importance_table(trials, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert first.attrs == second.attrs
    order = {e: i for i, e in enumerate(EVALUATORS)}
    keys = [(b != ALL_BRANCH, b, order[e], -imp, p) for b, e, p, imp in
            zip(first.branch, first.evaluator, first.param, first.importance)]
    assert keys == sorted(keys)
    assert first.branch.iloc[0] == ALL_BRANCH
    assert all(v == round(v, 6) for v in first.importance)
    # the fANOVA seed matters (a random forest), PED-ANOVA does not use it
    other = importance_table(trials, seed=8)
    assert rows(other, ALL_BRANCH, "ped_anova") == rows(first, ALL_BRANCH, "ped_anova")


def test_direction_affects_ped_anova_only():
    trials = planted_flat(seed=1)
    up = importance_table(trials, direction="maximize")
    down = importance_table(trials, direction=optuna.study.StudyDirection.MINIMIZE)
    assert rows(up, ALL_BRANCH, "fanova") == rows(down, ALL_BRANCH, "fanova")
    assert rows(up, ALL_BRANCH, "ped_anova") != rows(down, ALL_BRANCH, "ped_anova")
    with pytest.raises(ValueError, match="direction"):
        importance_table(trials, direction="up")
    with pytest.raises(ValueError, match="min_trials"):
        importance_table(trials, min_trials=1)


# --------------------------------------------------------------------------------------- what is left out
def test_only_complete_finite_trials_count_and_seed_and_constants_are_ignored():
    base = planted_flat(n=30)
    extra = [
        create_trial(params={"a": 0.9, "b": 0.1}, distributions={"a": U, "b": U}, state=TrialState.PRUNED,
                     intermediate_values={1: 100.0}),
        create_trial(params={"a": 0.2, "b": 0.3}, distributions={"a": U, "b": U}, state=TrialState.FAIL),
        create_trial(params={"a": 0.5, "b": 0.5}, distributions={"a": U, "b": U}, value=float("inf")),
    ]
    assert len(usable_trials(base + extra)) == 30
    # a grid seed parameter and a constant parameter are not hyperparameters
    with_seed = []
    for i, t in enumerate(base):
        params = dict(t.params, **{SEED_PARAM: i % 3, "const": "x"})
        dists = dict(t.distributions, **{SEED_PARAM: CategoricalDistribution((0, 1, 2)),
                                         "const": CategoricalDistribution(("x", "y"))})
        with_seed.append(create_trial(params=params, distributions=dists, value=t.value))
    frame = importance_table(with_seed + extra)
    assert set(frame.param) == {"a", "b"}
    assert set(frame.n_trials) == {30}
    reference = importance_table(base)
    pd.testing.assert_frame_equal(frame, reference)


def test_seed_param_matches_the_study_runner():
    from studies.spec import SEED

    assert SEED_PARAM == SEED


def test_too_few_trials_and_constant_objective_are_skipped_with_reasons():
    frame = importance_table(planted_flat(n=4))
    assert frame.empty and list(frame.columns) == list(COLUMNS)
    reasons = {(b, e): r for b, e, r in frame.attrs["skipped"]}
    assert set(reasons) == {(ALL_BRANCH, e) for e in EVALUATORS}
    assert all("only 4" in r for r in reasons.values())

    flat = [create_trial(params={"a": a}, distributions={"a": U}, value=1.0) for a in np.linspace(0, 1, 8)]
    skipped = importance_table(flat).attrs["skipped"]
    assert skipped and all("constant" in r for _, _, r in skipped)

    assert importance_table([]).attrs["skipped"][0][2].startswith("no COMPLETE trial")


def test_small_branch_is_skipped_but_the_rest_is_computed():
    trials = [t for t in planted_conditional(n=60) if t.params["kind"] != "mid"]
    trials += [t for t in planted_conditional(n=60) if t.params["kind"] == "mid"][:3]
    frame = importance_table(trials)
    assert set(frame.branch) == {ALL_BRANCH}
    skipped = [s for s in frame.attrs["skipped"] if s[0] == "kind=mid"]
    assert [s[1] for s in skipped] == list(EVALUATORS)
    assert all("only 3" in s[2] for s in skipped)


def test_conditional_parameter_only_in_pruned_trials_is_reported():
    trials = [t for t in planted_conditional() if t.params["kind"] != "mid"]
    trials.append(create_trial(params={"kind": "mid", "a": 0.1, "b": 0.2, "layers": 2},
                               distributions={"kind": KIND, "a": U, "b": U, "layers": LAYERS},
                               state=TrialState.PRUNED, intermediate_values={1: 0.5}))
    frame = importance_table(trials)
    skipped = [s for s in frame.attrs["skipped"] if s[0] == "kind=mid"]
    assert len(skipped) == 2 and all("layers" in r and "PRUNED 1" in r for _, _, r in skipped)


# ------------------------------------------------------------------------------------------- branch labels
def _trial(params: dict, dists: dict, value: float = 0.0):
    return create_trial(params=params, distributions=dists, value=value)


def test_labels_of_crossed_conditions():
    enc = CategoricalDistribution(("cnn-small", "cnn10"))
    trials = []
    rng = np.random.default_rng(0)
    for i in range(24):
        name, kind = enc.choices[i % 2], KIND.choices[(i // 2) % 3]
        params, dists = {"enc": name, "kind": kind, "a": float(rng.uniform())}, {"enc": enc, "kind": KIND, "a": U}
        if name == "cnn-small":
            params["width"], dists["width"] = int(rng.integers(1, 5)), LAYERS
        if kind == "mid":
            params["layers"], dists["layers"] = int(rng.integers(1, 5)), LAYERS
        trials.append(_trial(params, dists, float(rng.normal())))
    assert branch_label(trials, {"width"}) == "enc=cnn-small"
    assert branch_label(trials, {"layers"}) == "kind=mid"
    assert branch_label(trials, {"width", "layers"}) == "enc=cnn-small, kind=mid"
    frame = importance_table(trials, min_trials=3)
    branches = set(frame.branch) | {s[0] for s in frame.attrs["skipped"]}
    assert branches == {ALL_BRANCH, "enc=cnn-small", "kind=mid", "enc=cnn-small, kind=mid"}
    # the kind=mid branch keeps every mid trial, whatever the encoder (8 of 24)
    assert set(frame[frame.branch == "kind=mid"].n_trials) == {8}
    assert set(frame[frame.branch == "enc=cnn-small, kind=mid"].n_trials) == {4}


def test_label_prefers_categorical_condition_and_falls_back_to_presence():
    kinds = CategoricalDistribution(("a", "b"))
    trials = [
        _trial({"kind": "a", "lr": 0.1, "x": 1}, {"kind": kinds, "lr": U, "x": LAYERS}),
        _trial({"kind": "a", "lr": 0.1, "x": 2}, {"kind": kinds, "lr": U, "x": LAYERS}),
        _trial({"kind": "b", "lr": 0.5}, {"kind": kinds, "lr": U}),
        _trial({"kind": "b", "lr": 0.7}, {"kind": kinds, "lr": U}),
    ]
    # lr = 0.1 separates as well, but the categorical condition is the one a search space uses
    assert branch_label(trials, {"x"}) == "kind=a"
    # nested: y exists when x >= 2 (not one value) -> no single condition -> "y present" (plus x's own condition)
    nested = trials + [_trial({"kind": "a", "lr": 0.1, "x": 3, "y": 0.5},
                              {"kind": kinds, "lr": U, "x": LAYERS, "y": U})]
    nested[1] = _trial({"kind": "a", "lr": 0.1, "x": 2, "y": 0.2}, {"kind": kinds, "lr": U, "x": LAYERS, "y": U})
    assert branch_label(nested, {"x", "y"}) == "kind=a, y present"


# ------------------------------------------------------------------------------------------------- storage
def test_same_result_from_a_sqlite_study(tmp_path):
    trials = planted_conditional(n=18, seed=2)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    study.add_trials(trials)
    loaded = optuna.load_study(study_name="s", storage=url)
    pd.testing.assert_frame_equal(importance_table(loaded.get_trials(), direction=loaded.direction),
                                  importance_table(trials))


def test_missing_scikit_learn_skips_fanova_only(monkeypatch):
    import reports.importance as importance

    class NoSklearn:
        def __init__(self, **kwargs):
            pass

        def evaluate(self, study, params=None):
            raise ImportError("Tried to import 'sklearn' but failed")

    monkeypatch.setattr(importance, "FanovaImportanceEvaluator", NoSklearn)
    frame = importance_table(planted_flat(n=20))
    assert set(frame.evaluator) == {"ped_anova"}
    assert frame.attrs["skipped"] == [(ALL_BRANCH, "fanova", "not available: Tried to import 'sklearn' but failed")]


# ------------------------------------------------------------------------------------------ first-rung importance
def asha_like(n: int = 30, seed: int = 0) -> list:
    """A multi-fidelity study: every trial reports epochs 1-2; `a` drives the curve, `b` is noise. Trials with a low
    epoch-2 value are PRUNED there (as ASHA would), the others COMPLETE after 6 epochs, and only 4 complete."""
    rng = np.random.default_rng(seed)
    drafts = []
    for _ in range(n):
        a, b = float(rng.uniform()), float(rng.uniform())
        curve = {e: a * (1 - 0.5 ** e) + 0.01 * float(rng.normal()) for e in range(1, 7)}
        drafts.append((a, b, curve))
    keep = set(np.argsort([-c[2] for _, _, c in drafts])[:4].tolist())
    out = []
    for i, (a, b, curve) in enumerate(drafts):
        params, dists = {"a": a, "b": b}, {"a": U, "b": U}
        if i in keep:
            out.append(create_trial(params=params, distributions=dists, value=max(curve.values()),
                                    intermediate_values=curve))
        else:
            out.append(create_trial(params=params, distributions=dists, state=TrialState.PRUNED,
                                    value=max(curve[1], curve[2]), intermediate_values={1: curve[1], 2: curve[2]}))
    return out


def test_first_rung_importance_uses_pruned_trials_when_few_completed():
    trials = asha_like()
    frame = importance_table(trials)
    # 4 COMPLETE trials are too few for the final-value rows ...
    assert not (frame.branch == ALL_BRANCH).any()
    assert any(b == ALL_BRANCH and "only 4 COMPLETE" in why for b, _, why in frame.attrs["skipped"])
    # ... but at epoch 2 every trial (completed or pruned) is comparable, and the planted parameter wins there
    for ev in EVALUATORS:
        r = rows(frame, f"{ALL_BRANCH} @ epoch 2", ev)
        assert r["a"] > r["b"], (ev, r)
    assert set(frame[frame.branch == f"{ALL_BRANCH} @ epoch 2"].n_trials) == {30}
    # switched off, or with no pruned trial, there are no first-rung rows
    assert not importance_table(trials, fidelity=False).branch.str.contains("@").any()
    assert not importance_table(planted_flat()).branch.str.contains("@").any()


def test_first_rung_skip_reasons_do_not_call_pruned_trials_complete():
    """A study whose 4 trials were all pruned said "only 4 COMPLETE trial(s)" at the first rung: it has none."""
    pruned = [t for t in asha_like() if t.state == TrialState.PRUNED][:4]
    skipped = importance_table(pruned).attrs["skipped"]
    final = [why for b, _, why in skipped if b == ALL_BRANCH]
    rung = [why for b, _, why in skipped if b == f"{ALL_BRANCH} @ epoch 2"]
    assert final and all(why.startswith("no COMPLETE trial") for why in final)
    assert rung and all(why == "only 4 COMPLETE or PRUNED trial(s) with a finite value at epoch 2 (need at least 5)"
                        for why in rung)
