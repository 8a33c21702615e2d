"""``reports build`` / ``verify``: report folder contents, byte-identical rebuilds, verify catching an altered
per-query file, atomic replacement, bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from reports.cli import main

ARGS = ["--resamples", "500", "--seed", "0", "--quiet"]


def _build(study, out: Path, *extra) -> int:
    return main(["build", "--storage", study["url"], "--study", study["name"], "--out", str(out), *ARGS, *extra])


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_build_writes_tables_index_inputs_and_is_byte_identical(ablation_study, tmp_path, no_figures, capsys):
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    assert _build(ablation_study, out1) == 0
    assert capsys.readouterr().out.strip() == str(out1 / "index.md")
    assert _build(ablation_study, out2) == 0
    a, b = _files(out1), _files(out2)
    assert a.keys() == b.keys()
    assert a.pop("index.md").replace(b"/r1 ", b"/r2 ").replace(b"/r1\n", b"/r2\n") == b.pop("index.md")
    ia, ib = json.loads(a.pop("inputs.json")), json.loads(b.pop("inputs.json"))
    assert ia["study"].pop("command").replace("/r1 ", "/r2 ") == ib["study"].pop("command")
    assert ia["study"].pop("out").endswith("/r1") and ib["study"].pop("out").endswith("/r2")
    assert ia == ib
    assert a == b  # tables byte-identical; index.md and inputs.json up to the output folder they quote
    for name in ("summary", "top_configs", "ablation"):
        for ext in ("md", "tex", "csv"):
            assert f"tables/{name}.{ext}" in a
    index = (out1 / "index.md").read_text()
    for ext in ("md", "tex", "csv"):
        assert f"(tables/ablation.{ext})" in index
    assert "left out: 1 pruned (stopped by ASHA), 1 failed (TrainingDiverged: loss is NaN at epoch 2), " \
           "1 no per-query file" in index
    assert "9 trials (7 complete, 1 pruned, 1 fail)" in index
    # the summary paragraph states the seed noise and the design's minimum detectable Δ, as the summary table does
    summary = {r[0]: r[1] for r in csv.reader(io.StringIO(a["tables/summary.csv"].decode()))}
    sd, mde = float(summary["seed sd of test mAP@10 (within configuration)"]), float(
        summary["minimum detectable Δ test mAP@10"])
    assert (f"Seed noise: test mAP@10 varies by {100 * sd:.2f} pp (sd) between seeds of one configuration (pooled "
            f"over 3 configuration(s) with ≥ 2 runs, 6 runs); with 2 seeds per configuration the smallest Δ test "
            f"mAP@10 this design detects with 80% power is {100 * mde:.2f} pp.") in index
    # the ablation table says which comparison each row is
    ablation = list(csv.DictReader(io.StringIO(a["tables/ablation.csv"].decode())))
    assert [(r["variant"], r["comparison"], r["seed_aware"]) for r in ablation] == [
        ("full", "baseline", ""), ("no_x", "recipe", "true"), ("same", "recipe", "true")]
    inputs = json.loads((out1 / "inputs.json").read_text())
    assert inputs["study"]["name"] == "abl" and inputs["settings"] == {"resamples": 500, "seed": 0, "top_k": 10,
                                                                     "stats_version": 2}
    kinds = sorted({f["kind"] for f in inputs["files"]})
    assert kinds == ["metrics.json", "per_query.csv"] and len(inputs["files"]) == 12
    assert len(inputs["trials_digest"]) == 64
    # rebuilding into the same folder replaces the report and leaves no temporary folders behind
    assert _build(ablation_study, out1) == 0
    again = _files(out1)
    again.pop("index.md")
    again.pop("inputs.json")
    assert again == a
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_verify_passes_then_names_the_cell_after_a_per_query_file_changes(ablation_study, tmp_path, no_figures,
                                                                         capsys):
    out = tmp_path / "rep"
    assert _build(ablation_study, out) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("OK:")
    f = ablation_study["runs"][("no_x", 0)] / "per_query.csv"
    lines = f.read_text().splitlines()
    q, t, rank, ap = lines[5].rsplit(",", 3)
    lines[5] = f"{q},{t},1,1.000000"
    f.write_text("\n".join(lines) + "\n")
    assert main(["verify", str(out), "--quiet"]) == 1
    text = capsys.readouterr().out
    assert f"input changed: {f}" in text
    assert "cell differs: ablation, variant=no_x, column map10_mean: stored" in text
    assert "DIFFERENT" in text.splitlines()[-1]


def test_verify_reports_edited_table_file(ablation_study, tmp_path, no_figures, capsys):
    out = tmp_path / "rep"
    assert _build(ablation_study, out) == 0
    md = out / "tables" / "summary.md"
    md.write_text(md.read_text().replace("| abl |", "| ABL |"))
    assert main(["verify", str(out), "--quiet"]) == 1
    assert f"file differs: {md}: differs from its recomputation" in capsys.readouterr().out


def test_failed_build_leaves_no_half_written_report(ablation_study, tmp_path, no_figures, monkeypatch):
    import reports.build as build

    out = tmp_path / "rep"
    assert _build(ablation_study, out) == 0
    before = _files(out)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "_index", boom)
    with pytest.raises(RuntimeError):
        _build(ablation_study, out, "--resamples", "600")
    assert _files(out) == before  # the old report is intact
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(RuntimeError):
        _build(ablation_study, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_index_says_when_seed_noise_is_not_measured(single_seed_study, tmp_path, no_figures):
    out = tmp_path / "rep"
    assert _build(single_seed_study, out) == 0
    index = (out / "index.md").read_text()
    assert ("Seed noise: not measured: no configuration has 2 included runs (each ran once; seeds: [0, 1, 2] in the "
            "spec repeats every configuration); no comparison in the tables below is seed-aware.") in index
    assert main(["verify", str(out), "--quiet"]) == 0  # the query-only CIs are recomputed byte for byte


def test_refuses_to_replace_a_folder_that_is_not_a_report(ablation_study, tmp_path, no_figures, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert _build(ablation_study, out) == 2
    assert "not a report" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_nonexistent_study_lists_the_existing_ones(ablation_study, tmp_path, capsys):
    code = main(["build", "--storage", ablation_study["url"], "--study", "nope", "--out", str(tmp_path / "x"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: no study 'nope' in sqlite:///") and "studies there: 'abl'" in err
    assert len(err.strip().splitlines()) == 1
    code = main(["build", "--storage", f"sqlite:///{tmp_path / 'missing.db'}", "--study", "abl", "--out",
                 str(tmp_path / "x")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert main(["build", "--out", str(tmp_path / "x")]) == 2
    assert "give a study spec" in capsys.readouterr().err
    assert main(["verify", str(tmp_path)]) == 2
    assert "not a report folder" in capsys.readouterr().err


def test_build_from_spec_resolves_storage_like_the_runner(tmp_path, fab, no_figures, capsys):
    """A spec + --runs-dir: the study is RUNS_DIR/<name>/optuna.db, as `python -m studies run` writes it."""
    from optuna.distributions import CategoricalDistribution

    runs = tmp_path / "myruns"
    (runs / "specstudy").mkdir(parents=True)
    study, _ = fab.new_study(runs / "specstudy", "specstudy", sampler="grid")
    (runs / "specstudy" / "specstudy.db").rename(runs / "specstudy" / "optuna.db")
    import optuna

    study = optuna.load_study(study_name="specstudy", storage=f"sqlite:///{runs / 'specstudy' / 'optuna.db'}")
    dists = {"fusion.kind": CategoricalDistribution(["none", "late"])}
    for i, kind in enumerate(("none", "late")):
        fab.add_trial(study, params={"fusion.kind": kind}, distributions=dists,
                      run_dir=fab.write_run(tmp_path / f"t{i}", fab.base_scores(40, seed=i)))
    spec = tmp_path / "s.yaml"
    spec.write_text("name: specstudy\nbase: synthcaps-tiny\nspace:\n  fusion.kind: {categorical: [none, late]}\n"
                    "sampler: {kind: grid}\nresources: {cpu: 2, gpu: 0, max_concurrent: 1}\n")
    out = tmp_path / "rep"
    assert main(["build", str(spec), "--runs-dir", str(runs), "--out", str(out), *ARGS]) == 0
    summary = (out / "tables" / "summary.csv").read_text()
    assert "2 CPU/trial" not in summary  # the CSV holds raw values
    assert "CPU time (h)," in summary
    assert "(2 CPU/trial; spec resources.cpu)" in (out / "tables" / "summary.md").read_text()
    assert "fusion" in json.loads((out / "inputs.json").read_text())["tables"]
    capsys.readouterr()
    assert main(["verify", str(out), "--quiet"]) == 0
    # without --runs-dir the default runs/ folder has no such study
    assert main(["build", str(spec), "--runs-dir", str(tmp_path / "elsewhere"), "--out", str(tmp_path / "o2")]) == 2
    assert "pass --runs-dir" in capsys.readouterr().err


def test_build_with_figures_and_a_degenerate_study(tmp_path, fab, capsys):
    """Real figures (B's plots) for a one-trial study: whatever cannot be drawn is listed in index.md."""
    from optuna.distributions import CategoricalDistribution

    study, url = fab.new_study(tmp_path, "one", sampler="random")
    fab.add_trial(study, params={"fusion.kind": "late"},
                  distributions={"fusion.kind": CategoricalDistribution(["none", "late"])},
                  run_dir=fab.write_run(tmp_path / "t0", fab.base_scores(20)))
    out = tmp_path / "rep"
    assert main(["build", "--storage", url, "--study", "one", "--out", str(out), *ARGS]) == 0
    index = (out / "index.md").read_text()
    assert "1 trials (1 complete)" in index
    import re

    targets = re.findall(r"\]\(((?:tables|figures)/[^)]+)\)", index)
    assert len(targets) >= 3 * 3
    for target in targets:
        assert (out / target).is_file(), target
    assert "(figures/history.png)" in index or "figure history" in index


def test_the_delta_figure_says_which_comparisons_it_shows(seeded_ablation_study, tmp_path, monkeypatch):
    """Real figures: the Δ forest plot of a table with recipe and query-only rows is listed under a title that
    names both kinds, and it draws the query-only row without a mark."""
    import reports.plots as plots

    frames = []
    draw = plots.plot_deltas
    monkeypatch.setattr(plots, "plot_deltas", lambda df, base, **kw: frames.append(df.copy()) or draw(df, base, **kw))
    out = tmp_path / "rep"
    assert _build(seeded_ablation_study, out) == 0
    index = (out / "index.md").read_text()
    assert ("### Ablation (leave-one-out): Δ mAP@10 with seed-aware 95% CIs (recipe test); query-only 95% CIs (query "
            "sampling only, no test)") in index
    assert (out / "figures" / "deltas_ablation.png").is_file()
    (df,) = frames
    assert list(df["name"]) == ["no_x", "same", "once"] and list(df["comparison"]) == ["recipe", "recipe",
                                                                                        "query-only"]
    assert df["p_holm"].isna().tolist() == [False, False, True]


def test_the_reproduce_command_in_index_rebuilds_the_report_exactly(ablation_study, tmp_path, monkeypatch):
    """Built from a spec with a non-default --runs-dir and an explicit --storage, relative paths, in one folder:
    the command that index.md prints, run from that folder, gives the same report (tables, index, inputs)."""
    import shlex
    import subprocess
    import sys

    import yaml

    work = tmp_path / "work"
    (work / "specs").mkdir(parents=True)
    spec = work / "specs" / "abl.yaml"
    spec.write_text(yaml.safe_dump({"name": ablation_study["name"], "base": "synthcaps-tiny",
                                    "space": {"variant": {"categorical": ["full", "no_x", "same"]}},
                                    "variants": {"full": {}, "no_x": {"augment.spec.n_t": 0}, "same": {}},
                                    "sampler": {"kind": "grid"}, "budget": {"num_samples": None, "max_epochs": 3}}))
    monkeypatch.chdir(work)
    assert main(["build", "specs/abl.yaml", "--storage", ablation_study["url"], "--runs-dir", "my-runs",
                 "--out", "reports/abl", "--resamples", "300", "--seed", "3", "--quiet"]) == 0
    before = _files(work / "reports" / "abl")
    index = before["index.md"].decode()
    command = next(line for line in index.splitlines() if line.startswith("python -m reports build"))
    assert "specs/abl.yaml" in command and "--runs-dir my-runs" in command and "--out reports/abl" in command
    assert "--storage" in command and "--resamples 300 --seed 3" in command
    assert str(tmp_path) not in command.replace(ablation_study["url"], "")  # relative where it can be
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "reports"]
    proc = subprocess.run([sys.executable, *argv[1:]], cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _files(work / "reports" / "abl")
    assert after.keys() == before.keys()
    assert after == before  # byte for byte, index.md and inputs.json included
    verify = next(line for line in index.splitlines() if line.startswith("python -m reports verify"))
    argv = shlex.split(verify.split("#")[0])
    proc = subprocess.run([sys.executable, *argv[1:]], cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "OK:" in proc.stdout, proc.stdout + proc.stderr
