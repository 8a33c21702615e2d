"""``python -m reports build`` and ``python -m reports verify``: a study's report folder, and its re-check.

A report folder (``--out DIR``) holds::

    DIR/index.md                  a summary paragraph, every table (inline and linked in 3 formats), every figure
    DIR/tables/NAME.{md,tex,csv}  summary, top_configs, ablation / encoders / fusion / data / factor_*, importance
    DIR/figures/NAME.{png,pdf}    history, intermediate, parallel_coordinates, importance, deltas_*, per_query_*
    DIR/inputs.json               what the tables were computed from (fingerprints) and the resampling settings

The whole folder is written into a temporary sibling (``.DIR.tmp-PID``) and renamed into place at the end, so a
failed build never leaves a half-written report; an existing report at ``DIR`` is replaced (a folder that is not a
report and not empty is refused).

:func:`verify_report` re-reads the inputs named in ``inputs.json`` (the study in its storage, every per-query file
and metrics file), recomputes every table with the recorded settings and lists each CSV cell that differs
(table, row, column, stored vs recomputed), each table file whose text differs, and each input whose fingerprint
changed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from retrieval.utils import atomic_write_json, atomic_write_text, git_commit, package_version

from .collect import CollectError, StudyData, collect_study, sha256_file, trials_digest
from .tables import Settings, Table, deltas_caption, importance_to_table, study_tables

__all__ = ["FORMAT_VERSION", "Report", "build_report", "compute_report", "verify_report", "VerifyResult"]

FORMAT_VERSION = 1
TABLE_FORMATS = ("md", "tex", "csv")


def _say(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"[reports] {msg}", file=sys.stderr, flush=True)


@dataclass
class Report:
    """Everything a build computes: the tables, the importance frame (or why there is none), notes for index.md."""

    data: StudyData
    settings: Settings
    tables: list[Table]
    importance: Any = None  # pandas DataFrame or None
    problems: list[str] = field(default_factory=list)  # things not produced, with the reason


def compute_report(data: StudyData, settings: Settings, *, quiet: bool = True) -> Report:
    """Every table of the report of ``data`` (deterministic given ``settings``)."""
    tables = []
    for t in study_tables(data, settings):
        _say(f"table {t.name}: {len(t.rows)} row(s)", quiet)
        tables.append(t)
    report = Report(data=data, settings=settings, tables=tables)
    try:
        from .importance import importance_table
    except ImportError as exc:
        report.problems.append(f"importance table: reports.importance is not available ({exc})")
        return report
    _say("importance (fANOVA, PED-ANOVA per branch)", quiet)
    try:
        df = importance_table(list(data.frozen), direction=data.direction, seed=settings.seed)
    except Exception as exc:  # noqa: BLE001 - a degenerate study must not stop the report
        report.problems.append(f"importance table: {type(exc).__name__}: {exc}")
        return report
    report.importance = df
    table = importance_to_table(df)
    skipped = list(df.attrs.get("skipped") or [])
    if skipped:
        table.notes.append("Not evaluated: " + "; ".join(f"{b} / {e}: {r}" for b, e, r in skipped) + ".")
    tables.append(table)
    return report


# ----------------------------------------------------------------------------------------------- figures
def _figures(report: Report, fig_dir: Path, quiet: bool) -> tuple[list[tuple[str, list[Path]]], list[str]]:
    """Draw every figure through :mod:`reports.plots`; a figure that fails is reported, not fatal."""
    try:
        from . import plots
    except ImportError as exc:
        return [], [f"figures: reports.plots is not available ({exc})"]
    import pandas as pd

    data = report.data
    jobs: list[tuple[str, str, Callable[[Path], list]]] = [
        ("history", "Best-so-far objective against trial number and wall-clock time",
         lambda b: plots.plot_history(data.frozen, data.direction, b, metric=data.metric)),
        ("intermediate", "Intermediate values (validation curve per trial) by trial state",
         lambda b: plots.plot_intermediate(data.frozen, b, metric=data.metric)),
        ("parallel_coordinates", "Parallel coordinates of the searched parameters",
         lambda b: plots.plot_parallel_coordinates(data.frozen, b, direction=data.direction,
                                                       metric=data.metric)),
    ]
    if report.importance is not None and len(report.importance):
        jobs.append(("importance", "Hyperparameter importance",
                     lambda b: plots.plot_importance(report.importance, b)))
    for t in report.tables:
        if t.extra.get("deltas"):
            df = pd.DataFrame(t.extra["deltas"], columns=["name", "delta", "ci_low", "ci_high", "p_holm", "comparison"])
            jobs.append((f"deltas_{t.name}", f"{t.title}: {deltas_caption(df['comparison'])}",
                         lambda b, df=df, t=t: plots.plot_deltas(df, b, title=t.title)))
        if t.extra.get("group_ap"):
            jobs.append((f"per_query_{t.name}", f"{t.title}: per-query AP@10 distributions",
                         lambda b, g=t.extra["group_ap"]: plots.plot_per_query(g, b)))
    done, problems = [], []
    for name, title, fn in jobs:
        _say(f"figure {name}", quiet)
        try:
            paths = fn(fig_dir / name)
        except Exception as exc:  # noqa: BLE001 - e.g. a study of one trial: log it and go on
            problems.append(f"figure {name}: {type(exc).__name__}: {' '.join(str(exc).split())}")
            continue
        done.append((title, [Path(p) for p in paths]))
    return done, problems


# ----------------------------------------------------------------------------------------------- inputs.json
def _input_files(data: StudyData) -> list[dict[str, Any]]:
    files = []
    for t in data.included:
        files.append({"trial": t.number, "kind": "per_query.csv", "path": str(t.per_query.path),
                      "sha256": t.per_query.sha256})
        m = Path(t.per_query.path).parent / "metrics.json"
        if m.is_file():
            files.append({"trial": t.number, "kind": "metrics.json", "path": str(m.resolve()),
                          "sha256": sha256_file(m)})
    return files


def _inputs(report: Report, source: dict[str, Any]) -> dict[str, Any]:
    data = report.data
    return {"format": FORMAT_VERSION, "study": {"name": data.name, "storage": data.storage, **source},
            "settings": report.settings.to_dict(), "trials_digest": trials_digest(data.frozen),
            "n_trials": len(data.trials), "files": _input_files(data), "git_commit": git_commit(),
            "package_version": package_version(), "tables": [t.name for t in report.tables]}


# ----------------------------------------------------------------------------------------------- index.md
def _path_arg(path: str | Path) -> str:
    """A path as given on a command line: relative to the working directory when it lies below it."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return p.as_posix()


def build_command(spec: str | Path | None, *, out: str | Path, storage: str | None, study: str | None,
                  runs_dir: str | Path, settings: Settings) -> str:
    """The ``python -m reports build`` command that rebuilds a report with these arguments, run from the current
    working directory: every argument that selects the inputs (spec, storage, study, runs folder), the output
    folder and the resampling settings. A server URL's password is hidden (``***``)."""
    import shlex

    from studies.storage import resolve

    parts = ["python -m reports build"]
    if spec is not None:
        parts.append(shlex.quote(_path_arg(spec)))
    if storage:
        try:
            url = resolve(storage, Path(runs_dir).resolve()).display()
        except Exception:  # noqa: BLE001 - an unreadable URL was refused before; keep it as given
            url = storage
        parts += ["--storage", shlex.quote(url)]
    if study and spec is None:
        parts += ["--study", shlex.quote(study)]
    if spec is not None:
        parts += ["--runs-dir", shlex.quote(_path_arg(runs_dir))]
    parts += ["--out", shlex.quote(_path_arg(out)), "--resamples", str(settings.resamples), "--seed",
              str(settings.seed)]
    return " ".join(parts)


def _index(report: Report, figures, problems: list[str], source: dict[str, Any]) -> str:
    """index.md; ``figures`` are ``(title, [paths relative to the report folder])``."""
    data = report.data
    counts = ", ".join(f"{n} {s.lower()}" for s, n in data.state_counts().items() if n)
    best = data.best_trial()
    para = (f"Study **{data.name}** (sampler {data.sampler or '?'}, scheduler {data.scheduler or '?'}, objective "
            f"{data.metric}, {data.direction}) in `{data.storage}`: {len(data.trials)} trials ({counts or 'none'}).")
    if best is not None:
        test = f", test mAP@10 {100 * best.metrics['map10']:.2f}%" if best.metrics else ""
        params = ", ".join(f"{k}={_v(v)}" for k, v in best.params.items())
        para += f" Best: trial #{best.number}, {data.metric} {best.value:.4f}{test} ({params})."
    para += (f" Comparisons use the {len(data.included)} COMPLETE trial(s) with a per-query file, paired over "
             f"{len(data.query_keys)} test queries; {data.left_out_summary()}.")
    summary = next((t for t in report.tables if t.name == "summary"), None)
    if summary is not None and summary.extra.get("seed_noise") is not None:
        para += " " + _noise_sentence(summary.extra["seed_noise"])
    lines = [f"# Report: study {data.name}", "", para, ""]
    if problems:
        lines += ["Not produced:", ""] + [f"- {p}" for p in problems] + [""]
    lines += ["## Tables", ""]
    for t in report.tables:
        links = " · ".join(f"[{label}](tables/{t.name}.{ext})" for label, ext in
                           (("Markdown", "md"), ("LaTeX", "tex"), ("CSV", "csv")))
        lines += [f"### {t.title}", "", links, ""]
        body = t.to_markdown().split("\n", 2)[2]  # without its own "## title" line
        lines += [body.rstrip("\n"), ""]
    lines += ["## Figures", ""]
    if not figures:
        lines += ["(none)", ""]
    for title, rel in figures:
        links = " · ".join(f"[{p.suffix[1:].upper()}]({p.as_posix()})" for p in rel)
        png = next((p for p in rel if p.suffix == ".png"), None)
        lines += [f"### {title}", "", links, ""]
        if png is not None:
            lines += [f"![{title}]({png.as_posix()})", ""]
    s = report.settings
    command, out_arg = source["command"], source["out"]
    lines += ["## Reproduce", "",
              f"Inputs and their SHA-256 fingerprints are in [inputs.json](inputs.json) (resampling: "
              f"{s.resamples} resamples, seed {s.seed}). From the folder the report was built in (relative paths "
              "are relative to it), the first command rebuilds this report exactly, the second checks it:", "",
              "```bash", command,
              f"python -m reports verify {out_arg}   # recompute every table, list every cell that differs", "```",
              ""]
    return "\n".join(lines)


def _noise_sentence(noise) -> str:
    """The seed noise (:class:`reports.noise.SeedNoise`) in words, for the summary paragraph."""
    if not noise.available:
        return f"Seed noise: not measured: {noise.reason}; no comparison in the tables below is seed-aware."
    text = (f"Seed noise: test mAP@10 varies by {100 * noise.sd_map10:.2f} pp (sd) between seeds of one "
            f"configuration (pooled over {noise.n_configs} configuration(s) with ≥ 2 runs, {noise.n_runs} runs)")
    if noise.mde is None:
        return text + f"; minimum detectable Δ not available ({noise.mde_reason})."
    bound = "at least " if noise.mde_lower_bound else ""
    return (text + f"; with {noise.seeds_per_config} seeds per configuration the smallest Δ test mAP@10 this design "
            f"detects with 80% power is {bound}{100 * noise.mde:.2f} pp.")


def _v(v: Any) -> str:
    return format(v, ".4g") if isinstance(v, float) else str(v)


# ----------------------------------------------------------------------------------------------- build
def _check_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise CollectError(f"--out {out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / "inputs.json").is_file():
            raise CollectError(f"--out {out}: a non-empty folder that is not a report (no inputs.json); "
                               "choose another folder or empty it")


def build_report(spec: str | Path | None = None, *, out: str | Path, storage: str | None = None,
                 study: str | None = None, runs_dir: str | Path = "runs", settings: Settings = Settings(),
                 quiet: bool = False) -> Path:
    """Build the report folder ``out`` of a study (arguments as :func:`reports.collect.open_study`); returns the
    path of ``index.md``."""
    out = Path(out).resolve()
    _check_out(out)
    _say(f"reading study {spec or study}", quiet)
    data = collect_study(spec, storage=storage, study=study, runs_dir=runs_dir)
    _say(f"{len(data.trials)} trials, {len(data.included)} included; {data.left_out_summary()}", quiet)
    report = compute_report(data, settings, quiet=quiet)
    source = {"spec": str(Path(spec).resolve()) if spec is not None else None,
              "runs_dir": str(Path(runs_dir).resolve()) if spec is not None else None,
              "command": build_command(spec, out=out, storage=storage, study=study, runs_dir=runs_dir,
                                       settings=settings), "out": _path_arg(out)}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for t in report.tables:
            atomic_write_text(tmp / "tables" / f"{t.name}.md", t.to_markdown())
            atomic_write_text(tmp / "tables" / f"{t.name}.tex", t.to_latex())
            atomic_write_text(tmp / "tables" / f"{t.name}.csv", t.to_csv())
        (tmp / "figures").mkdir(parents=True, exist_ok=True)
        figures, fig_problems = _figures(report, tmp / "figures", quiet)
        figures = [(title, [Path("figures") / Path(p).name for p in paths]) for title, paths in figures]
        problems = report.problems + fig_problems
        atomic_write_json(tmp / "inputs.json", _inputs(report, source))
        atomic_write_text(tmp / "index.md", _index(report, figures, problems, source))
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for p in problems:
        _say(f"not produced: {p}", quiet)
    _say(f"wrote {out / 'index.md'}", quiet)
    return out / "index.md"


# ----------------------------------------------------------------------------------------------- verify
@dataclass
class VerifyResult:
    """What :func:`verify_report` found; ``ok`` when every table and input is unchanged."""

    cell_diffs: list[str] = field(default_factory=list)
    file_diffs: list[str] = field(default_factory=list)
    input_diffs: list[str] = field(default_factory=list)
    checked_tables: int = 0
    checked_inputs: int = 0

    @property
    def ok(self) -> bool:
        return not (self.cell_diffs or self.file_diffs or self.input_diffs)

    def lines(self) -> list[str]:
        out = [f"input changed: {d}" for d in self.input_diffs]
        out += [f"cell differs: {d}" for d in self.cell_diffs]
        out += [f"file differs: {d}" for d in self.file_diffs]
        out.append(f"{'OK' if self.ok else 'DIFFERENT'}: {self.checked_tables} table(s), {self.checked_inputs} "
                   f"input file(s) checked; {len(self.cell_diffs)} cell(s), {len(self.file_diffs)} file(s) and "
                   f"{len(self.input_diffs)} input(s) differ")
        return out


def _read_csv(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text))]


def _compare_table(name: str, stored_text: str, table: Table, res: VerifyResult) -> None:
    stored = _read_csv(stored_text)
    fresh = _read_csv(table.to_csv())
    s_head, f_head = (stored[0] if stored else []), fresh[0]
    if s_head != f_head:
        res.cell_diffs.append(f"{name}: header: stored {','.join(s_head)!r}, recomputed {','.join(f_head)!r}")
    s_rows, f_rows = stored[1:], fresh[1:]
    for i in range(max(len(s_rows), len(f_rows))):
        label = table.row_label(i) if i < len(table.rows) else f"row {i + 1}"
        if i >= len(s_rows):
            res.cell_diffs.append(f"{name}, {label}: row missing from the stored table")
            continue
        if i >= len(f_rows):
            res.cell_diffs.append(f"{name}, row {i + 1}: stored row {','.join(s_rows[i])!r} is not recomputed")
            continue
        for j, col in enumerate(f_head):
            sv = s_rows[i][j] if j < len(s_rows[i]) else "<missing>"
            fv = f_rows[i][j]
            if sv != fv:
                res.cell_diffs.append(f"{name}, {label}, column {col}: stored {sv!r}, recomputed {fv!r}")


def verify_report(report_dir: str | Path, *, storage: str | None = None, quiet: bool = False) -> VerifyResult:
    """Recompute the tables of the report in ``report_dir`` from its recorded inputs (see the module docstring).

    ``storage`` replaces the recorded storage URL (whose password, if any, was not recorded).
    """
    d = Path(report_dir)
    f = d / "inputs.json"
    if not f.is_file():
        raise CollectError(f"{d}: not a report folder (no inputs.json)")
    try:
        rec = json.loads(f.read_text(encoding="utf-8"))
        study = rec["study"]
        settings = Settings(**rec["settings"])
        names = list(rec["tables"])
        files = list(rec["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectError(f"{f}: unreadable or incomplete ({type(exc).__name__}: {exc})") from None
    res = VerifyResult()
    for item in files:
        p = Path(item["path"])
        res.checked_inputs += 1
        if not p.is_file():
            res.input_diffs.append(f"{p} (trial #{item.get('trial')}): missing")
        elif sha256_file(p) != item["sha256"]:
            res.input_diffs.append(f"{p} (trial #{item.get('trial')}): sha256 {item['sha256'][:16]}… is now "
                                   f"{sha256_file(p)[:16]}…")
    spec = study.get("spec")
    use_spec = spec if spec and Path(spec).is_file() else None
    _say(f"re-reading study {study['name']} in {storage or study['storage']}", quiet)
    data = collect_study(use_spec, storage=storage or study["storage"], study=study["name"],
                         runs_dir=study.get("runs_dir") or "runs")
    digest = trials_digest(data.frozen)
    if digest != rec.get("trials_digest"):
        res.input_diffs.append(f"study {study['name']}: the trials changed (numbers, states, params, values or "
                               f"intermediate values; digest {str(rec.get('trials_digest'))[:16]}… is now "
                               f"{digest[:16]}…)")
    now = {(str(t.per_query.path)) for t in data.included}
    then = {item["path"] for item in files if item.get("kind") == "per_query.csv"}
    for p in sorted(now - then):
        res.input_diffs.append(f"{p}: used now, not recorded in inputs.json")
    _say("recomputing the tables", quiet)
    report = compute_report(data, settings, quiet=True)
    fresh = {t.name: t for t in report.tables}
    for name in names:
        res.checked_tables += 1
        if name not in fresh:
            res.cell_diffs.append(f"{name}: stored, but not produced by the recomputation")
            continue
        t = fresh[name]
        csv_path = d / "tables" / f"{name}.csv"
        if not csv_path.is_file():
            res.file_diffs.append(f"{csv_path}: missing")
        else:
            before = len(res.cell_diffs)
            _compare_table(name, csv_path.read_text(encoding="utf-8"), t, res)
            if len(res.cell_diffs) > before:
                continue  # the cells say it; the .md/.tex then differ as well
        for ext, text in (("md", t.to_markdown()), ("tex", t.to_latex()), ("csv", t.to_csv())):
            p = d / "tables" / f"{name}.{ext}"
            if not p.is_file():
                if ext != "csv":
                    res.file_diffs.append(f"{p}: missing")
                continue
            stored = p.read_text(encoding="utf-8")
            if stored != text:
                line = next((i for i, (a, b) in enumerate(zip(stored.splitlines(), text.splitlines()), 1) if a != b),
                            min(len(stored.splitlines()), len(text.splitlines())) + 1)
                res.file_diffs.append(f"{p}: differs from its recomputation (first at line {line})")
    for name in sorted(set(fresh) - set(names)):
        res.cell_diffs.append(f"{name}: produced by the recomputation, not in the stored report")
    return res
