"""The layers of ``reports``: collect -> analysis -> formatting -> files, checked on the import graph (as
``tests/retrieval/test_architecture.py`` builds it: every import wherever it stands) and on the calls a build makes.

* ``reports.build`` imports collect, then the analysis, then the formatting modules, and a build enters each of
  them once, in that order (before the analysis module, build.py called into collect, tables, importance, tables,
  plots, tables, collect, noise, tables), and once the formatting has begun no statistics are computed;
* the formatting modules (tables, plots, render, and compare: the terminal tables of ``reports compare``) import no
  statistics (``reports.stats``, ``reports.noise``,
  ``reports.importance``): they only lay out the analysis;
* the analyses (of a study: ``reports.analysis``; of compared runs: ``reports.comparison``) import no formatting
  module, also not through the modules they import;
* ``reports.stats`` is imported as a package; its modules hold one family each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.retrieval.test_architecture import import_graph, imports, project_modules

FORMATTING = ("reports.tables", "reports.plots", "reports.render", "reports.compare")
STATISTICS = ("reports.stats", "reports.noise", "reports.importance")
STATS_MODULES = {f"reports.stats.{m}" for m in ("common", "system", "recipe", "power", "multiple", "paired",
                                                     "sequential")}


def _reports_imports(module: str) -> list[tuple[str, int]]:
    modules = project_modules()
    path, is_pkg = modules[module]
    return [(t, line) for t, line, _ in imports(module, path, is_pkg, modules) if t.startswith("reports.")]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for t in graph[todo.pop()] - seen:
            seen.add(t)
            todo.append(t)
    return seen


def test_build_imports_collect_then_the_analysis_then_the_formatting():
    first: dict[str, int] = {}
    for target, line in _reports_imports("reports.build"):
        first.setdefault(target, line)
    assert sorted(first, key=first.get) == ["reports.collect", "reports.analysis", "reports.tables", "reports.plots"]


@pytest.mark.parametrize("module", FORMATTING)
def test_the_formatting_modules_import_no_statistics(module):
    found = [f"{module}:{line} imports {t}" for t, line in _reports_imports(module)
             if t in STATISTICS or t.startswith("reports.stats.")]
    assert not found, "\n".join(found)


def test_the_analysis_imports_no_formatting_module():
    graph = import_graph()
    assert {"reports.stats", "reports.noise", "reports.collect"} <= graph["reports.analysis"]
    assert {"reports.stats", "reports.collect"} <= graph["reports.comparison"]
    for analysis in ("reports.analysis", "reports.comparison"):
        reached = _reachable(graph, analysis)
        found = reached & {*FORMATTING, "reports.build"}
        assert not found, (analysis, sorted(found))


def test_the_stats_package_holds_one_family_per_module():
    graph = import_graph()
    assert {m for m in graph if m.startswith("reports.stats.")} == STATS_MODULES
    inner = {m: graph[m] & STATS_MODULES for m in STATS_MODULES}
    assert inner == {"reports.stats.common": set(), "reports.stats.multiple": set(),
                     "reports.stats.system": {"reports.stats.common"},
                     "reports.stats.power": {"reports.stats.common"},
                     "reports.stats.recipe": {"reports.stats.common", "reports.stats.system", "reports.stats.power"},
                     "reports.stats.paired": {"reports.stats.common", "reports.stats.recipe"},
                     "reports.stats.sequential": {"reports.stats.common", "reports.stats.paired"}}
    outside = sorted(m for m, targets in graph.items() if not m.startswith("reports.stats") and targets & STATS_MODULES)
    assert not outside, f"import reports.stats, not its modules: {outside}"


def _module_of(path: Path, root: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    return ".".join(["reports"] + (parts[:-1] if parts[-1] == "__init__" else parts))


def test_a_build_enters_collect_analysis_tables_plots_once_each_in_that_order(ablation_study, tmp_path, monkeypatch):
    """Every call the code of reports/build.py makes into another reports module, in order, with repeats of the
    same module merged: collect, analysis, tables, plots -- each once (the figures themselves are not drawn). Once
    the formatting has begun, no call at any depth reaches the statistics or collect."""
    import reports.build as build
    import reports.plots as plots
    from reports.analysis import Settings

    for name in ("plot_history", "plot_intermediate", "plot_parallel_coordinates", "plot_importance", "plot_deltas",
                 "plot_per_query"):
        monkeypatch.setattr(plots, name, lambda *a, **k: [])
    build_file, root = str(Path(build.__file__).resolve()), Path(build.__file__).resolve().parent
    entered: list[str] = []  # modules build.py calls into, repeats merged
    anywhere: list[str] = []  # modules of every call at any depth, repeats merged

    modules: dict[str, str | None] = {}

    def profile(frame, event, arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename not in modules:
            modules[filename] = _module_of(Path(filename), root)
        module = modules[filename]
        if module is not None and (not anywhere or anywhere[-1] != module):
            anywhere.append(module)
        if module == "reports.build" or frame.f_back is None or frame.f_back.f_code.co_filename != build_file:
            return
        if module is not None and (not entered or entered[-1] != module):
            entered.append(module)

    sys.setprofile(profile)
    try:
        build.build_report(storage=ablation_study["url"], study="abl", out=tmp_path / "rep",
                           settings=Settings(resamples=200), quiet=True)
    finally:
        sys.setprofile(None)
    assert entered == ["reports.collect", "reports.analysis", "reports.tables", "reports.plots"]
    formatting = set(anywhere[anywhere.index("reports.tables"):])
    assert {"reports.tables", "reports.render", "reports.plots"} <= formatting
    assert not {m for m in formatting if m.startswith(("reports.stats", "reports.collect", "reports.importance"))}
    assert (tmp_path / "rep" / "tables" / "ablation.md").is_file()
