"""HPO efficiency: the 2022 paper's protocol against the stock peers a user would pick instead, the harness's
protocols and the remedies for a task whose early epochs rank configurations poorly, replayed on a table of real
learning curves (the tabular-benchmark method of HPOBench, LCBench and NAS-Bench), judged by the truth.

**The table** (``benchmarks/results/hpo_table_v2.json``, :mod:`.table`) is built once by a grid study run through
the real harness (``benchmarks/hpo_table_v2.yaml``): every configuration of a discrete space, 3 seeds, two
schedule lengths (``train.epochs`` 10 and 3), every run trained to the end of its schedule. Per run: validation
mAP@10 after every epoch, measured seconds per epoch and outside epochs, test mAP@10. A configuration's **true
quality** is the seed mean of its final validation mAP@10 on the longest schedule. Version-1 tables (one seed, one
schedule) are still read.

**The replay** (:mod:`.replay`) runs one protocol as a sequential (one-worker) loop over the table's space; a job
reads a run of the table (a repeated proposal reads another seed's run) and pays its measured cost. Protocols
(:mod:`.protocols`): the 2022 reference (TPE, FIFO, patience 10, 110 trials); the stock peers (Ray Tune's ASHA
with OptunaSearch, driven through Ray's own ``OptunaSearch`` class so that its COMPLETE-with-last-value bookkeeping
is Ray's; Optuna's TPE with its real ``HyperbandPruner``; random search); the harness's ASHA protocols; and the
remedies (:mod:`.methods`: budgeted successive halving, successive halving by promotion, PASHA, rank-gated ASHA).
The ASHA stopping rule (:mod:`.asha`) reproduces Ray Tune's decision for decision.

**The comparison** (:mod:`.compare`): per repetition the target is the 2022 protocol's final incumbent's true
quality; every protocol's compute to reach it (and stay) in trial-epochs and seconds; ratios against the
reference; the headline of the harness's default against the 2022 protocol and the best stock peer; regret
curves. :mod:`.diagnostics` measures the rank correlation between rungs and the truth. :mod:`.plot` draws regret
against compute; :mod:`.report` is the perf part and its Markdown rows. This package re-exports the public names.
"""

from __future__ import annotations

from .asha import AsyncSuccessiveHalving
from .compare import SENSITIVITY_GRACE, SENSITIVITY_RF, compare, headline, regret_curves, sensitivity
from .diagnostics import rank_correlations
from .methods import PromotionSH, RankGatedASHA
from .plot import plot_curves
from .protocols import (Protocol, default_protocols, harness_protocols, method_protocols, reference_protocol,
                        spec_options, stock_protocols)
from .replay import ReplayResult, replay
from .report import markdown_rows, run, sensitivity_markdown
from .table import (DEFAULT_TABLE, TABLE_SPEC, TABLE_VERSION, Config, Curve, Table, TableError, extract_table,
                    load_table)

__all__ = [
    "AsyncSuccessiveHalving",
    "Config",
    "Curve",
    "DEFAULT_TABLE",
    "PromotionSH",
    "Protocol",
    "RankGatedASHA",
    "ReplayResult",
    "SENSITIVITY_GRACE",
    "SENSITIVITY_RF",
    "TABLE_SPEC",
    "TABLE_VERSION",
    "Table",
    "TableError",
    "compare",
    "default_protocols",
    "extract_table",
    "harness_protocols",
    "headline",
    "load_table",
    "markdown_rows",
    "method_protocols",
    "plot_curves",
    "rank_correlations",
    "reference_protocol",
    "regret_curves",
    "replay",
    "run",
    "sensitivity",
    "sensitivity_markdown",
    "spec_options",
    "stock_protocols",
]
