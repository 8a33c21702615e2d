"""The HPO-efficiency part of ``python -m benchmarks perf``: :func:`run` (load the table, compare, plot, the
sensitivity grid) and the Markdown rows of its result."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from .compare import compare, sensitivity
from .plot import plot_curves
from .protocols import default_protocols
from .table import DEFAULT_TABLE, load_table


def run(table_path: str | Path = DEFAULT_TABLE, *, repetitions: int = 5, asha_impl: str = "ray",
        plot_stem: str | Path | None = None, sensitivity_repetitions: int | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """The HPO-efficiency benchmark on a stored table: replay, compare, plot; then the ASHA sensitivity grid with
    ``sensitivity_repetitions`` repetitions (default ``repetitions``; 0 skips it)."""
    table = load_table(table_path)
    protocols = default_protocols(asha_impl=asha_impl)
    log(f"  HPO replay on {table_path} ({len(table.curves)} configurations x {table.max_epochs} epochs, "
        f"fingerprint {table.fingerprint()}), {repetitions} repetitions")
    summary, runs = compare(table, protocols, repetitions, log=log)
    summary["table"] = {"path": str(table_path), "fingerprint": table.fingerprint(), "configs": len(table.curves),
                        "max_epochs": table.max_epochs, "best_val_map10": table.best, "meta": table.meta}
    summary["method"] = ("tabular replay: sequential (one worker), every trial reads its configuration's measured "
                         "curve epoch by epoch and pays its measured epoch seconds (1 thread per trial, so CPU "
                         "seconds; + the trial's measured set-up and final evaluation); repeated proposals of a "
                         "configuration are charged again")
    if plot_stem:
        targets = {rep["seed"]: rep["target"] for rep in summary["per_repetition"]}
        paths = plot_curves(runs, targets, plot_stem, f"HPO replay on the SynthCaps-small table "
                                                      f"({len(table.curves)} configs x {table.max_epochs} epochs, "
                                                      f"{repetitions} repetitions)")
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


def markdown_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """``[protocol, reached, trial-epochs to target (median [IQR]), ratio epochs, ratio seconds, trials, pruned,
    final best]`` rows."""
    rows = []
    for name, s in summary["protocols"].items():
        e, re_, rs = s["epochs_to_target"], s["ratio_epochs"], s["ratio_seconds"]
        rows.append([name, f"{s['reached']}/{summary['repetitions']}",
                     f"{e['median']:.0f} [{e['q25']:.0f}-{e['q75']:.0f}]" if e["n"] else "n/a",
                     f"{re_['median']:.2f}x [{re_['q25']:.2f}-{re_['q75']:.2f}; {re_['min']:.2f}-{re_['max']:.2f}]"
                     if re_["n"] else "n/a",
                     f"{rs['median']:.2f}x [{rs['q25']:.2f}-{rs['q75']:.2f}]" if rs["n"] else "n/a",
                     f"{s['trials']['median']:.0f}", f"{s['pruned']['median']:.0f}",
                     f"{s['final_best']['median']:.4f}"])
    return rows
