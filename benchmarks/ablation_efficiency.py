"""Honest ablations at half the cost: the fixed 10-seed design against the harness's default sequential paired one.

The DCASE 2022 leave-one-out ablation of the workflow's incumbent (``benchmarks/dcase2022_incumbent.yaml``, after
Table 5 of Primus & Widmer 2022) on ``synthcaps-small``, in two designs:

* **fixed** (``--fixed-spec``, default ``benchmarks/results/dcase2022_workflow_v2_ablation_10seeds.yaml``): every
  variant on 10 seeds (80 runs), one seed for every draw (``train.seed_streams.mode: single``), the unpaired recipe
  test (stats version 1), Holm over the 7 rows. ``--fixed published`` takes its figures from
  ``benchmarks/results/ablation_fixed_published.json`` (the 10-seed study of 2026-11-29) instead of training it;
* **efficient** (``--efficient-spec``, default ``benchmarks/ablation_efficient.yaml``, what the shipped
  ``studies/ablation.yaml`` does): split seed streams, paired comparisons with ``full``, and seeds only for the rows
  not yet decided (``seeds: {min: 3, max: 5, delta: 0.02}``; :mod:`studies.sequential`), on the discovery seeds
  and again on ``--replication-first`` (default 100: seeds 100-104; 0 = none), fixed before the run.

Both studies run through ``python -m studies run ... --resume`` (Ray Tune + Optuna, folders under ``--runs-dir``), so
a finished study is read again, not retrained, and an interrupted one continues. Then:

* ``fixed`` / ``efficient``: runs, the variants significant after Holm, wall-clock seconds (while at least one
  trial ran: first trial start to last trial end, less the gaps of a study resumed later), and per row Δ, CI, p,
  the runs used and the decision;
* ``paired_correlation``: per row the correlation of the row's and the control's run mAP@10 over the shared seeds,
  and the pooled ``rho = 1 - var(per-seed difference) / (2 var(run))``;
* ``aa``: the sequential paired design's familywise false-positive rate in ``--aa-studies`` simulated 7-row
  ablations with no effect at the measured variance components (per-seed difference sd, query term), and resampled
  from the real per-seed differences (centred per row); and, with ``--aa-redraw`` (default on), real A/A
  comparisons: ``full`` trained again on the control's seeds with other augmentation and dropout draws
  (``train.seed_streams.redraw: r`` for r = 1..``--aa-redraws``: the same initial weights and data order) and
  judged by the design against the control, once per seed set and redraw;
* ``power``: how often the design calls each row an effect, and at what cost in runs, if the true effects were the
  per-row Δ pooled over the seed sets: ``--aa-studies`` simulated ablations per line at each set's measured
  per-seed difference sd (and the pooled one), for ``seeds.max`` 5, 8 and 10;
* ``variance_sources`` (``--variance-seeds K``, 0 = skip): for the incumbent and the planted base, the run-to-run sd
  of test mAP@10 when one seed stream alone varies over K seeds (init, data, the augmentations, dropout; the others
  fixed at seed 0; Bouthillier et al. 2021), when all vary, and the within-run fluctuation (sd of val mAP@10 over a
  run's last 5 epochs).

Output: ``--out/ablation_efficiency.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from retrieval.errors import command_line

from .common import check_folder_option, machine, markdown_table, write_results

FIXED_SPEC = "benchmarks/results/dcase2022_workflow_v2_ablation_10seeds.yaml"
EFFICIENT_SPEC = "benchmarks/ablation_efficient.yaml"
PUBLISHED_FIXED = Path(__file__).parent / "results" / "ablation_fixed_published.json"
ALPHA = 0.05
#: one seed stream varied at a time (``train.seed_streams.*``), the others fixed at seed 0
STREAM_GROUPS: dict[str, tuple[str, ...]] = {
    "init": ("init",), "data": ("data",), "augmentations": ("gain", "mixstyle", "specaugment", "text"),
    "dropout": ("dropout", "metadata_dropout")}


def log(msg: str) -> None:
    print(f"[ablation_efficiency] {msg}", flush=True)


# --------------------------------------------------------------------------------------------- running studies
def run_study(spec: str, runs_dir: Path, sets: Sequence[str], log_path: Path, trainable: str | None = None) -> None:
    """``python -m studies run SPEC --runs-dir RUNS_DIR --resume [--set ...]``, its output to ``log_path``. A
    finished study prints "nothing to do" and trains nothing. ``trainable``: another Ray Tune trainable (tests)."""
    cmd = [sys.executable, "-m", "studies", "run", spec, "--runs-dir", str(runs_dir), "--resume"]
    cmd += ["--trainable", trainable] if trainable else []
    for s in sets:
        cmd += ["--set", s]
    log(f"{' '.join(cmd[1:])}  (log: {log_path})")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise RuntimeError(f"{' '.join(cmd[1:])} exited with {rc}; the end of {log_path}:\n{tail}")


def study_storage(runs_dir: Path, name: str) -> str:
    return f"sqlite:///{(runs_dir / name / 'optuna.db').resolve()}"


def analyse(runs_dir: Path, name: str, *, stats_version: int, resamples: int) -> dict[str, Any]:
    """The ablation table of study ``name`` (in ``runs_dir``) as numbers: rows, significant variants, runs, wall."""
    from reports.analysis import Settings, analyse_study
    from reports.collect import collect_study

    data = collect_study(storage=study_storage(runs_dir, name), study=name, runs_dir=runs_dir)
    a = analyse_study(data, Settings(resamples=resamples, stats_version=stats_version), importance=False)
    factor = next((f for f in a.factors if f.spec.name == "ablation"), None)
    if factor is None or factor.baseline is None:
        raise RuntimeError(f"study {name!r} in {runs_dir} has no ablation table (no variant runs with a baseline)")
    rows = []
    for g, c in zip(factor.groups, factor.comparisons):
        row: dict[str, Any] = {"variant": g.values[0], "runs": len(g.trials), "seeds": [t.seed for t in g.trials],
                               "map10_mean": g.map10_mean, "map10_sd": g.map10_std}
        if c is not None:
            row.update({"diff": c.diff, "ci": [c.ci_low, c.ci_high], "p": c.p_value, "p_holm": c.p_holm,
                        "kind": c.kind, "paired": c.paired, "correlation": c.correlation})
            if c.decision is not None:
                row["decision"] = c.decision.to_dict()
        rows.append(row)
    significant = [r["variant"] for r in rows[1:] if r.get("p_holm") is not None and r["p_holm"] <= ALPHA]
    wall = busy_seconds([(t.datetime_start, t.datetime_complete) for t in data.trials])
    resumed = sum(1 for t in data.trials if "adopted_from" in (t.user_attrs or {}))
    out = {"study": name, "runs": len(data.trials), "complete": len(data.included), "significant": significant,
           "wall_s": wall, "resumed_trials": resumed,
           "cpu_s": float(sum(float(t.user_attrs.get("wall_time_s") or 0) for t in data.trials)),
           "stats_version": stats_version, "rows": rows, "n_queries": len(data.query_keys)}
    if data.sequential is not None:
        out["design"] = data.sequential
        out["decisions"] = {r["variant"]: (r.get("decision") or {}).get("status", "not looked at")
                            for r in rows[1:]}
    out["_data"] = data  # for the measurements below; dropped before writing
    return out


def busy_seconds(intervals) -> float | None:
    """Wall-clock seconds during which at least one of the (start, end) intervals ran: the study's wall time, less
    the time when no trial ran (a study continued in a later session; an interval with a missing end is left out).
    A trial left RUNNING across such a gap still spans it (the result file says so: ``resumed_trials``)."""
    spans = sorted((a, b) for a, b in intervals if a is not None and b is not None)
    if not spans:
        return None
    total, (cur_a, cur_b) = 0.0, spans[0]
    for a, b in spans[1:]:
        if a > cur_b:
            total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    return total + (cur_b - cur_a).total_seconds()


# --------------------------------------------------------------------------------------------- measurements
def _runs_by_seed(data, variant: str) -> dict[int, np.ndarray]:
    return {t.seed: t.ap for t in data.included if t.params.get("variant") == variant and t.seed is not None}


def paired_pieces(result: dict[str, Any]) -> dict[str, Any]:
    """Per row the paired per-seed differences (in seed order), the runs' mAPs, and the paired test's query term."""
    from reports.stats import paired_arrays

    data, design = result["_data"], result["design"]
    control = _runs_by_seed(data, design["control"])
    order = {int(s): i for i, s in enumerate(design["seeds"])}
    pieces = {}
    for row in result["rows"][1:]:
        runs = _runs_by_seed(data, row["variant"])
        common = sorted((s for s in runs if s in control and s in order), key=order.get)
        if len(common) < 2:
            continue
        xa, xb = np.stack([runs[s] for s in common]), np.stack([control[s] for s in common])
        pieces[row["variant"]] = {"seeds": common, "diffs": xa.mean(axis=1) - xb.mean(axis=1),
                                  "a": xa.mean(axis=1), "b": xb.mean(axis=1),
                                  "query_var": float(paired_arrays(xa, xb, 0.95)["query_var"]),
                                  "n_queries": int(xa.shape[1])}
    return pieces


def paired_correlation(pieces: dict[str, Any]) -> dict[str, Any]:
    per_row = {}
    for v, p in pieces.items():
        a, b = p["a"], p["b"]
        per_row[v] = (float(np.corrcoef(a, b)[0, 1]) if len(a) >= 3 and a.std() > 0 and b.std() > 0 else None)
    d = [p["diffs"] - p["diffs"].mean() for p in pieces.values()]
    runs = [x - x.mean() for p in pieces.values() for x in (p["a"], p["b"])]
    dof_d = sum(len(x) - 1 for x in d)
    dof_r = sum(len(x) - 1 for x in runs)
    var_d = float(sum((x ** 2).sum() for x in d) / dof_d) if dof_d else float("nan")
    var_r = float(sum((x ** 2).sum() for x in runs) / dof_r) if dof_r else float("nan")
    vals = [r for r in per_row.values() if r is not None]
    return {"per_row": per_row, "median": float(np.median(vals)) if vals else None,
            "pooled": 1.0 - var_d / (2.0 * var_r) if var_r > 0 else None,
            "diff_sd": float(np.sqrt(var_d)), "run_sd": float(np.sqrt(var_r)),
            "note": "per row: correlation of the row's and the control's run mAP@10 over the shared seeds; pooled: "
                    "1 - var(per-seed difference) / (2 var(run)), both pooled over the rows (centred per row)"}


def simulated_aa(design_dict: dict[str, Any], pieces: dict[str, Any], n_rows: int, n_studies: int) -> dict[str, Any]:
    """The familywise false-positive rate of the sequential design over ``n_rows`` null rows: normal per-seed
    differences at the measured sd and query term; and resampled from the real differences, centred per row."""
    from reports.stats import SequentialDesign, simulate_sequential

    design = SequentialDesign(min_seeds=design_dict["min"], max_seeds=design_dict["max"],
                              delta=design_dict["delta"], alpha=design_dict["alpha"])
    corr = paired_correlation(pieces)
    q = float(np.mean([p["query_var"] for p in pieces.values()]))
    n_q = next(iter(pieces.values()))["n_queries"]
    sim = simulate_sequential(design, n_studies=n_studies, effects=(0.0,) * n_rows, diff_sd=corr["diff_sd"],
                              query_var=q, n_queries=n_q, seed=0)
    pool = np.concatenate([p["diffs"] - p["diffs"].mean() for p in pieces.values() if len(p["diffs"]) >= 2])
    res = simulate_sequential(design, n_studies=n_studies, effects=(0.0,) * n_rows, diffs_pool=pool, query_var=q,
                              n_queries=n_q, seed=1)
    return {"simulated_false_positive_rate": sim.fpr, "simulated_studies": n_studies,
            "simulated_components": {"diff_sd": corr["diff_sd"], "query_var": q, "n_queries": n_q, "rows": n_rows},
            "resampled_false_positive_rate": res.fpr, "resampled_pool": int(pool.size),
            "simulated_mean_seeds": sim.mean_seeds}


POWER_MAX_SEEDS = (5, 8, 10)


def design_power(design_dict: dict[str, Any], pieces_by_set: dict[str, dict[str, Any]], n_studies: int,
                 max_seeds: Sequence[int] = POWER_MAX_SEEDS) -> dict[str, Any]:
    """How often the design finds each row, and what it costs, if the true effects were the per-row Δ pooled over
    the seed sets (``pieces_by_set``: study name -> :func:`paired_pieces`; each set weighted by its pairs):
    ``n_studies`` simulated ablations with normal
    per-seed differences at each set's measured sd (and pooled over the sets) and the measured query term, for
    ``seeds.max`` in ``max_seeds`` (the rest of the design as it is). ``runs``: the rows' mean seeds plus ``max``
    for the control (an upper bound: the control runs as many seeds as its longest row)."""
    from reports.stats import SequentialDesign, simulate_sequential

    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for pcs in pieces_by_set.values():
        for v, pc in pcs.items():
            sums[v] = sums.get(v, 0.0) + float(pc["diffs"].sum())
            counts[v] = counts.get(v, 0) + len(pc["diffs"])
    effects = {v: sums[v] / counts[v] for v in sums}
    every = [pc for pcs in pieces_by_set.values() for pc in pcs.values()]
    q = float(np.mean([pc["query_var"] for pc in every]))
    n_q = every[0]["n_queries"]
    sds = {study: paired_correlation(pcs)["diff_sd"] for study, pcs in pieces_by_set.items()}
    sds["pooled"] = paired_correlation({f"{v} ({study})": pc for study, pcs in pieces_by_set.items()
                                        for v, pc in pcs.items()})["diff_sd"]
    scenarios = []
    for label, sd in sds.items():
        for mx in max_seeds:
            design = SequentialDesign(min_seeds=min(design_dict["min"], mx), max_seeds=mx, delta=design_dict["delta"],
                                      alpha=design_dict["alpha"])
            sim = simulate_sequential(design, n_studies=n_studies, effects=tuple(effects.values()), diff_sd=sd,
                                      query_var=q, n_queries=n_q, seed=2)
            scenarios.append({"diff_sd_from": label, "diff_sd": sd, "max": mx,
                              "effect_rate": dict(zip(effects, sim.effect_rate)),
                              "seeds_per_row": dict(zip(effects, sim.seeds_per_row)),
                              "runs": float(sum(sim.seeds_per_row) + mx)})
    return {"effects": effects, "query_var": q, "n_queries": n_q, "studies": n_studies, "scenarios": scenarios,
            "note": "true effects = the per-row Δ pooled over the seed sets; normal per-seed differences at the "
                    "measured sd; runs = the rows' mean seeds + max (control, upper bound)"}


def real_aa(result: dict[str, Any], spec: str, runs_dir: Path, jobs: int, redraw: int = 1) -> dict[str, Any]:
    """``full`` again on the control's seeds with other augmentation and dropout draws (``redraw``: 1, 2, ...; the
    same initial weights and data order), judged by the design against the control (one comparison per seed set
    and redraw)."""
    from reports.collect import align_runs, read_per_query
    from reports.stats import SequentialDesign, decide_ablation
    from studies.spec import load_spec

    from .seed_noise import train_all

    spec_obj = load_spec(spec)
    design_dict, data = result["design"], result["_data"]
    control_trials = sorted((t for t in data.included if t.params.get("variant") == design_dict["control"]),
                            key=lambda t: t.seed)
    seeds = [t.seed for t in control_trials]
    base = spec_obj.base.with_overrides({"train.seed_streams.redraw": redraw})
    cfg_path = runs_dir / "aa_redraw" / ("config.yaml" if redraw == 1 else f"config-redraw{redraw}.yaml")
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    import yaml

    from retrieval.utils import atomic_write_text

    atomic_write_text(cfg_path, yaml.safe_dump(base.to_dict(), sort_keys=False))
    dirs = train_all(str(cfg_path), [({}, s) for s in seeds], runs_dir / "aa_redraw", jobs,
                     label=f"full-redraw{redraw}")
    pqs = [read_per_query(d) for d in dirs] + [t.per_query for t in control_trials]
    _, aps, _ = align_runs(pqs, [str(d) for d in dirs] + [f"trial #{t.number}" for t in control_trials])
    aa = {s: ap for s, ap in zip(seeds, aps[: len(seeds)])}
    ctl = {s: ap for s, ap in zip(seeds, aps[len(seeds):])}
    design = SequentialDesign(min_seeds=design_dict["min"], max_seeds=design_dict["max"],
                              delta=design_dict["delta"], alpha=design_dict["alpha"])
    d = decide_ablation(design, {"aa": aa}, ctl, list(design_dict["seeds"]))["aa"]
    return {"study": result["study"], "redraw": redraw, "seeds": seeds,
            "decision": None if d is None else d.to_dict(),
            "false_positive": bool(d is not None and d.status == "effect"),
            "run_dirs": [str(p) for p in dirs]}


VARIANCE_RECIPES = ("dcase2022-incumbent", "planted-base")  # the ablated recipe first


def variance_sources(seeds: int, runs_dir: Path, jobs: int,
                     recipes: dict[str, tuple[str, dict[str, Any], str]] | None = None) -> dict[str, Any]:
    """Run-to-run sd of test mAP@10 with one stream group varied (the others at seed 0), all varied, and the
    within-run fluctuation, for each recipe (``name: (config, overrides, label)``; default the incumbent and the
    planted base, :data:`VARIANCE_RECIPES`)."""
    from .seed_noise import read_runs, recipe, train_all

    if recipes is None:
        recipes = {name: recipe(name) for name in VARIANCE_RECIPES}
    out: dict[str, Any] = {"seeds": list(range(seeds)), "groups": {k: list(v) for k, v in STREAM_GROUPS.items()},
                           "recipes": {}}
    for name, (config, base_over, label) in recipes.items():
        # one torch thread per run (as the study runner's trials with resources.cpu 1), so --jobs runs share the
        # cores without oversubscribing them
        common = {**base_over, "train.seed_streams.mode": "split", "train.num_threads": 1}
        # the reference: every stream at seed 0 (``train.seed`` 0), in every group; "all" varies ``train.seed``
        jobs_: list[tuple[dict[str, Any], int]] = [({}, 0)]
        labels, groups = {(): f"{label}-split"}, [[*STREAM_GROUPS, "all"]]
        for group, streams in [*STREAM_GROUPS.items(), ("all", ())]:
            for s in range(1, seeds):
                over = {f"train.seed_streams.{x}": s for x in streams}
                jobs_.append((over, 0 if streams else s))
                if streams:
                    labels[tuple(sorted(over.items()))] = f"{label}-split-{group}{s}"
                groups.append([group])
        log(f"variance sources of {name}: {len(jobs_)} runs")
        dirs = train_all(config, jobs_, runs_dir / "variance_sources", jobs, common=common,
                         label=lambda o, labels=labels: labels[tuple(sorted(o.items()))])
        x, _ = read_runs(dirs)
        maps = x.mean(axis=1)
        table: dict[str, Any] = {}
        for group in [*STREAM_GROUPS, "all"]:
            vals = maps[[i for i, g in enumerate(groups) if group in g]]
            table[group] = {"runs": int(vals.size), "sd": float(np.std(vals, ddof=1)) if vals.size > 1 else None,
                            "map10": [float(v) for v in vals]}
        within = []
        for d in dirs:
            hist = json.loads((Path(d) / "metrics.json").read_text()).get("history") or []
            last = [h["val_map10"] for h in hist[-5:] if h.get("val_map10") is not None]
            if len(last) >= 2:
                within.append(float(np.std(last, ddof=1)))
        table["within_run_last5"] = {"runs": len(within), "sd": float(np.mean(within)) if within else None,
                                     "note": "sd of val mAP@10 over a run's last 5 epochs, mean over runs"}
        out["recipes"][name] = table
    return out


# --------------------------------------------------------------------------------------------- the report
def _pp(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.2f}"


def markdown(payload: dict[str, Any]) -> str:
    fx, ef = payload["fixed"], payload["efficient"]
    lines = ["# Ablation efficiency: fixed 10-seed design against the sequential paired design", "",
             f"Measured {payload['date']} on {payload['machine'].get('cpus', '?')} CPU(s); command: "
             f"`{payload['command']}`.", "",
             markdown_table(["design", "runs", "significant after Holm", "wall"],
                            [["fixed (" + fx.get("source", "run") + ")", fx["runs"], ", ".join(fx["significant"])
                              or "none", _minutes(fx.get("wall_s"))],
                             *[[f"efficient, seeds {s['design']['seeds'][0]}–{s['design']['seeds'][-1]}", s["runs"],
                                ", ".join(s["significant"]) or "none", _minutes(s.get("wall_s"))]
                               for s in [ef, *payload.get("replications", [])]]]), ""]
    for st in [ef, *payload.get("replications", [])]:
        if st.get("resumed_trials"):
            lines.append(f"- `{st['study']}`: {st['resumed_trials']} trial(s) were left RUNNING by a runner that "
                         "stopped and continued later with --resume, so its wall clock includes the time between.")
    if fx.get("source") == "published" and ef.get("wall_s"):
        pace = ef["wall_s"] / ef["runs"]
        lines += [f"- The fixed design's figures are the published study's ({fx.get('date')}, another machine: "
                  f"{fx['wall_s'] / fx['runs']:.0f} s of wall per run there, {pace:.0f} s here): compare runs, not "
                  f"wall clocks across machines; at this machine's pace its {fx['runs']} runs would take about "
                  f"{_minutes(fx['runs'] * pace)}."]
    lines += [f"- efficient runs / fixed runs: {payload['checks']['runs_ratio']:.2f} (bar ≤ 0.5); efficient "
              f"significant ⊇ fixed significant: {payload['checks']['covers_fixed']}; opposite signs: "
              f"{payload['checks']['opposite_signs'] or 'none'}", ""]
    for s in [ef, *payload.get("replications", [])]:
        lines += [f"## Efficient design, study `{s['study']}` (seeds {s['design']['seeds']})", ""]
        rows = []
        for r in s["rows"]:
            d = r.get("decision") or {}
            rows.append([r["variant"], r["runs"], f"{100 * r['map10_mean']:.2f}",
                         "(control)" if "diff" not in r else _pp(r["diff"]),
                         "" if "ci" not in r else f"[{_pp(r['ci'][0])}, {_pp(r['ci'][1])}]",
                         "" if r.get("p_holm") is None else f"{r['p_holm']:.3g}",
                         "" if r.get("correlation") is None else f"{r['correlation']:+.2f}",
                         d.get("n", ""), d.get("status", "" if "diff" not in r else "not looked at")])
        lines += [markdown_table(["variant", "runs", "mAP@10", "Δ pp", "repeated 95% CI", "p (Holm)", "ρ seeds",
                                  "seeds used", "decision"], rows), ""]
    aa = payload.get("aa") or {}
    if aa:
        lines += ["## A/A", "",
                  f"- simulated: {aa['simulated_false_positive_rate']:.3f} familywise false-positive rate over "
                  f"{aa['simulated_studies']} ablations of {aa['simulated_components']['rows']} null rows (per-seed "
                  f"difference sd {100 * aa['simulated_components']['diff_sd']:.2f} pp, query term "
                  f"{aa['simulated_components']['query_var']:.2e}); resampled from the real differences: "
                  f"{aa['resampled_false_positive_rate']:.3f} (bar ≤ 0.06)",
                  f"- real (full against full with other augmentation draws): "
                  f"{aa.get('real_false_positive_rate', '–')} over {aa.get('real_comparisons', 0)} comparison(s) "
                  "(bar ≤ 0.10)"]
        for r in aa.get("real") or []:
            d = r.get("decision") or {}
            est = ("" if d.get("diff") is None else f": Δ {_pp(d['diff'])} pp [{_pp(d.get('ci_low'))}, "
                   f"{_pp(d.get('ci_high'))}]")
            lines.append(f"  - {r['study']}, redraw {r.get('redraw', 1)}, seeds {r['seeds'][0]}–{r['seeds'][-1]}"
                         f"{est}, {d.get('status', 'not decided')}")
        lines.append("")
    pc = payload.get("paired_correlation") or {}
    if pc:
        lines += ["## Paired correlation", "", f"- pooled ρ {pc.get('pooled', float('nan')):.2f}, median per row "
                  f"{pc.get('median') if pc.get('median') is None else round(pc['median'], 2)}; per-seed "
                  f"difference sd {100 * pc['diff_sd']:.2f} pp against run sd {100 * pc['run_sd']:.2f} pp", ""]
    pw = payload.get("power")
    if pw:
        eff = pw["effects"]
        lines += ["## Power of the design (simulated)", "",
                  f"If the true effects were the per-row Δ pooled over the seed sets ({pw['studies']} simulated "
                  "ablations per line, normal per-seed differences at the measured sd): how often each row is "
                  "called an effect, and the runs (rows' mean seeds + max for the control, an upper bound).", ""]
        lines += [markdown_table(["per-seed difference sd from", "sd pp", "max", "runs",
                                  *[f"{v} ({_pp(e)})" for v, e in eff.items()]],
                                 [[sc["diff_sd_from"], f"{100 * sc['diff_sd']:.2f}", sc["max"], f"{sc['runs']:.1f}",
                                   *[f"{sc['effect_rate'][v]:.2f}" for v in eff]] for sc in pw["scenarios"]]), ""]
    vs = payload.get("variance_sources")
    if vs:
        lines += ["## Variance sources (one stream varied, the others at seed 0)", "",
                  f"sd of test mAP@10 in pp over {len(vs['seeds'])} runs per column (split seed streams; the "
                  "reference run, every stream at seed 0, counts in every column; `all`: `train.seed` varied); "
                  "within_run_last5: sd of val mAP@10 over a run's last 5 epochs, mean over the runs. Streams: "
                  + "; ".join(f"{g} = {', '.join(v)}" for g, v in vs["groups"].items()) + ".", ""]
        groups = [*vs["groups"], "all", "within_run_last5"]
        lines += [markdown_table(["recipe", *groups], [[name, *[("–" if t[g]["sd"] is None else
                                                                 f"{100 * t[g]['sd']:.2f}") for g in groups]]
                                                       for name, t in vs["recipes"].items()]), ""]
    else:
        lines += ["Variance sources: not measured in this run (`--variance-seeds 0`).", ""]
    return "\n".join(lines)


def _minutes(s: float | None) -> str:
    return "–" if s is None else f"{int(s // 60)} min {int(s % 60):02d} s"


def checks(fixed: dict[str, Any], efficient: dict[str, Any]) -> dict[str, Any]:
    fx_rows = {r["variant"]: r for r in fixed["rows"][1:]}
    opposite = []
    for r in efficient["rows"][1:]:
        f = fx_rows.get(r["variant"])
        both = f is not None and r["variant"] in efficient["significant"] and r["variant"] in fixed["significant"]
        if both and np.sign(f["diff"]) != np.sign(r["diff"]):
            opposite.append(r["variant"])
    return {"runs_ratio": efficient["runs"] / fixed["runs"],
            "covers_fixed": set(fixed["significant"]) <= set(efficient["significant"]),
            "opposite_signs": opposite}


@command_line(also=(OSError, RuntimeError))
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks ablation_efficiency", description=__doc__.splitlines()[0])
    p.add_argument("--fixed", choices=("run", "published"), default="run",
                   help="run the fixed 10-seed study (80 runs), or take the published one's figures "
                        f"({PUBLISHED_FIXED.name})")
    p.add_argument("--fixed-spec", default=FIXED_SPEC)
    p.add_argument("--efficient-spec", default=EFFICIENT_SPEC)
    p.add_argument("--replication-first", type=int, default=100,
                   help="the efficient design again on seeds from here (default 100; 0: no replication)")
    p.add_argument("--aa-studies", type=int, default=2000, help="simulated A/A ablations (default 2000)")
    p.add_argument("--no-aa-redraw", action="store_true", help="skip the real A/A runs")
    p.add_argument("--aa-redraws", type=int, default=1,
                   help="real A/A arms per seed set (redraw 1..N, each one comparison with the control; default 1)")
    p.add_argument("--variance-seeds", type=int, default=4, help="seeds per stream in the variance sources (0: skip)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/ablation_efficiency"))
    p.add_argument("--jobs", type=int, default=2, help="trainings at a time outside the studies (default 2)")
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--trainable", default=None, help=argparse.SUPPRESS)  # tests: studies.testing:...
    args = p.parse_args(argv)
    for flag in ("--runs-dir", "--out"):
        check_folder_option(flag, getattr(args, flag[2:].replace("-", "_")))
    from retrieval.errors import UsageError
    from studies.spec import load_spec

    if args.aa_studies < 100:
        raise UsageError(f"--aa-studies {args.aa_studies}: at least 100 simulated ablations")
    if args.variance_seeds == 1 or args.variance_seeds < 0:
        raise UsageError(f"--variance-seeds {args.variance_seeds}: 0 (skip) or at least 2")
    if args.aa_redraws < 1:
        raise UsageError(f"--aa-redraws {args.aa_redraws}: at least 1 (--no-aa-redraw skips the real A/A)")
    eff_spec = load_spec(args.efficient_spec)
    if eff_spec.sequential is None:
        raise UsageError(f"--efficient-spec {args.efficient_spec}: its seeds are a list, not a sequential design")
    if args.replication_first and args.replication_first < eff_spec.seeds[-1] + 1:
        raise UsageError(f"--replication-first {args.replication_first}: the replication seeds must not overlap the "
                         f"discovery seeds {list(eff_spec.seeds)}")
    t0 = time.time()
    logs = args.runs_dir / "logs"
    if args.fixed == "run":
        fixed_name = load_spec(args.fixed_spec).name
        run_study(args.fixed_spec, args.runs_dir / "fixed", [], logs / "fixed.log", args.trainable)
        fixed = analyse(args.runs_dir / "fixed", fixed_name, stats_version=1, resamples=args.resamples)
        fixed["source"] = "run"
    else:
        fixed = json.loads(PUBLISHED_FIXED.read_text())
        fixed["source"] = "published"
    run_study(args.efficient_spec, args.runs_dir, [], logs / "efficient.log", args.trainable)
    efficient = analyse(args.runs_dir, eff_spec.name, stats_version=2, resamples=args.resamples)
    replications = []
    if args.replication_first:
        rep_name = f"{eff_spec.name}_rep{args.replication_first}"
        run_study(args.efficient_spec, args.runs_dir, [f"seeds.first={args.replication_first}", f"name={rep_name}"],
                  logs / f"{rep_name}.log", args.trainable)
        replications.append(analyse(args.runs_dir, rep_name, stats_version=2, resamples=args.resamples))
    pieces_by_set = {r["study"]: paired_pieces(r) for r in [efficient, *replications]}
    for study, pcs in pieces_by_set.items():
        if not pcs:
            raise UsageError(f"study {study!r} in {args.runs_dir}: no variant has 2 or more seeds paired with the "
                             f"control {efficient['design']['control']!r} (failed runs?); see python -m studies "
                             "status")
    pieces = {(v if study == efficient["study"] else f"{v} ({study})"): pc
              for study, pcs in pieces_by_set.items() for v, pc in pcs.items()}
    aa = simulated_aa(efficient["design"], pieces, len(efficient["rows"]) - 1, args.aa_studies)
    power = design_power(efficient["design"], pieces_by_set, args.aa_studies)
    if not args.no_aa_redraw:
        real = [real_aa(s, args.efficient_spec, args.runs_dir, args.jobs, r)
                for r in range(1, args.aa_redraws + 1) for s in [efficient, *replications]]
        aa.update({"real": real, "real_comparisons": len(real),
                   "real_false_positive_rate": sum(r["false_positive"] for r in real) / len(real)})
    payload: dict[str, Any] = {
        "benchmark": "ablation_efficiency", "date": datetime.now().strftime("%Y-%m-%d"), "machine": machine(),
        "command": "python -m benchmarks ablation_efficiency " + " ".join(argv if argv is not None else sys.argv[1:]),
        "fixed": {k: v for k, v in fixed.items() if not k.startswith("_")},
        "efficient": {k: v for k, v in efficient.items() if not k.startswith("_")},
        "replications": [{k: v for k, v in r.items() if not k.startswith("_")} for r in replications],
        "aa": aa, "paired_correlation": paired_correlation(pieces), "power": power,
        "variance_sources": (variance_sources(args.variance_seeds, args.runs_dir, args.jobs)
                             if args.variance_seeds else None),
        "elapsed_s": time.time() - t0}
    payload["efficient"]["decisions"] = efficient.get("decisions")
    payload["checks"] = checks(fixed, efficient)
    if replications:
        rep = replications[0]
        payload["checks"]["replicated"] = {
            "same_significant": sorted(efficient["significant"]) == sorted(rep["significant"]),
            "discovery": efficient["significant"], "replication": rep["significant"]}
    md = markdown(payload)
    jpath, mpath = write_results(args.out, "ablation_efficiency", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
