"""Architecture rules checked on the source: no import cycles between the project's modules, no private names
imported from another package, ``retrieval`` free of Ray and Optuna, a ``fit`` that reads in one sitting, a config
package with one job per module, and no branches on plug-in names where the registries hold the facts.

The import graph is built with :mod:`ast` from every ``import`` statement wherever it stands (module level, inside
functions, under ``if TYPE_CHECKING``), so a lazy import does not hide a cycle. ``from package import name`` is an
edge to the submodule ``package.name`` when there is one, else to the package. Importing ``a.b.c`` runs
``a/__init__`` and ``a/b/__init__`` too, but those implicit edges are not counted: a package ``__init__`` that
re-exports its submodules would otherwise always be "in a cycle" with them.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("retrieval", "studies", "reports", "benchmarks")
FIT_MAX_LINES = 100


def project_modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``) of every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join(parts)] = (path, is_package)
    return modules


def imports(module: str, path: Path, is_package: bool, modules: dict) -> list[tuple[str, int, list[str]]]:
    """``(imported project module, line, imported names)`` for every import statement of ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = []
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.append((sub, []) if sub in modules else (source, [alias.name]))
        else:
            continue
        for target, names in targets:
            while target not in modules and "." in target:  # import a.b.c where only a.b is a module of ours
                target = target.rsplit(".", 1)[0]
            if target in modules and target != module:
                out.append((target, node.lineno, names))
    return out


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {m: {t for t, _, _ in imports(m, path, is_pkg, modules)} for m, (path, is_pkg) in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for comp in components:  # a concrete cycle through the component: walk inside it back to its first module
        members, start = set(comp), min(comp)
        path, seen = [start], {start}
        while True:
            nxt = sorted(w for w in graph[path[-1]] if w in members)
            back = [w for w in nxt if w == start]
            if back and len(path) > 1:
                cycles.append(path + [start])
                break
            fresh = [w for w in nxt if w not in seen]
            if not fresh:  # pragma: no cover - a component always closes; fall back to listing it
                cycles.append(sorted(comp))
                break
            path.append(fresh[0])
            seen.add(fresh[0])
    return cycles


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "retrieval.model" in graph["retrieval.train"]  # `from .model import Retriever` inside a function
    assert "retrieval.batching" in graph["retrieval.encoders.cache"]
    assert {"retrieval.encoders.cnn", "retrieval.encoders.passt"} <= graph["retrieval.encoders"]


def test_no_import_cycles_between_the_project_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _package_of(module: str, is_pkg: bool) -> str:
    return module if is_pkg else module.rpartition(".")[0]


def test_no_private_names_are_imported_across_modules():
    """A private name (``_x``) stays inside its package: the modules of one subpackage (e.g. the SynthCaps
    generator's dsp / events / render) may share their helpers, as optuna's private modules do, but no other
    package may reach in."""
    modules = project_modules()
    private = [f"{m}:{line} imports {name} from {target}"
               for m, (path, is_pkg) in modules.items()
               for target, line, names in imports(m, path, is_pkg, modules)
               for name in names if name.startswith("_") and not name.startswith("__")
               and _package_of(target, modules.get(target, (None, False))[1]) != _package_of(m, is_pkg)]
    assert not private, "\n".join(private)


def test_retrieval_imports_neither_ray_nor_optuna():
    found = []
    for path in sorted((REPO / "retrieval").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names
                      if n.split(".")[0] in ("ray", "optuna")]
    assert not found, found


def test_fit_reads_in_one_sitting():
    from retrieval import train

    lines = inspect.getsource(train.fit).splitlines()
    assert len(lines) <= FIT_MAX_LINES, f"retrieval.train.fit has {len(lines)} lines (at most {FIT_MAX_LINES})"
    body = "\n".join(lines)
    for step in ("train_one_epoch(", "evaluate(", "save_checkpoint(", "patience_exhausted("):
        assert body.count(step) == 1, step  # the epoch loop's steps, and one early-stopping decision
    assert "make_audio_batch" not in body and "masked_fill" not in body  # no inline batch assembly


DATA_LOADERS = ("resolve_data_root", "feature_cache", "load_split", "used_datasets", "load_training_data",
                "load_extra_tests", "RunData", "load_run_data")


def test_the_run_data_is_loaded_outside_the_training_loop():
    """``retrieval.train`` is the loop; the run's data loaders live in ``retrieval.data.loading``, which imports no
    trainer, evaluation or model."""
    defined = {n.name for n in _top_level("retrieval.train") if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert not defined & set(DATA_LOADERS), defined & set(DATA_LOADERS)
    loading = {n.name for n in _top_level("retrieval.data.loading") if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(DATA_LOADERS) <= loading
    assert not import_graph()["retrieval.data.loading"] & {"retrieval.train", "retrieval.evaluation",
                                                           "retrieval.model", "retrieval.checkpoint"}


@pytest.mark.parametrize("module", ["retrieval.batching", "retrieval.encoders.base"])
def test_the_bottom_modules_import_no_trainer_or_encoder(module):
    graph = import_graph()
    assert not graph[module] & {"retrieval.train", "retrieval.encoders.cache", "retrieval.encoders.audio",
                                "retrieval.encoders.cnn", "retrieval.encoders.passt", "retrieval.model"}


# --------------------------------------------------------------------------------------------- the config package
CONFIG_MODULES = {f"retrieval.config.{m}" for m in ("catalogue", "schema", "load", "compat", "named")}


def _top_level(module: str) -> list[ast.stmt]:
    path, _ = project_modules()[module]
    return ast.parse(path.read_text()).body


def test_the_config_modules_each_hold_one_job():
    """catalogue: registries only; schema: the dataclasses; load: reading; compat and named: no schema, no registry.
    Below the schema nothing imports it, and the rest of the project imports the package, never a module of it."""
    graph = import_graph()
    assert {m for m in graph if m.startswith("retrieval.config.")} == CONFIG_MODULES
    inner = {m: graph[m] & CONFIG_MODULES for m in CONFIG_MODULES}
    assert inner["retrieval.config.catalogue"] == inner["retrieval.config.compat"] == set()
    assert inner["retrieval.config.named"] == set()
    assert inner["retrieval.config.load"] == {"retrieval.config.compat", "retrieval.config.named"}
    for module in CONFIG_MODULES:
        body = _top_level(module)
        classes = [n.name for n in body if isinstance(n, ast.ClassDef)]
        registries = [n.targets[0].id for n in body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                      and getattr(n.value.func, "id", "") == "Registry"]
        if module == "retrieval.config.schema":
            assert "TrialConfig" in classes and not registries
        elif module == "retrieval.config.catalogue":
            assert not classes and len(registries) == 6, registries
        else:
            assert not classes and not registries, (module, classes, registries)
    outside = sorted(m for m, targets in graph.items()
                     if not m.startswith("retrieval.config") and targets & CONFIG_MODULES)
    assert not outside, f"import retrieval.config, not its modules: {outside}"


def test_the_registries_are_reexported_once():
    """``AUDIO_ENCODERS`` & co. are declared in the catalogue and re-exported by ``retrieval.config`` (and the two
    encoder registries by ``retrieval.encoders``), by no other module."""
    from retrieval.config import REGISTRIES

    names = {n.targets[0].id for n in _top_level("retrieval.config.catalogue") if isinstance(n, ast.Assign)
             and getattr(n.value, "func", None) is not None and getattr(n.value.func, "id", "") == "Registry"}
    assert len(names) == len(REGISTRIES)
    exporters = {}
    for module in project_modules():
        for node in _top_level(module):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                listed = {e.value for e in getattr(node.value, "elts", []) if isinstance(e, ast.Constant)}
                for name in listed & names:
                    exporters.setdefault(name, set()).add(module)
    allowed = {"retrieval.config.catalogue", "retrieval.config", "retrieval.encoders"}
    assert all(mods <= allowed for mods in exporters.values()), exporters
    assert exporters["AUDIO_ENCODERS"] == allowed


# --------------------------------------------------------------------------------------------- name branches
#: Modules that decide by a plug-in's declared facts (its registry entry's meta, its object's attributes), never by
#: comparing its name with a literal (``cfg.text_encoder.name == "hf"``, ``kind in budgeted.KINDS``).
NO_NAME_BRANCHES = ("retrieval.train", "retrieval.evaluation", "retrieval.checkpoint", "retrieval.model",
                    "retrieval.encoders.cache", "retrieval.encoders.audio", "retrieval.config.schema",
                    "studies.spec", "studies.search", "studies.budgeted", "studies.schedulers", "studies.study",
                    "studies.trainable", "studies.runner")


@pytest.mark.parametrize("module", NO_NAME_BRANCHES)
def test_no_branches_on_plug_in_names(module):
    from retrieval.config import REGISTRIES as LIBRARY
    from studies.spec import REGISTRIES as STUDY

    names = {n for r in LIBRARY + STUDY for n in r.names()}
    path, _ = project_modules()[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            consts = [s for s in sides if isinstance(s, ast.Constant)]
            consts += [e for s in sides if isinstance(s, (ast.Tuple, ast.List, ast.Set)) for e in s.elts
                       if isinstance(e, ast.Constant)]
            if any(isinstance(c.value, str) and c.value in names for c in consts):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "\n".join(found)
