"""HPO efficiency: the 2022 paper's protocol against TPE + ASHA and random search + ASHA, replayed on a table of
real learning curves (the tabular-benchmark method of HPOBench, LCBench and NAS-Bench).

**The table** (``benchmarks/results/hpo_table.json``) is built once by a grid study run through the real harness
(``benchmarks/hpo_table.yaml``: every configuration of a discrete space trained for the full ``train.epochs`` on
SynthCaps small, FIFO, 2 trials at a time). :func:`extract_table` reads the Optuna study and each trial's run
directory and stores, per configuration: its parameters, the validation mAP@10 after every epoch, the measured
seconds of every epoch (training + validation, from ``metrics.json``) and the trial's seconds outside its epochs
(set-up, final evaluation; from ``trial_status.json``). The file carries a fingerprint of its content.

**The replay** (:func:`replay`) runs one protocol as a sequential (one-worker) Optuna ask/tell loop over the
table's space, with the harness's own samplers (:func:`studies.study.build_sampler`, same pinned options as the
study specs). A trial "trains" by reading its configuration's curve epoch by epoch and paying each epoch's cost:

- ``fifo`` + ``patience``: the trial stops after ``patience`` epochs without a better value, as ``fit`` does;
- ``asha``: asynchronous successive halving with the study specs' ``grace_period``/``reduction_factor``. By default
  (``asha_impl="ray"``) decisions follow Ray Tune's ASHA (``AsyncHyperBandScheduler``, the scheduler the harness
  runs), reproduced decision for decision by :class:`~benchmarks.perf.hpo.asha.AsyncSuccessiveHalving`;
  ``asha_impl="optuna"`` uses :class:`optuna.pruners.SuccessiveHalvingPruner` (same rungs; it differs only for the
  first ``reduction_factor - 1`` trials at a rung).

A trial's value is the best validation mAP@10 over the epochs it trained (what the harness records; a stopped
trial is PRUNED with that value, as :mod:`studies.search` tells it). Repeated proposals of the same configuration
are charged again (a real study would train them again, with another seed; the table holds one curve each).

**The comparison** (:func:`compare`): for each repetition ``r`` (sampler seed ``r``), the target is the best value
the 2022 protocol finds with its full budget minus 1 pp; each protocol's compute to reach it is the cumulative
trial-epochs (and seconds) at the epoch its best-so-far first reaches the target. The ratio is
``compute(2022) / compute(protocol)`` per repetition; reported as median, interquartile range and min-max.

Modules: :mod:`.table` (the table, its extraction from a grid study), :mod:`.protocols` (the compared protocols),
:mod:`.asha` (the ASHA stopping rule), :mod:`.replay` (one protocol on a table), :mod:`.compare` (protocols
against the reference over repetitions; the ASHA sensitivity grid), :mod:`.plot` (best-so-far curves),
:mod:`.report` (:func:`run`, the perf part, and its Markdown rows). This package re-exports their public names.
"""

from __future__ import annotations

from .asha import AsyncSuccessiveHalving
from .compare import SENSITIVITY_GRACE, SENSITIVITY_RF, TARGET_TOLERANCE, compare, sensitivity
from .plot import plot_curves
from .protocols import Protocol, default_protocols, spec_options
from .replay import ReplayResult, replay
from .report import markdown_rows, run, sensitivity_markdown
from .table import DEFAULT_TABLE, TABLE_SPEC, TABLE_VERSION, Curve, Table, TableError, extract_table, load_table

__all__ = [
    "AsyncSuccessiveHalving",
    "Curve",
    "DEFAULT_TABLE",
    "Protocol",
    "ReplayResult",
    "SENSITIVITY_GRACE",
    "SENSITIVITY_RF",
    "TABLE_SPEC",
    "TABLE_VERSION",
    "TARGET_TOLERANCE",
    "Table",
    "TableError",
    "compare",
    "default_protocols",
    "extract_table",
    "load_table",
    "markdown_rows",
    "plot_curves",
    "replay",
    "run",
    "sensitivity",
    "sensitivity_markdown",
    "spec_options",
]
