"""``python -m reports compare``: pairwise tests on run directories and per_query.csv files, arms of seed runs
(``--arm NAME=PATH[,PATH...]``), JSON, text, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from reports.cli import main
from reports.collect import align_runs, read_per_query
from reports.stats import compare_arms, holm, recipe_test, significance_mark


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
    for p in res["pairs"]:  # one run per arm: query-only, and p_value is the randomization p
        assert p["seed_aware"] is False and (p["n_runs_a"], p["n_runs_b"]) == (1, 1)
        assert p["p_value"] == p["p_randomization"] and "query sampling only" in p["method"]
    assert [a["n_runs"] for a in res["arms"]] == [1, 1, 1] and [a["map10_sd"] for a in res["arms"]] == [None] * 3


def test_compare_table_and_names(three_runs, capsys):
    assert main(["compare", str(three_runs["A"]), str(three_runs["C"]), "--names", "full", "ablated",
                 "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["run", "queries", "mAP@10", "R@1", "R@5", "R@10"]
    assert any(line.startswith("full") and "ablated" in line and "[" in line for line in out.splitlines())
    assert "500 resamples" in out
    assert "cover query sampling only" in out and "--arm NAME=RUN,RUN" in out


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


@pytest.mark.parametrize("command", ["build", "verify", "compare"])
def test_help_prints_percent_signs_once(command, capsys):
    """A description is not %-formatted by argparse: "95%%" was printed as is."""
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "%%" not in out
    if command == "compare":
        assert "95% CI" in " ".join(out.split())


def test_cli_entry_point_runs_as_a_module(three_runs):
    """The real `python -m reports` process: exit code 2 and no traceback for bad input."""
    r = subprocess.run([sys.executable, "-m", "reports", "compare", str(three_runs["A"]), "/nonexistent/run"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error: ")


# ----------------------------------------------------------------------------------------------------------
# arms of seed runs: --arm NAME=PATH[,PATH...]


@pytest.fixture
def seed_arms(tmp_path, fab):
    """Arms of 3 seed runs: same_a and same_b are one recipe (seed offsets, no true difference; seed 1 of each
    arm differs by 0.08 from the other arm's seed 1), worse is 0.12 lower; solo is a single run."""
    base = fab.base_scores(200, seed=9)
    rng = np.random.default_rng(21)

    def arm(name, offsets, overrides=None, first_seed=0):
        dirs, aps = [], []
        for i, off in enumerate(offsets):
            ap = np.round(np.clip(base + off + rng.normal(0, 0.05, base.size), 0, 1), 6)
            order = rng.permutation(base.size) if i == 1 else None  # row order does not matter
            dirs.append(fab.write_run(tmp_path / f"{name}{i}", ap, order=order))
            fab.write_config(dirs[-1], first_seed + i, overrides)  # each run: its own seed of the arm's recipe
            aps.append(ap)
        return dirs, aps

    out = {"same_a": arm("sa", (0.04, 0.0, -0.02)), "same_b": arm("sb", (-0.04, 0.01, 0.02), first_seed=3),
           "worse": arm("w", (-0.12, -0.10, -0.14), {"fusion.kind": "late"}), "solo": arm("solo", (0.0,))}
    out["tmp"] = tmp_path
    return out


def _arm(name, dirs, file_for=()):
    return f"{name}=" + ",".join(str(d / "per_query.csv") if i in file_for else str(d) for i, d in enumerate(dirs))


def _run_mean(aps):
    return float(np.mean([a.mean() for a in aps]))


def test_compare_arms_json(seed_arms, capsys):
    sa, sb, w, solo = (seed_arms[k] for k in ("same_a", "same_b", "worse", "solo"))
    argv = ["compare", str(solo[0][0]), "--arm", _arm("A", sa[0], file_for=(2,)), "--arm", _arm("B", sb[0]),
            "--arm", _arm("W", w[0]), "--json", "--resamples", "2000", "--seed", "3"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in res["arms"]] == ["solo0", "A", "B", "W"]
    assert [a["n_runs"] for a in res["arms"]] == [1, 3, 3, 3]
    assert [r["name"] for r in res["runs"]] == ["solo0", "A#1", "A#2", "A#3", "B#1", "B#2", "B#3", "W#1", "W#2", "W#3"]
    assert [r["arm"] for r in res["runs"]][:5] == ["solo0", "A", "A", "A", "B"]
    assert res["arms"][1]["map10"] == pytest.approx(_run_mean(sa[1]))
    assert res["arms"][1]["map10_sd"] == pytest.approx(np.std([a.mean() for a in sa[1]], ddof=1))
    pairs = {(p["a"], p["b"]): p for p in res["pairs"]}
    assert list(pairs) == [("solo0", "A"), ("solo0", "B"), ("solo0", "W"), ("A", "B"), ("A", "W"), ("B", "W")]
    required = {"a", "b", "diff", "ci_low", "ci_high", "p_value", "p_holm", "mark", "seed_aware", "n_runs_a",
                "n_runs_b"}
    assert all(required <= set(p) for p in res["pairs"])

    # seed-aware pairs: the recipe test on the arms' runs (order-free, so the written arrays are the reference)
    for (x, y), (ax, ay) in {("A", "B"): (sa[1], sb[1]), ("A", "W"): (sa[1], w[1]), ("B", "W"): (sb[1], w[1])}.items():
        p, ref = pairs[(x, y)], recipe_test(ax, ay)
        assert p["seed_aware"] is True and (p["n_runs_a"], p["n_runs_b"]) == (3, 3)
        assert p["diff"] == pytest.approx(_run_mean(ax) - _run_mean(ay), abs=1e-12)
        assert (p["p_value"], p["ci_low"], p["ci_high"], p["df"]) == pytest.approx(
            (ref.p_value, ref.ci_low, ref.ci_high, ref.df), rel=1e-9)
        assert p["seed_sd_a"] == pytest.approx(ref.seed_sd_a) and p["method"] == ref.method
        assert p["p_randomization"] is None and p["p_wilcoxon"] is None
        assert p["mde"] == pytest.approx(ref.minimum_detectable_effect())
    # the same recipe is not called different; the 0.12 drop is, even with 3 seeds per arm
    assert pairs[("A", "B")]["p_value"] > 0.05 and pairs[("A", "B")]["mark"] == ""
    assert pairs[("A", "W")]["p_value"] < 0.01 and pairs[("A", "W")]["diff"] > 0.1

    # a one-run arm against a 3-run arm: query-only test on the per-query means over the arm's runs
    p = pairs[("solo0", "A")]
    assert p["seed_aware"] is False and (p["n_runs_a"], p["n_runs_b"]) == (1, 3)
    assert p["diff"] == pytest.approx(solo[1][0].mean() - _run_mean(sa[1]), abs=1e-12)
    runs = [read_per_query(d) for d in [solo[0][0], *sa[0]]]
    _, aps, _ = align_runs(runs, ["s", "a1", "a2", "a3"])
    ref = compare_arms(aps[:1], aps[1:], n_resamples=2000, seed=3)
    assert (p["p_value"], p["p_randomization"], p["ci_low"], p["ci_high"]) == (
        ref.p_value, ref.p_randomization, ref.ci_low, ref.ci_high)
    assert p["p_wilcoxon"] == pytest.approx(ref.p_wilcoxon) and p["seed_sd_a"] is None
    assert p["seed_sd_b"] == pytest.approx(np.std([a.mean() for a in sa[1]], ddof=1))

    # Holm over the p_value of every pair; marks from the Holm p
    np.testing.assert_allclose([p["p_holm"] for p in res["pairs"]], holm([p["p_value"] for p in res["pairs"]]))
    assert [p["mark"] for p in res["pairs"]] == [significance_mark(p["p_holm"]) for p in res["pairs"]]


def test_single_seeds_of_one_recipe_look_different_but_the_arms_do_not(seed_arms, capsys):
    # the pitfall the recipe test exists for: seed 1 of A against seed 1 of B (one recipe) at p < 0.001
    sa, sb = seed_arms["same_a"], seed_arms["same_b"]
    assert main(["compare", str(sa[0][0]), str(sb[0][0]), "--json", "--resamples", "2000"]) == 0
    single = json.loads(capsys.readouterr().out)["pairs"][0]
    assert single["seed_aware"] is False and single["mark"] == "***"
    assert main(["compare", "--arm", _arm("A", sa[0]), "--arm", _arm("B", sb[0]), "--json"]) == 0
    arms = json.loads(capsys.readouterr().out)["pairs"][0]
    assert arms["seed_aware"] is True and arms["mark"] == "" and arms["ci_low"] < 0 < arms["ci_high"]


def test_compare_arms_text(seed_arms, capsys):
    sa, w, solo = seed_arms["same_a"], seed_arms["worse"], seed_arms["solo"]
    assert main(["compare", str(solo[0][0]), "--names", "single", "--arm", _arm("A", sa[0]), "--arm",
                 _arm("W", w[0]), "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["arm", "runs", "queries", "mAP@10", "seed", "sd", "R@1", "R@5", "R@10"]
    sd_a = np.std([a.mean() for a in sa[1]], ddof=1)
    sd_w = np.std([a.mean() for a in w[1]], ddof=1)
    assert lines[1].split()[:5] == ["single", "1", "200", f"{solo[1][0].mean():.4f}", "-"]
    assert lines[2].split()[:5] == ["A", "3", "200", f"{_run_mean(sa[1]):.4f}", f"{sd_a:.4f}"]
    ref = recipe_test(sa[1], w[1])
    row = next(line for line in lines if line.startswith("A ") and " W " in line)
    assert "3v3" in row and f"{ref.diff:+.4f}" in row and f"recipe t, df {ref.df:.1f}" in row
    seed_line = next(line for line in lines if line.startswith("A vs W: "))
    assert "seed-aware recipe t-test over seeds and queries" in seed_line
    assert f"seed sd A {sd_a:.4f} (3 runs), W {sd_w:.4f} (3 runs)" in seed_line
    query_line = next(line for line in lines if line.startswith("single vs A: "))
    assert "covers query sampling only (single has one run)" in query_line and "500 resamples" in query_line


def test_one_run_arms_via_flag_equal_positional_runs(three_runs, capsys):
    base = ["--json", "--resamples", "800", "--seed", "2"]
    assert main(["compare", str(three_runs["A"]), str(three_runs["C"]), "--names", "A", "C", *base]) == 0
    positional = json.loads(capsys.readouterr().out)
    assert main(["compare", "--arm", f"A={three_runs['A']}", "--arm", f"C={three_runs['C']}", *base]) == 0
    flagged = json.loads(capsys.readouterr().out)
    assert flagged["pairs"] == positional["pairs"] and flagged["pairs"][0]["seed_aware"] is False
    assert [r["name"] for r in flagged["runs"]] == ["A", "C"]


@pytest.mark.parametrize("case", ["no_equals", "empty_name", "duplicate", "duplicate_positional", "empty_paths",
                                  "stray_comma", "missing", "no_per_query", "listed_twice", "one_arm", "mismatch",
                                  "names_without_positional", "copied_run", "other_config", "no_config"])
def test_compare_bad_arm_exit_2_one_line(seed_arms, tmp_path, fab, capsys, case):
    sa, sb = seed_arms["same_a"], seed_arms["same_b"]
    good = ["--arm", _arm("B", sb[0])]
    a0, a1 = str(sa[0][0]), str(sa[0][1])
    empty = tmp_path / "empty_run"
    empty.mkdir()
    if case == "no_equals":
        args, needle = ["--arm", f"A{a0}", *good], f"--arm 'A{a0}': no '='"
    elif case == "empty_name":
        args, needle = ["--arm", f"={a0},{a1}", *good], f"--arm '={a0},{a1}': empty arm name"
    elif case == "duplicate":
        args, needle = ["--arm", f"B={a0},{a1}", *good], "duplicate arm name 'B'"
    elif case == "duplicate_positional":
        args, needle = [a0, "--names", "B", *good], "duplicate arm name 'B'"
    elif case == "empty_paths":
        args, needle = ["--arm", "A=", *good], "--arm 'A=': no run paths after '='"
    elif case == "stray_comma":
        args, needle = ["--arm", f"A={a0},", *good], f"--arm 'A={a0},': empty path in the list"
    elif case == "missing":
        args, needle = ["--arm", f"A={a0},{tmp_path / 'nope'}", *good], \
            f"--arm 'A={a0},{tmp_path / 'nope'}': {tmp_path / 'nope'}: no such run directory or per_query.csv file"
    elif case == "no_per_query":
        args, needle = ["--arm", f"A={a0},{empty}", *good], f"{empty}: run directory without per_query.csv"
    elif case == "listed_twice":
        args, needle = ["--arm", f"A={a0},{a1},{a0}/per_query.csv", *good], "is listed twice"
    elif case == "one_arm":
        args, needle = good, "at least two runs"
    elif case == "mismatch":
        rows = fab.queries(200)
        rows[3] = ("an unrelated caption", rows[3][1])
        other = fab.write_config(fab.write_run(tmp_path / "odd_seed", sa[1][2], rows=rows), 7)
        args, needle = ["--arm", f"A={a0},{a1},{other}", *good], "query sets differ between A#1"
    elif case == "copied_run":  # a copy of a run is not another seed: it made the recipe test seed-blind
        import shutil

        copy = tmp_path / "copy_of_sa0"
        shutil.copytree(a0, copy)
        args, needle = ["--arm", f"A={a0},{a1},{copy}", *good], \
            f"{a0} and {copy} are both seed 0 of one configuration"
    elif case == "other_config":
        w0 = str(seed_arms["worse"][0][0])
        args, needle = ["--arm", f"A={a0},{w0}", *good], \
            f"{a0} and {w0} are runs of different configurations (fusion.kind: 'none' vs 'late')"
    elif case == "no_config":
        bare = fab.write_run(tmp_path / "bare", sa[1][2])
        args, needle = ["--arm", f"A={a0},{bare}/per_query.csv", *good], f"{bare}: no config.yaml"
    else:
        args, needle = ["--names", "x", *good, "--arm", f"A={a0},{a1}"], "--names gives 1 name(s) for 0 run(s)"
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and len(err.strip().splitlines()) == 1, err
    if case == "mismatch":
        assert "A#3" in err and "odd_seed" in err and "caption 3 of clip 0" in err


def test_cli_entry_point_with_arms(seed_arms):
    sa, sb = seed_arms["same_a"], seed_arms["same_b"]
    r = subprocess.run([sys.executable, "-m", "reports", "compare", "--arm", _arm("A", sa[0]), "--arm",
                        _arm("B", sb[0][:2]), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    pair = json.loads(r.stdout)["pairs"][0]
    assert (pair["a"], pair["b"], pair["n_runs_a"], pair["n_runs_b"], pair["seed_aware"]) == ("A", "B", 3, 2, True)
    r = subprocess.run([sys.executable, "-m", "reports", "compare", str(sa[0][0]), "--arm", "broken"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error: --arm 'broken'")
