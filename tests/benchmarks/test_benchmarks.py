import json
import math

import numpy as np
import pytest

from benchmarks.fusion_effect import random_map10
from benchmarks.common import markdown_table


@pytest.mark.parametrize("n_items", [1, 5, 10, 37, 100])
def test_random_map10_matches_simulated_random_rankings(n_items):
    rng = np.random.default_rng(0)
    ranks = rng.integers(1, n_items + 1, size=200_000)  # rank of the one relevant item under a random ranking
    simulated = np.where(ranks <= 10, 1.0 / ranks, 0.0).mean()
    assert random_map10(n_items) == pytest.approx(simulated, abs=4 * 0.5 / np.sqrt(200_000))


def test_markdown_table_shape():
    md = markdown_table(["a", "b"], [[1, 0.123456], ["x", 12345.6]])
    lines = md.strip().splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "|---|---|" and len(lines) == 4
    assert "0.123" in lines[2] and "12346" in lines[3]


@pytest.mark.slow
def test_train_speed_runs_on_tiny(tmp_path, cache_dir):
    from benchmarks.train_speed import run

    payload = run("synthcaps-tiny", {"data.cache_dir": str(cache_dir)}, batches=2, threads=1, out_dir=tmp_path)
    assert payload["train"]["clips_per_s"] > 0
    fc = payload["feature_cache"]  # speeds are the benchmark's output, measured side by side, not asserted here
    assert fc["feature_speedup"] > 0 and math.isfinite(fc["feature_speedup"])
    saved = json.loads((tmp_path / "train_speed.json").read_text())
    assert saved["feature_cache"]["clips"] == 64
    assert (tmp_path / "train_speed.md").read_text().startswith("# train_speed")


@pytest.mark.parametrize("module", ["planted_effects", "seed_noise", "fusion_effect"])
@pytest.mark.parametrize("flag,under", [("--runs-dir", False), ("--runs-dir", True), ("--out", False)])
def test_folder_options_naming_a_file_are_error_lines_before_any_training(module, flag, under, tmp_path, capsys,
                                                                         monkeypatch):
    """A --runs-dir (or --out) that is a regular file, or lies under one, was a traceback (planted_effects had no
    error handling at all), after the first training for --out."""
    import importlib

    import retrieval.train

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the folder options were checked")

    monkeypatch.setattr(retrieval.train, "fit", no_training)

    afile = tmp_path / "afile"
    afile.write_text("x\n")
    path = afile / "sub" if under else afile
    other = "--out" if flag == "--runs-dir" else "--runs-dir"
    argv = ["--config", "synthcaps-tiny", flag, str(path), other, str(tmp_path / "ok")]
    assert importlib.import_module(f"benchmarks.{module}").main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag} {path}: ") and len(err.strip().splitlines()) == 1
    assert (f"lies under {afile}, which is a file" if under else "is a file, not a folder") in err
    assert not (tmp_path / "ok").exists() and afile.read_text() == "x\n"


def test_seed_sets_counts_lists_and_refusals():
    from benchmarks.common import parse_seeds, seed_sets
    from retrieval.errors import UsageError

    assert parse_seeds("5", start=0, option="--seeds") == [0, 1, 2, 3, 4]
    assert parse_seeds(["3"], start=100, option="--seeds") == [100, 101, 102]
    assert parse_seeds(["0-2", "7", "10,12"], start=0, option="--seeds") == [0, 1, 2, 7, 10, 12]
    assert parse_seeds("7-7", start=0, option="--seeds") == [7]
    assert parse_seeds("0", start=100, option="--replication-seeds", minimum=0) == []
    assert seed_sets("5", None) == ([0, 1, 2, 3, 4], [100, 101, 102, 103, 104])
    assert seed_sets(["0-4"], ["10-14"]) == ([0, 1, 2, 3, 4], [10, 11, 12, 13, 14])
    assert seed_sets("5", "0") == ([0, 1, 2, 3, 4], [])
    for args, needle in ((("0-4", "4-8"), "overlap in 4"), (("5", "1"), "need at least 2 \\(or 0"),
                         (("1", None), "need at least 2"), (("a-b", None), "'a-b' is not a seed"),
                         (("0,0", None), "listed twice"), (("-3", None), "'-3' is not a seed"),
                         (("95-104", None), "overlap in 100–104")):
        with pytest.raises(UsageError, match=needle):
            seed_sets(*args)


def test_fusion_effect_refuses_overlapping_seeds_with_one_error_line(tmp_path, capsys):
    from benchmarks.fusion_effect import main

    argv = ["--config", "synthcaps-tiny", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert main(argv + ["--seeds", "0-2", "--replication-seeds", "2-4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "overlap in 2" in err[0]
    assert main(argv + ["--kinds", "none"]) == 2 and "two distinct fusion kinds" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_fusion_effect_command_on_tiny_runs(tmp_path, cache_dir):
    from benchmarks.fusion_effect import main

    argv = ["--config", "synthcaps-tiny", "--seeds", "2", "--replication-seeds", "2", "--set", "train.epochs=1",
            "--set", f"data.cache_dir={cache_dir}", "--set", "train.progress=false", "--runs-dir",
            str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    payload = json.loads((tmp_path / "out" / "fusion_effect.json").read_text())
    assert (payload["discovery_seeds"], payload["replication_seeds"]) == ([0, 1], [100, 101])
    late = payload["claims_vs_none"]["late"]
    assert late["discovery"]["n_runs_a"] == late["replication"]["n_runs_b"] == 2 and late["pooled"]["n_runs_a"] == 4
    assert late["replicated"] in (True, False) and late["discovery"]["seed_var_floor_df"] == 2
    assert payload["comparisons_vs_none"]["late"]["p_value"] == late["discovery"]["p_value"]  # the old key
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "late-s0", "late-s1", "late-s100", "late-s101", "none-s0", "none-s1", "none-s100", "none-s101"]
    md = (tmp_path / "out" / "fusion_effect.md").read_text()
    assert "| replicated | verdict |" in md and "--replication-seeds 100,101" in md
