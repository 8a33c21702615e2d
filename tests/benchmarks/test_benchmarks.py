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
