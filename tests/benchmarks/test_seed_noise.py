"""``python -m benchmarks seed_noise``: the A/A rates on planted data, and the command on real tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.seed_noise import aa_rates, run_label


def _runs_of_one_recipe(n_runs: int, n_queries: int, *, seed_sd: float, seed: int) -> np.ndarray:
    """Per-query AP of ``n_runs`` seeds of one recipe: a shared per-query difficulty, a run-level seed shift (the
    training noise that query-only tests ignore) and run x query noise."""
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(0.2, 0.8, n_queries)
    shift = rng.normal(0.0, seed_sd, (n_runs, 1))
    return np.clip(difficulty + shift + rng.normal(0.0, 0.15, (n_runs, n_queries)), 0.0, 1.0)


def test_aa_rates_query_only_tests_call_seed_noise_significant_and_the_recipe_test_does_not():
    # 8 seeds with a 3.5 pp seed sd over 500 queries (as measured on SynthCaps small), several draws
    query_only, recipe = [], []
    for draw in range(4):
        r = aa_rates(_runs_of_one_recipe(8, 500, seed_sd=0.035, seed=draw), arm_size=3, resamples=400)
        assert r["n_pairs"] == 28 and r["n_splits"] == 280
        query_only.append(r["split_query_only_p05"])
        recipe.append(r["split_recipe_p05"])
        assert r["pair_query_only_p05"] > 0.25  # one run against one run: seed noise looks like an effect
    assert np.mean(query_only) > 0.3 and np.mean(recipe) < 0.12
    # without seed noise both tests are calibrated A/A checks: no inflation to detect
    quiet = aa_rates(_runs_of_one_recipe(6, 400, seed_sd=0.0, seed=9), arm_size=3, resamples=400)
    assert quiet["split_query_only_p05"] <= 0.2 and quiet["split_recipe_p05"] <= 0.2


def test_aa_rates_splits_are_each_unordered_split_once():
    r = aa_rates(_runs_of_one_recipe(6, 50, seed_sd=0.02, seed=1), arm_size=2, resamples=50)
    seen = {(tuple(s["a"]), tuple(s["b"])) for s in r["splits"]}
    assert len(seen) == r["n_splits"] == 45  # C(6,2) * C(4,2) / 2
    assert all(not set(a) & set(b) and min(a) < min(b) for a, b in seen)


def test_run_label_names_the_overrides():
    assert run_label({}) == "base"
    assert run_label({"fusion.kind": "late", "augment.gain.g_max": 3.0}) == "augment.gain.g_max-3.0_fusion.kind-late"


def test_aa_rates_draw_random_splits_when_there_are_too_many():
    x = _runs_of_one_recipe(10, 40, seed_sd=0.02, seed=2)
    r = aa_rates(x, arm_size=3, resamples=20, max_splits=25)
    assert r["n_splits"] == 25 and r["n_pairs"] == 45  # C(10,3) C(7,3) / 2 = 2100 splits in all
    assert all(len(set(s["a"]) | set(s["b"])) == 6 and min(s["a"]) < min(s["b"]) for s in r["splits"])
    assert aa_rates(x, arm_size=3, resamples=20, max_splits=25)["splits"] == r["splits"]  # fixed seed


def test_verdict_calls_for_the_robust_test_on_non_normal_runs_or_a_high_rate():
    from benchmarks.seed_noise import verdict
    from reports.noise import distribution_stats

    rng = np.random.default_rng(0)
    fine = {"3 vs 3": {"welch": {"0.05": 0.04}}, "5 vs 5": {"welch": {"0.05": 0.05}}}
    assert not verdict(distribution_stats(rng.normal(0.16, 0.017, 40)), fine)["robust_needed"]
    two = distribution_stats(np.r_[rng.normal(0.15, 0.004, 28), rng.normal(0.19, 0.004, 12)])
    v = verdict(two, fine)
    assert v["robust_needed"] and any("Shapiro" in r for r in v["reasons"]) and any("bimodality" in r
                                                                                    for r in v["reasons"])
    high = verdict(distribution_stats(rng.normal(0.16, 0.017, 40)), {**fine, "3 vs 3": {"welch": {"0.05": 0.08}}})
    assert high["robust_needed"] and high["reasons"] == ["Welch's resampled type-I error 3 vs 3 is 8.0% > 7%"]


def test_recipes_name_the_planted_base_and_the_dcase2022_incumbent():
    from benchmarks.planted_effects import BASE
    from benchmarks.seed_noise import recipe
    from retrieval.config import TrialConfig

    config, over, label = recipe("planted-base")
    assert (config, over, label) == ("synthcaps-small", BASE, "base")
    config, over, label = recipe("dcase2022-incumbent")
    inc = TrialConfig.load(config)
    a = inc.augment
    assert (a.gain.g_max, a.spec.n_t, a.spec.w_t, a.spec.n_f, a.mixstyle.p, a.mixstyle.alpha) == (
        6.0, 3, 13, 0, 0.19, 0.23)
    assert (a.eda.p_eda, a.eda.p_syn, a.eda.p_swp, a.eda.p_ins, a.eda.p_del, a.bt.p_bt) == (
        0.43, 0.08, 0.10, 0.04, 0.11, 0.27)
    # everything else is synthcaps-small's (SynthCaps 2.0.0, vocabulary from 3 augmented passes)
    small = TrialConfig.load("synthcaps-small")
    assert (inc.data, inc.features, inc.audio_encoder, inc.text_encoder, inc.optim, inc.train) == (
        small.data, small.features, small.audio_encoder, small.text_encoder, small.optim, small.train)
    assert label == "dcase2022-incumbent"


def test_result_files_name_a_repository_config_by_its_path_from_the_root_not_this_machine(tmp_path):
    from benchmarks.seed_noise import INCUMBENT_CONFIG, shown_config

    assert INCUMBENT_CONFIG.is_absolute()
    assert shown_config(str(INCUMBENT_CONFIG)) == "benchmarks/dcase2022_incumbent.yaml"
    assert shown_config("synthcaps-small") == "synthcaps-small"
    outside = tmp_path / "mine.yaml"
    assert shown_config(str(outside)) == str(outside)  # a file outside the repository keeps its path


def test_seed_noise_refuses_bad_seed_sets_with_one_error_line(tmp_path, capsys):
    from benchmarks.seed_noise import main

    argv = ["--config", "synthcaps-tiny", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert main(argv + ["--seeds", "0-19", "--replication-seeds", "19-38"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "overlap in 19" in err[0]
    assert main(argv + ["--seeds", "4", "--replication-seeds", "1"]) == 2
    assert "need at least 2 (or 0 for none)" in capsys.readouterr().err
    assert main(argv + ["--seeds", "4-2"]) == 2 and "runs backwards" in capsys.readouterr().err
    assert main(["--recipe", "planted-base", "--config", "synthcaps-tiny"]) == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_seed_noise_command_on_tiny_runs(tmp_path, cache_dir):
    from benchmarks.seed_noise import main

    argv = ["--config", "synthcaps-tiny", "--seeds", "4", "--replication-seeds", "4", "--arm-size", "2", "--set",
            "train.epochs=1", "--set", f"data.cache_dir={cache_dir}", "--compare", "fusion.kind=late",
            "--compare-seeds", "2", "--runs-dir", str(tmp_path / "runs"), "--resamples", "200", "--splits", "200",
            "--resample-sizes", "2,3", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    payload = json.loads((tmp_path / "out" / "seed_noise.json").read_text())
    assert (payload["discovery_seeds"], payload["replication_seeds"]) == ([0, 1, 2, 3], [100, 101, 102, 103])
    assert len(payload["runs"]) == 8 and payload["aa"]["n_splits"] == 3 and payload["aa"]["n_pairs"] == 6
    maps = [r["test_map10"] for r in payload["runs"]]
    assert payload["seed_sd_test_map10"] == pytest.approx(float(np.std(maps[:4], ddof=1)))
    dist = payload["distribution"]
    assert dist["pooled"]["n"] == 8 and dist["pooled"]["sd"] == pytest.approx(float(np.std(maps, ddof=1)))
    assert dist["replication"]["mean"] == pytest.approx(float(np.mean(maps[4:])))
    ti = payload["type_i"]
    assert set(ti["discovery"]) == {"2 vs 2"} and set(ti["pooled"]) == {"2 vs 2", "3 vs 3"}
    assert ti["pooled"]["3 vs 3"]["n_splits"] == 200 and 0 <= ti["pooled"]["3 vs 3"]["floor"]["0.05"] <= 1
    rep = payload["replication"]
    assert set(rep) == {"seed_sd", "sets_agree", "type_i"} and rep["sets_agree"]["n_runs_a"] == 4
    assert isinstance(rep["seed_sd"]["replicated"], bool) and "robust_needed" in payload["verdict"]
    assert [m["seeds_per_arm"] for m in payload["mde"]["rows"]] == [3, 4, 5, 10]
    assert payload["compare"]["recipe"]["n_runs_a"] == 2 and payload["compare"]["recipe"]["seed_aware"]
    md = (tmp_path / "out" / "seed_noise.md").read_text()
    assert md.startswith("# seed_noise (synthcaps-tiny, 4 + 4 seeds") and "Do the seed-noise figures replicate?" in md
    assert "![seed distribution](seed_noise_hist.png)" in md and "--replication-seeds 100-103" in md
    png = (tmp_path / "out" / "seed_noise_hist.png").read_bytes()
    assert png.startswith(b"\x89PNG") and (tmp_path / "out" / "seed_noise_hist.pdf").exists()
    assert len(list((tmp_path / "runs").iterdir())) == 10  # 4 + 4 seeds, and 2 of the compared configuration
    assert main(argv) == 0  # a second time every run is reused
