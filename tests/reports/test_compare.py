"""``python -m reports compare``: pairwise tests on run directories and per_query.csv files, JSON, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from reports.cli import main
from reports.stats import holm


@pytest.fixture
def three_runs(tmp_path, fab):
    base = fab.base_scores(200, seed=9)
    rng = np.random.default_rng(4)
    a = np.round(base, 6)
    b = np.round(base - 0.1, 6)  # planted drop
    c = np.round(np.clip(base + rng.normal(0, 0.03, base.size), 0, 1), 6)  # same distribution
    perm = rng.permutation(base.size)
    return {"A": fab.write_run(tmp_path / "A", a), "B": fab.write_run(tmp_path / "B", b, order=perm),
            "C": fab.write_run(tmp_path / "C", c), "ap": {"A": a, "B": b, "C": c}}


def test_compare_json_against_naive_references(three_runs, capsys):
    paths = [str(three_runs["A"]), str(three_runs["B"] / "per_query.csv"), str(three_runs["C"])]
    assert main(["compare", *paths, "--json", "--resamples", "2000", "--seed", "3"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in res["runs"]] == ["A", "B", "C"]
    assert [(p["a"], p["b"]) for p in res["pairs"]] == [("A", "B"), ("A", "C"), ("B", "C")]
    ap = three_runs["ap"]
    ab, ac, bc = res["pairs"]
    assert ab["diff"] == pytest.approx(0.1, abs=1e-9)  # B's rows were shuffled: aligned by (query, target)
    assert ab["p_randomization"] == pytest.approx(1 / 2001)  # no sign flip reaches a constant 0.1 shift
    assert ab["p_holm"] == pytest.approx(3 / 2001) and ab["mark"] == "**"
    assert ac["diff"] == pytest.approx(np.mean(ap["A"] - ap["C"]), abs=1e-12)
    assert ac["ci_low"] < 0 < ac["ci_high"] and ac["p_holm"] > 0.05
    assert ac["p_wilcoxon"] == pytest.approx(stats.wilcoxon(ap["A"] - ap["C"]).pvalue, rel=1e-9)
    np.testing.assert_allclose([p["p_holm"] for p in res["pairs"]],
                               holm([p["p_randomization"] for p in res["pairs"]]))
    assert res["runs"][0]["map10"] == pytest.approx(ap["A"].mean())
    assert res["settings"]["n_resamples"] == 2000 and res["settings"]["seed"] == 3


def test_compare_table_and_names(three_runs, capsys):
    assert main(["compare", str(three_runs["A"]), str(three_runs["C"]), "--names", "full", "ablated",
                 "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["run", "queries", "mAP@10", "R@1", "R@5", "R@10"]
    assert any(line.startswith("full") and "ablated" in line and "[" in line for line in out.splitlines())
    assert "500 resamples" in out


@pytest.mark.parametrize("case", ["no_per_query", "missing", "mismatch", "one_run", "names"])
def test_compare_bad_input_exit_2_one_line(three_runs, tmp_path, fab, capsys, case):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    if case == "no_per_query":
        args, needle = [str(three_runs["A"]), str(empty)], f"{empty}: run directory without per_query.csv"
    elif case == "missing":
        args, needle = [str(three_runs["A"]), str(tmp_path / "nope")], "no such run directory"
    elif case == "mismatch":
        rows = fab.queries(200)
        rows[3] = ("an unrelated caption", rows[3][1])
        other = fab.write_run(tmp_path / "other", three_runs["ap"]["A"], rows=rows)
        args, needle = [str(three_runs["A"]), str(other)], "query sets differ between A"
    elif case == "one_run":
        args, needle = [str(three_runs["A"])], "at least two runs"
    else:
        args, needle = [str(three_runs["A"]), str(three_runs["C"]), "--names", "x"], "--names gives 1 name(s)"
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and len(err.strip().splitlines()) == 1
    if case == "mismatch":
        assert "other" in err and "caption 3 of clip 0" in err


def test_cli_entry_point_runs_as_a_module(three_runs):
    """The real `python -m reports` process: exit code 2 and no traceback for bad input."""
    r = subprocess.run([sys.executable, "-m", "reports", "compare", str(three_runs["A"]), "/nonexistent/run"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error: ")
