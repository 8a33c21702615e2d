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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PARTS = ("scoring", "trial_cost", "hpo")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def run(*, quick: bool = False, parts: tuple[str, ...] = PARTS, out_dir: str | Path = "benchmarks/results",
        table: str | Path | None = None, repetitions: int | None = None, asha_impl: str = "ray",
        trial_epochs: int | None = None, frozen_epochs: int | None = None,
        config: str = "synthcaps-small", sensitivity_repetitions: int | None = None) -> dict[str, Any]:
    """Run the chosen parts and write ``perf[_quick].{json,md}`` (and the HPO plots) into ``out_dir``."""
    from ..common import machine, write_results
    from . import hpo as hpo_mod

    name = "perf_quick" if quick else "perf"
    out_dir = Path(out_dir)
    payload: dict[str, Any] = {"benchmark": "perf", "quick": quick, "parts": list(parts), "machine": machine(),
                               "load_average_start": _load(), "seconds": {}}
    t_all = time.perf_counter()
    if "scoring" in parts:
        from . import scoring

        _log("[perf] 1/3 scoring throughput")
        t0 = time.perf_counter()
        payload["scoring"] = scoring.run(quick, log=_log)
        payload["seconds"]["scoring"] = time.perf_counter() - t0
        _log(f"[perf] scoring done in {payload['seconds']['scoring']:.0f} s")
    if "trial_cost" in parts:
        from . import trial_cost

        _log("[perf] 2/3 trial cost")
        t0 = time.perf_counter()
        payload["trial_cost"] = trial_cost.run(config, epochs=trial_epochs or (2 if quick else 3),
                                               frozen_epochs=(1 if quick else 2) if frozen_epochs is None
                                               else frozen_epochs, log=_log)
        payload["seconds"]["trial_cost"] = time.perf_counter() - t0
        _log(f"[perf] trial cost done in {payload['seconds']['trial_cost']:.0f} s")
    if "hpo" in parts:
        _log("[perf] 3/3 HPO efficiency (tabular replay)")
        t0 = time.perf_counter()
        payload["hpo"] = hpo_mod.run(table or hpo_mod.DEFAULT_TABLE, repetitions=repetitions or (5 if quick else 20),
                                     asha_impl=asha_impl, plot_stem=out_dir / f"{name}_hpo_curves",
                                     sensitivity_repetitions=sensitivity_repetitions, log=_log)
        payload["seconds"]["hpo"] = time.perf_counter() - t0
        _log(f"[perf] HPO done in {payload['seconds']['hpo']:.0f} s")
    payload["seconds"]["total"] = time.perf_counter() - t_all
    payload["load_average_end"] = _load()
    jpath, mpath = write_results(out_dir, name, payload, markdown(payload))
    _log(f"[perf] wrote {jpath} and {mpath} ({payload['seconds']['total']:.0f} s in all)")
    return payload


def markdown(p: dict[str, Any]) -> str:
    """The Markdown report of a payload (README-ready tables plus how each was measured)."""
    from ..common import markdown_table

    m = p["machine"]
    md = [f"# perf{' (quick)' if p['quick'] else ''}: the harness against its peers\n",
          f"Measured {m['date']} on {m['cpus']} CPUs ({m['platform']}, Python {m['python']}, torch {m['torch']}, "
          f"git {str(m.get('git_commit'))[:10]}); load average {p['load_average_start']} at the start, "
          f"{p['load_average_end']} at the end (the machine is shared: timings are noisy). "
          f"Wall time: {', '.join(f'{k} {v:.0f} s' for k, v in p['seconds'].items())}.\n"]
    if "scoring" in p:
        from .scoring import markdown_rows

        s = p["scoring"]
        md.append("## 1. Scoring throughput\n")
        md.append(markdown_table(["scale (queries x items)", "method", "queries scored", "queries/s",
                                  "peak RSS MB", "scoring MB", "identical"], markdown_rows(s)))
        md.append(f"\nSpeed-up of the project's scorer: {s['clotho']['speedup']:.1f}x at Clotho scale, "
                  f"{s['large']['speedup_per_query']:.1f}x per query at 100k x 100k. "
                  f"Random L2-normalised {s['clotho']['dim']}-d embeddings (seed 0), each query a noisy copy of its "
                  "planted relevant item; both methods rank the same float32 scores (same blocked matmul, 1 thread). "
                  "Project: `retrieval.metrics.query_metrics_chunked` over chunks of 256 query rows (no row is "
                  "sorted, the full matrix never exists). Naive: `argsort` of every full row, then rank/AP@10/R@k. "
                  "Each measurement runs in a fresh subprocess; peak RSS is `getrusage` max RSS, *scoring MB* is "
                  "peak minus the RSS before scoring (interpreter, torch and embeddings excluded). "
                  f"{s['large']['naive_full_matrix_note']}; identical per-query ranks and AP@10 are checked on "
                  f"those {s['large']['naive_rows']} rows (and on all {s['clotho']['queries']} Clotho-scale "
                  "queries).\n")
    if "trial_cost" in p:
        from .trial_cost import markdown_rows

        t = p["trial_cost"]
        md.append("## 2. Trial cost\n")
        md.append(markdown_table(["measure", "value"], markdown_rows(t)))
        md.append(f"\nReal `retrieval.train.fit` runs of `{t['config']}` with `train.epochs={t['epochs']}`, 1 torch "
                  "thread: first with an empty feature cache (the trial computes every clip's log-mel), then the "
                  "same config with the filled cache (what every later trial of a study pays). Epoch time = "
                  "training + validation from the run's `metrics.json`. The on-the-fly figure is derived (warm "
                  "epoch + the measured feature cost of the train and validation clips). The frozen-encoder rows "
                  "come from `benchmarks.train_speed.frozen_cache_speed` (real `fit` runs per variant, input "
                  "augmentations off in all of them).")
        if t["feature_cost_per_trial_s"] < 0.1 * t["warm_cache"]["wall_s"] or t["trial_speedup_warm_vs_cold"] < 1:
            md.append(f" On SynthCaps small the log-mels of all clips cost only {t['feature_cost_per_trial_s']:.1f} s "
                      "per trial, less than the run-to-run noise of a trial's wall time, so the cold/warm ratio is "
                      "noise here; the cache matters for long real recordings (ClothoV2: 15-30 s clips, 32 kHz).")
        md.append("\n")
    if "hpo" in p:
        from .hpo import markdown_rows

        h = p["hpo"]
        tb = h["table"]
        md.append("## 3. HPO efficiency on SynthCaps small (tabular replay)\n")
        md.append(markdown_table(["protocol", "reached target", "trial-epochs to target, median [IQR]",
                                  "compute ratio vs 2022 (epochs), median [IQR; min-max]",
                                  "compute ratio (CPU seconds), median [IQR]", "trials", "pruned",
                                  "final best val mAP@10"], markdown_rows(h)))
        ratios = {k: v["ratio_epochs"]["median"] for k, v in h["protocols"].items() if k != h["reference"]}
        asha_impl = next((v["asha_impl"] for v in h["protocols"].values() if v["asha_impl"]), "ray")
        asha_by = "Ray Tune" if asha_impl == "ray" else "Optuna"
        verdict = ", ".join(f"{k.split(' (')[0]}: {v:.2f}x ({'meets' if v >= 3 else 'misses'} the 3x target)"
                            for k, v in ratios.items())
        md.append(f"\nTarget per repetition: the best validation mAP@10 the 2022 protocol finds with its full budget "
                  f"(10 random + 100 TPE trials, FIFO, patience 10) minus {h['tolerance'] * 100:.0f} pp. Ratio = the "
                  "2022 protocol's compute to reach that target / the protocol's compute to reach it (> 1: less "
                  f"compute); {h['repetitions']} repetitions with sampler seeds 0..{h['repetitions'] - 1} "
                  f"(every protocol gets the same seed in a repetition). Result: {verdict}.\n\n"
                  f"**Method and limits.** {h['method']}. The table `{tb['path']}` (fingerprint "
                  f"`{tb['fingerprint']}`) holds {tb['configs']} configurations x {tb['max_epochs']} epochs of real "
                  "trials of the grid study `benchmarks/hpo_table.yaml` (best val mAP@10 in the table "
                  f"{tb['best_val_map10']:.4f}). The ASHA protocols may spend the 2022 protocol's full trial-epochs. "
                  "TPE uses the pinned options of `studies/dcase2022_augmentations.yaml` (10 random start-up "
                  "trials, independent TPE) in both TPE protocols; ASHA the `grace_period`/`reduction_factor` of "
                  f"`studies/quick.yaml`, decisions by {asha_by}'s "
                  "successive halving. With 10-epoch curves the 2022 protocol's patience of 10 epochs almost never "
                  "fires (faithful to the protocol; it was designed for 50-epoch runs). The space is the table's "
                  "discrete space, not the paper's continuous augmentation space. Plot: "
                  + ", ".join(f"`{x}`" for x in h.get("plots", [])) + ".\n")
        if "sensitivity" in h:
            from .hpo import sensitivity_markdown

            sens = h["sensitivity"]
            best = sens["best"]
            md.append("### ASHA sensitivity: is the result an artefact of grace period and reduction factor?\n")
            md.append(markdown_table(*sensitivity_markdown(sens)))
            md.append(f"\nThe same replay, reference and targets, {sens['repetitions']} repetitions, for every ASHA "
                      "(grace period, reduction factor) pair. A cell: median compute ratio over all repetitions, an "
                      "unreached target counted as ratio 0 (the conservative figure), and how many repetitions "
                      f"reached the target. Best cell: {best['sampler']} + ASHA with grace {best['grace_period']}, "
                      f"rf {best['reduction_factor']}: {best['ratio_epochs_all_median']:.2f}x "
                      f"({'meets' if best['ratio_epochs_all_median'] >= 3 else 'misses'} the 3x target). Choosing "
                      "the cell after seeing this table would tune the benchmark to its own table; the headline "
                      "above keeps the study specs' settings.\n")
    return "\n".join(md)


def build_table(spec: str | Path, runs_dir: str | Path, out: str | Path, *, allow_partial: bool = False,
                run_study: bool = True) -> Path:
    """Run the grid study (``python -m studies run SPEC --runs-dir RUNS_DIR --resume`` when it exists already),
    extract its table and write it atomically to ``out``."""
    from retrieval.utils import atomic_write_json

    from .hpo import extract_table

    if run_study:
        cmd = [sys.executable, "-m", "studies", "run", str(spec), "--runs-dir", str(runs_dir)]
        if (Path(runs_dir) / Path(spec).stem).exists():
            cmd.append("--resume")
        _log("[perf] building the table: " + " ".join(cmd))
        rc = subprocess.call(cmd)
        if rc != 0:
            raise RuntimeError(f"the table study failed (exit code {rc}); rerun with --build-table to resume it")
    table = extract_table(spec, runs_dir, allow_partial=allow_partial)
    atomic_write_json(out, table.to_dict())
    _log(f"[perf] wrote {out}: {len(table.curves)} configurations x {table.max_epochs} epochs, "
         f"fingerprint {table.fingerprint()}")
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks perf", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller measurements (< 15 min); writes perf_quick.*")
    p.add_argument("--json", action="store_true", help="print the JSON result to stdout")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which benchmarks to run")
    p.add_argument("--table", default=None, help="learning-curve table (default benchmarks/results/hpo_table.json)")
    p.add_argument("--repetitions", type=int, default=None, help="HPO replay repetitions (default 5 quick, 20 full)")
    p.add_argument("--sensitivity-repetitions", type=int, default=None,
                   help="repetitions of the ASHA (grace, rf) sensitivity grid (default: --repetitions; 0 skips it)")
    p.add_argument("--asha-impl", choices=("ray", "optuna"), default="ray",
                   help="ASHA decisions from Ray Tune's bracket (the harness's scheduler) or Optuna's pruner")
    p.add_argument("--trial-epochs", type=int, default=None, help="epochs per trial-cost run (default 2 quick, 3)")
    p.add_argument("--frozen-epochs", type=int, default=None,
                   help="epochs per frozen-encoder variant (default 1 quick, 2; 0 skips it)")
    p.add_argument("--out", default="benchmarks/results", help="output folder")
    p.add_argument("--build-table", action="store_true",
                   help="run the grid study benchmarks/hpo_table.yaml, extract the table, then stop")
    p.add_argument("--extract-table", action="store_true", help="only extract the table from a finished study")
    p.add_argument("--spec", default="benchmarks/hpo_table.yaml", help="the table's grid study spec")
    p.add_argument("--runs-dir", default="runs", help="where the table study's runs are (--build/--extract-table)")
    p.add_argument("--allow-partial", action="store_true", help="extract a table from an unfinished study")
    args = p.parse_args(argv)

    from studies.spec import SpecError

    from .hpo import DEFAULT_TABLE, TableError

    for flag, value, lo in (("--repetitions", args.repetitions, 1),
                            ("--sensitivity-repetitions", args.sensitivity_repetitions, 0),
                            ("--frozen-epochs", args.frozen_epochs, 0), ("--trial-epochs", args.trial_epochs, 1)):
        if value is not None and value < lo:
            print(f"error: {flag}: expected an integer >= {lo}", file=sys.stderr)
            return 2
    try:
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
    except (TableError, SpecError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(markdown(payload))
    return 0
