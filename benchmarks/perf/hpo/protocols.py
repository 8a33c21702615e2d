"""The HPO protocols the replay compares: :class:`Protocol` and :func:`default_protocols` (the 2022 paper's, the
stock peers a user would pick instead, the harness's protocols and the remedies for a task whose early epochs rank
configurations poorly), with options read from the study specs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .table import TableError

GROUPS = ("reference", "stock", "harness", "method")


@dataclass(frozen=True)
class Protocol:
    """An HPO protocol: a sampler, a scheduler, a bookkeeping and a budget.

    ``sampler``: a spec's resolved ``sampler`` section (``tpe`` with the harness's pinned options, ``random``) or
    ``{"kind": "tpe_stock"}`` (Optuna's ``TPESampler(seed=...)`` with its own defaults, what Ray's OptunaSearch and
    a plain Optuna user get).

    ``scheduler``: ``fifo`` (+ ``patience``), ``asha`` (stopping rule, ``grace_period``/``reduction_factor``,
    Ray's rule or Optuna's ``asha_impl``; ``gate``: a rung stops trials only while the rank correlation measured
    online between it and the last epoch is at least ``gate``), ``hyperband`` (Optuna's ``HyperbandPruner``,
    ``grace_period`` = ``min_resource``), ``sh`` (successive halving by promotion at the epochs ``rungs``:
    ``restart`` gives every rung a complete schedule of its budget, "budgeted training"; ``progressive`` is PASHA;
    ``gate`` as above).

    ``bookkeeping``: what the study records for a trial and which trial is the incumbent. ``harness``: a stopped
    trial is PRUNED with its best value, the value is the best over its epochs, the incumbent the best value of any
    trial (``studies.search``); ``ray_stock``: Ray's OptunaSearch, every trial COMPLETE with its *last* value
    (the stopped ones too), incumbent the best last value (``ResultGrid.get_best_result``); ``optuna``: a pruned
    trial is PRUNED (Optuna keeps its last intermediate value), the value of a finished one is its last value, the
    incumbent the best COMPLETE trial (``study.best_trial``).

    ``max_trials`` bounds the number of trials and ``max_epochs_budget`` the trial-epochs spent (``None``: only the
    other bound; both None: the reference's trial-epochs, set by :func:`~benchmarks.perf.hpo.compare.compare`).
    """

    name: str
    sampler: dict[str, Any]
    scheduler: str  # fifo | asha | hyperband | sh
    patience: int | None = None
    grace_period: int = 1
    reduction_factor: int = 3
    max_trials: int | None = 110
    max_epochs_budget: float | None = None
    asha_impl: str = "ray"
    bookkeeping: str = "harness"  # harness | ray_stock | optuna
    rungs: tuple[int, ...] = ()
    restart: bool = False
    progressive: bool = False
    gate: float | None = None
    gate_min_pairs: int = 6
    confirm: int = 0  # sh: retrain the best-scoring configuration with this many more seeds (noise-aware incumbent)
    group: str = "harness"
    default: bool = False  # the harness's shipped default (the headline's protocol)

    def describe(self) -> dict[str, Any]:
        return {"group": self.group, "sampler": self.sampler.get("kind"), "scheduler": self.scheduler,
                "bookkeeping": self.bookkeeping, "patience": self.patience,
                "grace_period": self.grace_period if self.scheduler in ("asha", "hyperband") else None,
                "reduction_factor": self.reduction_factor if self.scheduler != "fifo" else None,
                "asha_impl": self.asha_impl if self.scheduler == "asha" else None,
                "rungs": list(self.rungs) or None, "restart": self.restart, "progressive": self.progressive,
                "gate": self.gate, "confirm": self.confirm, "default": self.default}


def spec_options(path: str | Path, section: str) -> dict[str, Any]:
    """A study spec's resolved ``sampler`` or ``scheduler`` section (every default filled in)."""
    from studies.spec import load_spec

    spec = load_spec(path, check_registries=False)
    return dict(getattr(spec, section))


RANDOM = {"kind": "random", "seed": 0}
TPE_STOCK = {"kind": "tpe_stock"}


def reference_protocol(n_trials: int = 110, tpe_from: str | Path = "studies/dcase2022_augmentations.yaml"):
    """The 2022 paper's protocol: TPE with the ``dcase2022_augmentations`` spec's pinned options (10 random trials,
    then TPE), FIFO, patience 10, 10 + 100 trials."""
    tpe = spec_options(tpe_from, "sampler")
    fifo = spec_options(tpe_from, "scheduler")
    return Protocol("2022 (TPE, FIFO, patience 10)", tpe, "fifo", patience=fifo.get("patience") or 10,
                    max_trials=n_trials, group="reference")


def stock_protocols(max_epochs: int) -> list[Protocol]:
    """What a user picks instead, as shipped: Ray Tune's ASHA (its defaults: grace 1, reduction factor 4) with
    OptunaSearch (its default TPESampler; COMPLETE bookkeeping), Optuna's TPE with HyperbandPruner (its defaults:
    min_resource 1, reduction factor 3, max_resource the schedule), and random search (FIFO, whole runs)."""
    return [
        Protocol("Ray Tune ASHA + OptunaSearch (stock)", TPE_STOCK, "asha", grace_period=1, reduction_factor=4,
                 max_trials=None, bookkeeping="ray_stock", group="stock"),
        Protocol("Optuna TPE + HyperbandPruner (stock)", TPE_STOCK, "hyperband", grace_period=1,
                 reduction_factor=3, max_trials=None, bookkeeping="optuna", group="stock"),
        Protocol("random search (stock)", RANDOM, "fifo", max_trials=None, bookkeeping="optuna", group="stock"),
    ]


def harness_protocols(asha_from: str | Path = "studies/quick.yaml", tpe_from: str | Path =
                      "studies/dcase2022_augmentations.yaml", asha_impl: str = "ray") -> list[Protocol]:
    """The harness's v1 protocols: TPE + ASHA and random + ASHA with the ASHA options of ``asha_from`` as they
    were before this benchmark chose a default (grace 2, reduction factor 3; PRUNED bookkeeping)."""
    tpe = spec_options(tpe_from, "sampler")
    asha = spec_options(asha_from, "scheduler")
    g = int(asha.get("grace_period") or 2) if asha.get("kind") in ("asha", "hyperband") else 2
    rf = int(asha.get("reduction_factor") or 3)
    return [
        Protocol(f"harness TPE + ASHA (grace {g}, rf {rf})", tpe, "asha", grace_period=g, reduction_factor=rf,
                 max_trials=None, asha_impl=asha_impl),
        Protocol(f"harness random + ASHA (grace {g}, rf {rf})", RANDOM, "asha", grace_period=g,
                 reduction_factor=rf, max_trials=None, asha_impl=asha_impl),
    ]


def method_protocols(schedules: tuple[int, ...], max_epochs: int, *, default: str | None = None,
                     quick: bool = False) -> list[Protocol]:
    """The remedies for poorly ranking early epochs, on a table with the schedule lengths ``schedules``:

    - budgeted successive halving (``restart``): rungs at the recorded schedule lengths, every rung trains a
      complete schedule of its budget from scratch (exact on the table: each rung reads the curve of its own
      schedule length); reduction factor 3; random or TPE (fitted on the first rung's results) proposals; and with
      a noise-aware incumbent (``confirm``: the best-scoring configuration is retrained with another seed before
      it becomes the incumbent, which is then the best mean);
    - successive halving by promotion on the longest schedule (continue from the checkpoint), rungs 1, 3, max;
    - PASHA: the same rungs, the top rung grows only while the two top rungs rank configurations differently;
    - rank-correlation-gated ASHA (after Hyper-Tune): rungs 1, 3, a rung stops trials only once the Kendall tau
      measured online between its values and the last epoch's is >= 0.5 (over >= 6 trials);
    - BOHB: Ray Tune's ``TuneBOHB`` (HpBandSter's model) with synchronous HyperBand brackets (eta 3), when the
      ``hpo`` extra (hpbandster, ConfigSpace) is installed.

    ``default`` names the protocol flagged as the harness's shipped default."""
    tpe = spec_options("studies/dcase2022_augmentations.yaml", "sampler")
    out: list[Protocol] = []
    budgets = tuple(sorted(schedules))
    if len(budgets) > 1:
        out += [Protocol(f"budgeted SH (random; rungs {'/'.join(map(str, budgets))}, rf 3)", RANDOM, "sh",
                         rungs=budgets, reduction_factor=3, restart=True, max_trials=None, group="method"),
                Protocol(f"budgeted SH (TPE; rungs {'/'.join(map(str, budgets))}, rf 3)", tpe, "sh",
                         rungs=budgets, reduction_factor=3, restart=True, max_trials=None, group="method"),
                Protocol(f"budgeted SH + confirm (random; rungs {'/'.join(map(str, budgets))}, rf 3, confirm 1)",
                         RANDOM, "sh", rungs=budgets, reduction_factor=3, restart=True, confirm=1, max_trials=None,
                         group="method")]
    cont = [1]
    while cont[-1] * 3 * 1.5 <= max_epochs:
        cont.append(cont[-1] * 3)
    cont = tuple(cont) + (max_epochs,)
    out += [Protocol(f"SH by promotion (random; rungs {'/'.join(map(str, cont))}, rf 3)", RANDOM, "sh", rungs=cont,
                     reduction_factor=3, max_trials=None, group="method"),
            Protocol(f"PASHA (random; rungs {'/'.join(map(str, cont))}, rf 3)", RANDOM, "sh", rungs=cont,
                     reduction_factor=3, progressive=True, max_trials=None, group="method"),
            Protocol("rank-gated ASHA (random; grace 1, rf 3, Kendall >= 0.5)", RANDOM, "asha", grace_period=1,
                     reduction_factor=3, gate=0.5, max_trials=None, group="method")]
    if _has_bohb():
        out.append(Protocol("BOHB (Ray TuneBOHB + synchronous HyperBand, eta 3)", {"kind": "bohb"}, "bohb",
                            reduction_factor=3, max_trials=None, bookkeeping="ray_stock", group="method"))
    if not quick:
        out.append(Protocol("rank-gated ASHA (TPE; grace 1, rf 3, Kendall >= 0.5)", tpe, "asha", grace_period=1,
                            reduction_factor=3, gate=0.5, max_trials=None, group="method"))
    if default is not None:
        names = [p.name for p in out]
        if default not in names:
            raise TableError(f"the default protocol {default!r} is not among the methods ({', '.join(names)})")
        import dataclasses

        out = [dataclasses.replace(p, default=p.name == default) for p in out]
    return out


def _has_bohb() -> bool:
    """Whether Ray Tune's TuneBOHB can run here (HpBandSter and ConfigSpace: the ``hpo`` extra)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("hpbandster", "ConfigSpace"))


def default_protocols(*, schedules: tuple[int, ...] = (10,), max_epochs: int = 10, asha_impl: str = "ray",
                      default: str | None = None, quick: bool = False) -> list[Protocol]:
    """Every protocol of the comparison, the reference first."""
    return ([reference_protocol()] + stock_protocols(max_epochs) + harness_protocols(asha_impl=asha_impl)
            + method_protocols(schedules, max_epochs, default=default, quick=quick))
