"""Collect a study for a report: the Optuna trials, their run directories and their per-query scores.

A study is opened from a spec file (the storage resolved exactly like ``python -m studies run`` does:
``--storage``, else the spec's ``storage``, else ``sqlite:///RUNS_DIR/<name>/optuna.db``) or from a storage URL and
a study name. :func:`collect_study` returns a :class:`StudyData`: every trial as a :class:`TrialRecord` (number,
state, params without ``seed``, seed, value, intermediate values, datetimes, user attributes, run directory,
per-query scores, test metrics) plus what the tables need (parameter order and distributions, the objective).

Which trials enter comparisons: COMPLETE trials with a readable ``per_query.csv``. Every other trial is *left out*
with a reason (:attr:`TrialRecord.left_out`) and counted in :meth:`StudyData.left_out_summary`, e.g.
``left out: 3 pruned (stopped by ASHA), 1 failed (TrainingDiverged: loss is NaN at epoch 2)``.

Per-query files (``query,target,rank,ap10``; :func:`read_per_query`) are paired by ``(query, target)``; equal
keys (a caption used twice for the same file, as in Clotho) are told apart by their order within the file. Runs
compared with each other must score the same multiset of keys (:func:`align_runs`); otherwise
:class:`CollectError` names both runs and one query that only one of them has.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from retrieval.errors import HarnessError

__all__ = [
    "CollectError",
    "PerQuery",
    "RunRecipe",
    "StudyData",
    "TrialRecord",
    "align_runs",
    "collect_study",
    "input_files",
    "open_study",
    "per_query_path",
    "read_per_query",
    "recipe_differences",
    "run_recipe",
    "sha256_file",
    "trials_digest",
]

SEED_PARAM = "seed"  # studies.spec.SEED (not imported: keeps this module free of the runner's imports)
VARIANT_PARAM = "variant"  # studies.spec.VARIANT
PER_QUERY_COLUMNS = ("query", "target", "rank", "ap10")


class CollectError(HarnessError, ValueError):
    """Bad input for a report: a missing study, run directory or per-query file, mismatched query sets."""


# ----------------------------------------------------------------------------------------------- per-query files
@dataclass(frozen=True)
class PerQuery:
    """The per-query scores of one run (one row of ``per_query.csv`` per caption query).

    ``keys[i] = (query, target, k)`` where ``k`` counts earlier rows with the same ``(query, target)``;
    ``ap[i]`` is AP@10 and ``rank[i]`` the 1-based rank of the best relevant item of row ``i`` (file order).
    """

    path: Path
    keys: tuple[tuple[str, str, int], ...]
    ap: np.ndarray
    rank: np.ndarray
    sha256: str

    @property
    def n(self) -> int:
        return len(self.keys)

    def aligned(self, order: Sequence[tuple[str, str, int]]) -> tuple[np.ndarray, np.ndarray]:
        """``(ap, rank)`` reordered to ``order`` (a permutation of :attr:`keys`, checked by :func:`align_runs`)."""
        index = {k: i for i, k in enumerate(self.keys)}
        idx = np.fromiter((index[k] for k in order), dtype=np.int64, count=len(order))
        return self.ap[idx], self.rank[idx]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def per_query_path(path: str | Path) -> Path:
    """``path`` itself when it is a file, ``path/per_query.csv`` when it is a directory; a clear error otherwise."""
    p = Path(path)
    if p.is_dir():
        f = p / "per_query.csv"
        if not f.is_file():
            raise CollectError(f"{p}: run directory without per_query.csv (expected {f})")
        return f
    if p.is_file():
        return p
    raise CollectError(f"{p}: no such run directory or per_query.csv file")


def read_per_query(path: str | Path) -> PerQuery:
    """Read a run's ``per_query.csv`` (a run directory or the file itself).

    Errors (:class:`CollectError`) name the file, the row (1-based line number) and the field: a missing
    column, an empty file, a non-numeric or out-of-range ``rank`` (integer >= 1) or ``ap10`` (finite, in [0, 1]).
    """
    f = per_query_path(path)
    try:
        data = f.read_bytes()
    except OSError as exc:
        raise CollectError(f"{f}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CollectError(f"{f}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise CollectError(f"{f}: empty file (expected the header {','.join(PER_QUERY_COLUMNS)})")
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in PER_QUERY_COLUMNS if c not in header]
    if missing:
        raise CollectError(f"{f}: row 1: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
    col = {c: header.index(c) for c in PER_QUERY_COLUMNS}
    keys: list[tuple[str, str, int]] = []
    ap: list[float] = []
    rank: list[int] = []
    seen: Counter = Counter()
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise CollectError(f"{f}: row {line}: {len(row)} fields, the header has {len(header)}")
        q, t = row[col["query"]], row[col["target"]]
        try:
            r = float(row[col["rank"]])
        except ValueError:
            raise CollectError(f"{f}: row {line}: field rank: {row[col['rank']]!r} is not a number") from None
        if not (math.isfinite(r) and r >= 1 and r.is_integer()):
            raise CollectError(f"{f}: row {line}: field rank: {row[col['rank']]!r} is not an integer >= 1")
        try:
            a = float(row[col["ap10"]])
        except ValueError:
            raise CollectError(f"{f}: row {line}: field ap10: {row[col['ap10']]!r} is not a number") from None
        if not (math.isfinite(a) and 0.0 <= a <= 1.0):
            raise CollectError(f"{f}: row {line}: field ap10: {row[col['ap10']]!r} is not in [0, 1]")
        k = seen[(q, t)]
        seen[(q, t)] += 1
        keys.append((q, t, k))
        ap.append(a)
        rank.append(int(r))
    if not keys:
        raise CollectError(f"{f}: no query rows after the header")
    return PerQuery(path=f.resolve(), keys=tuple(keys), ap=np.asarray(ap, dtype=np.float64),
                    rank=np.asarray(rank, dtype=np.int64), sha256=hashlib.sha256(data).hexdigest())


def align_runs(runs: Sequence[PerQuery], names: Sequence[str]) -> tuple[list[tuple[str, str, int]],
                                                                        list[np.ndarray], list[np.ndarray]]:
    """Pair the rows of several runs by ``(query, target, occurrence)``.

    Returns the common key order (sorted, so it does not depend on any file's row order) and, for every run, its
    AP@10 and rank arrays in that order. Raises :class:`CollectError` naming two runs and an example query that
    one has and the other has not when the query sets differ.
    """
    if not runs:
        return [], [], []
    ref = set(runs[0].keys)
    for run, name in zip(runs[1:], names[1:]):
        other = set(run.keys)
        if other != ref:
            only_ref = sorted(ref - other)
            only_other = sorted(other - ref)
            if only_ref:
                (q, t, k), has, lacks = only_ref[0], names[0], name
            else:
                (q, t, k), has, lacks = only_other[0], name, names[0]
            occ = f" (occurrence {k + 1})" if k else ""
            raise CollectError(
                f"query sets differ between {names[0]} ({runs[0].n} queries) and {name} ({run.n} queries): "
                f"{has} has query {_short(q)!r} with target {t!r}{occ} that {lacks} does not have "
                f"({len(only_ref)} row(s) only in {names[0]}, {len(only_other)} only in {name})")
    order = sorted(ref)
    aps, ranks = [], []
    for run in runs:
        a, r = run.aligned(order)
        aps.append(a)
        ranks.append(r)
    return order, aps, ranks


@dataclass(frozen=True)
class RunRecipe:
    """What a run folder's ``config.yaml`` says about the run: its seed (``train.seed``), its fingerprint, and the
    fingerprint of its *recipe* (the configuration with the seed left out: equal for the seeds of one recipe)."""

    run_dir: Path
    seed: int
    fingerprint: str
    recipe: str
    config: dict[str, Any]


def run_recipe(path: str | Path) -> RunRecipe:
    """The :class:`RunRecipe` of a run (its folder, or a per-query file in it): read from ``config.yaml`` in that
    folder; :class:`CollectError` naming the file when it is missing or not a run's config."""
    from retrieval.config import TrialConfig

    p = Path(path)
    run_dir = p if p.is_dir() else p.parent
    f = run_dir / "config.yaml"
    if not f.is_file():
        raise CollectError(f"{run_dir}: no config.yaml (the run folder's record of its seed and configuration); "
                           "give the run folders that training wrote")
    try:
        cfg = TrialConfig.load(f)
    except HarnessError as exc:
        raise CollectError(f"{f}: not a run's config: {exc}") from None
    except (OSError, ValueError) as exc:  # unreadable file, YAML syntax
        raise CollectError(f"{f}: cannot read: {' '.join(str(exc).split())}") from None
    recipe = cfg.with_overrides({"train.seed": 0}).fingerprint()
    return RunRecipe(run_dir=run_dir, seed=int(cfg.train.seed), fingerprint=cfg.fingerprint(), recipe=recipe,
                     config=cfg.to_dict())


def recipe_differences(a: RunRecipe, b: RunRecipe, limit: int = 3) -> list[str]:
    """The dotted keys (with both values) in which the configurations of ``a`` and ``b`` differ, apart from the seed
    and the settings that cannot change a result (progress bars, the cache folder); the first ``limit``."""
    from retrieval.config import NON_SEMANTIC_KEYS

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    fa, fb = flat(a.config), flat(b.config)
    skip = {"train.seed", *NON_SEMANTIC_KEYS}
    keys = sorted(k for k in set(fa) | set(fb) if k not in skip and fa.get(k) != fb.get(k))
    return [f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}" for k in keys[:limit]] + (
        [f"{len(keys) - limit} more"] if len(keys) > limit else [])


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ----------------------------------------------------------------------------------------------- trials
@dataclass
class TrialRecord:
    """One Optuna trial, with what the report needs from its run directory.

    ``left_out`` is ``None`` for trials that enter comparisons (COMPLETE with a readable per-query file), else
    ``(category, reason)`` with category one of ``pruned``, ``failed``, ``running``, ``waiting``,
    ``no per-query file``.
    """

    number: int
    state: str
    params: dict[str, Any]
    seed: int | None
    value: float | None
    intermediate: dict[int, float]
    datetime_start: datetime | None
    datetime_complete: datetime | None
    user_attrs: dict[str, Any]
    run_dir: Path | None
    per_query: PerQuery | None = None
    left_out: tuple[str, str] | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # test mAP@10, R@1/5/10 (from per_query.csv)
    ap: np.ndarray | None = None  # per-query AP@10 in the study's common query order (included trials only)

    @property
    def included(self) -> bool:
        return self.left_out is None

    @property
    def config_key(self) -> tuple:
        """The configuration (params without the seed) as a hashable, order-independent key."""
        return tuple(sorted((k, _hashable(v)) for k, v in self.params.items()))


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def metrics_from_per_query(ap: np.ndarray, rank: np.ndarray) -> dict[str, float]:
    """Test metrics of one run from its per-query rows: mAP@10 = mean AP@10, R@k = fraction with rank <= k."""
    return {"map10": float(np.mean(ap)), "r1": float(np.mean(rank <= 1)), "r5": float(np.mean(rank <= 5)),
            "r10": float(np.mean(rank <= 10))}


@dataclass
class StudyData:
    """A study as the report sees it (see the module docstring)."""

    name: str
    storage: str  # the storage URL, password redacted
    direction: str  # "maximize" | "minimize"
    metric: str  # the objective's name, e.g. val_map10
    sampler: str | None
    scheduler: str | None
    trials: list[TrialRecord]
    frozen: list  # optuna FrozenTrials, for importance and plots
    param_order: list[str]  # searched parameters (no seed), in spec order
    distributions: dict[str, Any]  # key -> optuna distribution (from the first trial that has the key)
    cpus_per_trial: float
    cpus_source: str
    query_keys: list[tuple[str, str, int]]  # the common query order of the included trials
    study_attrs: dict[str, Any]
    spec_path: str | None = None
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # the spec's variant overrides, when known

    @property
    def included(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.included]

    @property
    def sequential(self) -> dict[str, Any] | None:
        """The sequential design of a sequential ablation (``seeds: {min, max, delta}`` in its spec), as the runner
        recorded it: ``{"min", "max", "delta", "alpha", "control", "seeds"}``; None for a fixed list of seeds."""
        q = self.study_attrs.get("sequential")
        return dict(q) if isinstance(q, dict) else None

    @property
    def is_grid(self) -> bool:
        return self.sampler == "grid"

    def state_counts(self) -> dict[str, int]:
        """Trials per Optuna state, in a fixed order (states with no trial included as 0)."""
        order = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
        c = Counter(t.state for t in self.trials)
        return {s: c.get(s, 0) for s in order} | {s: n for s, n in sorted(c.items()) if s not in order}

    def left_out_summary(self) -> str:
        """``left out: 3 pruned (stopped by ASHA), 1 failed (TrainingDiverged: ...)`` or ``left out: none``."""
        groups: dict[str, list[str]] = {}
        for t in self.trials:
            if t.left_out is not None:
                groups.setdefault(t.left_out[0], []).append(t.left_out[1])
        if not groups:
            return "left out: none"
        parts = []
        for cat in ("pruned", "failed", "no per-query file", "running", "waiting"):
            if cat not in groups:
                continue
            reasons = list(dict.fromkeys(groups[cat]))  # unique, first-seen order (trial-number order)
            shown = "; ".join(_short(r, 160) for r in reasons[:3]) + ("; …" if len(reasons) > 3 else "")
            parts.append(f"{len(groups[cat])} {cat} ({shown})")
        return "left out: " + ", ".join(parts)

    def best_trial(self) -> TrialRecord | None:
        """The COMPLETE trial with the best objective value (lowest number on ties)."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        if not done:
            return None
        sign = -1.0 if self.direction == "maximize" else 1.0
        return min(done, key=lambda t: (sign * t.value, t.number))


def open_study(spec: str | Path | None = None, *, storage: str | None = None, study: str | None = None,
               runs_dir: str | Path = "runs"):
    """Open an existing study; returns ``(optuna.Study, redacted storage URL, spec or None)``.

    With ``spec`` the storage is ``storage`` or the spec's, else ``sqlite:///RUNS_DIR/<name>/optuna.db`` (exactly
    as the runner resolves it) and the study name is the spec's (``study`` may not contradict it). Without
    ``spec`` both ``storage`` and ``study`` are needed. A study that does not exist is a :class:`CollectError`
    listing the studies the storage does hold.
    """
    import optuna

    from studies.spec import SpecError, load_spec
    from studies.storage import open_storage, redact, resolve

    loaded = None
    try:
        if spec is not None:
            if not Path(spec).is_file():
                raise CollectError(f"{spec}: no such study spec file")
            loaded = load_spec(spec, check_registries=False)
            if study is not None and study != loaded.name:
                raise CollectError(f"--study {study!r} contradicts the spec's name {loaded.name!r} ({spec})")
            study = loaded.name
            surl = resolve(storage or loaded.storage, (Path(runs_dir) / loaded.name).resolve())
        else:
            if not storage or not study:
                raise CollectError("give a study spec, or both --storage URL and --study NAME")
            surl = resolve(storage, Path(runs_dir).resolve())
    except SpecError as exc:
        raise CollectError(str(exc)) from None
    if surl.path is not None and not surl.path.exists():
        raise CollectError(f"no study {study!r}: the storage file {surl.path} does not exist (run the study first"
                           + (", or pass --runs-dir DIR where it ran)" if spec is not None else ")"))
    try:
        storage_obj = open_storage(surl, write=False)
    except SpecError as exc:
        raise CollectError(str(exc)) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        st = optuna.load_study(study_name=study, storage=storage_obj)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False))
        have = ", ".join(repr(n) for n in names) if names else "none"
        raise CollectError(f"no study {study!r} in {redact(str(surl.url))}; studies there: {have}") from None
    return st, redact(str(surl.url)), loaded


def _cpus(st, spec) -> tuple[float, str]:
    """CPUs per trial (``resources.cpu``): from the spec, else the run folder's spec.resolved.yaml, else 1."""
    if spec is not None:
        return float(spec.resources.get("cpu", 1)), "spec resources.cpu"
    folder = st.user_attrs.get("run_folder")
    if folder:
        f = Path(folder) / "spec.resolved.yaml"
        if f.is_file():
            import yaml

            try:
                cpu = (yaml.safe_load(f.read_text()) or {}).get("resources", {}).get("cpu")
            except (OSError, yaml.YAMLError, AttributeError):
                cpu = None
            if isinstance(cpu, (int, float)) and cpu > 0:
                return float(cpu), f"resources.cpu of {f}"
    return 1.0, "resources.cpu unknown: 1 assumed"


def _run_dir(t, st) -> Path | None:
    raw = t.user_attrs.get("run_dir")
    if raw:
        return Path(raw)
    folder = st.user_attrs.get("run_folder")
    if folder:
        return Path(folder) / "trials" / str(t.number)
    return None


def _left_out_reason(t, scheduler: str | None) -> tuple[str, str] | None:
    from optuna.trial import TrialState

    a = t.user_attrs
    if t.state == TrialState.PRUNED:
        who = scheduler.upper() if scheduler and scheduler != "fifo" else "the scheduler"
        if a.get("stopped") == "stopped_by_tune":
            return "pruned", "stopped by Ray Tune"
        return "pruned", f"stopped by {who}"
    if t.state == TrialState.FAIL:
        return "failed", " ".join(str(a.get("fail_reason") or "no reason recorded").split())
    if t.state == TrialState.RUNNING:
        return "running", "not finished"
    if t.state == TrialState.WAITING:
        return "waiting", "queued, not started"
    return None


def collect_study(spec: str | Path | None = None, *, storage: str | None = None, study: str | None = None,
                  runs_dir: str | Path = "runs") -> StudyData:
    """Read a study and the per-query files of its trials (arguments as :func:`open_study`).

    Raises :class:`CollectError` for a missing study and when included trials score different query sets.
    """
    from optuna.distributions import CategoricalDistribution
    from optuna.study import StudyDirection

    st, url, loaded = open_study(spec, storage=storage, study=study, runs_dir=runs_dir)
    frozen = sorted(st.get_trials(deepcopy=False), key=lambda t: t.number)
    attrs = dict(st.user_attrs)
    scheduler = attrs.get("scheduler") or (loaded.scheduler["kind"] if loaded is not None else None)
    sampler = attrs.get("sampler") or (loaded.sampler["kind"] if loaded is not None else None)
    metric = (loaded.objective["metric"] if loaded is not None else str(attrs.get("objective", "value")).split()[0])
    direction = "maximize" if st.direction == StudyDirection.MAXIMIZE else "minimize"

    # the searched parameters, in spec order when known
    declared = [p.key for p in loaded.params] if loaded is not None else list(attrs.get("space") or [])
    seen_keys: list[str] = []
    distributions: dict[str, Any] = {}
    for t in frozen:
        for k, d in t.distributions.items():
            if k == SEED_PARAM:
                continue
            if k not in distributions:
                distributions[k] = d
                seen_keys.append(k)
    order = [k for k in declared if k in distributions] + [k for k in seen_keys if k not in declared]
    if loaded is not None and loaded.variants and VARIANT_PARAM in distributions:
        # the spec's variant order (the categorical's choices follow it too; this is belt and braces)
        distributions[VARIANT_PARAM] = CategoricalDistribution(
            [v for v in loaded.variants if v in distributions[VARIANT_PARAM].choices])

    records: list[TrialRecord] = []
    for t in frozen:
        params = {k: v for k, v in t.params.items() if k != SEED_PARAM}
        seed = t.params.get(SEED_PARAM, t.user_attrs.get("seed"))
        rec = TrialRecord(number=t.number, state=t.state.name, params=params,
                          seed=int(seed) if isinstance(seed, (int, float)) else None, value=t.value,
                          intermediate={int(k): float(v) for k, v in sorted(t.intermediate_values.items())},
                          datetime_start=t.datetime_start, datetime_complete=t.datetime_complete,
                          user_attrs=dict(t.user_attrs), run_dir=_run_dir(t, st))
        rec.left_out = _left_out_reason(t, scheduler)
        if rec.left_out is None:
            if rec.run_dir is None:
                rec.left_out = ("no per-query file", f"#{t.number}: no run_dir attribute")
            else:
                pq = rec.run_dir / "per_query.csv"
                if not pq.is_file():
                    rec.left_out = ("no per-query file", f"#{t.number}: {pq} missing")
                else:
                    try:
                        rec.per_query = read_per_query(pq)
                    except CollectError as exc:
                        rec.left_out = ("no per-query file", f"#{t.number}: unreadable: {exc}")
        records.append(rec)

    included = [r for r in records if r.included]
    keys, aps, ranks = align_runs([r.per_query for r in included], [_trial_name(r) for r in included])
    for r, ap, rank in zip(included, aps, ranks):
        r.metrics = metrics_from_per_query(ap, rank)
        r.ap = ap
    cpus, cpus_source = _cpus(st, loaded)
    return StudyData(name=st.study_name, storage=url, direction=direction, metric=metric, sampler=sampler,
                     scheduler=scheduler, trials=records, frozen=frozen, param_order=order,
                     distributions=distributions, cpus_per_trial=cpus, cpus_source=cpus_source, query_keys=keys,
                     study_attrs=attrs, spec_path=str(spec) if spec is not None else None,
                     variants=_variants(st, loaded))


def _variants(st, spec) -> dict[str, dict[str, Any]]:
    """The variants' overrides as the runner recorded them (the run folder's spec.resolved.yaml: what the trials
    were actually run with, even if the spec file changed since), else the spec's, else none."""
    folder = st.user_attrs.get("run_folder")
    if folder:
        f = Path(folder) / "spec.resolved.yaml"
        if f.is_file():
            import yaml

            try:
                recorded = (yaml.safe_load(f.read_text()) or {}).get("variants")
            except (OSError, yaml.YAMLError, AttributeError):
                recorded = None
            if isinstance(recorded, dict) and recorded:
                return {str(k): dict(v or {}) for k, v in recorded.items()}
    return dict(spec.variants) if spec is not None else {}


def _trial_name(r: TrialRecord) -> str:
    return f"trial #{r.number} ({r.per_query.path if r.per_query else r.run_dir})"


def input_files(data: StudyData) -> list[dict[str, Any]]:
    """The fingerprints of the files a report of ``data`` is computed from: per included trial its
    ``per_query.csv`` and, when there is one beside it, its ``metrics.json`` (``trial``, ``kind``, ``path``,
    ``sha256``)."""
    files = []
    for t in data.included:
        files.append({"trial": t.number, "kind": "per_query.csv", "path": str(t.per_query.path),
                      "sha256": t.per_query.sha256})
        m = Path(t.per_query.path).parent / "metrics.json"
        if m.is_file():
            files.append({"trial": t.number, "kind": "metrics.json", "path": str(m.resolve()),
                          "sha256": sha256_file(m)})
    return files


def trials_digest(frozen: Sequence) -> str:
    """SHA-256 over every trial's number, state, params, value and intermediate values (canonical JSON)."""
    rows = []
    for t in sorted(frozen, key=lambda t: t.number):
        rows.append({"number": t.number, "state": t.state.name,
                     "params": {k: _jsonable(v) for k, v in sorted(t.params.items())},
                     "value": _float(t.value),
                     "intermediate": [[int(k), _float(v)] for k, v in sorted(t.intermediate_values.items())]})
    blob = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _float(v: Any) -> Any:
    if v is None:
        return None
    f = float(v)
    return repr(f) if not math.isfinite(f) else f


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, bool, int)) or v is None:
        return v
    if isinstance(v, float):
        return _float(v)
    return str(v)

