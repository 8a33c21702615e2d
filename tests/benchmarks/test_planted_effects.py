"""``python -m benchmarks planted_effects``: the analysis on planted per-query data, and the command on tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.planted_effects import FACTORS, analyse, markdown, upgrade_payload
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


def _payload(factors, aa=None, *, disc=(0, 1, 2, 3, 4), rep=(100, 101, 102, 103, 104)):
    return {"config": "synthcaps-small", "seeds": len(disc), "discovery_seeds": list(disc),
            "replication_seeds": list(rep), "test": "floor", "machine": {"date": "2026-01-01"},
            "synth_version": "2.0.0", "n_queries": 400, "factors": factors, "overrides": {},
            "runs_dir": "runs/planted_effects", **({"aa": aa} if aa else {})}


def _factor(f, off, on, rep_off=None, rep_on=None):
    return {**analyse(f.name, off, on, sign=f.sign, rep_off=rep_off, rep_on=rep_on), "off": dict(f.off),
            "on": dict(f.on), "mechanism": f.mechanism}


def test_analyse_keeps_discovery_replication_and_pooled_with_a_known_effect_and_with_none():
    difficulty = np.random.default_rng(0).uniform(0.2, 0.7, 400)
    arm = lambda effect, seed: _arm(5, difficulty, effect=effect, seed_sd=0.01, seed=seed)  # noqa: E731
    real = analyse("real", arm(0, 1), arm(0.05, 2), sign=+1, rep_off=arm(0, 3), rep_on=arm(0.05, 4))
    for key in ("discovery", "replication", "pooled"):
        assert {"diff", "ci_low", "ci_high", "p_value", "n_runs_a", "n_runs_b", "seed_aware", "map_off",
                "seed_sd_on", "runs_on"} <= set(real[key])
    assert real["replicated"] is True and real["detected"] is True and real["sign_ok"]
    assert (real["discovery"]["n_runs_a"], real["pooled"]["n_runs_a"], real["pooled"]["n_on"]) == (5, 10, 10)
    assert real["pooled"]["map_on"] == pytest.approx(np.mean(real["discovery"]["runs_on"] +
                                                             real["replication"]["runs_on"]))
    # the discovery's fields stay at the top level, as in the files from before the replication sets
    assert real["recipe"]["diff"] == real["discovery"]["diff"] and real["significant"] == real["discovery"][
        "significant"] and real["map_on"] == real["discovery"]["map_on"]
    null = analyse("null", arm(0, 5), arm(0, 6), sign=+1, rep_off=arm(0, 7), rep_on=arm(0, 8))
    assert null["replicated"] is False and null["detected"] is False
    # a discovery that the replication reverses is not detected, and the table says so
    flipped = analyse("flipped", arm(0, 1), arm(0.05, 2), sign=+1, rep_off=arm(0.05, 3), rep_on=arm(0, 4))
    assert flipped["discovery"]["significant"] and flipped["replicated"] is False and not flipped["detected"]


def test_markdown_calls_detected_only_what_replicates():
    difficulty = np.random.default_rng(0).uniform(0.2, 0.7, 400)
    arm = lambda effect, seed: _arm(5, difficulty, effect=effect, seed_sd=0.01, seed=seed)  # noqa: E731
    fusion, text = FACTORS[0], next(f for f in FACTORS if f.name == "text augmentations")
    factors = [_factor(fusion, arm(0, 1), arm(0.05, 2), arm(0, 3), arm(0.05, 4)),
               _factor(text, arm(0, 1), arm(0.05, 2), arm(0.05, 3), arm(0, 4))]
    aa = {**analyse("A/A", arm(0, 1), arm(0, 3)), "seeds_off": [0, 1, 2, 3, 4], "seeds_on": [100, 101, 102, 103, 104]}
    md = markdown(_payload(factors, aa))
    assert md.startswith("# planted_effects (synthcaps-small, 5 + 5 seeds per arm")
    assert "| replicated | verdict |" in md and "replication seeds 100–104" in md
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert rows["metadata fusion"].endswith("| yes | detected, sign as documented |")
    assert rows["text augmentations"].endswith("| no | NOT replicated |")
    assert "| A/A (base, seeds 0–4 vs 100–104) |" in md and fusion.mechanism in md


def test_old_result_files_still_render_and_nothing_in_them_is_detected():
    # benchmarks/results/planted_effects.json as published on 2026-11-29 (seeds 0-4 only, kept as a fixture): the
    # text augmentations row (+1.88 pp, p 0.016 there) must not read as detected
    from pathlib import Path

    old = json.loads((Path(__file__).parents[1] / "fixtures/planted_effects_2026-11-29.json").read_text())
    assert "discovery" not in old["factors"][0]
    up = upgrade_payload(old)
    assert up["replication_seeds"] == [] and all(f["replicated"] is None and not f["detected"] for f in up["factors"])
    md = markdown(old)
    assert "Discovery only, pending replication" in md and "| detected" not in md
    text = next(line for line in md.splitlines() if line.startswith("| text augmentations |"))
    assert "+1.88" in text and text.endswith("| – | discovery only, pending replication |")


def test_overlapping_seed_sets_are_refused_with_one_error_line(tmp_path, capsys):
    from benchmarks.planted_effects import main

    argv = ["--config", "synthcaps-tiny", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert main(argv + ["--seeds", "0-4", "--replication-seeds", "3-7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "overlap in 3, 4" in err[0]
    assert main(argv + ["--seeds", "1"]) == 2 and "need at least 2" in capsys.readouterr().err
    assert main(argv + ["--seeds", "5", "--replication-seeds", "1,1"]) == 2
    assert "seed 1 is listed twice" in capsys.readouterr().err
    assert main(argv + ["--factors", "nonsense"]) == 2 and "unknown 'nonsense'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_the_published_result_detects_only_what_replicated():
    # benchmarks/results/planted_effects.json as published: every factor printed as detected is significant on the
    # discovery seeds and replicated on disjoint replication seeds, and the text augmentations are not detected
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks/results/planted_effects.json"
    payload = json.loads(path.read_text())
    assert not set(payload["discovery_seeds"]) & set(payload["replication_seeds"])
    assert len(payload["discovery_seeds"]) >= 5 and len(payload["replication_seeds"]) >= 5
    factors = {f["factor"]: f for f in payload["factors"]}
    for f in factors.values():
        assert f["detected"] == bool(f["discovery"]["significant"] and f["replicated"]), f["factor"]
        if f["replicated"]:
            rep = f["replication"]
            assert np.sign(rep["diff"]) == np.sign(f["discovery"]["diff"]) and (rep["ci_low"] > 0 or rep["ci_high"] < 0)
    assert factors["metadata fusion"]["detected"] and factors["gain"]["detected"]
    assert not factors["text augmentations"]["detected"]
    md = (path.parent / "planted_effects.md").read_text()
    assert markdown(payload).rstrip("\n") == md.rstrip("\n")  # the Markdown is what the JSON renders to


def test_planted_effects_command_on_tiny_runs(tmp_path, cache_dir):
    from benchmarks.planted_effects import main

    argv = ["--config", "synthcaps-tiny", "--seeds", "2", "--replication-seeds", "50-51", "--factors",
            "metadata fusion", "--set", "train.epochs=1", "--set", f"data.cache_dir={cache_dir}", "--set",
            "train.progress=false", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    payload = json.loads((tmp_path / "out" / "planted_effects.json").read_text())
    (fusion,) = payload["factors"]
    assert fusion["factor"] == "metadata fusion" and fusion["on"] == {"fusion.kind": "late"}
    assert (payload["discovery_seeds"], payload["replication_seeds"], payload["test"]) == ([0, 1], [50, 51], "floor")
    assert fusion["discovery"]["n_runs_a"] == fusion["replication"]["n_runs_b"] == 2 and fusion["pooled"]["n_on"] == 4
    assert fusion["discovery"]["seed_aware"] and fusion["replicated"] in (True, False)
    assert fusion["discovery"]["seed_var_floor_df"] == payload["floors"]["discovery"]["df"] == 2
    assert payload["floors"]["pooled"]["df"] == 4 and payload["mde"]["per_set"] > payload["mde"]["pooled"] > 0
    assert payload["aa"]["seeds_on"] == [50, 51] and payload["synth_version"] == "2.0.0"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "base-s0", "base-s1", "base-s50", "base-s51", "fusion.kind-late-s0", "fusion.kind-late-s1",
        "fusion.kind-late-s50", "fusion.kind-late-s51"]
    assert len(payload["runs"]) == 8 and payload["seed_sd_base"] >= 0
    assert {r["set"] for r in payload["runs"]} == {"discovery", "replication"}
    dialect = payload["by_dialect"]
    assert sum(dialect["n_queries"].values()) == payload["n_queries"] and "?" not in dialect["n_queries"]
    assert set(dialect["n_queries"]) >= {"plain", "bt"} and set(dialect["arms"]) == {"base", "fusion.kind-late"}
    md = (tmp_path / "out" / "planted_effects.md").read_text()
    assert "| metadata fusion | + |" in md and "by caption dialect" in md and "--replication-seeds 50,51" in md
    assert main(argv) == 0  # a second time every run is reused


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
