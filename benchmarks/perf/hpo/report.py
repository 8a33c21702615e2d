"""The HPO-efficiency part of ``python -m benchmarks perf``: :func:`run` (load the table, diagnose, compare, plot,
the sensitivity grid) and the Markdown rows of its result."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from .compare import compare, headline, regret_curves, sensitivity
from .diagnostics import rank_correlations
from .plot import plot_curves
from .protocols import default_protocols
from .table import DEFAULT_TABLE, load_table

# the harness's shipped default (studies/quick.yaml: scheduler promotion_sh, rungs 1/3/10, rf 3, random sampler),
# judged in the headline
DEFAULT_PROTOCOL = "SH by promotion (random; rungs 1/3/10, rf 3)"


def run(table_path: str | Path = DEFAULT_TABLE, *, repetitions: int = 10, asha_impl: str = "ray",
        plot_stem: str | Path | None = None, sensitivity_repetitions: int | None = None, quick: bool = False,
        default: str | None = DEFAULT_PROTOCOL, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The HPO-efficiency benchmark on a stored table: diagnose, replay, compare, plot; then the ASHA sensitivity
    grid with ``sensitivity_repetitions`` repetitions (default ``repetitions``; 0 skips it)."""
    table = load_table(table_path)
    protocols = default_protocols(schedules=table.schedules, max_epochs=table.max_epochs, asha_impl=asha_impl,
                                  quick=quick)
    names = [p.name for p in protocols]
    if default is not None and default in names:
        import dataclasses

        protocols = [dataclasses.replace(p, default=p.name == default) for p in protocols]
    log(f"  HPO replay on {table_path} ({len(table.configs)} configurations x {len(table.seeds)} seeds x schedules "
        f"{list(table.schedules)}, fingerprint {table.fingerprint()}), {len(protocols)} protocols, "
        f"{repetitions} repetitions")
    diag = rank_correlations(table)
    summary, runs = compare(table, protocols, repetitions, log=log)
    summary["headline"] = headline(summary)
    summary["seeds_per_config"] = len(table.seeds)
    summary["rank_correlations"] = diag
    summary["regret_curves"] = regret_curves(runs, table.best_truth)
    summary["table"] = {"path": str(table_path), "fingerprint": table.fingerprint(), "version": table.version,
                        "configs": len(table.configs), "seeds": list(table.seeds),
                        "schedules": list(table.schedules), "max_epochs": table.max_epochs,
                        "best_truth": table.best_truth, "best_config": table.best_config(),
                        "best_truth_test": table.truth_test(table.best_config()), "best_val_map10": table.best,
                        "meta": table.meta}
    summary["method"] = ("tabular replay: sequential (one worker); every job reads one run of the table (a "
                         "configuration's k-th trial reads another seed's run; a budgeted rung reads the run of its "
                         "own schedule length) and pays its measured epoch seconds (1 thread per trial, so CPU "
                         "seconds; + the run's measured set-up and final evaluation); repeated proposals are charged "
                         "again; incumbents are judged by the seed-mean final val mAP@10 of their configuration")
    if plot_stem:
        hl = tuple(n for n in (summary["reference"], summary["headline"].get("protocol"),
                               summary["headline"].get("best_stock")) if n)
        paths = plot_curves(summary["regret_curves"], plot_stem,
                            f"HPO replay on SynthCaps small ({len(table.configs)} configs x {len(table.seeds)} seeds, "
                            f"schedules {'/'.join(map(str, table.schedules))} epochs)\n{repetitions} repetitions: "
                            "median regret, IQR shaded for the 2022 protocol, the default and the best stock peer",
                            highlight=hl)
        summary["plots"] = [str(p) for p in paths]
    n_sens = repetitions if sensitivity_repetitions is None else sensitivity_repetitions
    if n_sens > 0:
        summary["sensitivity"] = sensitivity(table, n_sens, asha_impl=asha_impl, log=log)
    return summary


def sensitivity_markdown(sens: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the sensitivity table: one row per grace period, one column per reduction factor; a cell
    holds TPE's and random's median ratio over all repetitions (unreached = 0) and how many reached the target."""
    n = sens["repetitions"]
    by = {(c["sampler"], c["grace_period"], c["reduction_factor"]): c for c in sens["cells"]}
    header = ["grace period"] + [f"rf {rf}: TPE / random" for rf in sens["reduction_factors"]]
    rows = []
    for g in sens["grace_periods"]:
        row: list[Any] = [g]
        for rf in sens["reduction_factors"]:
            parts = []
            for name in ("TPE", "random"):
                c = by.get((name, g, rf))
                parts.append("n/a" if c is None else f"{c['ratio_epochs_all']['median']:.2f}x ({c['reached']}/{n})")
            row.append(" / ".join(parts))
        rows.append(row)
    return header, rows


def _x(s: Mapping[str, Any], fmt: str = ".2f") -> str:
    return f"{s['median']:{fmt}}x [{s['q25']:{fmt}}-{s['q75']:{fmt}}]" if s["n"] else "n/a"


def markdown_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """``[protocol, group, reached, trial-epochs to target (median [IQR]), ratio epochs (all reps, unreached 0),
    ratio seconds (reached), final true val, final true test, trials, pruned]`` rows."""
    rows = []
    for name, s in summary["protocols"].items():
        e = s["epochs_to_target"]
        rows.append([("**" + name + "**") if s.get("default") else name, s["group"],
                     f"{s['reached']}/{summary['repetitions']}",
                     f"{e['median']:.0f} [{e['q25']:.0f}-{e['q75']:.0f}]" if e["n"] else "n/a",
                     _x(s["ratio_epochs_all"]), _x(s["ratio_seconds"]),
                     f"{100 * s['final_truth']['median']:.1f} [{100 * s['final_truth']['q25']:.1f}-"
                     f"{100 * s['final_truth']['q75']:.1f}]",
                     f"{100 * s['final_test']['median']:.1f}" if s["final_test"]["n"] else "n/a",
                     f"{s['trials']['median']:.0f}", f"{s['pruned']['median']:.0f}"])
    return rows


def correlation_rows(diag: Mapping[str, Any]) -> list[list[Any]]:
    """``[rung, Spearman seed-mean, Kendall seed-mean, Spearman one seed, Kendall one seed, rank of the best]``."""
    rows = []
    for r in list(diag["epochs"]) + list(diag["short_schedules"]):
        label = (f"epoch {r['epoch']} of the {r['schedule']}-epoch schedule" if r["schedule"] == diag["max_epochs"]
                 else f"end of a complete {r['schedule']}-epoch schedule")
        one = r.get("one_seed") or {}
        rows.append([label, f"{r['seed_mean']['spearman']:.2f}", f"{r['seed_mean']['kendall']:.2f}",
                     f"{one.get('spearman', float('nan')):.2f}", f"{one.get('kendall', float('nan')):.2f}",
                     r["rank_of_best"]])
    return rows
