"""The harness's performance against its peers: scoring throughput, trial cost and HPO efficiency.

``python -m benchmarks perf``: the command line (options, checks, exit codes); see :mod:`benchmarks.perf`.
"""

from __future__ import annotations

import argparse
import json

from retrieval.errors import UsageError, command_line

from .driver import PARTS, build_table, run
from .report import markdown


@command_line(also=(RuntimeError,))
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks perf", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller measurements (< 15 min); writes perf_quick.*")
    p.add_argument("--json", action="store_true", help="print the JSON result to stdout")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which benchmarks to run")
    p.add_argument("--table", default=None,
                   help="learning-curve table (default benchmarks/results/hpo_table_v2.json; v1 tables are read too)")
    p.add_argument("--repetitions", type=int, default=None, help="HPO replay repetitions (default 10 quick, 20 full)")
    p.add_argument("--sensitivity-repetitions", type=int, default=None,
                   help="repetitions of the ASHA (grace, rf) sensitivity grid (default 0 quick, 5 full; 0 skips it)")
    p.add_argument("--asha-impl", choices=("ray", "optuna"), default="ray",
                   help="ASHA decisions by Ray Tune's rule (the harness's scheduler; reproduced in "
                        "benchmarks/perf/hpo/asha.py) or by Optuna's pruner")
    p.add_argument("--trial-epochs", type=int, default=None, help="epochs per trial-cost run (default 2 quick, 3)")
    p.add_argument("--frozen-epochs", type=int, default=None,
                   help="epochs per frozen-encoder variant (default 1 quick, 2; 0 skips it)")
    p.add_argument("--out", default="benchmarks/results", help="output folder")
    p.add_argument("--build-table", action="store_true",
                   help="run the grid study benchmarks/hpo_table_v2.yaml, extract the table, then stop")
    p.add_argument("--extract-table", action="store_true", help="only extract the table from a finished study")
    p.add_argument("--spec", default="benchmarks/hpo_table_v2.yaml", help="the table's grid study spec")
    p.add_argument("--runs-dir", default="runs", help="where the table study's runs are (--build/--extract-table)")
    p.add_argument("--allow-partial", action="store_true", help="extract a table from an unfinished study")
    args = p.parse_args(argv)

    from .hpo import DEFAULT_TABLE

    for flag, value, lo in (("--repetitions", args.repetitions, 1),
                            ("--sensitivity-repetitions", args.sensitivity_repetitions, 0),
                            ("--frozen-epochs", args.frozen_epochs, 0), ("--trial-epochs", args.trial_epochs, 1)):
        if value is not None and value < lo:
            raise UsageError(f"{flag}: expected an integer >= {lo}")
    if args.build_table or args.extract_table:
        build_table(args.spec, args.runs_dir, args.table or DEFAULT_TABLE, allow_partial=args.allow_partial,
                    run_study=args.build_table)
        return 0
    if "hpo" in args.parts:  # fail on a bad table before minutes of other measurements
        from .hpo import load_table

        load_table(args.table or DEFAULT_TABLE)
    payload = run(quick=args.quick, parts=tuple(args.parts), out_dir=args.out, table=args.table,
                  repetitions=args.repetitions, asha_impl=args.asha_impl, trial_epochs=args.trial_epochs,
                  frozen_epochs=args.frozen_epochs, sensitivity_repetitions=args.sensitivity_repetitions)
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(markdown(payload))
    return 0
