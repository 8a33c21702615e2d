"""Command line: ``python -m reports {build,verify,compare} ...``.

Heavy imports (optuna, scipy, matplotlib) happen inside the commands, so ``--help`` is instant. Bad input (a study
that does not exist, a run directory without ``per_query.csv``, mismatched query sets, a bad spec) prints
``error: ...`` on one line and exits 2.
"""

from __future__ import annotations

import argparse

from retrieval.errors import command_line


def _int_at_least(lo: int):
    """An argparse type: an integer >= ``lo``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {lo}")
        return v

    return parse


_positive = _int_at_least(1)
_non_negative = _int_at_least(0)


def _resampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resamples", type=_positive, default=10_000, metavar="N",
                   help="bootstrap and randomization resamples (default 10000)")
    p.add_argument("--seed", type=_non_negative, default=0, metavar="S", help="resampling seed (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports",
                                     description="Reports of studies: tables (Markdown, LaTeX, CSV), significance "
                                                 "tests, importance and plots that reviewers can regenerate.")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="write the report folder of a study", description=cmd_build.__doc__)
    b.add_argument("spec", nargs="?", help="the study spec (YAML), e.g. studies/quick.yaml")
    b.add_argument("--storage", metavar="URL", help="the Optuna storage (default: the spec's, else "
                   "sqlite:///RUNS_DIR/<name>/optuna.db, as the runner resolves it)")
    b.add_argument("--study", metavar="NAME", help="the study name (needed without a spec)")
    b.add_argument("--runs-dir", default="runs", metavar="DIR", help="where study run folders live (default: runs)")
    b.add_argument("--out", required=True, metavar="DIR", help="the report folder (replaced if it is a report)")
    b.add_argument("--top-k", type=_positive, default=10, metavar="K", help="rows of the top-configurations table")
    b.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    b.add_argument("--stats-version", type=int, choices=(1, 2), default=2, metavar="V",
                   help="the statistics method: 2 (default) tests recipe rows whose arms ran the same seeds with the "
                        "paired recipe test; 1 tests every recipe row unpaired (the method of reports built before "
                        "version 2; verify uses the version a report records)")
    _resampling(b)
    b.set_defaults(func=cmd_build)

    v = sub.add_parser("verify", help="recompute a report's tables from its recorded inputs",
                       description=cmd_verify.__doc__)
    v.add_argument("dir", metavar="DIR", help="a report folder written by build")
    v.add_argument("--storage", metavar="URL", help="use this storage URL instead of the recorded one (e.g. with "
                   "the password, which is not recorded)")
    v.add_argument("--quiet", action="store_true")
    v.set_defaults(func=cmd_verify)

    c = sub.add_parser("compare", help="pairwise significance tests between runs, or arms of seed runs",
                       description=cmd_compare.__doc__)
    c.add_argument("runs", nargs="*", metavar="RUN", help="run directories or per_query.csv files (one-run arms)")
    c.add_argument("--arm", action="append", default=[], metavar="NAME=PATH[,PATH...]",
                   help="an arm: the runs (run directories or per_query.csv files, comma-separated) of one recipe's "
                        "seeds; repeatable; comes after the positional runs")
    c.add_argument("--names", nargs="+", metavar="NAME", help="display names, one per positional run")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _resampling(c)
    c.set_defaults(func=cmd_compare)
    return parser


# The docstrings of the commands are their --help descriptions (argparse re-flows the lines).
def cmd_build(args: argparse.Namespace) -> int:
    """Read a study (from its spec, or --storage URL --study NAME) and its run directories; write DIR/index.md,
    DIR/tables/*.{md,tex,csv}, DIR/figures/*.{png,pdf} and DIR/inputs.json."""
    from .analysis import Settings
    from .build import build_report
    from .collect import CollectError

    if args.spec is None and not (args.storage and args.study):
        raise CollectError("give a study spec, or both --storage URL and --study NAME")
    index = build_report(args.spec, out=args.out, storage=args.storage, study=args.study, runs_dir=args.runs_dir,
                         settings=Settings(resamples=args.resamples, seed=args.seed, top_k=args.top_k,
                                           stats_version=args.stats_version),
                         quiet=args.quiet)
    print(index)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-read the inputs recorded in DIR/inputs.json, recompute every table and list every cell that differs and
    every input whose fingerprint changed. Exit 0 when all is identical, 1 otherwise."""
    from .build import verify_report

    res = verify_report(args.dir, storage=args.storage, quiet=args.quiet)
    print("\n".join(res.lines()))
    return 0 if res.ok else 1


def cmd_compare(args: argparse.Namespace) -> int:
    """For each pair of arms -- a positional RUN is a one-run arm; --arm NAME=PATH[,PATH...] is an arm of several
    seed runs of one recipe: mean difference of mAP@10 with a 95% CI and p, Holm across the pairs. Both arms with
    >= 2 runs: recipe t-test over seeds and queries (seed-aware). Otherwise: paired randomization test, bootstrap CI
    and Wilcoxon test over the queries (covers query sampling only)."""
    import json

    from .compare import format_comparison, parse_arm
    from .comparison import compare_runs

    arms = [parse_arm(text) for text in args.arm]
    result = compare_runs(args.runs, names=args.names, arms=arms, n_resamples=args.resamples, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_comparison(result), end="")
    return 0


@command_line(one_line=True)
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
