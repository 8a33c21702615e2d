"""Reports built before the analysis was split from the formatting (``tests/fixtures/report_before_analysis``), and
before stats version 2 (paired recipe rows): ``reports verify`` recomputes every table byte for byte (with the
version 1 method, since their inputs.json records no version), a rebuild with ``--stats-version 1`` gives the same
report, and a rebuild with the current method pairs the rows whose arms ran the same seeds."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from reports.cli import main
from reports.render import latex_escape

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "report_before_analysis"
BUILT_IN = Path("/tmp/report_before_analysis")  # where the fixture's reports were built (its README)
STUDIES = ("abl", "sab", "gridc", "fus")
BUILD = ["--resamples", "500", "--seed", "0", "--quiet"]


def relocate(name: str, dest: Path) -> Path:
    """Copy study ``name`` into ``dest`` in the layout it was built in (``NAME.db``, ``runs/``, ``report/``) and
    rewrite the folder it was built in to ``dest`` in the report's files and the trials' ``run_dir`` attributes;
    returns the report folder."""
    src, old, new = FIXTURE / name, str(BUILT_IN / name), str(dest)
    dest.mkdir(parents=True)
    shutil.copy(src / f"{name}.db", dest / f"{name}.db")
    shutil.copytree(src / "run_dirs", dest / "runs")
    shutil.copytree(src / "report", dest / "report")
    for p in sorted((dest / "report").rglob("*")):
        if p.is_file():
            a, b = (latex_escape(old), latex_escape(new)) if p.suffix == ".tex" else (old, new)
            p.write_text(p.read_text(encoding="utf-8").replace(a, b), encoding="utf-8")
    with sqlite3.connect(dest / f"{name}.db") as db:
        db.execute("UPDATE trial_user_attributes SET value_json = replace(value_json, ?, ?)", (old, new))
    return dest / "report"


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_fixture_is_small_and_has_every_table():
    size = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    assert size < 2_000_000
    for name in STUDIES:
        tables = json.loads((FIXTURE / name / "report" / "inputs.json").read_text())["tables"]
        assert {"summary", "top_configs", "importance"} <= set(tables)
        for t in tables:
            for ext in ("md", "tex", "csv"):
                assert (FIXTURE / name / "report" / "tables" / f"{t}.{ext}").is_file()


@pytest.mark.parametrize("name", STUDIES)
def test_verify_recomputes_a_report_built_before_the_analysis_split(name, tmp_path, capsys):
    report = relocate(name, tmp_path / name)
    capsys.readouterr()
    assert main(["verify", str(report), "--quiet"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    n = len(json.loads((report / "inputs.json").read_text())["tables"])
    assert last.startswith(f"OK: {n} table(s)"), last


@pytest.mark.parametrize("name", STUDIES)
def test_a_rebuild_with_stats_version_1_gives_the_report_built_before(name, tmp_path, monkeypatch):
    """Tables byte for byte; index.md too but for its reproduce command, which now names the stats version;
    inputs.json up to the commit and the recorded version. The figures themselves are not kept in the fixture."""
    report = relocate(name, tmp_path / name)
    before = _files(report)
    monkeypatch.chdir(tmp_path / name)
    assert main(["build", "--storage", f"sqlite:///{name}.db", "--study", name, "--out", "report", *BUILD,
                 "--stats-version", "1"]) == 0
    after = {k: v for k, v in _files(report).items() if not k.startswith("figures/")}
    assert after.keys() == before.keys()
    ia, ib = (json.loads(files.pop("inputs.json")) for files in (before, after))
    for key in ("git_commit", "package_version"):
        ia.pop(key), ib.pop(key)
    assert ib["settings"].pop("stats_version") == 1 and "stats_version" not in ia["settings"]
    command = f"--study {name} --out report --resamples 500 --seed 0"
    assert ib["study"].pop("command") == ia["study"].pop("command") + " --stats-version 1"
    assert ia == ib
    index = before.pop("index.md").decode()
    assert index.count(command + "\n") == 1
    assert after.pop("index.md").decode() == index.replace(command + "\n", command + " --stats-version 1\n")
    for path in before:
        assert after[path] == before[path], path


def test_a_rebuild_with_the_current_method_pairs_shared_seeds_and_verifies(tmp_path, monkeypatch, capsys,
                                                                          no_figures):
    """abl's variants ran seeds 0 and 1 each: version 2 compares them paired (the paired and seed_correlation
    columns, empty with 2 seeds); the other tables are unchanged, and the new report verifies."""
    report = relocate("abl", tmp_path / "abl")
    before = _files(report)
    monkeypatch.chdir(tmp_path / "abl")
    assert main(["build", "--storage", "sqlite:///abl.db", "--study", "abl", "--out", "report", *BUILD]) == 0
    after = _files(report)
    assert json.loads(after["inputs.json"])["settings"]["stats_version"] == 2
    changed = sorted(k for k in before if k.startswith("tables/") and after[k] != before[k])
    assert changed == ["tables/ablation.csv", "tables/ablation.md", "tables/ablation.tex", "tables/summary.csv",
                       "tables/summary.md", "tables/summary.tex"]  # the summary: the MDE's median Q
    header = after["tables/ablation.csv"].decode().splitlines()[0]
    assert header.endswith(",pooled_over,paired,seed_correlation")
    assert ",recipe,true," in after["tables/ablation.csv"].decode() and "recipe (paired)" in after[
        "tables/ablation.md"].decode()
    capsys.readouterr()
    assert main(["verify", "report", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK: 4 table(s)")
