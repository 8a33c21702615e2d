"""Reports built before the analysis was split from the formatting (``tests/fixtures/report_before_analysis``):
``reports verify`` recomputes every table byte for byte, and a rebuild gives the same report."""

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
def test_a_rebuild_gives_the_report_built_before(name, tmp_path, monkeypatch):
    """Tables and index.md (which lists the figures and their titles) byte for byte; inputs.json up to the commit.
    The figures themselves are not kept in the fixture."""
    report = relocate(name, tmp_path / name)
    before = _files(report)
    monkeypatch.chdir(tmp_path / name)
    assert main(["build", "--storage", f"sqlite:///{name}.db", "--study", name, "--out", "report", *BUILD]) == 0
    after = {k: v for k, v in _files(report).items() if not k.startswith("figures/")}
    assert after.keys() == before.keys()
    ia, ib = (json.loads(files.pop("inputs.json")) for files in (before, after))
    for key in ("git_commit", "package_version"):
        ia.pop(key), ib.pop(key)
    assert ia == ib
    for path in before:
        assert after[path] == before[path], path
