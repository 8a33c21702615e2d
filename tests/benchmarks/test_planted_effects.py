"""``python -m benchmarks planted_effects``: the analysis on planted per-query data, and the command on tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.planted_effects import FACTORS, analyse, markdown
from benchmarks.seed_noise import run_label


def _arm(n_runs: int, difficulty: np.ndarray, *, effect: float, seed_sd: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shift = rng.normal(effect, seed_sd, (n_runs, 1))
    return np.clip(difficulty + shift + rng.normal(0.0, 0.1, (n_runs, difficulty.size)), 0.0, 1.0)


def test_analyse_finds_a_planted_effect_with_its_sign_and_the_seed_sds():
    difficulty = np.random.default_rng(0).uniform(0.2, 0.7, 800)
    off = _arm(5, difficulty, effect=0.0, seed_sd=0.01, seed=1)
    on = _arm(5, difficulty, effect=0.06, seed_sd=0.01, seed=2)
    r = analyse("planted", off, on, sign=+1)
    assert r["recipe"]["diff"] == pytest.approx(on.mean() - off.mean())
    assert 0.03 < r["recipe"]["diff"] < 0.09 and r["recipe"]["ci_low"] > 0 and r["significant"] and r["sign_ok"]
    assert r["seed_sd_off"] == pytest.approx(float(np.std(off.mean(axis=1), ddof=1)))
    assert (r["n_off"], r["n_on"], r["n_queries"]) == (5, 5, 800) and len(r["runs_on"]) == 5
    assert analyse("planted", off, on, sign=-1)["sign_ok"] is False
    # a seed spread as large as the effect: the recipe test does not call it (the query-only test would)
    noisy = analyse("noisy", _arm(3, difficulty, effect=0.0, seed_sd=0.05, seed=3),
                    _arm(3, difficulty, effect=0.03, seed_sd=0.05, seed=4), sign=+1)
    assert not noisy["significant"]


def test_analyse_a_a_pairs_stay_null():
    difficulty = np.random.default_rng(5).uniform(0.2, 0.7, 600)
    calls = [analyse("A/A", _arm(5, difficulty, effect=0.0, seed_sd=0.015, seed=10 + 2 * i),
                     _arm(5, difficulty, effect=0.0, seed_sd=0.015, seed=11 + 2 * i))["significant"]
             for i in range(20)]
    assert sum(calls) <= 3  # nominal 5 %: 1 of 20 expected


def test_factors_are_distinct_arms_with_a_documented_sign_and_mechanism():
    names = [f.name for f in FACTORS]
    assert len(set(names)) == len(names) >= 8
    for f in FACTORS:
        assert f.sign in (-1, 1) and f.mechanism and run_label(dict(f.off)) != run_label(dict(f.on))
    assert {t for f in FACTORS for t in f.tags} >= {"audio", "text", "fusion", "capacity"}


def test_markdown_table_has_a_row_per_factor_and_the_a_a_pair():
    difficulty = np.random.default_rng(0).uniform(0.2, 0.7, 100)
    off = _arm(2, difficulty, effect=0.0, seed_sd=0.01, seed=1)
    on = _arm(2, difficulty, effect=0.05, seed_sd=0.01, seed=2)
    f = FACTORS[0]
    res = {**analyse(f.name, off, on, sign=f.sign), "off": dict(f.off), "on": dict(f.on), "mechanism": f.mechanism}
    payload = {"config": "synthcaps-small", "seeds": 2, "machine": {"date": "2026-01-01"}, "synth_version": "2.0.0",
               "n_queries": 100, "factors": [res], "aa": analyse("A/A", off, off[::-1]), "overrides": {},
               "runs_dir": "runs/planted_effects"}
    md = markdown(payload)
    assert md.startswith("# planted_effects (synthcaps-small, 2 seeds per arm")
    assert f"| {f.name} | + |" in md and "| A/A (base, seeds split in two) |" in md and f.mechanism in md


def test_planted_effects_command_on_tiny_runs(tmp_path, cache_dir):
    from benchmarks.planted_effects import main

    argv = ["--config", "synthcaps-tiny", "--seeds", "2", "--factors", "metadata fusion", "--set", "train.epochs=1",
            "--set", f"data.cache_dir={cache_dir}", "--set", "train.progress=false",
            "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    payload = json.loads((tmp_path / "out" / "planted_effects.json").read_text())
    (fusion,) = payload["factors"]
    assert fusion["factor"] == "metadata fusion" and fusion["on"] == {"fusion.kind": "late"}
    assert fusion["n_off"] == fusion["n_on"] == 2 and fusion["recipe"]["seed_aware"]
    assert payload["aa"]["n_off"] == payload["aa"]["n_on"] == 2 and payload["synth_version"] == "2.0.0"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "base-s0", "base-s1", "base-s2", "base-s3", "fusion.kind-late-s0", "fusion.kind-late-s1"]
    assert len(payload["runs"]) == 6 and payload["seed_sd_base"] >= 0
    dialect = payload["by_dialect"]
    assert sum(dialect["n_queries"].values()) == payload["n_queries"] and "?" not in dialect["n_queries"]
    assert set(dialect["n_queries"]) >= {"plain", "bt"} and set(dialect["arms"]) == {"base", "fusion.kind-late"}
    md = (tmp_path / "out" / "planted_effects.md").read_text()
    assert "| metadata fusion | + |" in md and "by caption dialect" in md
    assert main(argv) == 0  # a second time every run is reused
    with pytest.raises(SystemExit):
        main(argv + ["--factors", "nonsense"])


def test_by_dialect_is_the_mean_over_each_dialects_queries_and_the_arms_runs():
    from benchmarks.planted_effects import by_dialect

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 9))
    dialects = ["plain", "bt", "plain", "eda", "bt", "plain", "eda", "bt", "plain"]
    out = by_dialect(x, dialects, {"a": [0, 2], "b": [1, 3]})
    assert out["n_queries"] == {"plain": 4, "bt": 3, "eda": 2} and list(out["n_queries"])[0] == "plain"
    for arm, rows in (("a", [0, 2]), ("b", [1, 3])):
        for kind in ("plain", "bt", "eda"):
            naive = sum(sum(x[r][q] for q in range(9) if dialects[q] == kind) / dialects.count(kind)
                        for r in rows) / len(rows)
            assert out["arms"][arm][kind] == pytest.approx(naive)
