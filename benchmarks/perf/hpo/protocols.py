"""The HPO protocols compared by the replay: :class:`Protocol` and :func:`default_protocols` (the 2022 paper's,
TPE + ASHA, random + ASHA), with options read from the study specs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .table import TableError


@dataclass(frozen=True)
class Protocol:
    """An HPO protocol: a sampler (``tpe``/``random`` with the spec's options), a scheduler and a budget.

    ``max_trials`` bounds the number of trials and ``max_epochs_budget`` the trial-epochs spent (``None``: only the
    other bound). ASHA uses ``grace_period`` and ``reduction_factor``; FIFO uses ``patience`` (``None``: none).
    """

    name: str
    sampler: dict[str, Any]
    scheduler: str  # "fifo" | "asha"
    patience: int | None = None
    grace_period: int = 1
    reduction_factor: int = 3
    max_trials: int | None = 110
    max_epochs_budget: float | None = None
    asha_impl: str = "ray"


def spec_options(path: str | Path, section: str) -> dict[str, Any]:
    """A study spec's resolved ``sampler`` or ``scheduler`` section (every default filled in)."""
    from studies.spec import load_spec

    spec = load_spec(path, check_registries=False)
    return dict(getattr(spec, section))


def default_protocols(*, n_trials_2022: int = 110, asha_from: str | Path = "studies/quick.yaml",
                      tpe_from: str | Path = "studies/dcase2022_augmentations.yaml",
                      asha_impl: str = "ray") -> list[Protocol]:
    """The three protocols: the 2022 paper's (TPE with the ``dcase2022_augmentations`` spec's pinned options: 10
    random trials then TPE; FIFO; patience 10; 10 + 100 trials), TPE + ASHA (the same TPE options, ASHA as in
    ``studies/quick.yaml``), random + ASHA. The ASHA protocols run until they have spent the trial-epochs of the
    2022 protocol's full budget (set per repetition by :func:`compare`)."""
    tpe = spec_options(tpe_from, "sampler")
    fifo = spec_options(tpe_from, "scheduler")
    asha = spec_options(asha_from, "scheduler")
    if asha.get("kind") != "asha":
        raise TableError(f"{asha_from}: scheduler.kind is {asha.get('kind')!r}, expected asha")
    g, rf = int(asha["grace_period"]), int(asha["reduction_factor"])
    return [
        Protocol("2022 (TPE, FIFO, patience 10)", tpe, "fifo", patience=fifo.get("patience") or 10,
                 max_trials=n_trials_2022),
        Protocol(f"TPE + ASHA (grace {g}, rf {rf})", tpe, "asha", grace_period=g, reduction_factor=rf,
                 max_trials=None, asha_impl=asha_impl),
        Protocol(f"random + ASHA (grace {g}, rf {rf})", {"kind": "random", "seed": 0}, "asha", grace_period=g,
                 reduction_factor=rf, max_trials=None, asha_impl=asha_impl),
    ]
