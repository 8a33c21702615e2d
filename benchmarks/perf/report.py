"""The perf Markdown report: README-ready tables of every part that ran, plus how each was measured."""

from __future__ import annotations

from typing import Any


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

