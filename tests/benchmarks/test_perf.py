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
SPACE = {"a": ["x", "y", "z"], "b": ["none", "late"], "c": [8, 16], "d": [0, 3], "e": [1, 2]}
BEST = {"a": "z", "b": "late", "c": 16, "d": 3, "e": 2}


def planted_table(*, n: int = 10, short: int = 3, seeds=(0, 1, 2), noise: float = 0.004, seed: int = 0,
                  early_ranks_poorly: bool = True) -> Table:
    """48 configurations x ``seeds`` x schedules (``n``, ``short``) with a planted structure: one configuration
    is best by 5 pp; on the long schedule the early epochs rank configurations *backwards* (a fast start means a
    worse end; ``early_ranks_poorly=False``: forwards), while the end of a complete short schedule ranks them
    right. Test mAP@10 = truth - 2 pp."""
    rng = np.random.default_rng(seed)
    curves = []
    for vals in itertools.product(*SPACE.values()):
        p = dict(zip(SPACE, vals))
        q = (0.15 + 0.08 * SPACE["a"].index(p["a"]) + 0.06 * (p["b"] == "late") + 0.03 * (p["c"] == 16)
             + 0.02 * (p["e"] == 2) + 0.01 * (p["d"] == 3)) + 0.05 * (p == BEST)
        fast = 0.5 - q if early_ranks_poorly else q
        for s in seeds:
            ep = np.arange(1, n + 1) / n
            v = q * ep ** 2 + fast * (1 - ep) * ep * 2 + rng.normal(0, noise, n)
            v[-1] = q + rng.normal(0, noise)
            curves.append(Curve(p, tuple(map(float, v)), (2.0,) * n, 5.0, s, n, float(q - 0.02)))
            if short:
                w = 0.8 * q * np.arange(1, short + 1) / short + rng.normal(0, noise, short)
                curves.append(Curve(p, tuple(map(float, w)), (1.5,) * short, 5.0, s, short, None))
    return Table.from_curves(SPACE, curves, n, {"synthetic": True})


def v1_table(n_epochs: int = 10) -> Table:
    """A version-1 table (one seed, one schedule), as the committed hpo_table.json."""
    raw = planted_table(n=n_epochs, short=0, seeds=(0,), early_ranks_poorly=False).to_dict()
    raw = {"version": 1, "space": raw["space"], "max_epochs": n_epochs, "meta": {},
           "configs": [{"params": c["params"], "val_map10": c["runs"][0]["val_map10"],
                        "epoch_s": c["runs"][0]["epoch_s"], "overhead_s": 5.0} for c in raw["configs"]]}
    return Table.from_dict(raw)


def test_table_v2_round_trip_truth_and_fingerprint(tmp_path):
    t = planted_table()
    assert t.schedules == (3, 10) and t.seeds == (0, 1, 2) and len(t.configs) == 48 and t.version == 2
    path = tmp_path / "t.json"
    path.write_text(json.dumps(t.to_dict()))
    back = hpo.load_table(path)
    assert back.fingerprint() == t.fingerprint() and back.schedules == (3, 10)
    cfg = back.lookup(BEST)
    assert back.best_config() == BEST
    assert back.truth(BEST) == pytest.approx(np.mean([r.final for r in cfg.runs[10]]))  # seed mean of finals
    assert back.truth_test(BEST) == pytest.approx(back.truth(BEST) - 0.02, abs=0.02)
    assert back.best_truth == max(back.truth(c.params) for c in back.configs)
    assert cfg.curve(3, 2).values == t.lookup(BEST).curve(3, 2).values and len(cfg.curve(3, 2).values) == 3
    assert back.schedule_for(3) == 3 and back.schedule_for(4) == 3 and back.schedule_for(8) == 10
    raw = t.to_dict()
    raw["configs"][5]["runs"][1]["val_map10"][3] += 0.01  # edited by hand: the fingerprint no longer matches
    path.write_text(json.dumps(raw))
    with pytest.raises(TableError, match="fingerprint"):
        hpo.load_table(path)


def test_v1_tables_are_still_read_with_their_fingerprint():
    from pathlib import Path

    v1 = hpo.load_table(Path(__file__).resolve().parents[2] / "benchmarks/results/hpo_table.json")
    assert v1.version == 1 and v1.fingerprint() == "ca140cc6cd6e5a07" and v1.meta["trials"] == 48
    assert v1.seeds == (0,) and v1.schedules == (10,) and len(v1.configs) == 48
    c = v1.configs[0]
    assert v1.truth(c.params) == c.runs[10][0].final and v1.truth_test(c.params) is None
    assert Table.from_dict(json.loads(json.dumps(v1.to_dict()))).fingerprint() == "ca140cc6cd6e5a07"


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("space"), "missing key 'space'"),
    (lambda r: r["configs"][2]["runs"][0]["val_map10"].pop(), r"configs\[2\]\.runs\[0\]\.val_map10: expected 10"),
    (lambda r: r["configs"][4]["runs"][3]["epoch_s"].__setitem__(0, "x"), r"configs\[4\]\.runs\[3\]\.epoch_s\[0\]"),
    (lambda r: r["configs"][1]["params"].__setitem__("a", "w"), r"configs\[1\]\.params\.a: 'w'"),
    (lambda r: r["configs"][1]["params"].pop("a"), r"configs\[1\]\.params: expected the parameters"),
    (lambda r: r["configs"].append(dict(r["configs"][0])), r"configs\[48\]: the same parameters as configs\[0\]"),
    (lambda r: r["configs"][3]["runs"].pop(), r"configs\[3\]\.runs: \(schedule, seeds\)"),
    (lambda r: r["configs"][3]["runs"][1].__setitem__("seed", 0), r"configs\[3\]\.runs\[1\]: a second run"),
    (lambda r: r["configs"][0]["runs"][0].__setitem__("schedule", 12), r"runs\[0\]\.schedule: 12 is not in"),
    (lambda r: r.__setitem__("version", 3), "unknown table version 3"),
])
def test_bad_tables_are_refused_naming_the_key(mutate, message):
    raw = planted_table().to_dict()
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


def test_rank_correlations_see_the_planted_structure():
    rc = hpo.rank_correlations(planted_table())
    by_epoch = {r["epoch"]: r for r in rc["epochs"]}
    assert by_epoch[1]["seed_mean"]["kendall"] < -0.3 and by_epoch[2]["one_seed"]["spearman"] < -0.3
    assert by_epoch[10]["seed_mean"]["spearman"] == pytest.approx(1.0)
    short = rc["short_schedules"][0]
    assert short["schedule"] == 3 and short["seed_mean"]["kendall"] > 0.8 and short["rank_of_best"] == 1
    assert by_epoch[2]["rank_of_best"] > 24 and rc["noise_ceiling"]["kendall"] > 0.8
    assert rc["seeds"] == 3 and rc["seed_sd_final"]["median"] < 0.01


# --------------------------------------------------------------------------------------------- the replay
def test_fifo_replay_trains_full_curves_and_patience_stops_a_falling_curve():
    t = v1_table()
    r = hpo.replay(t, Protocol("fifo", TPE_2022, "fifo", patience=10, max_trials=15), seed=0)
    assert len(r.trials) == 15 and all(x["epochs"] == 10 and x["state"] == "COMPLETE" for x in r.trials)
    assert r.cum_epochs[-1] == 150 and r.cum_seconds[-1] == pytest.approx(15 * (10 * 2.0 + 5.0))
    assert np.all(np.diff(r.best_seen) >= 0)
    for x in r.trials:
        assert x["value"] == t.lookup(x["params"]).runs[10][0].best
    best = max(r.trials, key=lambda x: x["value"])  # the incumbent is judged by its truth
    assert r.final_truth == t.truth(best["params"])
    falling = Table.from_curves({"a": [1]}, [Curve({"a": 1}, (0.1, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0),
                                                   (1.0,) * 8)], 8)
    r = hpo.replay(falling, Protocol("fifo", RANDOM, "fifo", patience=3, max_trials=1), seed=0)
    assert r.trials[0]["epochs"] == 5 and r.trials[0]["value"] == 0.5


def test_repeated_proposals_read_another_seeds_run():
    t = planted_table()
    r = hpo.replay(t, Protocol("random", RANDOM, "fifo", max_trials=150, bookkeeping="optuna"), seed=4)
    by: dict[str, list[int]] = {}
    for x in r.trials:
        by.setdefault(json.dumps(x["params"], sort_keys=True), []).append(x["seed"])
        assert x["value"] == t.lookup(x["params"]).curve(10, x["seed"]).final  # stock: the last value
    for seeds in by.values():  # consecutive proposals of one configuration cycle through the seeds
        assert all(seeds[i] != seeds[i + 1] for i in range(len(seeds) - 1))
        assert set(seeds[:3]) == set(seeds[:3]) & {0, 1, 2} and len(set(seeds[:3])) == min(3, len(seeds))
    again = hpo.replay(t, Protocol("random", RANDOM, "fifo", max_trials=150, bookkeeping="optuna"), seed=4)
    assert [x["seed"] for x in again.trials] == [x["seed"] for x in r.trials]  # deterministic


@pytest.mark.parametrize("impl", ["ray", "optuna"])
def test_asha_stops_bad_curves_early(impl):
    t = planted_table(early_ranks_poorly=False)
    r = hpo.replay(t, Protocol("asha", RANDOM, "asha", grace_period=1, reduction_factor=3, max_trials=60,
                               asha_impl=impl), seed=0)
    truths = sorted(t.truth(c.params) for c in t.configs)
    median = truths[len(truths) // 2]
    bad = [x["epochs"] for x in r.trials if t.truth(x["params"]) < median]
    assert bad and np.mean(bad) < 3.5  # weak configurations mostly stop at the first rungs (1 and 3)
    assert sum(x["state"] == "PRUNED" for x in r.trials) > len(r.trials) / 2
    assert r.cum_epochs[-1] < 0.5 * 60 * t.max_epochs


def test_harness_bookkeeping_prunes_with_the_best_value():
    t = planted_table()
    r = hpo.replay(t, Protocol("asha", TPE_2022, "asha", grace_period=1, reduction_factor=3, max_trials=30), seed=1)
    assert any(x["state"] == "PRUNED" for x in r.trials)
    for x in r.trials:
        curve = t.lookup(x["params"]).curve(10, x["seed"])
        assert x["value"] == max(curve.values[:x["epochs"]])


def test_stock_ray_optuna_search_records_stopped_trials_complete_with_their_truncated_last_value(monkeypatch):
    from ray.tune.search.optuna import OptunaSearch

    made = []
    init = OptunaSearch.__init__

    def spy(self, *a, **k):
        init(self, *a, **k)
        made.append(self)

    monkeypatch.setattr(OptunaSearch, "__init__", spy)
    t = planted_table()
    p = hpo.stock_protocols(10)[0]
    assert p.bookkeeping == "ray_stock" and p.grace_period == 1 and p.reduction_factor == 4
    r = hpo.replay(t, dataclasses.replace(p, max_trials=40), seed=2)
    study = made[0]._ot_study  # Ray's own OptunaSearch fed TPE
    assert isinstance(study.sampler, __import__("optuna").samplers.TPESampler)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 40 and all(x.state.name == "COMPLETE" for x in trials)
    stopped = [(x, rec) for x, rec in zip(trials, r.trials) if rec["epochs"] < 10]
    assert len(stopped) > 20  # most trials stop at rung 1 or 4 ...
    for x, rec in stopped:  # ... and TPE sees their truncated last value as if it were a finished one
        curve = t.lookup(rec["params"]).curve(10, rec["seed"])
        assert x.value == curve.values[rec["epochs"] - 1] != curve.final
        assert max(x.intermediate_values) == rec["epochs"]


def test_optuna_hyperband_replay_uses_optunas_pruner_and_best_complete_trial(monkeypatch):
    import optuna

    made = []
    create = optuna.create_study

    def spy(*a, **k):
        s = create(*a, **k)
        made.append(s)
        return s

    monkeypatch.setattr(optuna, "create_study", spy)
    t = planted_table()
    p = dataclasses.replace(hpo.stock_protocols(10)[1], max_trials=60)
    r = hpo.replay(t, p, seed=0)
    study = made[0]
    assert isinstance(study.pruner, optuna.pruners.HyperbandPruner)
    states = [x.state.name for x in study.get_trials(deepcopy=False)]
    assert states.count("PRUNED") > 10 and states.count("COMPLETE") > 0
    best = study.best_trial  # the incumbent: the best COMPLETE trial (PRUNED trials are never returned)
    assert r.final_truth == t.truth(best.params)


def test_budgeted_successive_halving_beats_plain_asha_when_early_epochs_rank_poorly():
    # planted: the first epochs of the long schedule rank configurations backwards, the end of a complete 3-epoch
    # schedule ranks them right; budgeted SH (each rung a complete schedule) must find the truth with less compute
    t = planted_table()
    ref = hpo.reference_protocol()
    plain = hpo.harness_protocols()[1]
    budgeted = next(p for p in hpo.method_protocols(t.schedules, 10) if p.name.startswith("budgeted SH (random"))
    assert budgeted.restart and budgeted.rungs == (3, 10)
    summary, runs = hpo.compare(t, [ref, plain, budgeted], 4, log=lambda m: None)
    sb, sp = summary["protocols"][budgeted.name], summary["protocols"][plain.name]
    assert sb["reached"] == 4 and sp["reached"] < 4
    assert sb["ratio_epochs_all"]["median"] > sp["ratio_epochs_all"]["median"]
    assert sb["final_truth"]["median"] == pytest.approx(t.best_truth)
    for run in runs[budgeted.name]:  # every rung-0 job read a 3-epoch schedule, every promotion a 10-epoch one
        for x in run.trials:
            assert (x["budget"], x["schedule"], x["epochs"]) in ((3, 3, 3), (10, 10, 10))
            assert x["value"] == t.lookup(x["params"]).curve(x["schedule"], x["seed"]).best
        first = {x["trial"]: x["seed"] for x in run.trials if x["rung"] == 0}
        assert all(first[x["trial"]] == x["seed"] for x in run.trials if x["rung"] == 1)  # a promotion keeps its seed
        assert run.cum_epochs[-1] >= summary["per_repetition"][0]["reference_budget_epochs"] - 10


def test_budget_in_epochs_is_respected():
    t = planted_table()
    r = hpo.replay(t, Protocol("asha", RANDOM, "asha", grace_period=2, reduction_factor=3, max_trials=None,
                               max_epochs_budget=100), seed=0)
    assert 100 <= r.cum_epochs[-1] < 100 + t.max_epochs
    with pytest.raises(ValueError, match="needs max_trials or max_epochs_budget"):
        hpo.replay(t, Protocol("x", RANDOM, "fifo", max_trials=None), seed=0)


def test_compare_headline_and_regret_curves():
    t = planted_table()
    ps = hpo.default_protocols(schedules=t.schedules, max_epochs=10, quick=True,
                               default="budgeted SH (random; rungs 3/10, rf 3)")
    assert [p.group for p in ps[:4]] == ["reference", "stock", "stock", "stock"]
    summary, runs = hpo.compare(t, ps, 2, log=lambda m: None)
    for rep in summary["per_repetition"]:
        ref = runs[ps[0].name][rep["seed"]]
        assert rep["target"] == ref.final_truth  # the target is the 2022 protocol's final true quality
    h = hpo.headline(summary)
    assert set(h) >= {"speedup_vs_2022", "speedup_vs_best_stock", "best_stock", "reached", "repetitions"}
    assert h["protocol"] == "budgeted SH (random; rungs 3/10, rf 3)" and h["repetitions"] == 2
    assert h["best_stock"] in {p.name for p in ps if p.group == "stock"}
    rc = hpo.regret_curves(runs, t.best_truth)
    assert set(rc["protocols"]) == {p.name for p in ps}
    last = [v for v in rc["protocols"][ps[0].name]["median"] if v is not None][-1]
    assert last == pytest.approx(t.best_truth - np.median([r.final_truth for r in runs[ps[0].name]]))


def test_asha_sensitivity_grid_matches_the_main_comparison_and_skips_useless_grace_periods():
    t = planted_table(n=4, short=0, early_ranks_poorly=False)
    sens = hpo.sensitivity(t, 2, grace=(1, 4), reduction_factors=(2, 3), log=lambda m: None)
    assert sens["grace_periods"] == [1]  # grace 4 = the last epoch: ASHA could stop nothing
    assert len(sens["cells"]) == 1 * 2 * 2 and sens["repetitions"] == 2
    protocols = [hpo.reference_protocol()] + [
        Protocol(str(i), TPE_2022 if c["sampler"] == "TPE" else RANDOM, "asha", grace_period=c["grace_period"],
                 reduction_factor=c["reduction_factor"], max_trials=None) for i, c in enumerate(sens["cells"])]
    summary, _ = hpo.compare(t, protocols, 2, log=lambda m: None)
    for i, cell in enumerate(sens["cells"]):
        ratios = [rep["protocols"][str(i)]["ratio_epochs"] or 0.0 for rep in summary["per_repetition"]]
        assert cell["reached"] == summary["protocols"][str(i)]["reached"]
        assert cell["ratio_epochs_all"]["median"] == pytest.approx(float(np.median(ratios)))
    header, rows = hpo.sensitivity_markdown(sens)
    assert header == ["grace period", "rf 2: TPE / random", "rf 3: TPE / random"] and [r[0] for r in rows] == [1]


# --------------------------------------------------------------------------------------------- the methods
def test_promotion_sh_by_hand():
    sh = hpo.PromotionSH((1, 3, 9), 3)
    assert sh.next_job() == (None, 0)
    for t, v in enumerate([0.1, 0.5, 0.3]):
        sh.record(t, 0, v)
    assert sh.next_job() == (1, 1)  # the top third of rung 0 goes up
    assert sh.next_job() == (None, 0)  # promoted already: a new configuration
    sh.record(1, 1, 0.6)
    for t, v in ((3, 0.2), (4, 0.4), (5, 0.45)):
        sh.record(t, 0, v)
    assert sh.next_job() == (5, 1)  # 6 at rung 0: the top two (1, 5); 1 is promoted already


def test_pasha_grows_its_top_rung_only_when_the_top_rungs_disagree():
    sh = hpo.PromotionSH((1, 3, 9), 3, progressive=True)
    assert sh.top == 1
    for t, (v0, v1) in enumerate([(0.1, 0.2), (0.5, 0.6), (0.3, 0.4)]):
        sh.record(t, 0, v0)
        sh.record(t, 1, v1)
    assert sh.top == 1  # the same order at both rungs
    sh.record(3, 0, 0.35)
    sh.record(3, 1, 0.1)  # ranks below 0 at rung 1, above it at rung 0: unstable
    assert sh.top == 2 and sh.top_history == [1, 2]


def test_rank_gated_asha_stops_nothing_until_the_rung_predicts_the_end():
    gated = hpo.RankGatedASHA(1, 3, 4, threshold=0.5, min_pairs=4)
    for t in range(4):  # rung 1's value predicts the end perfectly, but no trial has finished yet: no stop
        for e in range(1, 5):
            assert gated.on_result(t, e, 0.1 * t + 0.01 * e)
    assert gated.gate_open(0) and 0 in gated.opened_at
    assert not gated.on_result(9, 1, 0.0)  # now the rung stops a weak trial
    anti = hpo.RankGatedASHA(1, 3, 4, threshold=0.5, min_pairs=4)
    for t in range(6):  # rung 1 ranks backwards: the gate stays closed, nothing stops
        for e in range(1, 5):
            assert anti.on_result(t, e, (1 - 0.1 * t) if e == 1 else 0.1 * t)
    assert not anti.gate_open(0) and anti.on_result(9, 1, 0.0)


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


def test_cost_to_reach_stays_or_first():
    nan = float("nan")
    r = hpo.ReplayResult("p", 0, np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40]),
                         np.array([nan, 0.5, 0.3, 0.5]), np.array([nan] * 4), np.array([0.1, 0.3, 0.3, 0.5]), [])
    assert r.cost_to_reach(0.5) == (4.0, 40.0)  # reached at job 2, lost at job 3, kept from job 4 on
    assert r.cost_to_reach(0.5, stay=False) == (2.0, 20.0)
    assert r.cost_to_reach(0.6) is None and r.final_truth == 0.5 and r.best == 0.5
    assert list(r.truth_at(np.array([0.5, 2.5, 9]))) [1:] == [0.5, 0.5]


def test_default_protocols_take_the_specs_options():
    ps = hpo.default_protocols(schedules=(3, 10), max_epochs=10)
    ref = ps[0]
    assert ref.patience == 10 and ref.max_trials == 110 and ref.sampler["n_startup_trials"] == 10
    assert ref.sampler["multivariate"] is False and ref.group == "reference"
    stock = [p for p in ps if p.group == "stock"]
    assert [p.bookkeeping for p in stock] == ["ray_stock", "optuna", "optuna"]
    harness = [p for p in ps if p.group == "harness"]
    assert [p.sampler["kind"] for p in harness] == ["tpe", "random"]
    assert all(p.scheduler == "asha" and p.grace_period == 2 and p.reduction_factor == 3 for p in harness)
    assert any(p.restart and p.rungs == (3, 10) for p in ps if p.group == "method")


# --------------------------------------------------------------------------------------------- extraction
def _write_grid_study(tmp_path, *, skip: tuple[int, ...] = (), schedules=(3,), seeds=(0,)):
    """A finished grid study over fusion.kind x audio_encoder.width (x train.epochs x seed when given)."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "grid.yaml"
    sched = f"  train.epochs: {{categorical: {list(schedules)}}}\n" if len(schedules) > 1 else ""
    spec.write_text("name: gridtab\nbase: synthcaps-tiny\nspace:\n  fusion.kind: {categorical: [none, late]}\n"
                    f"  audio_encoder.width: {{categorical: [8, 16]}}\n{sched}sampler: {{kind: grid}}\n"
                    f"scheduler: {{kind: fifo}}\nbudget: {{num_samples: null, max_epochs: {max(schedules)}, "
                    f"time_budget_s: null}}\nseeds: {list(seeds)}\n")
    runs = tmp_path / "runs"
    root = runs / "gridtab"
    root.mkdir(parents=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="gridtab", storage=f"sqlite:///{root / 'optuna.db'}", direction="maximize")
    dists = {"fusion.kind": CategoricalDistribution(["none", "late"]),
             "audio_encoder.width": CategoricalDistribution([8, 16]), "seed": CategoricalDistribution(list(seeds))}
    if len(schedules) > 1:
        dists["train.epochs"] = CategoricalDistribution(list(schedules))
    expected = {}
    number = 0
    for i, (kind, width) in enumerate(itertools.product(["none", "late"], [8, 16])):
        if i in skip:
            continue
        for n in schedules:
            for s in seeds:
                vals = [0.1 * (i + 1) * e / n + 0.01 * s for e in range(1, n + 1)]
                secs = [1.0 + i] + [2.0] * (n - 1)
                run_dir = root / "trials" / str(number)
                run_dir.mkdir(parents=True)
                (run_dir / "metrics.json").write_text(json.dumps(
                    {"history": [{"epoch": e + 1, "val_map10": v, "epoch_time_s": x} for e, (v, x) in
                                 enumerate(zip(vals, secs))], "test": {"test_map10": vals[-1] - 0.05}}))
                (run_dir / "trial_status.json").write_text(json.dumps({"wall_time_s": sum(secs) + 4.0}))
                params = {"fusion.kind": kind, "audio_encoder.width": width, "seed": s}
                if len(schedules) > 1:
                    params["train.epochs"] = n
                study.add_trial(optuna.trial.create_trial(
                    params=params, distributions={k: dists[k] for k in params}, value=max(vals),
                    intermediate_values={e + 1: v for e, v in enumerate(vals)},
                    user_attrs={"run_dir": str(run_dir), "wall_time_s": sum(secs) + 4.0}))
                expected[(kind, width, n, s)] = (vals, secs)
                number += 1
    return spec, runs, expected


def test_extract_table_from_a_grid_study(tmp_path):
    spec, runs, expected = _write_grid_study(tmp_path)
    t = hpo.extract_table(spec, runs)
    assert t.space == {"fusion.kind": ["none", "late"], "audio_encoder.width": [8, 16]} and t.max_epochs == 3
    assert [tuple(c.params.values()) for c in t.configs] == [k[:2] for k in expected]  # grid order
    for c in t.configs:
        vals, secs = expected[(c.params["fusion.kind"], c.params["audio_encoder.width"], 3, 0)]
        run = c.runs[3][0]
        assert list(run.values) == vals and list(run.epoch_s) == secs and run.overhead_s == pytest.approx(4.0)
        assert run.test == pytest.approx(vals[-1] - 0.05)
    assert t.meta["trials"] == 4 and not t.meta["partial"] and t.meta["build_wall_s"] >= 0
    assert Table.from_dict(json.loads(json.dumps(t.to_dict()))).fingerprint() == t.fingerprint()


def test_extract_a_v2_table_with_seeds_and_schedule_lengths(tmp_path):
    spec, runs, expected = _write_grid_study(tmp_path, schedules=(4, 2), seeds=(0, 1, 2))
    t = hpo.extract_table(spec, runs)
    assert "train.epochs" not in t.space and t.schedules == (2, 4) and t.seeds == (0, 1, 2) and t.max_epochs == 4
    assert len(t.configs) == 4 and t.meta["trials"] == 24 and t.meta["schedules"] == [4, 2]
    c = t.lookup({"fusion.kind": "late", "audio_encoder.width": 16})
    assert list(c.curve(2, 1).values) == expected[("late", 16, 2, 1)][0]
    assert t.truth(c.params) == pytest.approx(np.mean([expected[("late", 16, 4, s)][0][-1] for s in range(3)]))


def test_extract_table_names_missing_grid_points(tmp_path):
    spec, runs, _ = _write_grid_study(tmp_path, skip=(2,))
    with pytest.raises(TableError, match=r"1 of 4 grid points have no complete trial \(first: \{'fusion.kind': "
                                         r"'late', 'audio_encoder.width': 8\}\)"):
        hpo.extract_table(spec, runs)
    t = hpo.extract_table(spec, runs, allow_partial=True)  # fusion.kind=late is incomplete: only none is kept
    assert t.space == {"fusion.kind": ["none"], "audio_encoder.width": [8, 16]} and len(t.configs) == 2
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
    table.write_text(json.dumps(planted_table().to_dict()))
    out = tmp_path / "results"
    rc = main(["--quick", "--json", "--parts", "hpo", "--table", str(table), "--repetitions", "2",
               "--sensitivity-repetitions", "1", "--out", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "perf_quick.json").read_text())
    h = saved["hpo"]
    assert printed["hpo"]["repetitions"] == h["repetitions"] == 2
    assert saved["machine"]["cpus"] and saved["quick"] is True and "scoring" not in saved
    assert set(h["headline"]) >= {"speedup_vs_2022", "speedup_vs_best_stock", "best_stock", "reached", "repetitions"}
    assert h["seeds_per_config"] == 3 and h["headline"]["repetitions"] == 2
    assert {p["group"] for p in h["protocols"].values()} == {"reference", "stock", "harness", "method"}
    assert h["rank_correlations"]["short_schedules"][0]["schedule"] == 3
    md = (out / "perf_quick.md").read_text()
    assert md.startswith("# perf (quick)") and "HPO efficiency" in md and "sequential (one worker)" in md
    assert "Headline" in md and "Rank correlation between rungs" in md and h["table"]["fingerprint"] in md
    for ext in ("png", "pdf"):
        assert (out / f"perf_quick_hpo_curves.{ext}").stat().st_size > 1000
    assert h["sensitivity"]["repetitions"] == 1 and "ASHA sensitivity" in md


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


def test_hyperband_brackets():
    from benchmarks.perf.hpo.replay import hyperband_brackets

    assert hyperband_brackets(10, 3) == [(9, (1, 3, 10)), (5, (3, 10)), (3, (10,))]
    assert hyperband_brackets(27, 3)[0] == (27, (1, 3, 9, 27))


def test_bohb_replay_feeds_ray_tunebohb_every_rung_with_its_budget(monkeypatch):
    pytest.importorskip("hpbandster")
    from ray.tune.search.bohb import TuneBOHB

    seen = []
    orig = TuneBOHB.on_trial_result

    def spy(self, trial_id, result):
        seen.append(result["hyperband_info"]["budget"])
        return orig(self, trial_id, result)

    monkeypatch.setattr(TuneBOHB, "on_trial_result", spy)
    t = planted_table()
    p = next(p for p in hpo.method_protocols(t.schedules, 10) if p.scheduler == "bohb")
    r = hpo.replay(t, dataclasses.replace(p, max_epochs_budget=120), seed=0)
    assert seen[:9] == [1] * 9 and seen[9:12] == [3] * 3 and seen[12] == 10  # bracket 1: 9 at 1, 3 at 3, 1 at 10
    assert [x["epochs"] for x in r.trials[:9]].count(1) == 6 and r.trials[8]["epochs"] == 10
    assert 120 <= r.cum_epochs[-1] < 120 + 9 * 10
    assert all(isinstance(v, (str, int)) for x in r.trials for v in x["params"].values())


def test_a_partial_run_carries_the_other_parts_over_marked(tmp_path):
    from benchmarks.perf import main

    table = tmp_path / "table.json"
    table.write_text(json.dumps(planted_table().to_dict()))
    out = tmp_path / "results"
    out.mkdir()
    from pathlib import Path

    committed = json.loads((Path(__file__).resolve().parents[2] / "benchmarks/results/perf_quick.json").read_text())
    old = {"benchmark": "perf", "quick": True, "machine": {"date": "2026-01-02", "git_commit": "abc"},
           "load_average_start": [1.0], "seconds": {"scoring": 5.0}, "scoring": committed["scoring"]}
    (out / "perf_quick.json").write_text(json.dumps(old))
    assert main(["--quick", "--parts", "hpo", "--table", str(table), "--repetitions", "1", "--out", str(out)]) == 0
    saved = json.loads((out / "perf_quick.json").read_text())
    assert saved["scoring"] == committed["scoring"] and saved["carried_over"]["scoring"]["date"] == "2026-01-02"
    assert "trial_cost" not in saved and "hpo" in saved
    md = (out / "perf_quick.md").read_text()
    assert "Part `scoring` was not run this time" in md and "1. Scoring throughput" in md


def test_every_protocol_replays_deterministically():
    # the figures must not move between runs: Optuna's HyperbandPruner brackets by a hash of the study name (fixed
    # here), HpBandSter's BOHB draws from numpy's global generator (seeded per replay, then restored)
    t = planted_table()
    state = np.random.get_state()
    for p in hpo.default_protocols(schedules=t.schedules, max_epochs=10, quick=True)[1:]:
        p = dataclasses.replace(p, max_epochs_budget=150)
        a, b = hpo.replay(t, p, seed=3), hpo.replay(t, p, seed=3)
        assert [x["params"] for x in a.trials] == [x["params"] for x in b.trials], p.name
        assert np.array_equal(a.truth, b.truth, equal_nan=True), p.name
    assert np.array_equal(np.random.get_state()[1], state[1])
