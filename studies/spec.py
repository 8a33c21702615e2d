"""Study specs: schema, validation, and the translation of a search space to Optuna.

A study spec is a YAML mapping (see ``studies/*.yaml``)::

    name: quick                          # the Optuna study name; run folder runs/<name>/
    storage: null                        # null: sqlite in runs/<name>/optuna.db; sqlite:///…, postgresql://…, journal:PATH
    base: synthcaps-small                # a named config, a YAML file (relative to the spec) or a mapping; or
                                         # {study: NAME, storage: URL, trial: best}: another study's trial
    space:                               # dotted TrialConfig keys -> one distribution each
      fusion.kind: {categorical: [none, late, mid]}
      fusion.mid.layers: {int: [1, 3], when: {fusion.kind: mid}}
      optim.lr_audio: {loguniform: [1.0e-4, 1.0e-2]}
      augment.mixstyle.p: {uniform: [0, 1]}
    variants: {}                         # named override sets, chosen by a categorical `variant` parameter
    sampler: {kind: tpe, seed: 0, n_startup_trials: 10}   # or random, grid; unset TPE options get pinned defaults
    scheduler: {kind: asha, grace_period: 1, reduction_factor: 3}   # fifo (+ patience), hyperband, median
    budget: {num_samples: 20, max_epochs: 10, time_budget_s: null}
    resources: {cpu: 1, gpu: 0, max_concurrent: 2}
    objective: {metric: val_map10, mode: max}
    seeds: [0]                           # each configuration is trained once per seed

The samplers and schedulers are the entries of the registries :data:`SAMPLERS` and :data:`SCHEDULERS`
(:class:`retrieval.registry.Registry`, declared here): each entry names its builder (imported when a study is run)
and its options with their defaults (``meta["options"]``); ``sampler.kind`` / ``scheduler.kind`` are checked
against them. Adding one is one module plus one entry.

Everything is checked by :func:`load_spec` before any work starts; a bad spec raises :class:`SpecError` whose
message starts with the dotted spec key (``space.fusion.mid.layers.when: ...``).

Seeds: with the grid sampler the seed is one more grid dimension (an Optuna parameter ``seed``). With tpe and
random the sampler proposes configurations and the runner repeats each one for every further seed by enqueuing
the same parameters (the seed is the trial's user attribute ``seed``, not a parameter the sampler models).
``budget.num_samples`` counts trials (configuration x seed) in the whole study.

Example::

    >>> spec = load_spec({"name": "demo", "base": {"train": {"epochs": 2}},
    ...                   "space": {"fusion.kind": {"categorical": ["none", "mid"]},
    ...                             "fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "mid"}}},
    ...                   "sampler": {"kind": "grid"}}, check_registries=False)
    >>> [sorted(p.items()) for p in grid_points(spec)]  # doctest: +NORMALIZE_WHITESPACE
    [[('fusion.kind', 'none'), ('seed', 0)],
     [('fusion.kind', 'mid'), ('fusion.mid.layers', 1), ('seed', 0)],
     [('fusion.kind', 'mid'), ('fusion.mid.layers', 2), ('seed', 0)]]
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from retrieval.checks import boolean, is_int, is_integral, is_number, is_real, number, require
from retrieval.config import (AUDIO_ENCODERS, FUSIONS, TEXT_ENCODERS, ConfigError, TrialConfig, canonical_key,
                              deep_merge, load_raw, parse_override, upgrade_raw)
from retrieval.registry import Registry

from . import budgeted
from .errors import SpecError


TOP_KEYS = ("name", "storage", "base", "space", "variants", "sampler", "scheduler", "budget", "resources",
            "objective", "seeds")
KINDS = ("uniform", "loguniform", "int", "categorical")
VARIANT = "variant"  # the space key that selects one of `variants`
SEED = "seed"  # the grid dimension over `seeds` (grid sampler only)

# Every TPE option is set explicitly when the sampler is built, so a study samples the same way under another
# Optuna version (Optuna 5 changed the defaults of multivariate and constant_liar). These are the values used when
# a spec leaves an option out; `gamma`/`gamma_max` stand for Optuna's default gamma(n) = min(ceil(gamma*n), gamma_max).
TPE_DEFAULTS: dict[str, Any] = {
    "seed": 0, "n_startup_trials": 10, "n_ei_candidates": 24, "multivariate": True, "group": False,
    "constant_liar": True, "consider_endpoints": False, "consider_prior": True, "prior_weight": 1.0,
    "consider_magic_clip": True, "gamma": 0.1, "gamma_max": 25, "warn_independent_sampling": False,
}

# --------------------------------------------------------------------------------------------- plug-in registries
#: ``sampler.kind``: ``(options, seed) -> optuna.samplers.BaseSampler`` (``studies.study``). ``options``: the
#: options of the kind and their defaults (a spec sets any of them); ``grid``: every grid point is enqueued (the
#: parameters must be discrete and the seed is one more grid dimension); ``example``: options of a small run.
SAMPLERS = Registry("sampler", key="sampler.kind", error=SpecError)
SAMPLERS.declare("tpe", "studies.study:build_tpe", "Optuna's TPE with every option pinned (TPE_DEFAULTS)",
                 example={"n_startup_trials": 3}, options=TPE_DEFAULTS, grid=False)
SAMPLERS.declare("random", "studies.study:build_random", "independent uniform draws", options={"seed": 0},
                 grid=False)
SAMPLERS.declare("grid", "studies.study:build_grid",
                 "every grid point (x seeds) enqueued once; the sampler passes them through", options={}, grid=True)

#: ``scheduler.kind``: ``(options, *, metric, mode, max_epochs) -> TrialScheduler`` (``studies.schedulers``; a
#: STOP becomes a stop request the trial honours). ``options`` as for samplers; ``patience`` (epochs without
#: improvement of the objective, passed to fit as ``train.patience``) works with every kind. ``prunes``: the
#: scheduler stops trials that fall behind (``fifo`` never does); ``budgeted``: successive halving by promotion
#: (:mod:`studies.budgeted`): the searcher enqueues the promotions and each job has a budget; ``schedule``: a budgeted
#: job ``continue``-s its run on the full schedule (a promotion starts from the stopped run's checkpoint) or
#: ``restart``-s from scratch with a complete schedule of its budget.
SCHEDULERS = Registry("scheduler", key="scheduler.kind", error=SpecError)
SCHEDULERS.declare("fifo", "studies.schedulers:build_fifo", "no early stopping by the scheduler",
                   options={"patience": None}, prunes=False)
SCHEDULERS.declare("asha", "studies.schedulers:build_asha", "asynchronous successive halving (one bracket)",
                   example={"reduction_factor": 2}, prunes=True,
                   options={"grace_period": 1, "reduction_factor": 3, "brackets": 1, "patience": None})
SCHEDULERS.declare("hyperband", "studies.schedulers:build_asha",
                   "asynchronous HyperBand: ASHA with several brackets (no pausing)",
                   example={"reduction_factor": 2, "brackets": 2}, prunes=True,
                   options={"grace_period": 1, "reduction_factor": 3, "brackets": 3, "patience": None})
SCHEDULERS.declare("median", "studies.schedulers:build_median",
                   "the median stopping rule: stop a trial below the median of the others at the same epoch",
                   example={"min_samples_required": 2}, prunes=True,
                   options={"grace_period": 1, "min_samples_required": 3, "patience": None})

SCHEDULERS.declare("promotion_sh", "studies.schedulers:build_budgeted",
                   "successive halving by promotion: a job stops after its rung's epochs of the full schedule; a "
                   "promotion is a new trial continuing the stopped run (studies/budgeted.py)",
                   options=budgeted.OPTIONS, prunes=False, budgeted=True, schedule="continue")
SCHEDULERS.declare("budgeted_sh", "studies.schedulers:build_budgeted",
                   "budgeted successive halving: every rung trains a complete schedule of its budget "
                   "(studies/budgeted.py)", options=budgeted.OPTIONS, prunes=False, budgeted=True, schedule="restart")

#: Every registry of the study runner, for the shared contract tests (``tests/contract``).
REGISTRIES: tuple[Registry, ...] = (SAMPLERS, SCHEDULERS)
BUDGET_DEFAULTS = {"num_samples": None, "max_epochs": None, "time_budget_s": None}
RESOURCES_DEFAULTS = {"cpu": 1, "gpu": 0, "max_concurrent": 1}
OBJECTIVE_DEFAULTS = {"metric": "val_map10", "mode": "max"}
# what retrieval.train.fit reports after every validation (the objective must be one of them)
OBJECTIVE_METRICS = ("val_map10", "val_r1", "val_r5", "val_r10", "val_median_rank", "val_mean_rank", "loss")
# config keys whose values are registry names (the config checks them too; here the message names the spec key)
NAME_REGISTRIES: dict[str, Registry] = {r.key: r for r in (AUDIO_ENCODERS, TEXT_ENCODERS, FUSIONS)}


# --------------------------------------------------------------------------------------------- the schema
@dataclass(frozen=True)
class Param:
    """One search-space dimension: ``kind`` is uniform, loguniform, int or categorical.

    ``when`` holds the conditions ``(other_key, allowed_values)``; the parameter exists in a trial only when every
    condition holds (and the parameters it depends on exist).
    """

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    choices: tuple[Any, ...] = ()
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def values(self) -> list[Any]:
        """Every value of a discrete parameter (categorical choices, or the int range with its step)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        raise SpecError(f"space.{self.key}: a {self.kind} parameter has no finite list of values")

    def contains(self, value: Any) -> bool:
        if self.kind == "categorical":
            return any(_same(value, c) for c in self.choices)
        if not is_real(value):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.kind == "int":
            return float(value).is_integer() and (int(value) - int(self.low)) % int(self.step or 1) == 0
        return True

    def active(self, assigned: Mapping[str, Any]) -> bool:
        return all(k in assigned and any(_same(assigned[k], v) for v in allowed) for k, allowed in self.when)

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1))
        if self.kind == "loguniform":
            return trial.suggest_float(self.key, float(self.low), float(self.high), log=True)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: list(self.choices) if self.kind == "categorical" else [self.low, self.high]}
        if self.step is not None:
            out["step"] = self.step
        if self.when:
            out["when"] = {k: list(v) if len(v) > 1 else v[0] for k, v in self.when}
        return out


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec. ``base`` already holds what the budget, resources and scheduler imply
    (``train.epochs = budget.max_epochs``, ``train.num_threads = resources.cpu``, ``train.patience``,
    ``train.progress = false``); ``params`` are in an order where every condition comes before its users."""

    name: str
    storage: str | None
    base: TrialConfig
    params: tuple[Param, ...]
    variants: dict[str, dict[str, Any]]
    sampler: dict[str, Any]
    scheduler: dict[str, Any]
    budget: dict[str, Any]
    resources: dict[str, Any]
    objective: dict[str, Any]
    seeds: tuple[int, ...]
    source: str | None = None  # the spec file, for messages
    base_from: dict[str, Any] | None = None  # base: {study: ...}: the trial the base was taken from
    #: a sequential ablation (``seeds: {min, max, delta, ...}``; :mod:`studies.sequential`): ``{"min", "max",
    #: "delta", "alpha", "control"}``, ``seeds`` then holds the ``max`` seeds in the order they are run
    sequential: dict[str, Any] | None = None

    @property
    def is_grid(self) -> bool:
        """True when the sampler enqueues the grid (``SAMPLERS`` entry with ``grid``)."""
        return bool(SAMPLERS.entry(self.sampler["kind"]).meta.get("grid", False))

    @property
    def is_budgeted(self) -> bool:
        """True when the scheduler is successive halving by promotion (``SCHEDULERS`` entry with ``budgeted``):
        the searcher enqueues the promotions and every job has a budget (:mod:`studies.budgeted`)."""
        return bool(SCHEDULERS.entry(self.scheduler["kind"]).meta.get("budgeted", False))

    @property
    def restarts_jobs(self) -> bool:
        """True when a budgeted job trains a complete schedule of its budget from scratch (``schedule: restart``);
        False when it continues its run on the full schedule (``continue``: a promotion starts from the stopped
        run's checkpoint)."""
        return SCHEDULERS.entry(self.scheduler["kind"]).meta.get("schedule") == "restart"

    @property
    def num_samples(self) -> int:
        """Trials in the whole study (for grid: the grid size unless the budget says less)."""
        n = self.budget["num_samples"]
        return len(grid_points(self)) if n is None else int(n)

    @property
    def max_epochs(self) -> int:
        return self.base.train.epochs

    @property
    def space(self) -> "SearchSpace":
        return SearchSpace(self.params, self.seeds if self.is_grid else None)

    def param(self, key: str) -> Param:
        return next(p for p in self.params if p.key == key)

    def overrides(self, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """The dotted TrialConfig overrides of one trial: its variant's overrides, then its parameters, then
        ``train.seed``."""
        out: dict[str, Any] = {}
        if VARIANT in params:
            out.update(self.variants[params[VARIANT]])
        out.update({k: v for k, v in params.items() if k not in (VARIANT, SEED)})
        out["train.seed"] = int(seed)
        return out

    def trial_config(self, params: Mapping[str, Any], seed: int) -> TrialConfig:
        return self.base.with_overrides(self.overrides(params, seed))

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec (every default filled in, base expanded), as plain YAML-able data."""
        return {"name": self.name, "storage": self.storage, "base": self.base.to_dict(),
                "space": {p.key: p.to_dict() for p in self.params}, "variants": copy.deepcopy(self.variants),
                "sampler": dict(self.sampler), "scheduler": dict(self.scheduler), "budget": dict(self.budget),
                "resources": dict(self.resources), "objective": dict(self.objective),
                "seeds": ({**self.sequential, "values": list(self.seeds)} if self.sequential else list(self.seeds)),
                **({"base_from": dict(self.base_from)} if self.base_from else {})}


class SearchSpace:
    """The define-by-run function of a spec: asks the trial for every active parameter, in dependency order,
    and returns ``{dotted_key: value}`` (plus ``seed`` for the grid). Picklable."""

    def __init__(self, params: Sequence[Param], grid_seeds: Sequence[int] | None = None):
        self.params = tuple(params)
        self.grid_seeds = tuple(grid_seeds) if grid_seeds is not None else None

    def __call__(self, trial) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for p in self.params:
            if p.active(values):
                values[p.key] = p.suggest(trial)
        if self.grid_seeds is not None:
            values[SEED] = trial.suggest_categorical(SEED, list(self.grid_seeds))
        return values


def grid_points(spec: StudySpec) -> list[dict[str, Any]]:
    """Every grid point, conditions honoured (an inactive parameter does not multiply the grid), times the seeds.
    Order: parameters in spec order, the first one varying slowest; the seed varies fastest."""
    points: list[dict[str, Any]] = [{}]
    for p in spec.params:
        grown: list[dict[str, Any]] = []
        for pt in points:
            if p.active(pt):
                grown.extend({**pt, p.key: v} for v in p.values())
            else:
                grown.append(pt)
        points = grown
    return [{**pt, SEED: s} for pt in points for s in spec.seeds]


# --------------------------------------------------------------------------------------------- loading
def load_spec(source: str | Path | Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any] = (), *,
              check_registries: bool = True) -> StudySpec:
    """Read, override (``--set key=value``), validate and resolve a study spec.

    ``source`` is a YAML file or a mapping. ``overrides`` are ``key=value`` strings (values read as YAML) or a
    mapping of dotted spec keys: ``budget.num_samples=4``, ``base.train.epochs=2`` (a TrialConfig key under
    ``base``), ``space.fusion.mid.layers.int=[1, 2]``, ``base=synthcaps-tiny``. ``check_registries`` checks the
    encoder and fusion names of the space, the variants and the base against their registries first, so the
    message names the spec key (the config checks them as well; nothing heavy is imported either way).
    """
    if isinstance(source, Mapping):
        raw, spec_dir, where = copy.deepcopy(dict(source)), Path.cwd(), None
    else:
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"spec: file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise SpecError(f"spec: {path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise SpecError(f"spec: {path} must hold a mapping at the top level")
        spec_dir, where = path.resolve().parent, str(path)
    pairs = _override_pairs(overrides)
    base_overrides: dict[str, Any] = {}
    for key, value in pairs:
        if key == "base":
            raw["base"], base_overrides = value, {}
        elif key[len("base."):] in BASE_FROM_KEYS and key.startswith("base.") and (
                key == "base.study" or (isinstance(raw.get("base"), Mapping) and "study" in raw["base"])):
            # base: {study: ...}: --set base.trial=12 pins the trial, --set base.study=NAME starts from a study
            current = raw.get("base") if isinstance(raw.get("base"), Mapping) and "study" in raw["base"] else {}
            raw["base"] = {**current, key[len("base."):]: value}
        elif key.startswith("base."):
            base_overrides[key[len("base."):]] = value
        else:
            _apply_override(raw, key, value)
    return _build(raw, base_overrides, spec_dir, where, check_registries)


def _override_pairs(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    pairs = []
    for text in overrides:
        try:
            pairs.append(parse_override(text))
        except ConfigError as exc:
            raise SpecError(str(exc)) from None
    return pairs


def _apply_override(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted spec key. Under ``space`` the parameter names contain dots themselves: the longest existing
    parameter name that prefixes the rest is the parameter (``space.fusion.mid.layers.int`` -> parameter
    ``fusion.mid.layers``, field ``int``); without one the whole rest names a new parameter."""
    head, _, rest = key.partition(".")
    if head not in TOP_KEYS:
        raise SpecError(f"{key}: unknown key (known keys: {', '.join(TOP_KEYS)})")
    if not rest:
        raw[head] = value
        return
    if head in ("space", "variants"):
        section = raw.setdefault(head, {})
        if not isinstance(section, dict):
            raise SpecError(f"{head}: expected a mapping, cannot set {key}")
        names = sorted((n for n in section if rest == n or rest.startswith(f"{n}.")), key=len, reverse=True)
        if head == "variants":  # variants.NAME.dotted.key: NAME has no dots
            name, _, sub = rest.partition(".")
            names = [name] if sub else []
        if not names:
            section[rest] = value
            return
        name = names[0]
        sub = rest[len(name) + 1:]
        if not sub:
            section[name] = value
            return
        entry = section.setdefault(name, {})
        if not isinstance(entry, dict):
            raise SpecError(f"{head}.{name}: expected a mapping, cannot set {key}")
        if head == "variants":
            entry[sub] = value
        else:
            _set_nested(entry, sub.split("."), value, f"{head}.{name}")
        return
    section = raw.setdefault(head, {})
    if not isinstance(section, dict):
        raise SpecError(f"{head}: expected a mapping, cannot set {key}")
    _set_nested(section, rest.split("."), value, head)


def _set_nested(node: dict[str, Any], parts: list[str], value: Any, prefix: str) -> None:
    for i, part in enumerate(parts[:-1]):
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise SpecError(f"{prefix}.{'.'.join(parts[: i + 1])}: is not a mapping")
        node = nxt
    node[parts[-1]] = value


def _build(raw: dict[str, Any], base_overrides: dict[str, Any], spec_dir: Path, where: str | None,
           check_registries: bool) -> StudySpec:
    _no_unknown(raw, TOP_KEYS, "")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name or name.strip() != name:
        raise SpecError(f"name: expected a non-empty study name without '/' or surrounding spaces, got {name!r}")
    storage = raw.get("storage")
    if storage is not None and (not isinstance(storage, str) or not storage):
        raise SpecError(f"storage: expected a URL string or null, got {storage!r}")

    sampler = _options(raw.get("sampler"), SAMPLERS, "sampler", default="tpe")
    scheduler = _options(raw.get("scheduler"), SCHEDULERS, "scheduler", default="fifo")
    budget = _section(raw.get("budget"), BUDGET_DEFAULTS, "budget")
    resources = _section(raw.get("resources"), RESOURCES_DEFAULTS, "resources")
    objective = _section(raw.get("objective"), OBJECTIVE_DEFAULTS, "objective")
    _check_sampler(sampler)
    _check_scheduler(scheduler)
    _check_budget(budget)
    _check_resources(resources)
    if objective["metric"] not in OBJECTIVE_METRICS:
        raise SpecError(f"objective.metric: {objective['metric']!r} is not reported by training "
                        f"(reported: {', '.join(OBJECTIVE_METRICS)})")
    if objective["mode"] not in ("max", "min"):
        raise SpecError(f"objective.mode: expected max or min, got {objective['mode']!r}")

    base_from = None
    if isinstance(raw.get("base"), Mapping) and "study" in raw["base"]:
        base, base_from = base_from_study(raw["base"], base_overrides)
    else:
        base = _load_base(raw.get("base", {}), base_overrides, spec_dir)
    if budget["max_epochs"] is not None and "train.epochs" in base_overrides \
            and not _same(base_overrides["train.epochs"], budget["max_epochs"]):
        raise SpecError(f"base.train.epochs: {base_overrides['train.epochs']!r} would be overridden by "
                        f"budget.max_epochs ({budget['max_epochs']}), which sets every trial's epochs; set "
                        f"budget.max_epochs instead (--set budget.max_epochs={base_overrides['train.epochs']})")
    implied = {"train.progress": False, "train.num_threads": int(resources["cpu"])}
    if base_from is not None:  # the source study's early stopping was its own protocol, not part of the recipe
        implied["train.patience"] = scheduler.get("patience")
    if budget["max_epochs"] is not None:
        implied["train.epochs"] = int(budget["max_epochs"])
    if scheduler.get("patience") is not None:
        implied["train.patience"] = int(scheduler["patience"])
    if resources["gpu"] > 0:
        implied["train.device"] = "cuda"
    try:
        base = base.with_overrides(implied)
    except ConfigError as exc:  # e.g. an out-of-range max_epochs
        raise SpecError(f"budget: {exc}") from None

    seeds, sequential = _seeds(raw.get("seeds"), base)
    if sequential is not None:  # pairs share their initial weights and data order (also for a base from a study)
        base = base.with_overrides({"train.seed_streams.mode": "split"})
    if SCHEDULERS.entry(scheduler["kind"]).meta.get("budgeted", False):
        if scheduler.get("rungs") is not None:  # a reduced budget.max_epochs cuts the rungs above it
            scheduler["rungs"] = budgeted.fit_rungs(scheduler["rungs"], base.train.epochs)
        n = budget["num_samples"]
        budgeted.check_options(scheduler, base.train.epochs, seeds, SpecError,
                               num_samples=n if is_int(n) else None)
    raw_space = raw.get("space") or {}
    if not isinstance(raw_space, dict):
        raise SpecError(f"space: expected a mapping of dotted config keys to distributions, got {raw_space!r}")
    if not raw_space and not SAMPLERS.entry(sampler["kind"]).meta.get("grid", False):
        raise SpecError(f"space: empty: every trial of the {sampler['kind']} sampler would train the same "
                        "configuration; add a parameter to search (or, to repeat one configuration over seeds, "
                        "use sampler.kind: grid with a seeds list)")
    variants = _variants(raw.get("variants") or {}, raw_space, base)
    params = _order([_param(str(k), v, variants) for k, v in raw_space.items()])
    if check_registries:  # before the values are tried in the config: the message names the spec key
        _check_registry_names(params, variants, base)
    _check_params(params, base, variants)

    spec = StudySpec(name=name, storage=storage, base=base, params=tuple(params), variants=variants, sampler=sampler,
                     scheduler=scheduler, budget=budget, resources=resources, objective=objective, seeds=seeds,
                     source=where, base_from=base_from, sequential=sequential)
    n = budget["num_samples"]
    if sequential is not None:
        _check_sequential(spec)
    if spec.is_grid:
        for p in params:
            if p.kind not in ("int", "categorical"):
                raise SpecError(f"space.{p.key}: the grid sampler needs categorical or int parameters, "
                                f"not {p.kind}")
        size = len(grid_points(spec))
        if n is not None and n > size:
            raise SpecError(f"budget.num_samples: {n} is more than the {size} grid points (x seeds); "
                            "leave it null for the whole grid")
    else:
        if n is None:
            raise SpecError(f"budget.num_samples: required for the {sampler['kind']} sampler")
        if n % len(seeds):
            raise SpecError(f"budget.num_samples: {n} is not a multiple of the {len(seeds)} seeds "
                            "(each configuration runs once per seed)")
    return spec


def _no_unknown(raw: Mapping[str, Any], known: Iterable[str], prefix: str) -> None:
    known = list(known)
    for key in raw:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise SpecError(f"{where}: unknown key (known keys{' here' if prefix else ''}: {', '.join(known)})")


def _section(raw: Any, defaults: Mapping[str, Any], key: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"{key}: expected a mapping, got {raw!r}")
    _no_unknown(raw, defaults, key)
    return {**defaults, **raw}


def _options(raw: Any, registry: Registry, key: str, default: str) -> dict[str, Any]:
    """``{kind, every option of the kind}``: the registry entry's defaults (``meta["options"]``) updated by ``raw``."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, Mapping):
        raise SpecError(f"{key}: expected a mapping with a kind, got {raw!r}")
    kind = registry.check(raw.get("kind", default), key=f"{key}.kind")
    defaults = registry.entry(kind).meta.get("options", {})
    _no_unknown({k: v for k, v in raw.items() if k != "kind"}, defaults, key)
    return {"kind": kind, **defaults, **{k: v for k, v in raw.items() if k != "kind"}}


def _need(cond: bool, key: str, msg: str) -> None:
    require(cond, key, msg, SpecError)


def _check_sampler(s: dict[str, Any]) -> None:
    for name in ("seed", "n_startup_trials", "n_ei_candidates", "gamma_max"):
        if name in s:
            _need(is_int(s[name]) and s[name] >= 0, f"sampler.{name}", f"expected an integer >= 0, got {s[name]!r}")
    for name in ("multivariate", "group", "constant_liar", "consider_endpoints", "consider_prior",
                 "consider_magic_clip", "warn_independent_sampling"):
        if name in s:
            boolean(s[name], f"sampler.{name}", SpecError)
    if "gamma" in s:
        _need(is_number(s["gamma"]) and 0 < s["gamma"] <= 1, "sampler.gamma", "expected a fraction in (0, 1]")
    if "prior_weight" in s:
        _need(is_number(s["prior_weight"]) and s["prior_weight"] > 0, "sampler.prior_weight", "expected > 0")
    if s.get("group"):
        _need(s.get("multivariate", False), "sampler.group", "needs multivariate: true")
    if "n_ei_candidates" in s:
        _need(s["n_ei_candidates"] >= 1, "sampler.n_ei_candidates", "expected >= 1")


def _check_scheduler(s: dict[str, Any]) -> None:
    for name in ("grace_period", "reduction_factor", "brackets", "min_samples_required"):
        if name in s:
            _need(is_int(s[name]) and s[name] >= 1, f"scheduler.{name}", f"expected an integer >= 1, got {s[name]!r}")
    if "reduction_factor" in s:
        _need(s["reduction_factor"] >= 2, "scheduler.reduction_factor", "expected >= 2")
    p = s.get("patience")
    _need(p is None or (is_int(p) and p >= 1), "scheduler.patience", f"expected an integer >= 1 or null, got {p!r}")


def _check_budget(b: dict[str, Any]) -> None:
    n = b["num_samples"]
    _need(n is None or (is_int(n) and n >= 1), "budget.num_samples", f"expected an integer >= 1, got {n!r}")
    e = b["max_epochs"]
    _need(e is None or (is_int(e) and e >= 1), "budget.max_epochs", f"expected an integer >= 1 or null, got {e!r}")
    t = b["time_budget_s"]
    _need(t is None or (is_number(t) and t > 0), "budget.time_budget_s", f"expected seconds > 0 or null, got {t!r}")


def _check_resources(r: dict[str, Any]) -> None:
    _need(is_int(r["cpu"]) and r["cpu"] >= 1, "resources.cpu", f"expected an integer >= 1, got {r['cpu']!r}")
    _need(is_number(r["gpu"]) and r["gpu"] >= 0, "resources.gpu", f"expected a number >= 0, got {r['gpu']!r}")
    m = r["max_concurrent"]
    _need(is_int(m) and m >= 1, "resources.max_concurrent", f"expected an integer >= 1, got {m!r}")


def _load_base(raw: Any, overrides: Mapping[str, Any], spec_dir: Path) -> TrialConfig:
    try:
        if isinstance(raw, str):
            local = spec_dir / raw
            cfg_raw = load_raw(local if local.is_file() else raw)
        elif isinstance(raw, Mapping):
            cfg_raw = upgrade_raw(raw)  # old spellings (audio_encoder.width) where the parent has the new ones
            parent = cfg_raw.pop("extends", None)
            if parent is not None:
                local = spec_dir / str(parent)
                cfg_raw = deep_merge(load_raw(local if local.is_file() else parent), cfg_raw)
        elif raw is None:
            cfg_raw = {}
        else:
            raise SpecError(f"base: expected a named config, a YAML file or a mapping, got {raw!r}")
        return TrialConfig.from_dict(cfg_raw).with_overrides(overrides)
    except ConfigError as exc:
        msg = str(exc)
        raise SpecError(f"base{msg[len('config'):]}" if msg.startswith("config:") else f"base.{msg}") from None


BASE_FROM_KEYS = ("study", "storage", "trial", "runs_dir")


def base_from_study(raw: Mapping[str, Any], overrides: Mapping[str, Any] = ()) -> tuple[TrialConfig, dict]:
    """``base: {study: NAME, storage: URL, trial: best | N, runs_dir: DIR}``: the configuration of a trial of
    another study, read from that trial's run directory (``config.yaml``, the exact resolved config it trained).

    ``storage`` defaults to the study's default SQLite file ``RUNS_DIR/NAME/optuna.db`` (``runs_dir`` default
    ``runs``); ``trial: best`` (the default) is the COMPLETE trial with the best objective value (ties: the lowest
    number). Returns the config (with ``overrides`` applied) and where it came from: ``{study, storage, trial,
    value, run_dir, selected}``, recorded in the resolved spec so that a re-run can tell when ``best`` moved.
    This is how a controlled ablation starts from a search's incumbent (the DCASE 2022 workflow)."""
    import optuna
    from optuna.trial import TrialState

    from .storage import open_storage, resolve

    _no_unknown(dict(raw), BASE_FROM_KEYS, "base")
    name = raw.get("study")
    if not isinstance(name, str) or not name:
        raise SpecError(f"base.study: expected the name of a study, got {name!r}")
    runs_dir = raw.get("runs_dir", "runs")
    if not isinstance(runs_dir, str) or not runs_dir:
        raise SpecError(f"base.runs_dir: expected a folder, got {runs_dir!r}")
    which = raw.get("trial", "best")
    if not (which == "best" or (is_int(which) and which >= 0)):
        raise SpecError(f"base.trial: expected best or a trial number >= 0, got {which!r}")
    surl = resolve(raw.get("storage"), (Path(runs_dir) / name).resolve())
    if surl.path is not None and not surl.path.exists():
        raise SpecError(f"base.study: no study {name!r}: the storage file {surl.path} does not exist (run that "
                        "study first, or give base.storage / base.runs_dir)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_obj = open_storage(surl, write=False)
    try:
        study = optuna.load_study(study_name=name, storage=storage_obj)
    except KeyError:
        names = sorted(x.study_name for x in optuna.get_all_study_summaries(storage_obj, include_best_trial=False))
        raise SpecError(f"base.study: no study {name!r} in {surl}; studies there: "
                        f"{', '.join(map(repr, names)) or 'none'}") from None
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and t.value is not None]
    if which == "best":
        if not done:
            raise SpecError(f"base.trial: the study {name!r} in {surl} has no COMPLETE trial yet")
        sign = -1.0 if study.direction.name == "MAXIMIZE" else 1.0
        trial = min(done, key=lambda t: (sign * t.value, t.number))
    else:
        trial = next((t for t in done if t.number == which), None)
        if trial is None:
            raise SpecError(f"base.trial: the study {name!r} in {surl} has no COMPLETE trial #{which}")
    run_dir = trial.user_attrs.get("run_dir")
    config_file = Path(run_dir) / "config.yaml" if run_dir else None
    if config_file is None or not config_file.is_file():
        raise SpecError(f"base.trial: trial #{trial.number} of {name!r} has no run directory with a config.yaml "
                        f"({config_file or 'no run_dir attribute'}); is --runs-dir the one the study ran in?")
    try:
        base = TrialConfig.load(config_file).with_overrides(dict(overrides))
    except ConfigError as exc:
        raise SpecError(f"base: {config_file}: {exc}") from None
    return base, {"study": name, "storage": surl.display(), "trial": trial.number, "value": trial.value,
                  "run_dir": str(run_dir), "selected": str(which)}


def _seeds(raw: Any, base: TrialConfig) -> tuple[tuple[int, ...], dict[str, Any] | None]:
    """``seeds``: a list (every configuration runs every seed), or a sequential design (a mapping, below)."""
    if raw is None:
        return (base.train.seed,), None
    if isinstance(raw, Mapping):
        return _sequential_seeds(raw)
    if is_int(raw):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(is_int(s) and s >= 0 for s in raw):
        raise SpecError(f"seeds: expected a non-empty list of integers >= 0, or a sequential design "
                        f"{{min: 3, max: 10, delta: 0.02}}, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise SpecError(f"seeds: repeated seed in {raw}")
    return tuple(raw), None


#: ``seeds: {...}``, a sequential ablation (studies/sequential.py): its keys and defaults
SEQUENTIAL_DEFAULTS: dict[str, Any] = {"min": 3, "max": 10, "delta": None, "alpha": 0.05, "control": "full",
                                       "first": 0, "values": None}


def _sequential_seeds(raw: Mapping[str, Any]) -> tuple[tuple[int, ...], dict[str, Any]]:
    _no_unknown(raw, SEQUENTIAL_DEFAULTS, "seeds")
    d = {**SEQUENTIAL_DEFAULTS, **raw}
    for key in ("min", "max"):
        if not is_int(d[key]):
            raise SpecError(f"seeds.{key}: expected an integer, got {d[key]!r}")
    if d["min"] < 3:
        raise SpecError(f"seeds.min: expected an integer >= 3 (a paired t-test on 2 seeds has 1 df), got {d['min']}")
    if d["max"] < d["min"]:
        raise SpecError(f"seeds.max: expected an integer >= seeds.min ({d['min']}), got {d['max']}")
    delta = d["delta"]
    if delta is None:
        raise SpecError("seeds.delta: required: the margin of practical relevance in objective units (0.02 = 2 pp "
                        "of mAP); a row whose repeated CI lies inside +-delta stops as 'no effect larger than delta'")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise SpecError(f"seeds.delta: expected a number in (0, 1) in objective units (0.02 = 2 pp), got {delta!r}")
    alpha = d["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise SpecError(f"seeds.alpha: expected a number in (0, 0.5), got {alpha!r}")
    if not isinstance(d["control"], str) or not d["control"]:
        raise SpecError(f"seeds.control: expected the name of the baseline variant, got {d['control']!r}")
    values = d["values"]
    if values is None:
        if not is_int(d["first"]) or d["first"] < 0:
            raise SpecError(f"seeds.first: expected an integer >= 0, got {d['first']!r}")
        values = list(range(d["first"], d["first"] + d["max"]))
    if not isinstance(values, list) or not all(is_int(v) and v >= 0 for v in values):
        raise SpecError(f"seeds.values: expected a list of integers >= 0 (the seeds in the order they are run), "
                        f"got {values!r}")
    if len(set(values)) != len(values):
        raise SpecError(f"seeds.values: repeated seed in {values}")
    if len(values) != d["max"]:
        raise SpecError(f"seeds.values: {len(values)} seed(s), but seeds.max is {d['max']}: give one seed per look")
    return tuple(int(v) for v in values), {"min": int(d["min"]), "max": int(d["max"]), "delta": float(delta),
                                           "alpha": float(alpha), "control": d["control"]}


def _check_sequential(spec: StudySpec) -> None:
    """A sequential ablation compares variants with a control on paired seeds: a grid over ``variant`` alone, every
    trial run to the end (no pruning), the whole grid as the upper bound of the budget."""
    if not spec.is_grid:
        raise SpecError(f"seeds: a sequential design needs sampler.kind: grid (got {spec.sampler['kind']}): "
                        "the rows are the grid's variants")
    keys = [p.key for p in spec.params]
    if keys != [VARIANT]:
        raise SpecError(f"seeds: a sequential design ablates `variant` alone (space: {{variant: {{categorical: "
                        f"[...]}}}}), got space keys {keys}")
    choices = list(spec.param(VARIANT).values())
    control = spec.sequential["control"]
    if control not in choices:
        raise SpecError(f"seeds.control: {control!r} is not one of the variants searched ({', '.join(choices)})")
    if len(choices) < 2:
        raise SpecError("space.variant: a sequential ablation needs the control and at least one other variant")
    entry = SCHEDULERS.entry(spec.scheduler["kind"]).meta
    if entry.get("prunes", True) or entry.get("budgeted", False) or spec.scheduler.get("patience") is not None:
        raise SpecError(f"scheduler: a sequential design needs every run trained to the end (scheduler.kind: fifo "
                        f"without patience), got {spec.scheduler}")
    if spec.budget["num_samples"] is not None:
        raise SpecError("budget.num_samples: leave it null for a sequential design (the runner adds seeds until "
                        "every row is decided or has seeds.max)")


def _variants(raw: Any, raw_space: Mapping[str, Any], base: TrialConfig) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        raise SpecError(f"variants: expected a mapping of names to {{dotted.key: value}}, got {raw!r}")
    out: dict[str, dict[str, Any]] = {}
    for name, sets in raw.items():
        key = f"variants.{name}"
        if not isinstance(name, str) or not name:
            raise SpecError(f"{key}: variant names must be non-empty strings")
        sets = {} if sets is None else sets
        if not isinstance(sets, Mapping):
            raise SpecError(f"{key}: expected a mapping of dotted config keys to values, got {sets!r}")
        for dotted in sets:
            _check_config_key(base, str(dotted), f"{key}.{dotted}")
            if dotted in raw_space:
                raise SpecError(f"{key}.{dotted}: is also a space parameter; a key is either searched or "
                                "set by variants")
        try:  # together: a variant may need several keys at once (text_encoder.name: hf + text_encoder.path)
            base.with_overrides(sets)
        except ConfigError as exc:
            culprit = str(exc).split(":", 1)[0]
            raise SpecError(f"{key}.{culprit}: {exc}" if culprit in sets else f"{key}: {exc}") from None
        out[name] = {str(k): v for k, v in sets.items()}
    if out and VARIANT not in raw_space:
        raise SpecError(f"variants: declared, but the space has no '{VARIANT}' parameter to choose them "
                        f"(add space.{VARIANT}: {{categorical: [{', '.join(out)}]}})")
    return out


def _param(key: str, raw: Any, variants: Mapping[str, Any]) -> Param:
    where = f"space.{key}"
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: expected a mapping like {{uniform: [lo, hi]}}, got {raw!r}")
    kinds = [k for k in raw if k in KINDS]
    if len(kinds) != 1:
        raise SpecError(f"{where}: expected exactly one of {', '.join(KINDS)}, got {', '.join(map(str, raw)) or 'none'}")
    kind = kinds[0]
    _no_unknown(raw, (kind, "step", "when"), where)
    arg = raw[kind]
    step = raw.get("step")
    when = _conditions(raw.get("when"), f"{where}.when")
    if kind == "categorical":
        if step is not None:
            raise SpecError(f"{where}.step: only for int and uniform parameters")
        if not isinstance(arg, list) or not arg:
            raise SpecError(f"{where}.categorical: expected a non-empty list of choices, got {arg!r}")
        for c in arg:
            if c is not None and not isinstance(c, (str, int, float, bool)):
                raise SpecError(f"{where}.categorical: choices must be strings, numbers, booleans or null, got {c!r}")
        if len({repr(c) for c in arg}) != len(arg):
            raise SpecError(f"{where}.categorical: repeated choice in {arg}")
        if key == VARIANT:
            for c in arg:
                if c not in variants:
                    raise SpecError(f"{where}.categorical: unknown variant {c!r} "
                                    f"(variants: {', '.join(variants) or 'none declared'})")
        return Param(key, kind, choices=tuple(arg), when=when)
    if key in (VARIANT, SEED):
        raise SpecError(f"{where}: '{key}' must be a categorical parameter")
    if not isinstance(arg, list) or len(arg) != 2:
        raise SpecError(f"{where}.{kind}: expected [lo, hi], got {arg!r}")
    lo, hi = (number(v, f"{where}.{kind}", SpecError, finite=True) for v in arg)
    if lo >= hi:
        raise SpecError(f"{where}.{kind}: empty range [{lo}, {hi}] (need lo < hi)")
    if kind == "loguniform" and lo <= 0:
        raise SpecError(f"{where}.loguniform: a log range needs lo > 0, got [{lo}, {hi}]")
    if kind == "int":
        if not all(is_integral(v) for v in (lo, hi)):
            raise SpecError(f"{where}.int: expected integer bounds, got [{lo}, {hi}]")
        lo, hi = int(lo), int(hi)
        if step is not None and not (is_int(step) and step >= 1):
            raise SpecError(f"{where}.step: expected an integer >= 1, got {step!r}")
        if step is not None and (hi - lo) % step:
            raise SpecError(f"{where}.step: {step} does not divide the range [{lo}, {hi}]")
    elif kind == "loguniform" and step is not None:
        raise SpecError(f"{where}.step: not allowed with loguniform")
    elif step is not None:
        step = number(step, f"{where}.step", SpecError, finite=True)
        if step <= 0:
            raise SpecError(f"{where}.step: expected > 0, got {step!r}")
    return Param(key, kind, low=lo, high=hi, step=step, when=when)


def _conditions(raw: Any, where: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(f"{where}: expected a mapping {{other.key: value-or-list}}, got {raw!r}")
    out = []
    for k, v in raw.items():
        values = tuple(v) if isinstance(v, list) else (v,)
        if not values:
            raise SpecError(f"{where}.{k}: expected a value or a non-empty list of values")
        out.append((str(k), values))
    return tuple(out)


def _order(params: list[Param]) -> list[Param]:
    """Spec order, moved just enough that every parameter comes after the ones its conditions name."""
    by_key = {p.key: p for p in params}
    for p in params:
        for k, values in p.when:
            where = f"space.{p.key}.when"
            if k == p.key:
                raise SpecError(f"{where}: a parameter cannot depend on itself")
            if k not in by_key:
                raise SpecError(f"{where}: {k!r} is not a parameter of the space "
                                f"(parameters: {', '.join(by_key)})")
            other = by_key[k]
            if other.kind in ("uniform", "loguniform"):
                raise SpecError(f"{where}.{k}: cannot condition on a continuous parameter")
            for v in values:
                if not other.contains(v):
                    can = other.choices if other.kind == "categorical" else f"[{other.low}, {other.high}]"
                    raise SpecError(f"{where}.{k}: {other.key} never takes the value {v!r} (it takes {can})")
    ordered: list[Param] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(p: Param, chain: tuple[str, ...]) -> None:
        if state.get(p.key) == 2:
            return
        if state.get(p.key) == 1:
            raise SpecError(f"space.{p.key}.when: circular conditions ({' -> '.join(chain + (p.key,))})")
        state[p.key] = 1
        for k, _ in p.when:
            visit(by_key[k], chain + (p.key,))
        state[p.key] = 2
        ordered.append(p)

    for p in params:
        visit(p, ())
    return ordered


def _check_config_key(base: TrialConfig, dotted: str, where: str) -> None:
    node: Any = base.to_dict()
    parts = canonical_key(dotted).split(".")  # an old spelling (audio_encoder.width) names its new key
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            known = ", ".join(sorted(node)) if isinstance(node, dict) else ""
            section = ".".join(parts[:i]) or "the config"
            raise SpecError(f"{where}: not a trial config key ({part!r} is not in {section}; known: {known})")
        node = node[part]
    if isinstance(node, dict):
        raise SpecError(f"{where}: is a config section, not a value (its keys: {', '.join(sorted(node))})")


def _check_config_value(base: TrialConfig, overrides: Mapping[str, Any], where: str) -> None:
    try:
        base.with_overrides(overrides)
    except ConfigError as exc:
        raise SpecError(f"{where}: {exc}") from None


def _condition_overrides(p: Param, by_key: Mapping[str, Param]) -> dict[str, Any]:
    """Values that make ``p`` active (the first allowed value of each condition, recursively)."""
    out: dict[str, Any] = {}
    for k, values in p.when:
        out.update(_condition_overrides(by_key[k], by_key))
        out[k] = values[0]
    return out


def _check_params(params: Sequence[Param], base: TrialConfig, variants: Mapping[str, Mapping[str, Any]]) -> None:
    by_key = {p.key: p for p in params}
    for p in params:
        if p.key == SEED:
            raise SpecError(f"space.{SEED}: the seed is set by the top-level `seeds` list, not searched")
        if p.key != VARIANT:
            _check_config_key(base, p.key, f"space.{p.key}")
    for p in params:
        if p.key == VARIANT:
            continue
        conditions = _condition_overrides(p, by_key)
        variant = conditions.pop(VARIANT, None)
        context = {**variants[variant], **conditions} if variant is not None else conditions
        values = p.values() if p.kind == "categorical" else [p.low, p.high]
        for v in values:
            _check_config_value(base, {**context, p.key: v}, f"space.{p.key}.{p.kind}")


def _check_registry_names(params: Sequence[Param], variants: Mapping[str, Mapping[str, Any]],
                          base: TrialConfig) -> None:
    uses = {p.key for p in params} | {k for sets in variants.values() for k in sets}
    if not uses & set(NAME_REGISTRIES):
        return
    base_dict = base.to_dict()
    for key, registry in NAME_REGISTRIES.items():
        known, what = registry.names(), registry.kind
        sources: list[tuple[str, Any]] = [(f"space.{key}.categorical", c) for p in params if p.key == key
                                          for c in p.choices]
        sources += [(f"variants.{n}.{key}", sets[key]) for n, sets in variants.items() if key in sets]
        section, _, leaf = key.partition(".")
        sources.append((f"base.{key}", base_dict[section][leaf]))
        for where, name in sources:
            if name not in known:
                raise SpecError(f"{where}: unknown {what} {name!r} (known: {', '.join(known)})")


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse True with 1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _seeds_text(spec: StudySpec) -> str:
    q = spec.sequential
    if q is None:
        return str(list(spec.seeds))
    return (f"sequential: {q['min']} to {q['max']} per variant from {list(spec.seeds)}, delta {q['delta']:g}, "
            f"alpha {q['alpha']:g}, control {q['control']}")


def describe(spec: StudySpec) -> str:
    """A few lines summarising the plan of a study, for the terminal."""
    space = ", ".join(f"{p.key}" + (" (cond.)" if p.when else "") for p in spec.params) or "(empty)"
    s = spec.scheduler
    sched = s["kind"] + "".join(f" {k}={v}" for k, v in s.items() if k != "kind" and v is not None)
    samp = spec.sampler["kind"] + (f" seed={spec.sampler['seed']}" if "seed" in spec.sampler else "")
    return (f"study {spec.name}: {spec.num_samples} trials, sampler {samp}, scheduler {sched}, "
            f"{spec.max_epochs} epochs max, {spec.resources['max_concurrent']} concurrent x "
            f"{spec.resources['cpu']} cpu, seeds {_seeds_text(spec)}\n  space: {space}"
            + (f"\n  base: trial #{spec.base_from['trial']} of study {spec.base_from['study']} "
               f"({spec.base_from['selected']}, objective {spec.base_from['value']:.4f}; "
               f"{spec.base_from['run_dir']})" if spec.base_from else ""))


__all__ = ["Param", "SearchSpace", "SpecError", "StudySpec", "base_from_study", "describe", "grid_points",
           "load_spec"]
