"""Does metadata fusion help on SynthCaps? Content-only vs late (and optionally mid) fusion, paired over queries.

For each seed, trains (or reuses, when the run directory already holds a finished run of the same config) one
retriever per fusion kind with ``python -m retrieval train``'s ``fit``, then compares their test-split per-query
AP@10 (``per_query.csv``) with :func:`reports.stats.compare_arms`: the recipe test (seed variance + query sampling)
when both kinds have at least 2 seeds, else the query-only paired test. Also reports the expected mAP@10 of a random ranking,
``E[AP@10] = (1/N) * sum_{r=1}^{min(10, N)} 1/r`` for one relevant item among ``N``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from retrieval.errors import command_line

from .common import check_folder_option, machine, markdown_table, write_results


def random_map10(n_items: int) -> float:
    return float(sum(1.0 / r for r in range(1, min(10, n_items) + 1)) / n_items)


def read_per_query(run_dir: Path) -> tuple[list[tuple[str, str]], np.ndarray]:
    from reports.collect import CollectError

    path = Path(run_dir) / "per_query.csv"
    if not path.exists():
        raise CollectError(f"{path} not found (is {run_dir} a finished run?)")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [(r["query"], r["target"]) for r in rows], np.array([float(r["ap10"]) for r in rows])


def train_or_reuse(config: str, kind: str, seed: int, runs_dir: Path, overrides: dict) -> Path:
    """``runs_dir/<kind>-s<seed>``: trained, or reused when it holds this finished configuration."""
    from .seed_noise import train_or_reuse as train

    return train(config, {**overrides, "fusion.kind": kind}, seed, runs_dir, label=kind)


@command_line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks fusion_effect", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--kinds", nargs="+", default=["none", "late"], help="the first is the baseline")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/fusion_effect"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    for flag in ("--runs-dir", "--out"):
        check_folder_option(flag, getattr(args, flag[2:].replace("-", "_")))
    from retrieval.config import parse_override
    from reports.stats import compare_arms, holm

    overrides = dict(parse_override(o) for o in args.overrides)
    per_kind: dict[str, list[np.ndarray]] = {}
    per_run: dict[str, dict] = {}
    queries_ref = None
    n_items = None
    for kind in args.kinds:
        for seed in args.seeds:
            run_dir = train_or_reuse(args.config, kind, seed, args.runs_dir, overrides)
            queries, ap = read_per_query(run_dir)
            if queries_ref is None:
                queries_ref = queries
            elif queries != queries_ref:
                from reports.collect import CollectError

                raise CollectError(f"{run_dir}/per_query.csv holds other queries than the first run")
            m = json.loads((run_dir / "metrics.json").read_text())
            n_items = m["extra"]["n_test"]
            per_kind.setdefault(kind, []).append(ap)
            per_run[f"{kind}-s{seed}"] = {"run_dir": str(run_dir), **m["test"]}
    base = args.kinds[0]
    chance = random_map10(n_items)
    rows, results = [], {}
    for kind in args.kinds[1:]:  # recipe comparisons: seed-aware as soon as both arms have 2 seeds
        res = compare_arms(per_kind[kind], per_kind[base], n_resamples=args.resamples, seed=0)
        results[kind] = res.to_dict()
    adj = dict(zip(results, holm([r["p_value"] for r in results.values()])))
    for kind in args.kinds:
        maps = [float(a.mean()) for a in per_kind[kind]]
        r = results.get(kind)
        rows.append([kind, f"{np.mean(maps):.4f} ± {np.std(maps, ddof=1) if len(maps) > 1 else 0:.4f}",
                     f"{np.mean(maps) / chance:.1f}x",
                     "" if r is None else f"{100 * r['diff']:+.2f} [{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]",
                     "" if r is None else f"{r['p_value']:.2g} (Holm {adj[kind]:.2g})",
                     "" if r is None else ("recipe (seeds + queries)" if r["seed_aware"] else "query-only")])
    payload = {"benchmark": "fusion_effect", "config": args.config, "overrides": overrides, "seeds": args.seeds,
               "machine": machine(), "n_test_items": n_items, "n_queries": len(queries_ref),
               "random_map10": chance, "runs": per_run, "comparisons_vs_" + base: results, "holm": adj}
    md = (f"# fusion_effect ({args.config}, seeds {args.seeds}, {payload['machine']['date']})\n\n"
          f"Test split: {n_items} recordings, {len(queries_ref)} caption queries; random ranking mAP@10 = "
          f"{chance:.4f}. Δ against `{base}`: with at least 2 seeds per arm the recipe test (reports.stats."
          f"recipe_test: CI and p cover seed variance and query sampling), else the query-only paired test on "
          f"per-query AP@10 ({args.resamples} resamples), which covers query sampling only.\n\n")
    md += markdown_table(["fusion", "test mAP@10 (mean ± sd over seeds)", "× random", "Δ mAP@10 pp [95% CI]",
                          "p", "test"], rows)
    jpath, mpath = write_results(args.out, "fusion_effect", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0
