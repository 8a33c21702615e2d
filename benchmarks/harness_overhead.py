"""Per-trial overhead of the study runner against a plain Optuna loop, both with no-op trials.

Both sides run the same number of trials (``--trials``, 20), each reporting ``--reports`` (5) made-up epochs,
``--concurrent`` (2) at a time, into an SQLite study with the same pinned TPE sampler, on the same machine:

- plain: ``study.optimize(objective, n_trials, n_jobs=concurrent)``, the objective calling ``trial.report`` per
  epoch;
- harness: :func:`studies.runner.run_study` with :func:`studies.trainable.noop_trainable`: Ray start-up, Tune with
  the study searcher (study lock, user attributes, intermediate values), FIFO scheduler, the trainable adapter
  (status file, one Tune checkpoint), reused actors, Ray shutdown.

Reported: wall time of each side, the harness's tuning loop alone (first trial start to last trial end, from the
study's timestamps), per-trial overhead ``(harness - plain) / trials`` with and without Ray start-up, and the
ratio. Results go to ``benchmarks/results/harness_overhead.{json,md}``.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

from retrieval.errors import command_line

from .common import machine, markdown_table, write_results


def spec_dict(name: str, trials: int, reports: int, concurrent: int) -> dict:
    return {"name": name, "base": "synthcaps-tiny",
            "space": {"optim.lr_audio": {"loguniform": [1.0e-4, 1.0e-2]}, "fusion.kind": {"categorical":
                                                                                         ["none", "late", "mid"]}},
            "sampler": {"kind": "tpe", "seed": 0, "n_startup_trials": 5},
            "scheduler": {"kind": "fifo"},
            "budget": {"num_samples": trials, "max_epochs": reports},
            "resources": {"cpu": 1, "max_concurrent": concurrent}}


def plain_optuna(spec, storage_url: str, concurrent: int) -> float:
    """Wall time of the same trials with Optuna alone."""
    import optuna

    from studies.study import build_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=spec.name, storage=storage_url, direction="maximize",
                                sampler=build_sampler(spec.sampler))
    space, reports = spec.space, spec.max_epochs

    def objective(trial) -> float:
        params = space(trial)
        value = 0.0
        for epoch in range(1, reports + 1):
            value = params["optim.lr_audio"] * epoch
            trial.report(value, epoch)
        return value

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=spec.num_samples, n_jobs=concurrent)
    return time.perf_counter() - t0


def harness(spec_raw: dict, runs_dir: Path) -> tuple[float, float, int]:
    """Wall time of the runner, its tuning loop alone, and the number of finished trials."""
    import optuna

    from studies.runner import run_study
    from studies.trainable import noop_trainable

    t0 = time.perf_counter()
    summary = run_study(spec_raw, runs_dir=runs_dir, trainable=noop_trainable, out=io.StringIO())
    wall = time.perf_counter() - t0
    trials = optuna.load_study(study_name=spec_raw["name"], storage=f"sqlite:///{runs_dir / spec_raw['name']}"
                                                                    "/optuna.db").trials
    loop = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    return wall, loop, summary.counts["COMPLETE"]


def run(trials: int = 20, reports: int = 5, concurrent: int = 2, out_dir: str | Path = "benchmarks/results") -> dict:
    from studies.spec import load_spec

    tmp = Path(tempfile.mkdtemp(prefix="harness-overhead-"))
    try:
        raw = spec_dict("harness-overhead", trials, reports, concurrent)
        spec = load_spec(raw, check_registries=False)
        plain = plain_optuna(spec, f"sqlite:///{tmp / 'plain.db'}", concurrent)
        wall, loop, finished = harness(raw, tmp / "runs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    payload = {
        "machine": machine(), "trials": trials, "reports_per_trial": reports, "concurrent": concurrent,
        "plain_optuna_s": plain, "harness_wall_s": wall, "harness_loop_s": loop, "harness_finished": finished,
        "plain_per_trial_s": plain / trials, "harness_per_trial_s": wall / trials,
        "overhead_per_trial_s": (wall - plain) / trials,
        "overhead_per_trial_without_startup_s": (loop - plain) / trials,
        "ratio": wall / plain if plain > 0 else float("inf"),
    }
    rows = [["plain Optuna (study.optimize)", plain, plain / trials],
            ["study runner, whole run (Ray start + stop)", wall, wall / trials],
            ["study runner, tuning loop only", loop, loop / trials]]
    md = (f"# Harness overhead\n\n{trials} no-op trials x {reports} reports, {concurrent} at a time, SQLite, "
          f"TPE; {payload['machine']['cpus']} CPUs, {payload['machine']['date']}.\n\n"
          + markdown_table(["what", "wall s", "s per trial"], rows)
          + f"\nOverhead per trial: {payload['overhead_per_trial_s']:.2f} s "
            f"({payload['overhead_per_trial_without_startup_s']:.2f} s without Ray start-up); "
            f"ratio {payload['ratio']:.1f}x.\n")
    write_results(out_dir, "harness_overhead", payload, md)
    return payload


@command_line
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks harness_overhead", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--reports", type=int, default=5, help="epochs each no-op trial reports")
    p.add_argument("--concurrent", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    r = run(args.trials, args.reports, args.concurrent, args.out)
    print(f"plain Optuna {r['plain_optuna_s']:.2f} s, study runner {r['harness_wall_s']:.2f} s "
          f"(tuning loop {r['harness_loop_s']:.2f} s) for {args.trials} trials: "
          f"overhead {r['overhead_per_trial_s']:.2f} s per trial "
          f"({r['overhead_per_trial_without_startup_s']:.2f} s without Ray start-up), ratio {r['ratio']:.1f}x")
    return 0
