"""``python -m reports build`` and ``python -m reports verify``: a study's report folder, and its re-check.

A report folder (``--out DIR``) holds::

    DIR/index.md                  a summary paragraph, every table (inline and linked in 3 formats), every figure
    DIR/tables/NAME.{md,tex,csv}  summary, top_configs, ablation / encoders / fusion / data / factor_*, importance
    DIR/figures/NAME.{png,pdf}    history, intermediate, parallel_coordinates, importance, deltas_*, per_query_*
    DIR/inputs.json               what the tables were computed from (fingerprints) and the resampling settings

:func:`build_report` goes collect -> analysis -> formatting -> files, entering each module once in that order:
:mod:`reports.collect` reads the study, its run folders and the fingerprints of both; :mod:`reports.analysis`
computes every number once (:class:`reports.analysis.StudyAnalysis`); :mod:`reports.tables` lays out the tables and
index.md's summary paragraph and :mod:`reports.plots` draws the figures; this module writes the files. The whole
folder is written into a temporary sibling (``.DIR.tmp-PID``) and renamed into place at the end, so a failed build
never leaves a half-written report; an existing report at ``DIR`` is replaced (a folder that is not a report and
not empty is refused).

:func:`verify_report` re-reads the inputs named in ``inputs.json`` (the study in its storage, every per-query file
and metrics file), recomputes every table with the recorded settings -- including the stats method's version
(:attr:`reports.analysis.Settings.stats_version`; a report that records none was built with version 1, see
:func:`reports.analysis.settings_from_record`), so a report keeps verifying after the method changes -- and lists
each CSV cell that differs (table, row, column, stored vs recomputed), each table file whose text differs, and
each input whose fingerprint changed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from retrieval.utils import atomic_write_json, atomic_write_text, git_commit, package_version

from .collect import CollectError, StudyData, collect_study, input_files, sha256_file, trials_digest
from .analysis import Settings, StudyAnalysis, analyse_study, settings_from_record
from .tables import Table, report_tables, summary_paragraph

__all__ = ["FORMAT_VERSION", "Report", "build_report", "compute_report", "verify_report", "VerifyResult"]

FORMAT_VERSION = 1
TABLE_FORMATS = ("md", "tex", "csv")


def _say(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"[reports] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Report:
    """A study's report before it is written: its analysis, its tables, each table's three texts and index.md's
    summary paragraph."""

    analysis: StudyAnalysis
    tables: tuple[Table, ...]
    texts: Mapping[str, Mapping[str, str]]  # table name -> {"md": ..., "tex": ..., "csv": ...}
    summary: str


def compute_report(data: StudyData, settings: Settings, *, quiet: bool = True) -> Report:
    """The analysis of ``data`` and every table of its report (deterministic given ``settings``)."""
    analysis = analyse_study(data, settings, progress=lambda msg: _say(msg, quiet))
    tables = report_tables(analysis)
    texts = {t.name: t.texts() for t in tables}
    summary = summary_paragraph(analysis)
    for t in tables:
        _say(f"table {t.name}: {len(t.rows)} row(s)", quiet)
    return Report(analysis=analysis, tables=tables, texts=texts, summary=summary)


# ----------------------------------------------------------------------------------------------- figures
def _figures(report: Report, fig_dir: Path, quiet: bool) -> tuple[list[tuple[str, list[Path]]], list[str]]:
    """Draw every figure through :func:`reports.plots.report_figures`; a figure that fails is reported, not fatal."""
    try:
        from .plots import report_figures
    except ImportError as exc:
        return [], [f"figures: reports.plots is not available ({exc})"]
    return report_figures(report.analysis, fig_dir, progress=lambda msg: _say(msg, quiet))


# ----------------------------------------------------------------------------------------------- inputs.json
def _inputs(report: Report, source: dict[str, Any], files: list[dict[str, Any]], digest: str) -> dict[str, Any]:
    data = report.analysis.data
    return {"format": FORMAT_VERSION, "study": {"name": data.name, "storage": data.storage, **source},
            "settings": asdict(report.analysis.settings), "trials_digest": digest,
            "n_trials": len(data.trials), "files": files, "git_commit": git_commit(),
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
    folder, the resampling settings and the stats method's version (so the command keeps rebuilding this report
    after the default method changes). A server URL's password is hidden (``***``)."""
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
              str(settings.seed), "--stats-version", str(settings.stats_version)]
    return " ".join(parts)


def _index(report: Report, figures, problems: list[str], source: dict[str, Any]) -> str:
    """index.md from the formatted report; ``figures`` are ``(title, [paths relative to the report folder])``."""
    lines = [f"# Report: study {report.analysis.data.name}", "", report.summary, ""]
    if problems:
        lines += ["Not produced:", ""] + [f"- {p}" for p in problems] + [""]
    lines += ["## Tables", ""]
    for t in report.tables:
        links = " · ".join(f"[{label}](tables/{t.name}.{ext})" for label, ext in
                           (("Markdown", "md"), ("LaTeX", "tex"), ("CSV", "csv")))
        lines += [f"### {t.title}", "", links, ""]
        body = report.texts[t.name]["md"].split("\n", 2)[2]  # without its own "## title" line
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
    s = report.analysis.settings
    command, out_arg = source["command"], source["out"]
    lines += ["## Reproduce", "",
              f"Inputs and their SHA-256 fingerprints are in [inputs.json](inputs.json) (resampling: "
              f"{s.resamples} resamples, seed {s.seed}). From the folder the report was built in (relative paths "
              "are relative to it), the first command rebuilds this report exactly, the second checks it:", "",
              "```bash", command,
              f"python -m reports verify {out_arg}   # recompute every table, list every cell that differs", "```",
              ""]
    return "\n".join(lines)


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
    files, digest = input_files(data), trials_digest(data.frozen)
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
        (tmp / "figures").mkdir(parents=True, exist_ok=True)
        figures, fig_problems = _figures(report, tmp / "figures", quiet)
        figures = [(title, [Path("figures") / Path(p).name for p in paths]) for title, paths in figures]
        problems = list(report.analysis.problems) + fig_problems
        index = _index(report, figures, problems, source)
        for name, texts in report.texts.items():
            for ext, text in texts.items():
                atomic_write_text(tmp / "tables" / f"{name}.{ext}", text)
        atomic_write_json(tmp / "inputs.json", _inputs(report, source, files, digest))
        atomic_write_text(tmp / "index.md", index)
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
        settings = settings_from_record(rec["settings"])
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
        for ext, text in report.texts[name].items():
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
