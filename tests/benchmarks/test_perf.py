"""``python -m benchmarks perf``: naive-vs-chunked scorer agreement, the table, the HPO replay engine, the output."""

import dataclasses
import itertools
import json
import math
import warnings

import numpy as np
import pytest
import torch

from benchmarks.perf import hpo
from benchmarks.perf.hpo import Curve, Protocol, Table, TableError
from benchmarks.perf.scoring import measure, naive_query_metrics, planted_embeddings, run_isolated, score_blocks
from retrieval.metrics import query_metrics_chunked

torch.set_num_threads(1)

TPE_2022 = {"kind": "tpe", "seed": 0, "n_startup_trials": 10, "n_ei_candidates": 24, "multivariate": False,
            "group": False, "constant_liar": True, "consider_endpoints": False, "consider_prior": True,
            "prior_weight": 1.0, "consider_magic_clip": True, "gamma": 0.1, "gamma_max": 25,
            "warn_independent_sampling": False}
RANDOM = {"kind": "random", "seed": 0}


# --------------------------------------------------------------------------------------------- scoring
def _chunked(scores: np.ndarray, relevant, chunk: int):
    blocks = ((s, torch.from_numpy(scores[s:s + chunk])) for s in range(0, scores.shape[0], chunk))
    return query_metrics_chunked(blocks, relevant, scores.shape[1])


@pytest.mark.parametrize("levels", [None, 4])  # continuous scores, and scores on 4 levels (ties everywhere)
def test_naive_and_chunked_scorer_agree_exactly(levels):
    rng = np.random.default_rng(3)
    n_q, n_items = 97, 53
    scores = rng.standard_normal((n_q, n_items)).astype(np.float32)
    if levels:
        scores = np.floor(scores * levels / 2).astype(np.float32)
    relevant = [sorted(rng.choice(n_items, size=int(rng.integers(0, 4)), replace=False).tolist())
                for _ in range(n_q)]  # 0-3 relevant items, some queries with none
    ref = naive_query_metrics(scores, relevant)
    got = _chunked(scores, relevant, chunk=10)
    assert np.array_equal(got.rank, ref["rank"])
    assert np.array_equal(got.ap, ref["ap"])
    for k in (1, 5, 10):
        assert np.array_equal(got.recall[k], ref[f"r{k}"])
    assert np.isinf(ref["rank"][[not r for r in relevant]]).all()


def test_naive_reference_tie_rule_and_ap_by_hand():
    scores = np.array([[0.5, 0.9, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    m = naive_query_metrics(scores, [[2, 3], [0]])
    # row 0 order: 1, 0, 2, 3 (ties by lower index) -> relevant ranks 3 and 4: AP = (1/3 + 2/4) / 2
    assert m["rank"].tolist() == [3.0, 1.0]
    assert m["ap"][0] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert m["ap"][1] == 1.0


def test_planted_embeddings_are_normalised_deterministic_and_informative():
    q, items, rel = planted_embeddings(500, 200, captions_per_item=5, seed=1)
    assert q.shape == (500, 128) and items.shape == (200, 128) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(items, axis=1), 1,
                                                                               atol=1e-5)
    assert rel.tolist() == [i // 5 for i in range(500)]
    q2, _, _ = planted_embeddings(500, 200, captions_per_item=5, seed=1)
    assert np.array_equal(q, q2)
    m = naive_query_metrics(q @ items.T, rel.reshape(-1, 1).tolist())
    random_map10 = sum(1 / r for r in range(1, 11)) / 200
    assert 0.2 < m["ap"].mean() < 0.999 and m["ap"].mean() > 5 * random_map10  # planted, but not trivial


def test_measure_project_and_naive_identical_in_process(tmp_path):
    a = measure("project", 300, 2000, chunk=64, out=str(tmp_path / "a.npz"))
    b = measure("naive", 300, 2000, chunk=64, out=str(tmp_path / "b.npz"))
    za, zb = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert np.array_equal(za["rank"], zb["rank"]) and np.array_equal(za["ap"], zb["ap"])
    assert a["queries"] == b["queries"] == 300 and a["map10"] == b["map10"]
    # the old `peak_rss_mb >= rss_before_mb` failed now and then: VmRSS (/proc/self/status) is an exact sum of the
    # kernel's per-CPU RSS counters, ru_maxrss an approximate read of them (up to a batch of pages per CPU lower).
    # When the scoring reuses freed heap (it depends on the tests run before), the peak does not grow and may read
    # lower than "before". In-process figures are recorded, not ordered; the benchmark measures in a fresh worker
    assert a["queries_per_s"] > 0 and a["peak_rss_mb"] > 0 and a["rss_before_mb"] > 0 and a["scoring_mb"] >= 0
    with pytest.raises(ValueError, match="method"):
        measure("fast", 10, 10)


def test_score_blocks_cover_every_row_once():
    q, items, _ = planted_embeddings(70, 30)
    starts = [(s, b.shape) for s, b in score_blocks(q, items, 32)]
    assert starts == [(0, (32, 30)), (32, (32, 30)), (64, (6, 30))]


def test_run_isolated_measures_in_a_subprocess():
    res, arrays = run_isolated("project", 1000, 500, rows=200)
    assert res["queries"] == 200 and res["items"] == 500 and arrays["rank"].shape == (200,)
    assert res["peak_rss_mb"] > 50  # a fresh interpreter with torch: its own peak, not the test process's


# --------------------------------------------------------------------------------------------- tables
def synthetic_table(*, n_epochs: int = 10, noise: float = 0.004, seed: int = 0, wide: bool = False) -> Table:
    """48 configurations (``wide``: 192) with a planted structure: quality = f(a, b, c, d, e) with a single best
    configuration, and monotone curves whose early epochs predict the final ranking (so early stopping is
    informative)."""
    rng = np.random.default_rng(seed)
    space = {"a": ["x", "y", "z"], "b": ["none", "late"], "c": [8, 16], "d": [0, 3], "e": [1, 2]}
    if wide:
        space["f"] = [0, 1, 2, 3]
    curves = []
    for vals in itertools.product(*space.values()):
        p = dict(zip(space, vals))
        final = (0.15 + 0.12 * space["a"].index(p["a"]) + 0.06 * (p["b"] == "late") + 0.03 * (p["c"] == 16)
                 + 0.02 * (p["e"] == 2) + 0.01 * (p["d"] == 3))
        if {k: p[k] for k in "abcde"} == {"a": "z", "b": "late", "c": 16, "d": 3, "e": 2} and p.get("f", 0) == 0:
            final += 0.05  # the one best configuration, more than 1 pp above every other
        ep = np.arange(1, n_epochs + 1)
        v = final * (1 - np.exp(-ep / 2.5)) + rng.normal(0, noise, n_epochs)
        curves.append(Curve(p, tuple(float(x) for x in v), tuple([2.0] * n_epochs), 5.0))
    return Table(space, tuple(curves), n_epochs, {"synthetic": True})


def test_table_round_trip_and_fingerprint(tmp_path):
    t = synthetic_table()
    path = tmp_path / "t.json"
    path.write_text(json.dumps(t.to_dict()))
    back = hpo.load_table(path)
    assert back.fingerprint() == t.fingerprint() and len(back.curves) == 48
    best = max(t.curves, key=lambda c: c.best)
    assert best.params == {"a": "z", "b": "late", "c": 16, "d": 3, "e": 2}
    assert back.lookup(best.params).values == best.values
    raw = t.to_dict()
    raw["configs"][5]["val_map10"][3] += 0.01  # edited by hand: the fingerprint no longer matches
    path.write_text(json.dumps(raw))
    with pytest.raises(TableError, match="fingerprint"):
        hpo.load_table(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("space"), "missing key 'space'"),
    (lambda r: r["configs"][2]["val_map10"].pop(), r"configs\[2\]\.val_map10: expected 10 numbers"),
    (lambda r: r["configs"][4]["epoch_s"].__setitem__(0, "x"), r"configs\[4\]\.epoch_s\[0\]"),
    (lambda r: r["configs"][1]["params"].__setitem__("a", "w"), r"configs\[1\]\.params\.a: 'w'"),
    (lambda r: r["configs"][1]["params"].pop("a"), r"configs\[1\]\.params: expected the parameters"),
    (lambda r: r["configs"].append(dict(r["configs"][0])), r"configs\[48\]: the same parameters as configs\[0\]"),
])
def test_bad_tables_are_refused_naming_the_key(mutate, message):
    raw = synthetic_table().to_dict()
    raw.pop("fingerprint")
    mutate(raw)
    with pytest.raises(TableError, match=message):
        Table.from_dict(raw, "t.json")


def test_load_table_errors_name_the_file(tmp_path):
    with pytest.raises(TableError, match="no such table"):
        hpo.load_table(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TableError, match="bad.json: not valid JSON"):
        hpo.load_table(tmp_path / "bad.json")


# --------------------------------------------------------------------------------------------- the replay
def test_fifo_replay_trains_full_curves_and_patience_stops_a_falling_curve():
    t = synthetic_table()
    r = hpo.replay(t, Protocol("fifo", TPE_2022, "fifo", patience=10, max_trials=15), seed=0)
    assert len(r.trials) == 15 and all(x["epochs"] == 10 and x["state"] == "COMPLETE" for x in r.trials)
    assert r.cum_epochs[-1] == 150 and r.cum_seconds[-1] == pytest.approx(15 * (10 * 2.0 + 5.0))
    assert np.all(np.diff(r.best_so_far) >= 0)
    for x in r.trials:
        assert x["value"] == t.lookup(x["params"]).best
    # a curve that peaks at epoch 2 and then falls: patience 3 stops it before epoch 6 (2 + 3 bad epochs)
    falling = Table({"a": [1]}, (Curve({"a": 1}, (0.1, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0), (1.0,) * 8),), 8)
    r = hpo.replay(falling, Protocol("fifo", RANDOM, "fifo", patience=3, max_trials=1), seed=0)
    assert r.trials[0]["epochs"] == 5 and r.trials[0]["value"] == 0.5


@pytest.mark.parametrize("impl", ["ray", "optuna"])
def test_asha_stops_bad_curves_early(impl):
    t = synthetic_table()
    r = hpo.replay(t, Protocol("asha", RANDOM, "asha", grace_period=1, reduction_factor=3, max_trials=60,
                               asha_impl=impl), seed=0)
    finals = sorted(c.values[-1] for c in t.curves)
    median = finals[len(finals) // 2]
    bad = [x["epochs"] for x in r.trials if t.lookup(x["params"]).values[-1] < median]
    good_full = [x for x in r.trials if x["epochs"] == t.max_epochs]
    assert bad and np.mean(bad) < 3.5  # weak configurations mostly stop at the first rungs (1 and 3)
    assert sum(x["state"] == "PRUNED" for x in r.trials) > len(r.trials) / 2
    assert good_full and all(t.lookup(x["params"]).values[-1] >= np.percentile(finals, 25) for x in good_full)
    assert r.cum_epochs[-1] < 0.5 * 60 * t.max_epochs  # far less compute than 60 full trials


def test_pruned_trials_carry_their_best_value_to_the_sampler():
    t = synthetic_table()
    r = hpo.replay(t, Protocol("asha", TPE_2022, "asha", grace_period=1, reduction_factor=3, max_trials=30),
                   seed=1)
    for x in r.trials:
        curve = t.lookup(x["params"])
        assert x["value"] == max(curve.values[:x["epochs"]])


def test_budget_in_epochs_is_respected():
    t = synthetic_table()
    r = hpo.replay(t, Protocol("asha", RANDOM, "asha", grace_period=2, reduction_factor=3, max_trials=None,
                               max_epochs_budget=100), seed=0)
    assert 100 <= r.cum_epochs[-1] < 100 + t.max_epochs
    with pytest.raises(ValueError, match="needs max_trials or max_epochs_budget"):
        hpo.replay(t, Protocol("x", RANDOM, "fifo", max_trials=None), seed=0)


def test_asha_reaches_the_target_with_less_compute_than_fifo_when_early_epochs_predict():
    # 192 configurations, one of them > 1 pp above the rest: finding it takes many trials, and ASHA pays ~1-3
    # epochs for most of them where FIFO pays 10 (with the same seed both start with the same random proposals)
    t = synthetic_table(wide=True)
    protocols = [Protocol("2022", TPE_2022, "fifo", patience=10, max_trials=60),
                 Protocol("random + ASHA", RANDOM, "asha", grace_period=1, reduction_factor=3, max_trials=None)]
    summary, runs = hpo.compare(t, protocols, repetitions=5, log=lambda m: None)
    ref, asha = summary["protocols"]["2022"], summary["protocols"]["random + ASHA"]
    assert ref["reached"] == 5 and ref["ratio_epochs"]["median"] == 1.0
    assert asha["reached"] >= 4
    # planted: weak curves are visible after 1 epoch, so ASHA is cheaper in every repetition where it got there
    assert asha["ratio_epochs"]["min"] > 1.0 and asha["ratio_epochs"]["median"] > 1.25
    for rep in summary["per_repetition"]:  # the 2022 protocol's target is what it found, minus 1 pp
        assert rep["target"] == pytest.approx(rep["reference_best"] - 0.01)
        assert rep["protocols"]["random + ASHA"]["spent_epochs"] < rep["reference_budget_epochs"] + t.max_epochs
    assert len(runs["2022"]) == 5 and len(runs["random + ASHA"]) == 5


def test_asha_sensitivity_grid_matches_the_main_comparison_and_skips_useless_grace_periods():
    t = synthetic_table(n_epochs=4)
    sens = hpo.sensitivity(t, 2, grace=(1, 4), reduction_factors=(2, 3), log=lambda m: None)
    assert sens["grace_periods"] == [1]  # grace 4 = the last epoch: ASHA could stop nothing
    assert len(sens["cells"]) == 1 * 2 * 2 and sens["repetitions"] == 2
    # a cell is exactly what compare() gives that protocol (same reference, targets and seeds)
    protocols = [hpo.default_protocols()[0]] + [
        Protocol(str(i), TPE_2022 if c["sampler"] == "TPE" else RANDOM, "asha", grace_period=c["grace_period"],
                 reduction_factor=c["reduction_factor"], max_trials=None) for i, c in enumerate(sens["cells"])]
    summary, _ = hpo.compare(t, protocols, 2, log=lambda m: None)
    for i, cell in enumerate(sens["cells"]):
        ratios = [rep["protocols"][str(i)]["ratio_epochs"] or 0.0 for rep in summary["per_repetition"]]
        assert cell["reached"] == summary["protocols"][str(i)]["reached"]
        assert cell["ratio_epochs_all"]["median"] == pytest.approx(float(np.median(ratios)))
        if cell["reached"] < 2:  # an unreached target counts as 0 in the conservative figure
            assert cell["ratio_epochs_all"]["min"] == 0.0
    best = sens["best"]
    assert best["ratio_epochs_all_median"] == max(c["ratio_epochs_all"]["median"] for c in sens["cells"])
    header, rows = hpo.sensitivity_markdown(sens)
    assert header == ["grace period", "rf 2: TPE / random", "rf 3: TPE / random"] and [r[0] for r in rows] == [1]
    assert all(cell.count("/2)") == 2 for r in rows for cell in r[1:])


# --------------------------------------------------------------------------------------------- the ASHA rule
def test_asha_rule_by_hand():
    asha = hpo.AsyncSuccessiveHalving(grace_period=1, reduction_factor=3, max_t=10)
    assert asha.milestones == (1, 3, 9)
    assert asha.on_result("a", 1, 0.2) and asha.on_result("b", 1, 0.5)  # the first at a rung always continues
    assert asha.cutoff(0) == pytest.approx(0.4)  # linear interpolation: 0.2 + (0.5 - 0.2) * 2/3
    assert not asha.on_result("c", 1, 0.39)  # below the cutoff: stop
    assert asha.on_result("a", 2, 0.0)  # between rungs: no decision
    ties = hpo.AsyncSuccessiveHalving(grace_period=2, reduction_factor=2, max_t=8)
    assert ties.milestones == (2, 4, 8)
    assert ties.on_result(0, 2, 0.3) and ties.on_result(1, 2, 0.3) and ties.on_result(2, 2, 0.3)  # equal continues
    assert hpo.AsyncSuccessiveHalving(1, 10, 1000).milestones == (1, 10, 100)  # Ray's float rung count
    with pytest.raises(ValueError, match="reduction_factor > 1"):
        hpo.AsyncSuccessiveHalving(1, 1, 10)


@pytest.mark.parametrize("case", range(40))
def test_asha_rule_decides_as_ray_tunes_bracket(case):
    # the replay's own ASHA against the private bookkeeping class of Ray Tune's AsyncHyperBandScheduler (one
    # bracket, as studies.schedulers.ASHA runs it): every decision and the final rungs must agree
    from ray.tune.schedulers.async_hyperband import _Bracket
    from ray.tune.schedulers.trial_scheduler import TrialScheduler

    @dataclasses.dataclass(frozen=True)
    class RayTrial:
        trial_id: str

    rng = np.random.default_rng(case)
    grace = int(rng.choice([1, 2, 3, 5]))
    rf = [2, 3, 4, 2.5][case % 4]
    max_t = int(rng.integers(grace + 1, 40)) if case != 0 else 1000
    ours = hpo.AsyncSuccessiveHalving(grace, rf, max_t)
    ray = _Bracket(min_t=grace, max_t=max_t, reduction_factor=rf, s=0)
    n_trials = int(rng.integers(5, 60))
    skips = rng.random() < 0.3  # some trials report only now and then (milestones passed between two reports)
    pending = {t: iter(sorted(rng.choice(np.arange(1, max_t + 1), size=int(rng.integers(1, max_t + 1)),
                                         replace=False)) if skips else range(1, max_t + 1)) for t in range(n_trials)}
    levels = int(rng.choice([0, 3, 10]))  # 0: continuous values; else a few levels, so ties are frequent
    stops = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanpercentile of a rung holding only NaN
        while pending:
            t = int(rng.choice(sorted(pending)))  # asynchronous: trials report in a random interleaving
            it = next(pending[t], None)
            if it is None:
                del pending[t]
                continue
            value = float(rng.integers(levels + 1)) / levels if levels else float(rng.random())
            if rng.random() < 0.02:
                value = float("nan")
            stop = ray.on_result(RayTrial(f"t{t}"), int(it), value) == TrialScheduler.STOP
            assert ours.on_result(t, int(it), value) is not stop, (case, t, it, value)
            stops += stop
    assert stops > 0  # the sequences exercise STOP decisions too (4 to 126 per case)
    assert [m for m, _ in reversed(ray._rungs)] == list(ours.milestones)
    for rung, (_, recorded) in enumerate(reversed(ray._rungs)):  # the same values recorded, the same cutoffs
        theirs = {int(k[1:]): v for k, v in recorded.items()}
        assert theirs.keys() == ours._recorded[rung].keys()
        assert np.array_equal([theirs[k] for k in theirs], [ours._recorded[rung][k] for k in theirs], equal_nan=True)
        cut = ray.cutoff(recorded)
        assert (cut is None and ours.cutoff(rung) is None) or np.array_equal(cut, ours.cutoff(rung), equal_nan=True)


def test_cost_to_reach():
    r = hpo.ReplayResult("p", 0, np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40]),
                         np.array([0.1, 0.3, 0.3, 0.5]), [])
    assert r.cost_to_reach(0.3) == (2.0, 20.0) and r.cost_to_reach(0.6) is None and r.best == 0.5


def test_default_protocols_take_the_specs_options():
    ps = hpo.default_protocols()
    assert [p.scheduler for p in ps] == ["fifo", "asha", "asha"]
    assert ps[0].patience == 10 and ps[0].max_trials == 110 and ps[0].sampler["n_startup_trials"] == 10
    assert ps[0].sampler["multivariate"] is False and ps[1].sampler == ps[0].sampler
    assert ps[2].sampler["kind"] == "random" and ps[1].grace_period == 2 and ps[1].reduction_factor == 3


# --------------------------------------------------------------------------------------------- extraction
def _write_grid_study(tmp_path, *, skip: tuple[int, ...] = ()):
    import optuna
    from optuna.distributions import CategoricalDistribution

    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "grid.yaml"
    spec.write_text("name: gridtab\nbase: synthcaps-tiny\nspace:\n  fusion.kind: {categorical: [none, late]}\n"
                    "  audio_encoder.width: {categorical: [8, 16]}\nsampler: {kind: grid}\nscheduler: {kind: fifo}\n"
                    "budget: {num_samples: null, max_epochs: 3, time_budget_s: null}\nseeds: [0]\n")
    runs = tmp_path / "runs"
    root = runs / "gridtab"
    root.mkdir(parents=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="gridtab", storage=f"sqlite:///{root / 'optuna.db'}", direction="maximize")
    dists = {"fusion.kind": CategoricalDistribution(["none", "late"]),
             "audio_encoder.width": CategoricalDistribution([8, 16]), "seed": CategoricalDistribution([0])}
    expected = {}
    for i, (kind, width) in enumerate(itertools.product(["none", "late"], [8, 16])):
        if i in skip:
            continue
        vals = [0.1 * (i + 1) * e for e in (1, 2, 3)]
        secs = [1.0 + i, 2.0, 3.0]
        run_dir = root / "trials" / str(i)
        run_dir.mkdir(parents=True)
        (run_dir / "metrics.json").write_text(json.dumps(
            {"history": [{"epoch": e + 1, "val_map10": v, "epoch_time_s": s} for e, (v, s) in
                         enumerate(zip(vals, secs))]}))
        (run_dir / "trial_status.json").write_text(json.dumps({"wall_time_s": sum(secs) + 4.0}))
        study.add_trial(optuna.trial.create_trial(
            params={"fusion.kind": kind, "audio_encoder.width": width, "seed": 0}, distributions=dists,
            value=max(vals), intermediate_values={e + 1: v for e, v in enumerate(vals)},
            user_attrs={"run_dir": str(run_dir)}))
        expected[(kind, width)] = (vals, secs)
    return spec, runs, expected


def test_extract_table_from_a_grid_study(tmp_path):
    spec, runs, expected = _write_grid_study(tmp_path)
    t = hpo.extract_table(spec, runs)
    assert t.space == {"fusion.kind": ["none", "late"], "audio_encoder.width": [8, 16]} and t.max_epochs == 3
    assert [tuple(c.params.values()) for c in t.curves] == list(expected)  # grid order
    for c in t.curves:
        vals, secs = expected[(c.params["fusion.kind"], c.params["audio_encoder.width"])]
        assert list(c.values) == vals and list(c.epoch_s) == secs and c.overhead_s == pytest.approx(4.0)
    assert t.meta["trials"] == 4 and not t.meta["partial"]
    assert Table.from_dict(json.loads(json.dumps(t.to_dict()))).fingerprint() == t.fingerprint()


def test_extract_table_names_missing_grid_points(tmp_path):
    spec, runs, _ = _write_grid_study(tmp_path, skip=(2,))
    with pytest.raises(TableError, match=r"1 of 4 grid points have no complete trial \(first: \{'fusion.kind': "
                                         r"'late', 'audio_encoder.width': 8\}\)"):
        hpo.extract_table(spec, runs)
    t = hpo.extract_table(spec, runs, allow_partial=True)  # fusion.kind=late is incomplete: only none is kept
    assert t.space == {"fusion.kind": ["none"], "audio_encoder.width": [8, 16]} and len(t.curves) == 2
    assert t.meta["partial"] and t.meta["grid_points"] == 4
    spec, runs, _ = _write_grid_study(tmp_path / "b", skip=(0,))
    assert hpo.extract_table(spec, runs, allow_partial=True).space["fusion.kind"] == ["late"]
    spec, runs, _ = _write_grid_study(tmp_path / "c", skip=(0, 3))
    with pytest.raises(TableError, match="no value of 'fusion.kind' has all its grid points complete"):
        hpo.extract_table(spec, runs, allow_partial=True)


# --------------------------------------------------------------------------------------------- output
def test_perf_hpo_part_writes_json_markdown_and_plots(tmp_path, capsys):
    from benchmarks.perf import main

    table = tmp_path / "table.json"
    table.write_text(json.dumps(synthetic_table().to_dict()))
    out = tmp_path / "results"
    rc = main(["--quick", "--json", "--parts", "hpo", "--table", str(table), "--repetitions", "2",
               "--sensitivity-repetitions", "1", "--out", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "perf_quick.json").read_text())
    assert printed["hpo"]["repetitions"] == saved["hpo"]["repetitions"] == 2
    assert saved["machine"]["cpus"] and saved["quick"] is True and "scoring" not in saved
    assert set(saved["hpo"]["protocols"]) == {p.name for p in hpo.default_protocols()}
    md = (out / "perf_quick.md").read_text()
    assert md.startswith("# perf (quick)") and "HPO efficiency" in md and "sequential (one worker)" in md
    assert "charged again" in md and saved["hpo"]["table"]["fingerprint"] in md
    for ext in ("png", "pdf"):
        assert (out / f"perf_quick_hpo_curves.{ext}").stat().st_size > 1000
    assert saved["hpo"]["sensitivity"]["repetitions"] == 1 and "ASHA sensitivity" in md


def test_perf_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    from benchmarks.perf import main

    assert main(["--parts", "hpo", "--table", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "none.json" in err[0]
    assert main(["--repetitions", "0"]) == 2
    assert main(["--sensitivity-repetitions", "-1"]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: --repetitions: expected an integer >= 1",
                                                     "error: --sensitivity-repetitions: expected an integer >= 0"]
    assert main(["--extract-table", "--spec", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_markdown_of_scoring_and_trial_cost_results():
    from benchmarks.perf import markdown

    m = {"queries": 10, "items": 5, "seconds": 1.0, "queries_per_s": 10.0, "peak_rss_mb": 300.0,
         "rss_before_mb": 250.0, "scoring_mb": 50.0}
    check = {"identical": True}
    run = {"wall_s": 3.0, "mean_epoch_s": 1.0, "n_train": 4, "n_val": 2, "n_test": 2}
    payload = {
        "quick": False, "machine": {"date": "2026-01-01", "cpus": 2, "platform": "x", "python": "3", "torch": "2",
                                    "git_commit": "abc"},
        "load_average_start": [1.0], "load_average_end": [1.0], "seconds": {"total": 1.0},
        "scoring": {"clotho": {"queries": 10, "items": 5, "dim": 128, "project": m, "naive": m, "speedup": 2.0,
                               "check": check},
                    "large": {"queries": 100, "items": 100, "project": m, "naive": m, "project_on_naive_rows": m,
                              "speedup_per_query": 3.0, "check": {"identical": False}, "naive_rows": 5,
                              "naive_full_matrix_note": "note"}},
        "trial_cost": {"config": "c", "epochs": 2, "cold_cache": run, "warm_cache": run,
                       "trial_speedup_warm_vs_cold": 1.5, "feature_cost_per_trial_s": 1.0,
                       "epoch_s_with_cache": 1.0, "epoch_s_on_the_fly_features_derived": 2.0,
                       "epoch_speedup_vs_on_the_fly_derived": 2.0,
                       "frozen": {"measured": False, "reason": "not measured: frozen cache not available"}},
    }
    md = markdown(payload)
    assert "| 10 x 5 | project (chunked) |" in md and "| NO |" in md  # a failed identity check is visible
    assert "not measured: frozen cache not available" in md and not math.isnan(2.0)


@pytest.mark.slow
def test_trial_cost_runs_real_fits_on_tiny(cache_dir):
    from benchmarks.perf import trial_cost

    res = trial_cost.run("synthcaps-tiny", epochs=1, frozen_epochs=1, overrides={"data.cache_dir": str(cache_dir)},
                         log=lambda m: None)
    cold, warm = res["cold_cache"], res["warm_cache"]
    assert cold["feature_cache"]["misses"] == 112 and cold["feature_cache"]["hits"] == 0  # 64 + 24 + 24 clips
    assert warm["feature_cache"]["hits"] == 112 and warm["feature_cache"]["misses"] == 0
    assert cold["epochs"] == warm["epochs"] == 1 and res["epoch_s_with_cache"] > 0
    fz = res["frozen"]
    assert fz["measured"], fz.get("reason")
    assert fz["result"]["speedup_cached_vs_uncached"] > 0  # a measured ratio (the benchmark reports it)
    assert any("frozen + output cache" in str(r[0]) for r in trial_cost.markdown_rows(res))
