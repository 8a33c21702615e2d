"""The seed distribution of one configuration as it is, and A/A checks of the significance tests on its runs.

Trains (or reuses, when the run directory holds a finished run of the same config) runs of one configuration with
:func:`retrieval.train.fit` on two disjoint seed sets fixed before the run (:mod:`reports.replication`): the
**discovery** seeds (``--seeds``: a count N for 0..N-1, or a list) and the **replication** seeds
(``--replication-seeds``, default as many from 100; overlapping sets are refused). The runs differ only in
``train.seed``, so any "significant" difference between them is a false positive. ``--recipe planted-base`` is
``synthcaps-small`` with the planted-effects BASE settings (run folders ``base-s<seed>``, shared with
``planted_effects`` when ``--runs-dir runs/planted_effects``); ``--recipe dcase2022-incumbent`` is the DCASE 2022
workflow's incumbent (``benchmarks/dcase2022_incumbent.yaml``). It measures, on the runs' test-split per-query AP@10:

* **the seed distribution** of test mAP@10 on each set and on both (:func:`reports.noise.distribution_stats`): sd
  (with its chi-square CI), skew, excess kurtosis, bimodality coefficient, the largest gap between neighbouring
  runs, Shapiro-Wilk; and a histogram (``<name>_hist.png`` and ``.pdf``);
* **the recipe test's type-I error by resampling the runs** (:func:`reports.noise.resampled_type_i`): ``--splits``
  random k-vs-k splits of the measured runs (``--resample-sizes``, default 3 and 5), for Welch's recipe test and
  for the floored one (``reports.stats.recipe_test(seed_var_floor=...)``), on each set and on both; and a verdict:
  the robust test is called for when Shapiro-Wilk rejects normality, the bimodality coefficient exceeds 5/9 or
  Welch's rate exceeds 7%;
* **replication** of the seed-noise figures: the replication sd inside the discovery sd's 95% CI, the two seed sets
  agreeing (recipe test discovery vs replication seeds: null expected), Welch's resampled size <= 7% on both;
* **the minimum detectable effect** (80% power, two-sided 0.05) for 3, 5, 10 and N seeds per arm from the seed
  variance pooled over both sets (not one arm's);
* the **A/A table** on the discovery seeds as before: single-run pairs (all ``N (N-1) / 2``) with the query-only
  paired randomization test (:func:`reports.stats.compare_paired`), and k-vs-k splits (``--arm-size k``; all of
  them, or ``--max-aa-splits`` random ones when there are more) with the query-only test on seed-averaged
  per-query AP and with the recipe test. The splits share runs, so their rejections are correlated: the rate over
  splits is an A/A check, not a precise size estimate (the simulations in ``tests/reports/test_recipe_stats.py``
  measure the size).

With ``--compare KEY=VALUE`` (repeatable) it also trains ``--compare-seeds`` runs (the first discovery seeds) of
the configuration with those overrides and compares the two recipes with the recipe test (a power check on
discovery seeds only; ``fusion_effect`` and ``planted_effects`` make replicated claims).

Output: ``benchmarks/results/<name>.{json,md}`` and ``<name>_hist.{png,pdf}``, name ``seed_noise`` or
``seed_noise_<recipe>`` (``--name``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from retrieval.errors import command_line

from .common import PLANTED_BASE, check_folder_option, machine, markdown_table, write_results


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


def _train(args: tuple) -> str:
    config, overrides, seed, runs_dir, label = args
    return str(train_or_reuse(config, dict(overrides), seed, Path(runs_dir), label=label))


def train_all(config: str, jobs_: Sequence[tuple[dict[str, Any], int]], runs_dir: Path, n_jobs: int, *,
              common: Mapping[str, Any] | None = None,
              label: str | Callable[[dict[str, Any]], str] | None = None) -> list[Path]:
    """Train or reuse every (arm settings, seed) with the ``common`` overrides on top of ``config``, as
    ``runs_dir/<arm>-s<seed>`` (arm: ``label``, or ``label(settings)`` when it is a function; default
    :func:`run_label` of the arm's own settings); ``n_jobs`` at a time in worker processes (1: in this process)."""
    name = label if callable(label) else (lambda o: label) if label else run_label
    todo = [(config, tuple(sorted({**(common or {}), **o}.items())), s, str(runs_dir), name(o)) for o, s in jobs_]
    if n_jobs <= 1:
        return [Path(_train(t)) for t in todo]
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
        return [Path(p) for p in pool.map(_train, todo)]


def _splits(n_runs: int, arm_size: int, max_splits: int | None, seed: int) -> list[tuple[list[int], list[int]]]:
    """Every unordered split of ``2 * arm_size`` of the runs into two arms, or (when there are more than
    ``max_splits``) ``max_splits`` of them drawn at random (with a fixed seed; a split may repeat)."""
    total = math.comb(n_runs, arm_size) * math.comb(n_runs - arm_size, arm_size) // 2
    if max_splits is None or total <= max_splits:
        out = []
        for a in itertools.combinations(range(n_runs), arm_size):
            rest = [r for r in range(n_runs) if r not in a]
            for b in itertools.combinations(rest, arm_size):
                if min(b) > min(a):  # each unordered split once
                    out.append((list(a), list(b)))
        return out
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(max_splits):
        perm = rng.permutation(n_runs)
        a, b = sorted(perm[:arm_size].tolist()), sorted(perm[arm_size:2 * arm_size].tolist())
        out.append((a, b) if min(a) < min(b) else (b, a))
    return out


def aa_rates(x: np.ndarray, *, arm_size: int, resamples: int, seed: int = 0,
             max_splits: int | None = None) -> dict[str, Any]:
    """False-positive rates of the query-only and recipe tests among runs of one recipe (rows of ``x``): every
    pair of runs, and every k-vs-k split (``max_splits``: at most that many, drawn at random when there are more)."""
    from reports.stats import compare_paired, recipe_test

    n_runs = x.shape[0]
    pairs = []
    for i, j in itertools.combinations(range(n_runs), 2):
        p = compare_paired(x[i], x[j], n_resamples=resamples, seed=seed).p_randomization
        pairs.append({"a": i, "b": j, "diff": float(x[i].mean() - x[j].mean()), "p_query_only": p})
    splits = []
    if 2 * arm_size <= n_runs:
        for a, b in _splits(n_runs, arm_size, max_splits, seed):
            q = compare_paired(x[a].mean(axis=0), x[b].mean(axis=0), n_resamples=resamples,
                               seed=seed).p_randomization
            r = recipe_test(x[a], x[b])
            splits.append({"a": a, "b": b, "diff": r.diff, "p_query_only": q,
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


#: Named recipes of ``--recipe``: config, overrides on top of it (before ``--set``), run-folder label.
RECIPES = ("planted-base", "dcase2022-incumbent")
#: The incumbent of the DCASE 2022 workflow (docs/results.md), committed so that its seed distribution regenerates.
INCUMBENT_CONFIG = Path(__file__).parent / "dcase2022_incumbent.yaml"
#: Welch's resampled type-I rate above this (at alpha 0.05) calls for the robust (floored) recipe test.
TYPE_I_LIMIT = 0.07


def recipe(name: str) -> tuple[str, dict[str, Any], str]:
    """``(config, overrides, label)`` of a named recipe: ``planted-base`` is ``synthcaps-small`` with the
    planted-effects BASE settings (its runs are the planted-effects base runs, ``base-s<seed>``);
    ``dcase2022-incumbent`` is :data:`INCUMBENT_CONFIG`."""
    if name == "planted-base":
        return "synthcaps-small", dict(PLANTED_BASE), "base"
    if name == "dcase2022-incumbent":
        return str(INCUMBENT_CONFIG), {}, "dcase2022-incumbent"
    raise ValueError(f"unknown recipe {name!r} (known: {', '.join(RECIPES)})")


def shown_config(config: str) -> str:
    """A config as the result files name it: a file inside the repository by its path from the repository root
    (``benchmarks/dcase2022_incumbent.yaml``), so results carry no path of the machine that measured them."""
    path = Path(config)
    if path.is_absolute():
        root = Path(__file__).resolve().parent.parent
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            return config
    return config


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = ".2f") -> str:
    return "–" if v is None else format(v, fmt)


def verdict(pooled: Mapping[str, Any], type_i: Mapping[str, Any]) -> dict[str, Any]:
    """Whether the runs call for the robust recipe test: Shapiro-Wilk rejects normality (p < 0.05), the
    bimodality coefficient exceeds 5/9, or Welch's resampled type-I rate at 0.05 exceeds :data:`TYPE_I_LIMIT`."""
    from reports.noise import BIMODALITY_THRESHOLD

    reasons = []
    if pooled.get("shapiro_p") is not None and pooled["shapiro_p"] < 0.05:
        reasons.append(f"Shapiro–Wilk rejects normality (p {pooled['shapiro_p']:.3g})")
    if pooled.get("bimodality_coefficient") is not None and pooled["bimodality_coefficient"] > BIMODALITY_THRESHOLD:
        reasons.append(f"bimodality coefficient {pooled['bimodality_coefficient']:.2f} > 5/9")
    for k, r in type_i.items():
        if r["welch"]["0.05"] > TYPE_I_LIMIT:
            reasons.append(f"Welch's resampled type-I error {k} is {100 * r['welch']['0.05']:.1f}% > "
                           f"{100 * TYPE_I_LIMIT:.0f}%")
    return {"robust_needed": bool(reasons), "reasons": reasons}


def markdown(payload: dict[str, Any]) -> str:
    from reports.replication import seeds_text

    runs = payload["runs"]
    k = payload["arm_size"]
    disc, rep = payload.get("discovery_seeds"), payload.get("replication_seeds") or []
    name = payload.get("recipe") or payload["config"]
    if disc is None:  # a result file from before the replication sets (one set of seeds 0..N-1)
        disc = [r.get("seed", i) for i, r in enumerate(runs)]
    md = [f"# seed_noise ({name}, {len(disc)} + {len(rep)} seeds, {payload['machine']['date']})", "",
          f"{len(runs)} runs of one configuration ({payload['config']}"
          + (", " + ", ".join(f"{a}={b}" for a, b in payload["overrides"].items()) if payload["overrides"] else "")
          + ") that differ only in `train.seed`: discovery seeds " + seeds_text(disc) + ", replication seeds "
          + seeds_text(rep) + f" (fixed before the run). Test split, {payload['n_queries']} queries. Every "
          "significant difference among these runs is a false positive.", ""]
    dist = payload.get("distribution")
    if dist:
        rows = []
        for key, label in (("discovery", "discovery"), ("replication", "replication"), ("pooled", "both sets")):
            d = dist.get(key)
            if d is None:
                continue
            gap = d["largest_gap"]
            rows.append([label, d["n"], _num(100 * d["mean"]), f"{100 * d['sd']:.2f} [{100 * d['sd_ci'][0]:.2f}, "
                         f"{100 * d['sd_ci'][1]:.2f}]", _num(d["skew"]), _num(d["excess_kurtosis"]),
                         _num(d["bimodality_coefficient"]),
                         f"{100 * gap['gap']:.2f} ({_num(gap['gap_over_sd'])} sd, {100 * gap['lower']:.2f} → "
                         f"{100 * gap['upper']:.2f})",
                         "–" if d["shapiro_p"] is None else f"{d['shapiro_w']:.3f}, {d['shapiro_p']:.2g}"])
        md += ["## The seed distribution (test mAP@10, %)", "",
               markdown_table(["seeds", "runs", "mean", "sd [95% CI]", "skew", "excess kurtosis",
                               "bimodality coeff.", "largest gap between neighbours (in sd)", "Shapiro–Wilk W, p"],
                              rows),
               "Skew and excess kurtosis: adjusted G1 and G2 (0 for a normal); bimodality coefficient above 5/9 "
               "hints at two modes; the sd CI is the chi-square one (exact for normal runs only).", ""]
        if payload.get("figure"):
            md += [f"![seed distribution]({Path(payload['figure']).name})", ""]
        md += ["Test mAP@10 per seed: " + "; ".join(
            f"{key} " + ", ".join(f"{100 * r['test_map10']:.2f}" for r in runs if r.get("set") == key)
            for key in ("discovery", "replication") if any(r.get("set") == key for r in runs)), ""]
    type_i = payload.get("type_i")
    if type_i:
        rows = []
        for key, label in (("discovery", "discovery"), ("replication", "replication"), ("pooled", "both sets")):
            for split, r in (type_i.get(key) or {}).items():
                rows.append([f"{label} ({r['n_runs']} runs)", split, r["n_splits"], _pct(r["welch"]["0.05"]),
                             _pct(r["welch"]["0.01"]), _pct(r["floor"]["0.05"]), _pct(r["floor"]["0.01"])])
        v = payload["verdict"]
        md += ["## Type-I error of the recipe test, by resampling the measured runs", "",
               "Random splits of the real runs into two arms of k runs (same recipe: every rejection is false), not "
               "draws from a normal. Welch: `reports.stats.recipe_test` as is; floor: with the seed-variance floor "
               "pooled over the two arms and the runs left out (as the benchmarks pool it over their arms). Splits "
               "share runs, so a rate is an estimate for these runs, not a precise size.", "",
               markdown_table(["runs resampled", "split", "splits", "Welch p < 0.05", "Welch p < 0.01",
                               "floor p < 0.05", "floor p < 0.01"], rows),
               ("**Robust test needed**: " + "; ".join(v["reasons"]) + ". The claim-making benchmarks use the "
                "floored recipe test already; `reports` tables should switch to it too.") if v["robust_needed"] else
               (f"Robust test not needed by these runs: normality not rejected, no sign of two modes, Welch's "
                f"resampled rate ≤ {100 * TYPE_I_LIMIT:.0f}%. The claim-making benchmarks keep the floor (it "
                "guards against a tight arm)."), ""]
    repl = payload.get("replication")
    if repl:
        sd, agree, size = repl["seed_sd"], repl["sets_agree"], repl["type_i"]
        yn = lambda b: "–" if b is None else ("yes" if b else "**no**")  # noqa: E731
        md += ["## Do the seed-noise figures replicate?", "",
               markdown_table(["figure (replicated when ...)", "discovery", "replication", "replicated"], [
                   ["seed sd, pp (the replication sd lies in the discovery sd's 95% CI)",
                    f"{100 * sd['discovery']:.2f} [{100 * sd['discovery_ci'][0]:.2f}, "
                    f"{100 * sd['discovery_ci'][1]:.2f}]", f"{100 * sd['replication']:.2f}", yn(sd["replicated"])],
                   [f"mean test mAP@10 (the sets agree: recipe test of discovery vs replication seeds, Δ "
                    f"{100 * agree['diff']:+.2f} pp [{100 * agree['ci_low']:+.2f}, {100 * agree['ci_high']:+.2f}], "
                    f"p {agree['p_value']:.2g}, is null)",
                    f"{100 * agree['mean_a']:.2f}", f"{100 * agree['mean_b']:.2f}", yn(agree["replicated"])],
                   [f"Welch recipe test's resampled type-I error (≤ {100 * TYPE_I_LIMIT:.0f}% on both sets)",
                    ", ".join(f"{s_}: {_pct(r)}" for s_, r in size["discovery"].items()),
                    ", ".join(f"{s_}: {_pct(r)}" for s_, r in size["replication"].items()), yn(size["replicated"])]]),
               ""]
    mde = payload.get("mde")
    if mde:
        md += [f"## Minimum detectable effect (pooled seed variance of {' and '.join(mde['sets'])}: seed sd "
               f"{100 * math.sqrt(mde['seed_var']):.2f} pp, {mde['seed_var_df']} df)", "",
               markdown_table(["seeds per arm", "MDE (pp, power 0.8, two-sided 0.05)"],
                              [[m["seeds_per_arm"], f"{100 * m['mde']:.2f}"] for m in mde["rows"]]),
               mde["note"], ""]
    aa = payload["aa"]
    maps = [r["test_map10"] for r in runs if r.get("set", "discovery") == "discovery"]
    md += [f"## A/A check of the tests on the discovery seeds ({len(maps)} runs)", "",
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
        md += [f"## {cmp_['label']} vs {payload['label']} ({cmp_['n_runs']} vs {r['n_runs_b']} seeds; a power "
               "check on discovery seeds only, not a replicated claim)", "",
               f"Test mAP@10 {100 * r['mean_a']:.2f} vs {100 * r['mean_b']:.2f}: Δ {100 * r['diff']:+.2f} pp, 95% CI "
               f"[{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}], recipe test p = {r['p_value']:.2g} "
               f"(df {r['df']:.1f}); seed sd {100 * r['seed_sd_a']:.2f} and {100 * r['seed_sd_b']:.2f} pp.", ""]
    md += [f"How: `{payload['command']}`" if payload.get("command") else
           f"How: `python -m benchmarks seed_noise --seeds {len(runs)} --arm-size {k}"
           + "".join(f" --set {a}={b}" for a, b in payload["overrides"].items()) + "`", ""]
    return "\n".join(md)


def command_text(args: argparse.Namespace, disc: Sequence[int], rep: Sequence[int]) -> str:
    """The command that regenerates this result (seeds spelt out)."""
    from reports.replication import seeds_text

    def seeds(s):
        text = seeds_text(s)
        return text.replace("–", "-").replace(", ", ",") if s else "0"

    parts = ["python -m benchmarks seed_noise"]
    parts += [f"--recipe {args.recipe}"] if args.recipe else [f"--config {args.config}"]
    parts += [f"--seeds {seeds(disc)}", f"--replication-seeds {seeds(rep)}", f"--arm-size {args.arm_size}",
              f"--max-aa-splits {args.max_aa_splits}", f"--splits {args.splits}",
              f"--resample-sizes {args.resample_sizes}", f"--resamples {args.resamples}", f"--runs-dir {args.runs_dir}"]
    parts += [f"--set {o}" for o in args.overrides]
    parts += [f"--compare {o}" for o in args.compare] + ([f"--compare-seeds {args.compare_seeds}"] if args.compare
                                                          else [])
    return " ".join(parts)


@command_line(also=(OSError,))
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks seed_noise", description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=RECIPES, default=None,
                   help="a named configuration: planted-base (synthcaps-small with the planted-effects BASE "
                        "settings; runs labelled base) or dcase2022-incumbent (benchmarks/dcase2022_incumbent.yaml)")
    p.add_argument("--config", default=None, help="named config or YAML file (default synthcaps-small; not with "
                                                  "--recipe)")
    p.add_argument("--seeds", nargs="+", default=["8"], metavar="SEEDS",
                   help="discovery seeds: a count N (0..N-1) or a list (0-19, 0,1,2); default 8")
    p.add_argument("--replication-seeds", nargs="+", default=None, metavar="SEEDS",
                   help="replication seeds, disjoint from the discovery ones: a count N (100..100+N-1), a list, or 0 "
                        "for none; default as many as the discovery seeds, from 100")
    p.add_argument("--arm-size", type=int, default=3, help="seeds per arm in the exhaustive A/A splits (default 3)")
    p.add_argument("--max-aa-splits", type=int, default=300,
                   help="at most this many k-vs-k splits in the A/A table (random ones when there are more; 300)")
    p.add_argument("--splits", type=int, default=2000,
                   help="random splits per arm size for the resampled type-I error (default 2000)")
    p.add_argument("--resample-sizes", default="3,5", help="arm sizes of the resampled type-I error (default 3,5)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--compare", action="append", default=[], metavar="KEY=VALUE",
                   help="also train the configuration with these overrides and compare the recipes (power check)")
    p.add_argument("--compare-seeds", type=int, default=3)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/seed_noise"))
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=1, help="trainings at a time (default 1)")
    p.add_argument("--name", default=None,
                   help="result file stem (default seed_noise, or seed_noise_<recipe> with --recipe)")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    for flag in ("--runs-dir", "--out"):
        check_folder_option(flag, getattr(args, flag[2:].replace("-", "_")))
    from reports.replication import set_record
    from retrieval.errors import UsageError

    from .common import seed_sets

    for name in ("arm_size", "compare_seeds", "resamples", "jobs", "splits", "max_aa_splits"):
        if getattr(args, name) < (2 if name in ("arm_size", "compare_seeds") else 1):
            raise UsageError(f"--{name.replace('_', '-')} is too small: {getattr(args, name)}")
    try:
        sizes = sorted({int(v) for v in args.resample_sizes.split(",") if v.strip()})
    except ValueError:
        raise UsageError(f"--resample-sizes: {args.resample_sizes!r} is not a comma-separated list of integers") \
            from None
    if not sizes or min(sizes) < 2:
        raise UsageError(f"--resample-sizes: arm sizes must be >= 2, got {args.resample_sizes!r}")
    if args.recipe and args.config:
        raise UsageError("--recipe names its own config: give --recipe or --config, not both")
    disc, rep = seed_sets(args.seeds, args.replication_seeds)
    if args.compare and args.compare_seeds > len(disc):
        raise UsageError(f"--compare-seeds {args.compare_seeds} exceeds the {len(disc)} discovery seeds")
    from retrieval.config import parse_override
    from reports.noise import distribution_stats, resampled_type_i
    from reports.stats import minimum_detectable_effect, pooled_seed_variance, recipe_test

    if args.recipe:
        config, base_over, label = recipe(args.recipe)
    else:
        config, base_over, label = args.config or "synthcaps-small", {}, None
    overrides = {**base_over, **dict(parse_override(o) for o in args.overrides)}
    label = label or run_label(overrides)
    seeds = disc + rep
    run_dirs = train_all(config, [({}, s) for s in seeds], args.runs_dir, args.jobs, common=overrides, label=label)
    x, runs = read_runs(run_dirs)
    for seed, r in zip(seeds, runs):
        r.update(seed=seed, set="discovery" if seed in disc else "replication")
    xd, xr = x[: len(disc)], x[len(disc):]
    sets = {"discovery": xd, **({"replication": xr} if rep else {}), **({"pooled": x} if rep else {})}
    maps = {key: xs.mean(axis=1) for key, xs in sets.items()}
    distribution = {key: distribution_stats(m) for key, m in maps.items()}
    type_i = {key: {f"{k} vs {k}": resampled_type_i(xs, k, n_splits=args.splits, seed=k)
                    for k in sizes if 2 * k <= xs.shape[0]} for key, xs in sets.items()}
    aa = aa_rates(xd, arm_size=args.arm_size, resamples=args.resamples, max_splits=args.max_aa_splits)
    payload: dict[str, Any] = {
        "benchmark": "seed_noise", "recipe": args.recipe, "config": shown_config(config), "overrides": overrides,
        "label": label,
        "discovery_seeds": disc, "replication_seeds": rep, "machine": machine(), "n_queries": int(x.shape[1]),
        "arm_size": args.arm_size, "resamples": args.resamples, "runs": runs,
        "seed_sd_test_map10": float(np.std(xd.mean(axis=1), ddof=1)), "aa": aa,
        "distribution": distribution, "type_i": type_i,
        "verdict": verdict(distribution.get("pooled", distribution["discovery"]),
                           type_i.get("pooled", type_i["discovery"])),
        "command": command_text(args, disc, rep)}
    query_var, q_note = 0.0, ("Without the query term (an A/A has none): a lower bound for two recipes that differ "
                              "per query.")
    if args.compare:
        cmp_over = {**overrides, **dict(parse_override(o) for o in args.compare)}
        cmp_own = dict(parse_override(o) for o in args.compare)
        cmp_label = f"{label}_{run_label(cmp_own)}" if args.recipe else run_label(cmp_over)
        b_dirs = train_all(config, [({}, s) for s in disc[: args.compare_seeds]], args.runs_dir, args.jobs,
                           common=cmp_over, label=cmp_label)
        xb, b_runs = read_runs(run_dirs[:1] + b_dirs)  # the first run fixes the query order
        xb, b_runs = xb[1:], b_runs[1:]
        for seed, r in zip(disc, b_runs):
            r["seed"] = seed
        r = recipe_test(xb, xd[: args.compare_seeds])
        query_var, q_note = r.query_var, f"Query term Q from the comparison with {cmp_label}."
        payload["compare"] = {"label": cmp_label, "overrides": cmp_own,
                              "n_runs": len(b_dirs), "runs": b_runs,
                              "recipe": {**r.to_dict(), "baseline_seeds": disc[: args.compare_seeds]}}
    floor = pooled_seed_variance([maps["discovery"]] + ([maps["replication"]] if rep else []))
    payload["mde"] = {
        "sets": ["discovery", "replication"] if rep else ["discovery"], "seed_var": floor.var,
        "seed_var_df": floor.df, "query_var": query_var, "note": q_note,
        "rows": [{"seeds_per_arm": m, "mde": minimum_detectable_effect(
            n_runs_a=m, n_runs_b=m, n_queries=int(x.shape[1]), run_var_a=floor.var, run_var_b=floor.var,
            query_var=query_var)} for m in sorted({3, 5, 10, len(disc)}) if floor.var + query_var > 0]}
    if rep:
        sd_d, sd_r = distribution["discovery"], distribution["replication"]
        agree = set_record(xd, xr)
        size = {key: {s_: r["welch"]["0.05"] for s_, r in type_i[key].items()} for key in ("discovery", "replication")}
        payload["replication"] = {
            "seed_sd": {"discovery": sd_d["sd"], "discovery_ci": sd_d["sd_ci"], "replication": sd_r["sd"],
                        "replicated": bool(sd_d["sd_ci"][0] <= sd_r["sd"] <= sd_d["sd_ci"][1])},
            "sets_agree": {**agree, "replicated": not agree["significant"]},
            "type_i": {**size, "replicated": bool(all(v <= TYPE_I_LIMIT for d in size.values() for v in d.values())
                                                  and all(size.values()))}}
    name = args.name or ("seed_noise" if not args.recipe else "seed_noise_" + args.recipe.replace("-", "_"))
    from reports.plots import plot_seed_distribution
    from reports.replication import seeds_text

    fig = plot_seed_distribution(
        {f"discovery (seeds {seeds_text(disc)})": 100 * maps["discovery"],
         **({f"replication (seeds {seeds_text(rep)})": 100 * maps["replication"]} if rep else {})},
        Path(args.out) / f"{name}_hist", title=f"Seed distribution: {args.recipe or Path(config).stem} "
                                                f"({len(seeds)} runs)")
    payload["figure"] = str(fig[0])
    md = markdown(payload)
    jpath, mpath = write_results(args.out, name, payload, md)
    print(md)
    print(f"wrote {jpath}, {mpath} and {fig[0]}")
    return 0
