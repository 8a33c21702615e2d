"""The HPO replay's learning-curve table: :class:`Curve` (one training run), :class:`Config` (every run of one
configuration: seeds x schedule lengths), :class:`Table` (validation, truth, fingerprint, JSON form),
:func:`load_table` and :func:`extract_table` (from a finished grid study and its run directories).

**Format v2** (``benchmarks/results/hpo_table_v2.json``): per configuration, one run per (schedule length, seed):
``{"schedule": 10, "seed": 0, "val_map10": [...], "epoch_s": [...], "overhead_s": s, "test_map10": x}``. The
schedule length is the run's ``train.epochs``: its warm-up + cosine learning-rate schedule completes at that
epoch, so a 3-epoch run is *not* the first 3 epochs of a 10-epoch run. ``max_epochs`` is the longest schedule.

**Truth.** A configuration's true quality (:meth:`Table.truth`) is the seed mean of the final validation mAP@10
of its longest-schedule runs; :meth:`Table.truth_test` the seed mean of their test mAP@10 (``fit`` evaluates the
best-validation checkpoint on the test split). Replays judge incumbents by these, never by the one noisy value a
protocol saw.

**Format v1** (one seed, one schedule; ``benchmarks/results/hpo_table.json``) is still read: each configuration
has a single run (seed 0, schedule ``max_epochs``), so its truth is that run's final value, and its fingerprint is
computed as v1 computed it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from retrieval.errors import HarnessError

TABLE_VERSION = 2
DEFAULT_TABLE = Path("benchmarks/results/hpo_table_v2.json")
TABLE_SPEC = Path("benchmarks/hpo_table_v2.yaml")
SCHEDULE_KEY = "train.epochs"  # a grid parameter with this key is the schedule length, not a searched parameter


class TableError(HarnessError, ValueError):
    """A learning-curve table is missing, malformed or incomplete; the message names the file and the key."""


@dataclass(frozen=True)
class Curve:
    """One training run: val mAP@10 and seconds per epoch, seconds outside epochs, its seed, its schedule length
    (``train.epochs``; None: ``len(values)``) and its test mAP@10 (None: not recorded)."""

    params: dict[str, Any]
    values: tuple[float, ...]
    epoch_s: tuple[float, ...]
    overhead_s: float = 0.0
    seed: int = 0
    schedule: int | None = None
    test: float | None = None

    @property
    def best(self) -> float:
        return max(self.values)

    @property
    def final(self) -> float:
        return self.values[-1]


@dataclass(frozen=True)
class Config:
    """Every run of one configuration: ``runs[schedule]`` holds one :class:`Curve` per seed, in seed order."""

    params: dict[str, Any]
    runs: dict[int, tuple[Curve, ...]]

    def curve(self, schedule: int, seed: int) -> Curve:
        for c in self.runs[schedule]:
            if c.seed == seed:
                return c
        raise TableError(f"configuration {self.params}: no run with schedule {schedule} and seed {seed}")


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


@dataclass(frozen=True)
class Table:
    """Learning curves of every configuration of a discrete space (see :mod:`benchmarks.perf.hpo`)."""

    space: dict[str, list[Any]]  # parameter -> its values, in spec order
    configs: tuple[Config, ...]
    max_epochs: int
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = TABLE_VERSION

    def __post_init__(self) -> None:
        index = {}
        for i, c in enumerate(self.configs):
            key = _key(c.params)
            if key in index:
                raise TableError(f"configs[{i}]: the same parameters as configs[{index[key]}]: {c.params}")
            index[key] = i
        object.__setattr__(self, "_index", index)
        truth = {_key(c.params): _mean(r.final for r in c.runs[self.max_epochs]) for c in self.configs}
        object.__setattr__(self, "_truth", truth)

    @classmethod
    def from_curves(cls, space: Mapping[str, list[Any]], curves, max_epochs: int, meta=None) -> "Table":
        """A table from loose runs (any order): grouped by parameters, then schedule, then seed."""
        by: dict[str, dict[int, list[Curve]]] = {}
        params: dict[str, dict[str, Any]] = {}
        for c in curves:
            k = _key(c.params)
            params.setdefault(k, dict(c.params))
            by.setdefault(k, {}).setdefault(c.schedule or len(c.values), []).append(c)
        configs = tuple(Config(params[k], {s: tuple(sorted(v, key=lambda c: c.seed)) for s, v in runs.items()})
                        for k, runs in by.items())
        return cls({k: list(v) for k, v in space.items()}, configs, int(max_epochs), dict(meta or {}))

    # ---- look-ups
    def lookup(self, params: Mapping[str, Any]) -> Config:
        try:
            return self.configs[self._index[_key(params)]]  # type: ignore[attr-defined]
        except KeyError:
            raise TableError(f"the table has no configuration {dict(params)}") from None

    @property
    def schedules(self) -> tuple[int, ...]:
        """The recorded schedule lengths, ascending."""
        return tuple(sorted(self.configs[0].runs))

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(c.seed for c in self.configs[0].runs[self.max_epochs])

    @property
    def curves(self) -> tuple[Curve, ...]:
        """The first seed's longest-schedule run of every configuration (the v1 view)."""
        return tuple(c.runs[self.max_epochs][0] for c in self.configs)

    def schedule_for(self, budget: float) -> int:
        """The recorded schedule length nearest to ``budget`` (ties: the longer one)."""
        return min(self.schedules, key=lambda s: (abs(s - budget), -s))

    # ---- truth
    def truth(self, params: Mapping[str, Any]) -> float:
        """True quality: the seed mean of the final val mAP@10 of the configuration's longest-schedule runs."""
        return self._truth[_key(params)]  # type: ignore[attr-defined]

    def truth_test(self, params: Mapping[str, Any]) -> float | None:
        tests = [r.test for r in self.lookup(params).runs[self.max_epochs]]
        return None if any(t is None for t in tests) else _mean(tests)

    @property
    def best_truth(self) -> float:
        return max(self._truth.values())  # type: ignore[attr-defined]

    @property
    def best(self) -> float:
        """The best single val mAP@10 any run of the longest schedule reached (a noisy maximum; v1's figure)."""
        return max(r.best for c in self.configs for r in c.runs[self.max_epochs])

    def best_config(self) -> dict[str, Any]:
        return dict(max(self.configs, key=lambda c: self.truth(c.params)).params)

    # ---- identity and JSON
    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the space, epochs and every run: changes iff the table's content does."""
        if self.version == 1:
            body: dict[str, Any] = {"space": self.space, "max_epochs": self.max_epochs, "configs": [
                {"params": c.params, "values": list(c.values), "epoch_s": list(c.epoch_s),
                 "overhead_s": c.overhead_s} for c in self.curves]}
        else:
            body = {"space": self.space, "max_epochs": self.max_epochs, "configs": self._configs_json()}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def _configs_json(self) -> list[dict[str, Any]]:
        return [{"params": c.params, "runs": [
            {"schedule": s, "seed": r.seed, "val_map10": list(r.values), "epoch_s": list(r.epoch_s),
             "overhead_s": r.overhead_s, "test_map10": r.test} for s in sorted(c.runs, reverse=True)
            for r in c.runs[s]]} for c in self.configs]

    def to_dict(self) -> dict[str, Any]:
        if self.version == 1:
            return {"version": 1, "fingerprint": self.fingerprint(), "meta": self.meta, "space": self.space,
                    "max_epochs": self.max_epochs,
                    "configs": [{"params": c.params, "val_map10": list(c.values), "epoch_s": list(c.epoch_s),
                                 "overhead_s": c.overhead_s} for c in self.curves]}
        return {"version": TABLE_VERSION, "fingerprint": self.fingerprint(), "meta": self.meta, "space": self.space,
                "max_epochs": self.max_epochs, "schedules": sorted(self.schedules, reverse=True),
                "seeds": list(self.seeds), "configs": self._configs_json()}

    @classmethod
    def from_dict(cls, raw: Any, where: str = "table") -> "Table":
        """Validate and build (v1 or v2); every error names ``where`` and the offending key."""
        if not isinstance(raw, dict):
            raise TableError(f"{where}: expected a JSON object")
        for key in ("space", "max_epochs", "configs"):
            if key not in raw:
                raise TableError(f"{where}: missing key {key!r}")
        space = raw["space"]
        if not isinstance(space, dict) or not space or not all(isinstance(v, list) and v for v in space.values()):
            raise TableError(f"{where}: 'space' must map each parameter to a non-empty list of values")
        n = raw["max_epochs"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise TableError(f"{where}: 'max_epochs' must be an integer >= 1, got {n!r}")
        if not isinstance(raw["configs"], list) or not raw["configs"]:
            raise TableError(f"{where}: 'configs' must be a non-empty list")
        version = raw.get("version", 1)
        if version not in (1, 2):
            raise TableError(f"{where}: unknown table version {version!r} (known: 1, 2)")
        configs = []
        shape: tuple | None = None
        for i, c in enumerate(raw["configs"]):
            at = f"{where}: configs[{i}]"
            if not isinstance(c, dict):
                raise TableError(f"{at}: expected an object")
            params = c.get("params")
            if not isinstance(params, dict) or set(params) != set(space):
                raise TableError(f"{at}.params: expected the parameters {sorted(space)}, got {params!r}")
            for k, v in params.items():
                if v not in space[k]:
                    raise TableError(f"{at}.params.{k}: {v!r} is not one of the space's values {space[k]}")
            if version == 1:
                runs = {n: (_run(c, dict(params), n, 0, at),)}
            else:
                if not isinstance(c.get("runs"), list) or not c["runs"]:
                    raise TableError(f"{at}.runs: expected a non-empty list of runs")
                by: dict[int, list[Curve]] = {}
                for j, r in enumerate(c["runs"]):
                    rat = f"{at}.runs[{j}]"
                    if not isinstance(r, dict):
                        raise TableError(f"{rat}: expected an object")
                    s, seed = r.get("schedule"), r.get("seed")
                    for name, v in (("schedule", s), ("seed", seed)):
                        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                            raise TableError(f"{rat}.{name}: expected an integer >= 0, got {v!r}")
                    if not 1 <= s <= n:
                        raise TableError(f"{rat}.schedule: {s} is not in [1, max_epochs={n}]")
                    if any(x.seed == seed for x in by.get(s, [])):
                        raise TableError(f"{rat}: a second run with schedule {s} and seed {seed}")
                    by.setdefault(s, []).append(_run(r, dict(params), s, seed, rat))
                if n not in by:
                    raise TableError(f"{at}.runs: no run of the longest schedule (max_epochs {n})")
                runs = {s: tuple(sorted(v, key=lambda x: x.seed)) for s, v in by.items()}
            this = tuple(sorted((s, tuple(x.seed for x in v)) for s, v in runs.items()))
            if shape is None:
                shape = this
            elif this != shape:
                raise TableError(f"{at}.runs: (schedule, seeds) {this} differ from configs[0]'s {shape}")
            configs.append(Config(dict(params), runs))
        table = cls({k: list(v) for k, v in space.items()}, tuple(configs), int(n), dict(raw.get("meta") or {}),
                    version=version)
        stored = raw.get("fingerprint")
        if stored is not None and stored != table.fingerprint():
            raise TableError(f"{where}: fingerprint {stored} does not match the content ({table.fingerprint()}): "
                             "the table was edited by hand or truncated")
        return table


def _run(r: Mapping[str, Any], params: dict[str, Any], n: int, seed: int, at: str) -> Curve:
    values, secs = r.get("val_map10"), r.get("epoch_s")
    for name, arr in (("val_map10", values), ("epoch_s", secs)):
        if not isinstance(arr, list) or len(arr) != n:
            raise TableError(f"{at}.{name}: expected {n} numbers (one per epoch), got "
                             f"{len(arr) if isinstance(arr, list) else type(arr).__name__}")
        for e, v in enumerate(arr):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise TableError(f"{at}.{name}[{e}]: expected a finite number, got {v!r}")
    if any(s < 0 for s in secs):
        raise TableError(f"{at}.epoch_s: negative seconds")
    overhead = r.get("overhead_s", 0.0)
    if not isinstance(overhead, (int, float)) or isinstance(overhead, bool) or overhead < 0:
        raise TableError(f"{at}.overhead_s: expected seconds >= 0, got {overhead!r}")
    test = r.get("test_map10")
    if test is not None and (not isinstance(test, (int, float)) or isinstance(test, bool) or not math.isfinite(test)):
        raise TableError(f"{at}.test_map10: expected a finite number or null, got {test!r}")
    return Curve(params, tuple(float(v) for v in values), tuple(float(s) for s in secs), float(overhead), seed, n,
                 None if test is None else float(test))


def load_table(path: str | Path = DEFAULT_TABLE) -> Table:
    """Read and validate a table file (errors name the file and key)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such table; build it with `python -m benchmarks perf --build-table` "
                         "(see docs/perf.md)")
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise TableError(f"{path}: not valid JSON: {exc}") from None
    return Table.from_dict(raw, str(path))


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def extract_table(spec_path: str | Path = TABLE_SPEC, runs_dir: str | Path = "runs", *,
                  allow_partial: bool = False) -> Table:
    """Build the table from a finished grid study of ``spec_path`` whose runs are under ``runs_dir``.

    Reads the Optuna study (parameters, seed, per-epoch intermediate values) and each trial's run directory
    (``metrics.json``: per-epoch ``val_map10`` and ``epoch_time_s``, the test mAP@10; ``trial_status.json``:
    ``wall_time_s``). A grid parameter ``train.epochs`` is the schedule length of the run (v2: several schedule
    lengths), not a parameter of the table's space. Raises :class:`TableError` naming the trial when a curve is
    incomplete or disagrees with the study, and listing missing grid points unless ``allow_partial``. A partial
    table keeps the values of the first (slowest varying) grid parameter whose runs are all complete, so its space
    is still a full product.
    """
    from optuna.trial import TrialState

    from studies.spec import SEED, grid_points, load_spec
    from studies.storage import open_storage, resolve

    spec = load_spec(spec_path, check_registries=False)
    if not spec.is_grid:
        raise TableError(f"{spec_path}: sampler.kind must be grid to build a table")
    run_root = (Path(runs_dir) / spec.name).resolve()
    surl = resolve(spec.storage, run_root)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(surl))
    except KeyError:
        raise TableError(f"{surl}: no study {spec.name!r}; run `python -m studies run {spec_path} "
                         f"--runs-dir {runs_dir}` first") from None
    n = spec.max_epochs
    space = {p.key: p.values() for p in spec.params if p.key != SCHEDULE_KEY}
    by_key: dict[str, Curve] = {}
    problems: list[str] = []

    def run_key(p: Mapping[str, Any]) -> str:
        return _key({k: v for k, v in p.items() if k not in (SEED, SCHEDULE_KEY)}) + \
            f"|{int(p.get(SCHEDULE_KEY, n))}|{int(p.get(SEED, spec.seeds[0]))}"

    for t in study.get_trials(deepcopy=False):
        if t.state != TrialState.COMPLETE:
            problems.append(f"trial #{t.number}: state {t.state.name}")
            continue
        params = {k: v for k, v in t.params.items() if k not in (SEED, SCHEDULE_KEY)}
        schedule = int(t.params.get(SCHEDULE_KEY, n))
        seed = int(t.params.get(SEED, spec.seeds[0]))
        run_dir = Path(t.user_attrs.get("run_dir") or run_root / "trials" / str(t.number))
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            status = json.loads((run_dir / "trial_status.json").read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"trial #{t.number}: cannot read {run_dir}: {exc}")
            continue
        hist = metrics.get("history") or []
        if len(hist) != schedule:
            problems.append(f"trial #{t.number}: {run_dir}/metrics.json has {len(hist)} epochs, expected {schedule}")
            continue
        values = [float(h["val_map10"]) for h in hist]
        for e, v in enumerate(values, start=1):
            iv = t.intermediate_values.get(e)
            if iv is not None and abs(iv - v) > 1e-9:
                problems.append(f"trial #{t.number}: epoch {e} val_map10 {v} in metrics.json, {iv} in the study")
        secs = [float(h["epoch_time_s"]) for h in hist]
        wall = float(status.get("wall_time_s") or sum(secs))
        test = (metrics.get("test") or {}).get("test_map10")
        by_key[run_key(t.params)] = Curve(params, tuple(values), tuple(secs), max(0.0, wall - sum(secs)), seed,
                                          schedule, None if test is None else float(test))
    points = grid_points(spec)
    missing = [p for p in points if run_key(p) not in by_key]
    if missing and not allow_partial:
        detail = "; ".join(problems[:5])
        first = {k: v for k, v in missing[0].items() if k != SEED or len(spec.seeds) > 1}
        raise TableError(f"{surl}: {len(missing)} of {len(points)} grid points have no complete trial "
                         f"(first: {first}){'; ' + detail if detail else ''}; finish the study "
                         f"(python -m studies run {spec_path} --runs-dir {runs_dir} --resume) or pass --allow-partial")
    if missing:  # keep the complete levels of the slowest-varying (first) parameter: a product subspace
        first = next(iter(space))
        done = [v for v in space[first] if all(run_key(p) in by_key for p in points if p[first] == v)]
        space = {**space, first: done}
        points = [p for p in points if p[first] in done]
    curves = [by_key[run_key(p)] for p in points]
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and t.datetime_complete]
    build = {}
    if done:
        start = min(t.datetime_start for t in done if t.datetime_start)
        end = max(t.datetime_complete for t in done)
        build = {"build_started": start.isoformat(timespec="seconds"), "build_finished": end.isoformat(
            timespec="seconds"), "build_wall_s": round((end - start).total_seconds(), 1),
            "trial_seconds_total": round(sum(float(t.user_attrs.get("wall_time_s") or 0.0) for t in done), 1)}
    if not curves:
        raise TableError(f"{surl}: no value of {next(iter(space))!r} has all its grid points complete yet")
    from retrieval.utils import git_commit

    meta = {"spec": str(spec_path), "study": spec.name, "storage": surl.display(), "base_fingerprint":
            spec.base.fingerprint(), "base_data": spec.base.to_dict()["data"], "git_commit": git_commit(),
            "trials": len(curves), "grid_points": len(grid_points(spec)), "partial": bool(missing),
            "concurrent_trials": spec.resources["max_concurrent"], "threads_per_trial": spec.resources["cpu"],
            "seeds": list(spec.seeds),
            "schedules": sorted({c.schedule for c in curves}, reverse=True), **build}
    return Table.from_curves(space, curves, n, meta)
