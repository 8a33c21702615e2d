"""The harness's performance against its peers: scoring throughput, trial cost and HPO efficiency.

``python -m benchmarks perf [--quick] [--json] [--parts scoring trial_cost hpo]`` measures three ratios, each side
by side in one run, and writes ``benchmarks/results/perf.{json,md}`` (``perf_quick.*`` with ``--quick``) with the
date, the machine and how each number was measured:

1. **scoring** (:mod:`benchmarks.perf.scoring`): the project's chunked scorer against a naive per-query full sort, at
   5,225 x 1,045 (Clotho evaluation) and 100,000 x 100,000 (chunked; the naive one on a row sample), identical
   results checked, peak memory per method from a fresh subprocess each;
2. **trial_cost** (:mod:`benchmarks.perf.trial_cost`): real ``fit`` runs with a cold and a warm feature cache, and
   the frozen-encoder cache;
3. **hpo** (:mod:`benchmarks.perf.hpo`): the 2022 paper's protocol against TPE + ASHA and random + ASHA, replayed
   on the committed table of real learning curves ``benchmarks/results/hpo_table.json``.

The table is rebuilt only when asked: ``--build-table`` runs the grid study ``benchmarks/hpo_table.yaml`` through
the harness (``python -m studies run``) under ``--runs-dir`` and then extracts it; ``--extract-table`` only
extracts it from a finished study. See docs/perf.md.

Modules: :mod:`.driver` (:func:`run`, :func:`build_table`), :mod:`.report` (:func:`markdown`), :mod:`.cli`
(:func:`main`, the command line), and the parts :mod:`.scoring`, :mod:`.trial_cost` and :mod:`.hpo`.
"""

from __future__ import annotations

from .cli import main
from .driver import PARTS, build_table, run
from .report import markdown

__all__ = ["PARTS", "build_table", "main", "markdown", "run"]
