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


def test_seed_noise_command_on_tiny_runs(tmp_path, cache_dir):
    from benchmarks.seed_noise import main

    argv = ["--config", "synthcaps-tiny", "--seeds", "4", "--arm-size", "2", "--set", "train.epochs=1",
            "--set", f"data.cache_dir={cache_dir}", "--compare", "fusion.kind=late", "--compare-seeds", "2",
            "--runs-dir", str(tmp_path / "runs"), "--resamples", "200", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    payload = json.loads((tmp_path / "out" / "seed_noise.json").read_text())
    assert len(payload["runs"]) == 4 and payload["aa"]["n_splits"] == 3 and payload["aa"]["n_pairs"] == 6
    maps = [r["test_map10"] for r in payload["runs"]]
    assert payload["seed_sd_test_map10"] == pytest.approx(float(np.std(maps, ddof=1)))
    assert payload["compare"]["recipe"]["n_runs_a"] == 2 and payload["compare"]["recipe"]["seed_aware"]
    assert (tmp_path / "out" / "seed_noise.md").read_text().startswith("# seed_noise (synthcaps-tiny, 4 seeds")
    assert main(argv) == 0  # a second time every run is reused
