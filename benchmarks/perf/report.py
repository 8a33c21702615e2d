"""The perf Markdown report: docs-ready tables of every part that ran, plus how each was measured."""

from __future__ import annotations

from typing import Any


def markdown(p: dict[str, Any]) -> str:
    """The Markdown report of a payload (docs-ready tables plus how each was measured)."""
    from ..common import markdown_table

    m = p["machine"]
    md = [f"# perf{' (quick)' if p['quick'] else ''}: the harness against its peers\n",
          f"Measured {m['date']} on {m['cpus']} CPUs ({m['platform']}, Python {m['python']}, torch {m['torch']}, "
          f"git {str(m.get('git_commit'))[:10]}); load average {p['load_average_start']} at the start, "
          f"{p['load_average_end']} at the end (the machine is shared: timings are noisy). "
          f"Wall time: {', '.join(f'{k} {v:.0f} s' for k, v in p['seconds'].items())}.\n"]
    for part, src in (p.get("carried_over") or {}).items():
        md.append(f"*Part `{part}` was not run this time: its section is carried over from the run of "
                  f"{src.get('date')} "
                  f"(git {str(src.get('git_commit'))[:10]}, load average {src.get('load_average_start')}).*\n")
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
        md.extend(hpo_markdown(p["hpo"]))
    return "\n".join(md)



def hpo_markdown(h: dict[str, Any]) -> list[str]:
    """Section 3 of the report: the headline, the protocols judged by the truth, rank correlations, method."""
    from ..common import markdown_table
    from .hpo import markdown_rows
    from .hpo.report import correlation_rows

    tb = h["table"]
    meta = tb.get("meta") or {}
    hl = h.get("headline") or {}
    md = ["## 3. HPO efficiency on SynthCaps small (tabular replay, judged by the truth)\n"]
    if hl:
        ok2022 = hl["speedup_vs_2022"] >= 3 and hl["reached"] == hl["repetitions"]
        okstock = (hl["speedup_vs_best_stock"] or 0) >= 1.5
        md.append(f"**Headline.** The harness's default, *{hl['protocol']}*, reached the 2022 protocol's final true "
                  f"quality in {hl['reached']}/{hl['repetitions']} repetitions with **{hl['speedup_vs_2022']:.2f}x** "
                  f"less compute than the 2022 protocol (median; IQR {hl['speedup_vs_2022_iqr'][0]:.2f}-"
                  f"{hl['speedup_vs_2022_iqr'][1]:.2f}, min {hl['speedup_vs_2022_min']:.2f}) and "
                  f"**{hl['speedup_vs_best_stock']:.2f}x** less than the best stock peer, *{hl['best_stock']}* "
                  f"(IQR {hl['speedup_vs_best_stock_iqr'][0]:.2f}-{hl['speedup_vs_best_stock_iqr'][1]:.2f}, min "
                  f"{hl['speedup_vs_best_stock_min']:.2f}). Acceptance (>= 3x vs 2022 in every repetition, >= 1.5x "
                  f"vs the best stock peer): {'met' if ok2022 and okstock else 'NOT met'}.\n")
    md.append(markdown_table(["protocol", "group", "reached target", "trial-epochs to target, median [IQR]",
                              "ratio vs 2022 (epochs; unreached = 0), median [IQR]",
                              "ratio (CPU seconds; reached), median [IQR]",
                              "final true val mAP@10 (pp), median [IQR]", "final true test mAP@10 (pp)", "trials/jobs",
                              "pruned"], markdown_rows(h)))
    md.append(f"\nTarget per repetition: the **true quality** (seed-mean final val mAP@10 over "
              f"{h.get('seeds_per_config', 1)} seeds) of the configuration the 2022 protocol returns after its full "
              "budget (10 random + 100 TPE trials, FIFO, patience 10). A protocol's compute to target: trial-epochs "
              "spent when its own incumbent (chosen by its own noisy values, by its own bookkeeping) reached that "
              "true quality and kept it to the end of its run; the 2022 protocol's compute is measured the same way. "
              f"Ratio = the 2022 protocol's compute / the protocol's. {h['repetitions']} repetitions (sampler seeds "
              f"0..{h['repetitions'] - 1}); every protocol may spend the 2022 protocol's trial-epochs. Regret curves: "
              + ", ".join(f"`{x}`" for x in h.get("plots", [])) + ".\n")
    rc = h.get("rank_correlations")
    if rc:
        md.append("### Rank correlation between rungs and the truth\n")
        md.append(markdown_table(["rung", "Spearman (seed mean)", "Kendall (seed mean)", "Spearman (one seed)",
                                  "Kendall (one seed)", "rank of the best config"], correlation_rows(rc)))
        sd = rc.get("seed_sd_final")
        noise = (f"Seed sd of the final val mAP@10: median {100 * sd['median']:.1f} pp (max {100 * sd['max']:.1f}); "
                 if sd else "One seed per configuration, no seed noise measured; ")
        md.append(f"\nOver the {rc['configs']} configurations: what a method sees at a rung against the true quality. "
                  "*Seed mean*: the mean over seeds at the rung; *one seed*: one run at the rung against the mean of "
                  "the other seeds' final values (what a one-seed method sees; leave-one-out, so a run's own noise "
                  f"is not signal), averaged over seeds. {noise}the top five configurations lie within "
                  f"{100 * rc['truth']['top5_spread']:.1f} pp of the best.\n")
    build = ""
    if meta.get("build_wall_s"):
        build = (f" Built in {meta['build_wall_s'] / 60:.0f} min wall ({meta['build_started']} to "
                 f"{meta['build_finished']} UTC; {meta.get('trial_seconds_total', 0) / 3600:.2f} trial-hours at 1 "
                 f"thread, {meta.get('concurrent_trials')} at a time, on the shared 2-core machine).")
    md.append(f"**Method and limits.** {h['method']}. The table `{tb['path']}` (version {tb.get('version', 1)}, "
              f"fingerprint `{tb['fingerprint']}`) holds {tb['configs']} configurations x {len(tb.get('seeds', [0]))} "
              f"seeds x schedule lengths {tb.get('schedules', [tb['max_epochs']])} (epochs) of real trials of the "
              f"grid study `{meta.get('spec', 'benchmarks/hpo_table_v2.yaml')}`; best true val mAP@10 "
              f"{100 * tb['best_truth']:.2f} pp ({tb['best_config']}), its true test mAP@10 "
              + (f"{100 * tb['best_truth_test']:.2f} pp." if tb.get("best_truth_test") is not None else "n/a.")
              + build + " Budgeted rungs read the runs of their own schedule length (exact: each rung budget is a "
              "recorded schedule length); promotions by continuation read the longest schedule's run. Stock peers "
              "use their libraries' defaults: Ray Tune's OptunaSearch (its own TPESampler, every trial COMPLETE with "
              "its last reported value) with `AsyncHyperBandScheduler` (grace 1, rf 4); Optuna's `TPESampler` with "
              "`HyperbandPruner` (min_resource 1, rf 3; pruned trials PRUNED, the incumbent the best COMPLETE trial); "
              "random search (whole runs). The space is the table's discrete space, not the paper's continuous "
              "augmentation space.\n")
    if "sensitivity" in h:
        from .hpo import sensitivity_markdown

        sens = h["sensitivity"]
        best = sens["best"]
        md.append("### ASHA sensitivity: the harness's stopping ASHA over grace period and reduction factor\n")
        md.append(markdown_table(*sensitivity_markdown(sens)))
        md.append(f"\nThe same replay, reference and targets, {sens['repetitions']} repetitions, for every ASHA "
                  "(grace period, reduction factor) pair. A cell: median compute ratio over all repetitions, an "
                  "unreached target counted as ratio 0, and how many repetitions reached the target. Best cell: "
                  f"{best['sampler']} + ASHA with grace {best['grace_period']}, rf {best['reduction_factor']}: "
                  f"{best['ratio_epochs_all_median']:.2f}x.\n")
    return md
