"""Command line: ``python -m studies {run,status} SPEC ...``.

Everything heavy (Ray, Optuna, torch) is imported inside the commands, so ``--help`` is instant. A bad spec, a bad
storage URL or a study that cannot run as asked prints ``error: ...`` (starting with the spec key) and exits 2.
"""

from __future__ import annotations

import argparse

from retrieval.errors import command_line


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="a study spec (YAML), e.g. studies/quick.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a dotted spec key, e.g. --set budget.num_samples=4 --set base.train.epochs=2 "
                        "(values are read as YAML; repeatable)")
    p.add_argument("--storage", metavar="URL", help="the Optuna storage: sqlite:///PATH, postgresql://USER:PW@HOST/DB "
                   "or journal:PATH (default: the spec's storage, else sqlite in RUNS_DIR/<name>/optuna.db)")
    p.add_argument("--runs-dir", default="runs", metavar="DIR",
                   help="where study run folders live (default: runs); a study's is RUNS_DIR/<name>")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies", description="Hyper-parameter studies of retrievers: "
                                     "Ray Tune schedules the trials, a persistent Optuna study records them.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run, join or resume a study",
                         description="Run a study until it holds budget.num_samples trials. Several runners may "
                                     "share one study (PostgreSQL or journal storage).")
    _common(run)
    run.add_argument("--resume", action="store_true",
                     help="continue trials left RUNNING by a runner that is gone (killed, crashed, Ctrl-C)")
    run.add_argument("--address", metavar="ADDR", help="join an existing Ray cluster (e.g. auto or HOST:6379); "
                     "needs a PostgreSQL storage")
    run.add_argument("--force-new", action="store_true",
                     help="start the study anew when it holds trials of another search space (they are exported "
                          "to trials.csv in the old run folder, then deleted from the storage)")
    run.add_argument("--dry-run", action="store_true",
                     help="print the resolved spec and the first proposals, then stop (starts and writes nothing)")
    run.add_argument("--trainable", metavar="MODULE:FUNCTION", help=argparse.SUPPRESS)  # tests and benchmarks:
    # another Ray Tune function trainable (e.g. studies.testing:gated_train_trial); must be importable by workers
    run.set_defaults(func=cmd_run)
    status = sub.add_parser("status", help="print the trials of a study and its best trial")
    _common(status)
    status.set_defaults(func=cmd_status)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import dry_run, run_study

    if args.dry_run:
        dry_run(args.spec, args.overrides)
        return 0

    trainable = None
    if args.trainable:
        import importlib

        from .spec import SpecError

        module, _, name = args.trainable.partition(":")
        try:
            trainable = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise SpecError(f"--trainable {args.trainable!r}: {exc}") from None
    summary = run_study(args.spec, args.overrides, storage=args.storage, resume=args.resume, address=args.address,
                        runs_dir=args.runs_dir, trainable=trainable, force_new=args.force_new)
    return 130 if summary.interrupted else 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import study_status

    print(study_status(args.spec, args.overrides, storage=args.storage, runs_dir=args.runs_dir), end="")
    return 0


@command_line
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
