"""The HPO replay's learning-curve table: :class:`Curve`, :class:`Table` (validation, fingerprint, JSON form),
:func:`load_table` and :func:`extract_table` (from a finished grid study and its run directories)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from retrieval.errors import HarnessError

TABLE_VERSION = 1
DEFAULT_TABLE = Path("benchmarks/results/hpo_table.json")
TABLE_SPEC = Path("benchmarks/hpo_table.yaml")


class TableError(HarnessError, ValueError):
    """A learning-curve table is missing, malformed or incomplete; the message names the file and the key."""



@dataclass(frozen=True)
class Curve:
    """One configuration of the table: its parameters, val mAP@10 and seconds per epoch, seconds outside epochs."""

    params: dict[str, Any]
    values: tuple[float, ...]
    epoch_s: tuple[float, ...]
    overhead_s: float = 0.0

    @property
    def best(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class Table:
    """Learning curves of every configuration of a discrete space (see :mod:`benchmarks.perf.hpo`)."""

    space: dict[str, list[Any]]  # parameter -> its values, in spec order
    curves: tuple[Curve, ...]
    max_epochs: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        index = {}
        for i, c in enumerate(self.curves):
            key = _key(c.params)
            if key in index:
                raise TableError(f"configs[{i}]: the same parameters as configs[{index[key]}]: {c.params}")
            index[key] = i
        object.__setattr__(self, "_index", index)

    def lookup(self, params: Mapping[str, Any]) -> Curve:
        try:
            return self.curves[self._index[_key(params)]]  # type: ignore[attr-defined]
        except KeyError:
            raise TableError(f"the table has no configuration {dict(params)}") from None

    @property
    def best(self) -> float:
        return max(c.best for c in self.curves)

    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the space, epochs and every curve: changes iff the table's content does."""
        body = {"space": self.space, "max_epochs": self.max_epochs,
                "configs": [{"params": c.params, "values": list(c.values), "epoch_s": list(c.epoch_s),
                             "overhead_s": c.overhead_s} for c in self.curves]}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"version": TABLE_VERSION, "fingerprint": self.fingerprint(), "meta": self.meta, "space": self.space,
                "max_epochs": self.max_epochs,
                "configs": [{"params": c.params, "val_map10": list(c.values), "epoch_s": list(c.epoch_s),
                             "overhead_s": c.overhead_s} for c in self.curves]}

    @classmethod
    def from_dict(cls, raw: Any, where: str = "table") -> "Table":
        """Validate and build; every error names ``where`` and the offending key."""
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
        curves = []
        for i, c in enumerate(raw["configs"]):
            at = f"{where}: configs[{i}]"
            if not isinstance(c, dict):
                raise TableError(f"{at}: expected an object")
            params, values, secs = c.get("params"), c.get("val_map10"), c.get("epoch_s")
            if not isinstance(params, dict) or set(params) != set(space):
                raise TableError(f"{at}.params: expected the parameters {sorted(space)}, got {params!r}")
            for k, v in params.items():
                if v not in space[k]:
                    raise TableError(f"{at}.params.{k}: {v!r} is not one of the space's values {space[k]}")
            for name, arr in (("val_map10", values), ("epoch_s", secs)):
                if not isinstance(arr, list) or len(arr) != n:
                    raise TableError(f"{at}.{name}: expected {n} numbers (one per epoch), got "
                                     f"{len(arr) if isinstance(arr, list) else type(arr).__name__}")
                for e, v in enumerate(arr):
                    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                        raise TableError(f"{at}.{name}[{e}]: expected a finite number, got {v!r}")
            if any(s < 0 for s in secs):
                raise TableError(f"{at}.epoch_s: negative seconds")
            overhead = c.get("overhead_s", 0.0)
            if not isinstance(overhead, (int, float)) or isinstance(overhead, bool) or overhead < 0:
                raise TableError(f"{at}.overhead_s: expected seconds >= 0, got {overhead!r}")
            curves.append(Curve(dict(params), tuple(float(v) for v in values), tuple(float(s) for s in secs),
                                float(overhead)))
        table = cls({k: list(v) for k, v in space.items()}, tuple(curves), int(n), dict(raw.get("meta") or {}))
        stored = raw.get("fingerprint")
        if stored is not None and stored != table.fingerprint():
            raise TableError(f"{where}: fingerprint {stored} does not match the content ({table.fingerprint()}): "
                             "the table was edited by hand or truncated")
        return table


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

    Reads the Optuna study (parameters, per-epoch intermediate values) and each trial's run directory
    (``metrics.json``: per-epoch ``val_map10`` and ``epoch_time_s``; ``trial_status.json``: ``wall_time_s``).
    Raises :class:`TableError` naming the trial when a curve is incomplete or disagrees with the study, and
    listing missing grid points unless ``allow_partial``. A partial table keeps the values of the first (slowest
    varying) grid parameter whose configurations are all complete, so its space is still a full product.
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
    space = {p.key: p.values() for p in spec.params}
    by_key: dict[str, Curve] = {}
    problems: list[str] = []
    for t in study.get_trials(deepcopy=False):
        if t.state != TrialState.COMPLETE:
            problems.append(f"trial #{t.number}: state {t.state.name}")
            continue
        params = {k: v for k, v in t.params.items() if k != SEED}
        run_dir = Path(t.user_attrs.get("run_dir") or run_root / "trials" / str(t.number))
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            status = json.loads((run_dir / "trial_status.json").read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"trial #{t.number}: cannot read {run_dir}: {exc}")
            continue
        hist = metrics.get("history") or []
        if len(hist) != n:
            problems.append(f"trial #{t.number}: {run_dir}/metrics.json has {len(hist)} epochs, expected {n}")
            continue
        values = [float(h["val_map10"]) for h in hist]
        for e, v in enumerate(values, start=1):
            iv = t.intermediate_values.get(e)
            if iv is not None and abs(iv - v) > 1e-9:
                problems.append(f"trial #{t.number}: epoch {e} val_map10 {v} in metrics.json, {iv} in the study")
        secs = [float(h["epoch_time_s"]) for h in hist]
        wall = float(status.get("wall_time_s") or sum(secs))
        by_key[_key(params)] = Curve(params, tuple(values), tuple(secs), max(0.0, wall - sum(secs)))
    points = [{k: v for k, v in p.items() if k != SEED} for p in grid_points(spec)]
    missing = [p for p in points if _key(p) not in by_key]
    if missing and not allow_partial:
        detail = "; ".join(problems[:5])
        raise TableError(f"{surl}: {len(missing)} of {len(points)} grid points have no complete trial "
                         f"(first: {missing[0]}){'; ' + detail if detail else ''}; finish the study "
                         f"(python -m studies run {spec_path} --runs-dir {runs_dir} --resume) or pass --allow-partial")
    if missing:  # keep the complete levels of the slowest-varying (first) parameter: a product subspace
        first = next(iter(space))
        done = [v for v in space[first] if all(_key(p) in by_key for p in points if p[first] == v)]
        space = {**space, first: done}
        points = [p for p in points if p[first] in done]
    curves = tuple(by_key[_key(p)] for p in points)
    if not curves:
        raise TableError(f"{surl}: no value of {next(iter(space))!r} has all its grid points complete yet")
    from retrieval.utils import git_commit

    meta = {"spec": str(spec_path), "study": spec.name, "storage": surl.display(), "base_fingerprint":
            spec.base.fingerprint(), "base_data": spec.base.to_dict()["data"], "git_commit": git_commit(),
            "trials": len(curves), "grid_points": len(grid_points(spec)), "partial": bool(missing),
            "concurrent_trials": spec.resources["max_concurrent"], "threads_per_trial": spec.resources["cpu"]}
    return Table(space, curves, n, meta)

