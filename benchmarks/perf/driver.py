"""The perf driver: run the chosen parts (:func:`run`) and write ``perf[_quick].{json,md}``; build the HPO table
from its grid study (:func:`build_table`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .report import markdown

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
        payload["hpo"] = hpo_mod.run(table or hpo_mod.DEFAULT_TABLE, repetitions=repetitions or (10 if quick else 20),
                                     asha_impl=asha_impl, plot_stem=out_dir / f"{name}_hpo_curves",
                                     sensitivity_repetitions=(0 if quick else 5) if sensitivity_repetitions is None
                                     else sensitivity_repetitions, quick=quick, log=_log)
        payload["seconds"]["hpo"] = time.perf_counter() - t0
        _log(f"[perf] HPO done in {payload['seconds']['hpo']:.0f} s")
    payload["seconds"]["total"] = time.perf_counter() - t_all
    payload["load_average_end"] = _load()
    _carry_over(payload, out_dir / f"{name}.json", parts)
    jpath, mpath = write_results(out_dir, name, payload, markdown(payload))
    _log(f"[perf] wrote {jpath} and {mpath} ({payload['seconds']['total']:.0f} s in all)")
    return payload



def _carry_over(payload: dict[str, Any], previous: Path, parts: tuple[str, ...]) -> None:
    """Keep the results of the parts not run now from the previous file of the same name, marked as such
    (``carried_over``: part -> the date, commit and load of the run that measured it)."""
    import json

    if set(parts) >= set(PARTS) or not previous.is_file():
        return
    try:
        old = json.loads(previous.read_text())
    except ValueError:
        return
    carried = {}
    for part in PARTS:
        if part not in parts and part in old:
            payload[part] = old[part]
            src = (old.get("carried_over") or {}).get(part) or {
                "date": (old.get("machine") or {}).get("date"), "git_commit": (old.get("machine") or {}).get(
                    "git_commit"), "load_average_start": old.get("load_average_start"),
                "seconds": (old.get("seconds") or {}).get(part)}
            carried[part] = src
    if carried:
        payload["carried_over"] = carried


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
    _log(f"[perf] wrote {out}: {len(table.configs)} configurations x {len(table.seeds)} seeds x schedules "
         f"{list(table.schedules)}, fingerprint {table.fingerprint()}")
    return Path(out)

