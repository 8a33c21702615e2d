"""Does metadata fusion help on SynthCaps? Content-only vs late (and optionally mid) fusion, on two seed sets.

Trains (or reuses, when the run directory already holds a finished run of the same config) one retriever per
fusion kind and seed with ``python -m retrieval train``'s ``fit``, on the **discovery** seeds (``--seeds``: a count
N for 0..N-1 or a list; default 3) and on the **replication** seeds (``--replication-seeds``: default as many, from
100; overlapping sets are refused), then compares each kind's test-split per-query AP@10 (``per_query.csv``) with
the first kind's by the recipe test (seed variance + query sampling; ``--test floor``, the default, floors each
arm's seed variance at the one pooled over the kinds of the set), on each set, with Holm over the kinds' discovery
p. A kind is called detected only when it is significant on the discovery seeds and replicated
(:mod:`reports.replication`). Each set needs at least 2 seeds per kind (one run per kind is an effect estimate,
not a test: ``python -m reports compare RUN RUN``); ``--seeds 3`` is now a count (seeds 0, 1, 2), a single seed is
``--seeds 7-7``. Run folders are ``<kind>-s<seed>``, as before. Also reports the expected mAP@10 of a
random ranking, ``E[AP@10] = (1/N) * sum_{r=1}^{min(10, N)} 1/r`` for one relevant item among ``N``.
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


@command_line(also=(OSError,))
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks fusion_effect", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small")
    p.add_argument("--seeds", nargs="+", default=["3"], metavar="SEEDS",
                   help="discovery seeds per kind: a count N (0..N-1) or a list (0-2, 0,1,2, 0 1 2); default 3")
    p.add_argument("--replication-seeds", nargs="+", default=None, metavar="SEEDS",
                   help="replication seeds per kind, disjoint from the discovery ones: a count N (100..100+N-1), a "
                        "list, or 0 for none; default as many as the discovery seeds, from 100")
    p.add_argument("--test", choices=("floor", "welch"), default="floor",
                   help="floor (default): each arm's seed variance floored at the one pooled over the kinds of the "
                        "set; welch: without the floor")
    p.add_argument("--kinds", nargs="+", default=["none", "late"], help="the first is the baseline")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/fusion_effect"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--resamples", type=int, default=10_000, help="(unused since every comparison is a recipe test; "
                                                                 "kept for old command lines)")
    p.add_argument("--jobs", type=int, default=1, help="trainings at a time (default 1)")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    for flag in ("--runs-dir", "--out"):
        check_folder_option(flag, getattr(args, flag[2:].replace("-", "_")))
    from retrieval.config import parse_override
    from retrieval.errors import UsageError
    from reports.collect import CollectError
    from reports.replication import replication_record, seeds_text, verdict
    from reports.stats import holm, pooled_seed_variance

    from .common import seed_sets
    from .seed_noise import train_all

    if len(args.kinds) < 2 or len(set(args.kinds)) != len(args.kinds):
        raise UsageError(f"--kinds: need at least two distinct fusion kinds, got {' '.join(args.kinds)}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    disc, rep = seed_sets(args.seeds, args.replication_seeds)
    overrides = dict(parse_override(o) for o in args.overrides)
    jobs_ = [({"fusion.kind": kind}, seed) for kind in args.kinds for seed in disc + rep]
    dirs = train_all(args.config, jobs_, args.runs_dir, args.jobs, common=overrides,
                     label=lambda o: o["fusion.kind"])  # run folders <kind>-s<seed>, as before
    per_kind: dict[str, dict[int, np.ndarray]] = {}
    per_run: dict[str, dict] = {}
    queries_ref = None
    n_items = None
    for (over, seed), run_dir in zip(jobs_, dirs):
        kind = over["fusion.kind"]
        queries, ap = read_per_query(run_dir)
        if queries_ref is None:
            queries_ref = queries
        elif queries != queries_ref:
            raise CollectError(f"{run_dir}/per_query.csv holds other queries than the first run")
        m = json.loads((run_dir / "metrics.json").read_text())
        n_items = m["extra"]["n_test"]
        per_kind.setdefault(kind, {})[seed] = ap
        per_run[f"{kind}-s{seed}"] = {"run_dir": str(run_dir), "seed": seed,
                                      "set": "discovery" if seed in disc else "replication", **m["test"]}
    arm = lambda kind, seeds: np.stack([per_kind[kind][s] for s in seeds])  # noqa: E731
    sets = {"discovery": disc, **({"replication": rep} if rep else {})}
    floors = {key: pooled_seed_variance([arm(k, ss).mean(axis=1) for k in args.kinds]) for key, ss in sets.items()}
    floors["pooled"] = pooled_seed_variance([arm(k, ss).mean(axis=1) for k in args.kinds for ss in sets.values()])
    use = floors if args.test == "floor" else {}
    base = args.kinds[0]
    chance = random_map10(n_items)
    claims = {kind: replication_record(arm(kind, disc), arm(base, disc), arm(kind, rep) if rep else None,
                                       arm(base, rep) if rep else None, floors=use) for kind in args.kinds[1:]}
    adj = dict(zip(claims, holm([c["discovery"]["p_value"] for c in claims.values()])))
    for kind, c in claims.items():
        c["discovery"]["p_holm"] = adj[kind]

    def ci(r, p=True):
        if r is None:
            return "–"
        text = f"{100 * r['diff']:+.2f} [{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]"
        return text + (f", p {r['p_value']:.2g}" if p else "")

    rows = []
    for kind in args.kinds:
        maps = {key: [float(a.mean()) for a in arm(kind, ss)] for key, ss in sets.items()}
        every = [v for vs in maps.values() for v in vs]
        c = claims.get(kind)
        rows.append([kind, f"{np.mean(every):.4f} ± {np.std(every, ddof=1):.4f}", f"{np.mean(every) / chance:.1f}x",
                     "" if c is None else ci(c["discovery"]) + f" (Holm {adj[kind]:.2g})",
                     "" if c is None else ci(c["replication"]),
                     "" if c is None or c["replication"] is None else ci(c["pooled"], p=False),
                     "" if c is None else {None: "–", True: "yes", False: "no"}[c["replicated"]],
                     "" if c is None else verdict(c)])

    def seeds_arg(ss):
        return seeds_text(ss).replace("–", "-").replace(", ", ",") if ss else "0"

    command = (f"python -m benchmarks fusion_effect --config {args.config} --seeds {seeds_arg(disc)} "
               f"--replication-seeds {seeds_arg(rep)} --test {args.test} --kinds {' '.join(args.kinds)} "
               f"--runs-dir {args.runs_dir}" + "".join(f" --set {o}" for o in args.overrides))
    payload = {"benchmark": "fusion_effect", "config": args.config, "overrides": overrides, "seeds": disc,
               "discovery_seeds": disc, "replication_seeds": rep, "test": args.test,
               "floors": {k: v.to_dict() for k, v in floors.items()}, "machine": machine(), "n_test_items": n_items,
               "n_queries": len(queries_ref), "random_map10": chance, "runs": per_run,
               "comparisons_vs_" + base: {k: c["discovery"] for k, c in claims.items()}, "holm": adj,
               "claims_vs_" + base: claims, "command": command}
    md = (f"# fusion_effect ({args.config}, discovery seeds {seeds_text(disc)}, replication seeds "
          f"{seeds_text(rep)}, {payload['machine']['date']})\n\n"
          f"Test split: {n_items} recordings, {len(queries_ref)} caption queries; random ranking mAP@10 = "
          f"{chance:.4f}. Δ against `{base}` with the recipe test (reports.stats.recipe_test: CI and p cover seed "
          "variance and query sampling" + (", each arm's seed variance floored at the one pooled over the kinds"
                                           if args.test == "floor" else "")
          + ") on each seed set, Holm over the kinds' discovery p. **Replicated**: the replication Δ has the "
          "discovery's sign and its CI excludes 0; **detected**: significant on the discovery seeds and replicated. "
          "Pooled: both sets together (an estimate). mAP@10 mean ± sd over every run of the kind.\n\n"
          + ("" if rep else "**Discovery only, pending replication.**\n\n"))
    md += markdown_table(["fusion", "test mAP@10 (mean ± sd over seeds)", "× random",
                          f"discovery Δ pp [95% CI], p (seeds {seeds_text(disc)})",
                          f"replication Δ pp [95% CI], p (seeds {seeds_text(rep)})", "pooled Δ pp [95% CI]",
                          "replicated", "verdict"], rows)
    md += f"\nHow: `{command}`\n"
    jpath, mpath = write_results(args.out, "fusion_effect", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0
