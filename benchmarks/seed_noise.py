"""A/A check of the significance tests: N seeds of one configuration, every comparison among them a false positive.

Trains (or reuses, when the run directory holds a finished run of the same config) ``--seeds N`` runs of one
configuration with :func:`retrieval.train.fit`; they differ only in ``train.seed``, so any "significant" difference
between them is a false positive. It then measures, on the runs' test-split per-query AP@10:

* **single-run pairs** (all ``N (N-1) / 2``): the query-only paired randomization test
  (:func:`reports.stats.compare_paired`), i.e. ``python -m reports compare RUN_A RUN_B``;
* **k-vs-k splits** (all ways to split ``2k`` of the seeds into two arms of ``k``, ``--arm-size k``):
  - the query-only test on per-query AP averaged over each arm's seeds (how ablation tables tested before), and
  - the recipe test (:func:`reports.stats.recipe_test`: seed variance + query sampling), i.e.
    ``python -m reports compare --arm A=... --arm B=...``;

and writes the rates of p < 0.05 (and p < 0.01) of each. The splits share runs, so their rejections are
correlated: the rate over splits is an A/A check, not a precise size estimate (the simulations in
``tests/reports/test_recipe_stats.py`` measure the size).

With ``--compare KEY=VALUE`` (repeatable) it also trains ``--compare-seeds`` runs of the configuration with those
overrides and compares the two recipes with the recipe test (a power check: e.g. ``--compare fusion.kind=late``).

Output: ``benchmarks/results/seed_noise.{json,md}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import command_line

from .common import check_folder_option, machine, markdown_table, write_results


def run_label(overrides: dict[str, Any]) -> str:
    """A folder-name prefix for a configuration's runs: ``base`` or its overrides, e.g. ``fusion.kind-late``."""
    if not overrides:
        return "base"
    text = "_".join(f"{k}-{v}" for k, v in sorted(overrides.items()))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)


def train_or_reuse(config: str, overrides: dict[str, Any], seed: int, runs_dir: Path, *, label: str | None = None,
                   log=print) -> Path:
    """``runs_dir/<label>-s<seed>`` (label default: :func:`run_label` of the overrides), trained with
    :func:`retrieval.train.fit` unless it already holds the finished run of this exact configuration."""
    from retrieval.config import TrialConfig
    from retrieval.train import fit

    cfg = TrialConfig.load(config).with_overrides({**overrides, "train.seed": seed})
    run_dir = runs_dir / f"{label or run_label(overrides)}-s{seed}"
    metrics = run_dir / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        if m.get("complete") and TrialConfig.load(run_dir / "config.yaml").fingerprint() == cfg.fingerprint():
            log(f"reusing {run_dir}")
            return run_dir
    log(f"training {run_dir} ({config}, seed {seed})")
    fit(cfg, run_dir)
    return run_dir


def read_runs(run_dirs: list[Path]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Per-query AP@10 of each run (runs x queries, rows paired by query) and each run's test metrics."""
    from reports.collect import CollectError, read_per_query

    ref: dict | None = None
    rows, metrics = [], []
    for d in run_dirs:
        pq = read_per_query(d / "per_query.csv")
        if ref is None:
            ref = {key: i for i, key in enumerate(pq.keys)}
        elif set(pq.keys) != set(ref):
            raise CollectError(f"{d}/per_query.csv holds other queries than {run_dirs[0]}/per_query.csv")
        ap = np.empty(len(ref))
        ap[[ref[key] for key in pq.keys]] = pq.ap
        rows.append(ap)
        m = json.loads((d / "metrics.json").read_text())
        metrics.append({"run_dir": str(d), **m["test"], "val_map10": m.get("val", {}).get("val_map10")})
    return np.vstack(rows), metrics


def aa_rates(x: np.ndarray, *, arm_size: int, resamples: int, seed: int = 0) -> dict[str, Any]:
    """False-positive rates of the query-only and recipe tests among runs of one recipe (rows of ``x``)."""
    from reports.stats import compare_paired, recipe_test

    n_runs = x.shape[0]
    pairs = []
    for i, j in itertools.combinations(range(n_runs), 2):
        p = compare_paired(x[i], x[j], n_resamples=resamples, seed=seed).p_randomization
        pairs.append({"a": i, "b": j, "diff": float(x[i].mean() - x[j].mean()), "p_query_only": p})
    splits = []
    if 2 * arm_size <= n_runs:
        for a in itertools.combinations(range(n_runs), arm_size):
            rest = [r for r in range(n_runs) if r not in a]
            for b in itertools.combinations(rest, arm_size):
                if min(b) < min(a):  # each unordered split once
                    continue
                q = compare_paired(x[list(a)].mean(axis=0), x[list(b)].mean(axis=0), n_resamples=resamples,
                                   seed=seed).p_randomization
                r = recipe_test(x[list(a)], x[list(b)])
                splits.append({"a": list(a), "b": list(b), "diff": r.diff, "p_query_only": q,
                               "p_recipe": r.p_value, "ci_low": r.ci_low, "ci_high": r.ci_high})

    def rate(items, key, alpha):
        return float(np.mean([it[key] < alpha for it in items])) if items else None

    return {"pairs": pairs, "splits": splits, "n_pairs": len(pairs), "n_splits": len(splits),
            "pair_query_only_p05": rate(pairs, "p_query_only", 0.05),
            "pair_query_only_p01": rate(pairs, "p_query_only", 0.01),
            "split_query_only_p05": rate(splits, "p_query_only", 0.05),
            "split_query_only_p01": rate(splits, "p_query_only", 0.01),
            "split_recipe_p05": rate(splits, "p_recipe", 0.05),
            "split_recipe_p01": rate(splits, "p_recipe", 0.01)}


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def markdown(payload: dict[str, Any]) -> str:
    aa, runs = payload["aa"], payload["runs"]
    maps = [r["test_map10"] for r in runs]
    k = payload["arm_size"]
    md = [f"# seed_noise ({payload['config']}, {len(runs)} seeds, {payload['machine']['date']})", "",
          f"A/A check: {len(runs)} runs of one configuration ({payload['config']}"
          + (", " + ", ".join(f"{a}={b}" for a, b in payload["overrides"].items()) if payload["overrides"] else "")
          + ") that differ only in `train.seed`; every significant difference among them is a false positive. "
          f"Test split, {payload['n_queries']} queries.", "",
          f"Test mAP@10 per seed: {', '.join(f'{100 * m:.1f}' for m in maps)} (mean {100 * np.mean(maps):.2f}, "
          f"seed sd {100 * np.std(maps, ddof=1):.2f} pp).", "",
          markdown_table(["comparison", "test", "comparisons", "p < 0.05", "p < 0.01"], [
              ["one run vs one run", "query-only (paired randomization over queries)", aa["n_pairs"],
               _pct(aa["pair_query_only_p05"]), _pct(aa["pair_query_only_p01"])],
              [f"{k} seeds vs {k} seeds", "query-only on seed-averaged per-query AP (old ablation tables)",
               aa["n_splits"], _pct(aa["split_query_only_p05"]), _pct(aa["split_query_only_p01"])],
              [f"{k} seeds vs {k} seeds", "recipe test (seed + query variance; reports compare --arm)",
               aa["n_splits"], _pct(aa["split_recipe_p05"]), _pct(aa["split_recipe_p01"])]]),
          "The splits share runs, so their rejections are correlated: a rate over splits is an A/A check, not a "
          "precise size (the simulations in tests/reports/test_recipe_stats.py measure that). Nominal rate: 5%.", ""]
    cmp_ = payload.get("compare")
    if cmp_:
        r = cmp_["recipe"]
        md += [f"## {cmp_['label']} vs {payload['label']} ({cmp_['n_runs']} vs {r['n_runs_b']} seeds)", "",
               f"Test mAP@10 {100 * r['mean_a']:.2f} vs {100 * r['mean_b']:.2f}: Δ {100 * r['diff']:+.2f} pp, 95% CI "
               f"[{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}], recipe test p = {r['p_value']:.2g} "
               f"(df {r['df']:.1f}); seed sd {100 * r['seed_sd_a']:.2f} and {100 * r['seed_sd_b']:.2f} pp.", ""]
    md += [f"How: `python -m benchmarks seed_noise --seeds {len(runs)} --arm-size {k}"
           + "".join(f" --set {a}={b}" for a, b in payload["overrides"].items())
           + ("".join(f" --compare {a}={b}" for a, b in cmp_["overrides"].items())
              + f" --compare-seeds {cmp_['n_runs']}" if cmp_ else "")
           + f"` ({payload['resamples']} resamples per query-only test).", ""]
    return "\n".join(md)


@command_line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks seed_noise", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small")
    p.add_argument("--seeds", type=int, default=8, help="runs of the configuration (seeds 0..N-1; default 8)")
    p.add_argument("--arm-size", type=int, default=3, help="seeds per arm in the k-vs-k splits (default 3)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--compare", action="append", default=[], metavar="KEY=VALUE",
                   help="also train the configuration with these overrides and compare the recipes (power check)")
    p.add_argument("--compare-seeds", type=int, default=3)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/seed_noise"))
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    for flag in ("--runs-dir", "--out"):
        check_folder_option(flag, getattr(args, flag[2:].replace("-", "_")))
    for name in ("seeds", "arm_size", "compare_seeds", "resamples"):
        if getattr(args, name) < (2 if name in ("seeds", "compare_seeds") else 1):
            p.error(f"--{name.replace('_', '-')} is too small: {getattr(args, name)}")
    from retrieval.config import parse_override
    from reports.stats import recipe_test

    overrides = dict(parse_override(o) for o in args.overrides)
    run_dirs = [train_or_reuse(args.config, overrides, s, args.runs_dir) for s in range(args.seeds)]
    x, runs = read_runs(run_dirs)
    for seed, r in enumerate(runs):
        r["seed"] = seed
    aa = aa_rates(x, arm_size=args.arm_size, resamples=args.resamples)
    payload: dict[str, Any] = {
        "benchmark": "seed_noise", "config": args.config, "overrides": overrides, "label": run_label(overrides),
        "machine": machine(), "n_queries": int(x.shape[1]), "arm_size": args.arm_size,
        "resamples": args.resamples, "runs": runs,
        "seed_sd_test_map10": float(np.std(x.mean(axis=1), ddof=1)), "aa": aa}
    if args.compare:
        cmp_over = {**overrides, **dict(parse_override(o) for o in args.compare)}
        b_dirs = [train_or_reuse(args.config, cmp_over, s, args.runs_dir) for s in range(args.compare_seeds)]
        xb, b_runs = read_runs(run_dirs[:1] + b_dirs)  # the first run fixes the query order
        xb, b_runs = xb[1:], b_runs[1:]
        for seed, r in enumerate(b_runs):
            r["seed"] = seed
        r = recipe_test(xb, x[: args.compare_seeds])
        payload["compare"] = {"label": run_label(cmp_over), "overrides": dict(parse_override(o) for o in args.compare),
                              "n_runs": len(b_dirs), "runs": b_runs,
                              "recipe": {**r.to_dict(), "baseline_seeds": list(range(args.compare_seeds))}}
    md = markdown(payload)
    jpath, mpath = write_results(args.out, "seed_noise", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0
