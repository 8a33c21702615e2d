"""Planted effects of SynthCaps: each factor's off and on arms trained on two disjoint seed sets, compared with the
recipe test, and called detected only when the discovery replicates.

SynthCaps 2.0.0 plants one mechanism per factor the seed papers vary (see "What is in a clip" in
:mod:`retrieval.data.synthcaps`): audio augmentations against the recording-condition shift of the validation and
evaluation splits, text augmentations against their caption dialects, encoder capacity, metadata fusion. This
benchmark trains (or reuses, when the run folder holds a finished run of the same config, as
:func:`benchmarks.seed_noise.train_or_reuse`) every arm on the **discovery** seeds (``--seeds``: a count N for
0..N-1, or a list) and on the **replication** seeds (``--replication-seeds``: default as many, from 100), both fixed
before the run; overlapping sets are refused (one ``error:`` line, exit 2). Per factor it prints Δ test mAP@10 (on
minus off) with the seed-aware 95% CI and p of :func:`reports.stats.recipe_test` on each set (Holm over the
factors' discovery p), whether the replication confirms the discovery (:mod:`reports.replication`: same sign, CI
excluding 0), the pooled estimate over both sets, and the seed sd of each arm. Only a factor significant on the
discovery seeds **and** replicated is called detected. ``--test floor`` (default) floors each arm's seed variance at
the one pooled over every arm of the set (the robust variant, see "Robustness" in :mod:`reports.stats`); ``--test
welch`` leaves it out. Arms share everything but the factor's settings, so the off arm of most factors is the same
set of runs (the base configuration): one unlucky draw of it moves every factor at once, which is what the
replication set (a fresh base arm) guards against.

An **A/A** pair checks the seed sets: the base configuration on the discovery seeds against the base configuration
on the replication seeds; it has no effect, so it should stay null (``--no-aa`` skips it; without a replication set
it takes the N seeds after the discovery ones, as before).

The summary prints the minimum detectable effect from the seed variance pooled over every arm and both seed sets.

Output: ``benchmarks/results/planted_effects.{json,md}`` (``--out``). ``--jobs 2`` trains two runs at a time (give
``--set train.num_threads=1`` so they do not compete for threads). Result files from before the replication sets
still render (:func:`upgrade_payload`), with nothing in them called detected.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from retrieval.errors import command_line

from .common import PLANTED_BASE, check_folder_option, machine, markdown_table, write_results
from .seed_noise import read_runs, run_label, train_all


@dataclass(frozen=True)
class Factor:
    """One planted factor: the settings of its off and on arms (on top of the base config), the documented sign
    of Δ = on - off, and what makes it matter on SynthCaps."""

    name: str
    off: Mapping[str, Any]
    on: Mapping[str, Any]
    sign: int  # +1: on is better; -1: on is worse
    mechanism: str
    tags: tuple[str, ...] = field(default=())


#: Applied to every arm before ``--set`` (:data:`benchmarks.common.PLANTED_BASE`, shared with ``seed_noise``).
BASE: dict[str, Any] = PLANTED_BASE

#: The factors of SynthCaps 2.0.0, each augmentation switched on alone at a moderate setting (the DCASE 2022 paper's
#: SpecAugment and EDA settings mask 40 % of a 5-second crop and corrupt most captions: too strong for this recipe).
GAIN = {"augment.gain.g_max": 6.0}
MIXSTYLE = {"augment.mixstyle.p": 0.5, "augment.mixstyle.alpha": 0.83}
SPECAUGMENT = {"augment.spec.n_t": 2, "augment.spec.w_t": 8}
#: The text arms learn tiny-bert's vocabulary from 3 augmented passes of the training captions as well
#: (``text_encoder.vocab_augment_passes``): otherwise every word an augmentation brings in is a string of letter pieces
#: shared with unrelated words, and the augmentation costs more than it teaches (measured: docs/results.md). Without
#: text augmentation the key changes nothing but the fingerprint, so the off arms stay the base runs.
VOCAB = {"text_encoder.vocab_augment_passes": 3}
EDA = {"augment.eda.p_eda": 0.5, "augment.eda.p_syn": 0.1, "augment.eda.p_swp": 0.1, "augment.eda.p_del": 0.1,
       **VOCAB}
BT = {"augment.bt.p_bt": 0.5, **VOCAB}
VARIATIONS = {"augment.variations.file": "synthcaps", "augment.variations.p": 0.3, **VOCAB}

FACTORS: tuple[Factor, ...] = (
    Factor("metadata fusion", {}, {"fusion.kind": "late"}, +1,
           "the scene is nearly inaudible but named in two thirds of the captions and, with probability 0.8, in "
           "the keywords", ("fusion",)),
    Factor("gain", {}, GAIN, +1,
           "validation/evaluation recordings are 6-16 dB quieter or 6-10 dB louder than development ones, and a "
           "model trained at one level is level-sensitive", ("audio",)),
    Factor("Freq-MixStyle", {}, MIXSTYLE, +1,
           "validation/evaluation devices compress the level contrast of each frequency band (automatic gain "
           "control, contrast x0.35-0.95) and colour the spectrum, i.e. change the per-frequency statistics "
           "Freq-MixStyle randomises", ("audio",)),
    Factor("SpecAugment", {}, SPECAUGMENT, +1,
           "half of the validation/evaluation recordings have a noise burst that blanks 0.2-0.5 s (time masks: 2 "
           "of up to 8 frames)", ("audio",)),
    Factor("audio augmentations", {}, {**GAIN, **MIXSTYLE, **SPECAUGMENT}, +1,
           "the three above together (Table 5's 'no audio aug' row)", ("audio",)),
    Factor("EDA", {}, EDA, +1,
           "validation/evaluation captions of the 'eda' dialect (20 %) use WordNet synonyms of development words",
           ("text",)),
    Factor("back-translation", {}, BT, +1,
           "validation/evaluation captions of the 'bt' dialect (30 %) read like Apertium's eng-spa-eng round trip "
           "('somebody applauses noisily in a cookery')", ("text",)),
    Factor("text augmentations", {}, {**EDA, **BT}, +1,
           "EDA and back-translation together (Table 5's 'no text aug' row)", ("text",)),
    Factor("caption variations", {}, VARIATIONS, +1,
           "validation/evaluation captions of the 'var' dialect (15 %) use paraphrases that only the data set's "
           "variations file holds", ("text",)),
    Factor("audio encoder width 8 -> 16", {"audio_encoder.width": 8}, {}, +1,
           "a wider CNN separates the 25 event types, their attributes and relations better", ("capacity",)),
)


#: The per-set fields of :func:`arms_summary`.
ARM_KEYS = ("n_off", "n_on", "map_off", "map_on", "seed_sd_off", "seed_sd_on", "runs_off", "runs_on")


def arms_summary(off: np.ndarray, on: np.ndarray) -> dict[str, Any]:
    """Runs, mean test mAP@10 and seed sd (ddof 1) of the off and on arms (runs x queries)."""
    maps_off, maps_on = off.mean(axis=1), on.mean(axis=1)
    return {"n_off": int(off.shape[0]), "n_on": int(on.shape[0]), "map_off": float(maps_off.mean()),
            "map_on": float(maps_on.mean()), "seed_sd_off": float(np.std(maps_off, ddof=1)),
            "seed_sd_on": float(np.std(maps_on, ddof=1)), "runs_off": [float(v) for v in maps_off],
            "runs_on": [float(v) for v in maps_on]}


def analyse(name: str, off: np.ndarray, on: np.ndarray, *, sign: int | None = None, rep_off: np.ndarray | None = None,
            rep_on: np.ndarray | None = None, floors: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Recipe test of arm ``on`` against arm ``off`` (runs x queries, paired by query): Δ = on - off, on the
    discovery runs (``off``, ``on``) and, when given, the replication runs (``rep_off``, ``rep_on``).

    The entry holds ``discovery``, ``replication`` (``None`` without replication runs), ``replicated``,
    ``detected`` and ``pooled`` of :func:`reports.replication.replication_record` (``floors``: each set's
    seed-variance floor), each set with its arms' runs, mAP and seed sd (:func:`arms_summary`). ``sign_ok``: the
    pooled Δ has the documented ``sign``. The discovery set's fields also stay at the top level (``recipe``,
    ``significant``, ``map_off``, ``seed_sd_on`` ...), as in result files from before the replication sets, so that
    readers of those keep working."""
    from reports.replication import replication_record

    rec = replication_record(on, off, rep_on, rep_off, floors=floors)
    rec["discovery"].update(arms_summary(off, on))
    if rec["replication"] is not None:
        rec["replication"].update(arms_summary(rep_off, rep_on))
        rec["pooled"].update(arms_summary(np.vstack([off, rep_off]), np.vstack([on, rep_on])))
    d = rec["discovery"]
    recipe = {k: v for k, v in d.items() if k not in ARM_KEYS and k != "significant"}
    out = {"factor": name, **{k: d[k] for k in ARM_KEYS}, "n_queries": int(off.shape[1]), "recipe": recipe,
           "significant": d["significant"], **rec}
    if sign is not None:
        out["sign"] = int(sign)
        out["sign_ok"] = bool(np.sign(rec["pooled"]["diff"]) == np.sign(sign))
    return out


def upgrade_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A ``planted_effects.json`` of any version in the current layout: files from before the replication sets
    (one set of seeds ``0..N-1``, the test in ``recipe``) get ``discovery`` (those runs), ``replication`` None,
    ``replicated`` None, ``detected`` False and ``pooled`` = discovery, so that nothing in them reads as
    replicated. Current files are returned as they are."""
    out = dict(payload)
    if "discovery_seeds" not in out:
        out["discovery_seeds"] = list(range(int(out.get("seeds", 0))))
        out["replication_seeds"] = []
    factors = []
    for f in out.get("factors", []):
        if "discovery" not in f:
            f = dict(f)
            disc = {**f["recipe"], "significant": bool(f.get("significant"))}
            disc.update({k: f[k] for k in ARM_KEYS if k in f})
            f.update(discovery=disc, replication=None, replicated=None, detected=False, pooled=disc)
        factors.append(f)
    out["factors"] = factors
    return out


def query_dialects(cfg, keys: Sequence[tuple]) -> list[str] | None:
    """The caption dialect (``plain``, ``bt``, ``eda``, ``var``) of each test query ``(caption, file, k)``, from the
    SynthCaps manifest of ``cfg``'s data; None for data without dialects (SynthCaps 1.1.0, other data sets)."""
    import json

    from retrieval.data.loading import resolve_data_root

    if cfg.data.dataset != "synthcaps":
        return None
    manifest = json.loads((resolve_data_root(cfg) / "synthcaps.json").read_text(encoding="utf-8"))
    by_caption = {(cap, clip["file_name"]): kind for clip in manifest["clips"].get(cfg.data.test_split, [])
                  for cap, kind in zip(clip["captions"], clip.get("caption_dialects") or ())}
    if not by_caption:
        return None
    return [by_caption.get((q, t), "?") for q, t, *_ in keys]


def by_dialect(x: np.ndarray, dialects: Sequence[str], rows: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """Mean test mAP@10 of each arm (``rows``: arm -> its runs' rows of ``x``) on the queries of each dialect: the
    runs' means over those queries, averaged over the arm's runs; and the number of queries per dialect."""
    kinds = sorted(set(dialects), key=lambda k: (k != "plain", k))
    d = np.asarray(dialects)
    return {"n_queries": {k: int((d == k).sum()) for k in kinds},
            "arms": {arm: {k: float(x[list(r)][:, d == k].mean()) for k in kinds} for arm, r in rows.items()}}


def _pp(v: float | None, signed: bool = True) -> str:
    return "–" if v is None else (f"{100 * v:+.2f}" if signed else f"{100 * v:.2f}")


def _ci(r: Mapping[str, Any] | None, *, p: bool = True, holm: bool = False) -> str:
    if r is None:
        return "–"
    text = f"{_pp(r['diff'])} [{_pp(r['ci_low'])}, {_pp(r['ci_high'])}]"
    if p:
        text += ", p " + ("–" if r["p_value"] is None else f"{r['p_value']:.2g}")
        if holm and r.get("p_holm") is not None:
            text += f" (Holm {r['p_holm']:.2g})"
    return text


def markdown(payload: dict[str, Any]) -> str:
    """The result as Markdown; result files from before the replication sets render too (:func:`upgrade_payload`),
    with every factor "discovery only, pending replication" at most."""
    from reports.replication import seeds_text, verdict

    payload = upgrade_payload(payload)
    disc, rep = payload["discovery_seeds"], payload["replication_seeds"]
    rows = []
    for f in payload["factors"]:
        pooled = f["pooled"]
        word = verdict(f)
        if "sign_ok" in f and f.get("detected"):
            word += ", sign as documented" if f["sign_ok"] else ", sign NOT as documented"
        rows.append([f["factor"], "+" if f.get("sign", 1) > 0 else "−",
                     f"{_pp(pooled['map_off'], False)} → {_pp(pooled['map_on'], False)}",
                     _ci(f["discovery"], holm=True), _ci(f["replication"]),
                     _ci(pooled, p=False) if f["replication"] is not None else "–",
                     f"{_pp(pooled['seed_sd_off'], False)} / {_pp(pooled['seed_sd_on'], False)}",
                     {None: "–", True: "yes", False: "no"}[f["replicated"]], word])
    aa = payload.get("aa")
    if aa:
        r = aa["recipe"]
        seeds_on = aa.get("seeds_on") or []
        rows.append([f"A/A (base, seeds {seeds_text(aa.get('seeds_off') or disc)} vs {seeds_text(seeds_on)})", "0",
                     f"{_pp(aa['map_off'], False)} → {_pp(aa['map_on'], False)}", _ci(r), "–", "–",
                     f"{_pp(aa['seed_sd_off'], False)} / {_pp(aa['seed_sd_on'], False)}", "–",
                     "null" if not aa["significant"] else "FALSE POSITIVE"])
    test = payload.get("test", "welch")
    md = [f"# planted_effects ({payload['config']}, {len(disc)} + {len(rep)} seeds per arm, "
          f"{payload['machine']['date']})", "",
          f"SynthCaps {payload['synth_version']}, test split = {payload['n_queries']} caption queries. Each arm is "
          f"trained on the discovery seeds {seeds_text(disc)}"
          + (f" and on the replication seeds {seeds_text(rep)}, fixed before the run" if rep else
             " only (no replication set)")
          + ". Δ = mean test mAP@10 of the on arm minus the off arm, in percentage points, with the 95% "
          "CI and two-sided p of the recipe test (reports.stats.recipe_test: seed variance and query sampling, "
          "Welch–Satterthwaite df"
          + (", each arm's seed variance floored at the seed variance pooled over every arm of the set"
             if test == "floor" else "") + ") on each seed set; Holm over the factors' discovery p. **Replicated**: "
          "the replication Δ has the discovery's sign and its CI excludes 0; a factor is **detected** only when "
          "it is significant on the discovery seeds and replicated. Pooled: both sets together (an estimate, not a "
          "confirmation). Seed sd: sample sd of the arm's run mAP@10s" + (" over both sets." if rep else "."), ""]
    if not rep:
        md += ["**Discovery only, pending replication**: these numbers come from one seed set; nothing in this table "
               "is a detected effect until a replication run confirms it.", ""]
    md += [markdown_table(["factor", "expected sign", "off → on mAP@10", f"discovery Δ pp [95% CI], p (seeds "
                           f"{seeds_text(disc)})", f"replication Δ pp [95% CI], p (seeds {seeds_text(rep)})",
                           "pooled Δ pp [95% CI]", "seed sd off / on (pp)", "replicated", "verdict"], rows)]
    mde = payload.get("mde")
    if mde:
        md += [f"Minimum detectable effect (80% power, two-sided 0.05) from the seed variance pooled over every arm "
               f"and both seed sets (seed sd {_pp(math.sqrt(mde['seed_var']), False)} pp, {mde['seed_var_df']} df) "
               f"and the median query term of the factors: {_pp(mde['per_set'], False)} pp with {len(disc)} seeds "
               f"per arm (one set; an effect of that size is detected, i.e. significant on both sets, with about 64% "
               f"probability), {_pp(mde['pooled'], False)} pp with {len(disc) + len(rep)} seeds per arm.", ""]
    md += ["Mechanisms (what makes each factor matter):", ""]
    md += [f"- **{f['factor']}** ({', '.join(f'{k}={v}' for k, v in f['on'].items()) or 'base'} against "
           f"{', '.join(f'{k}={v}' for k, v in f['off'].items()) or 'base'}): {f['mechanism']}."
           for f in payload["factors"]]
    dialect = payload.get("by_dialect")
    if dialect:
        kinds = list(dialect["n_queries"])
        names = {run_label(dict(f["on"])): f["factor"] for f in payload["factors"]}
        names.update({run_label(dict(f["off"])): f"{f['factor']} (off)" for f in payload["factors"] if f["off"]})
        names[run_label({})] = "base (every off arm but the width's)"
        md += ["", "Test mAP@10 by caption dialect (mean over the arm's runs of both seed sets; queries per dialect: "
               + ", ".join(f"{k} {dialect['n_queries'][k]}" for k in kinds) + "):", "",
               markdown_table(["arm"] + kinds,
                              [[names.get(arm, arm)] + [_pp(v[k], False) for k in kinds]
                               for arm, v in dialect["arms"].items()])]
    how = payload.get("command") or (f"python -m benchmarks planted_effects --seeds {len(disc)}"
                                     + "".join(f" --set {k}={v}" for k, v in payload["overrides"].items()))
    md += ["", f"How: `{how}` (trains or reuses `{payload['runs_dir']}/<arm>-s<seed>`).", ""]
    return "\n".join(md)


@command_line(also=(OSError,))
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks planted_effects", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small",
                   help="named config or YAML file every arm starts from (default synthcaps-small)")
    p.add_argument("--seeds", nargs="+", default=["5"], metavar="SEEDS",
                   help="discovery seeds per arm: a count N (0..N-1) or a list (0-4, 0,1,2); default 5")
    p.add_argument("--replication-seeds", nargs="+", default=None, metavar="SEEDS",
                   help="replication seeds per arm, disjoint from the discovery ones: a count N (100..100+N-1), a "
                        "list, or 0 for none (discovery only: nothing is called detected); default as many as the "
                        "discovery seeds, from 100")
    p.add_argument("--test", choices=("floor", "welch"), default="floor",
                   help="floor (default): recipe test with each arm's seed variance floored at the one pooled over "
                        "every arm of the set (reports.stats, 'Robustness'); welch: without the floor")
    p.add_argument("--factors", default=None,
                   help="comma-separated factor names (default: all): " + ", ".join(f.name for f in FACTORS))
    p.add_argument("--no-aa", action="store_true",
                   help="skip the A/A pair (base on the discovery seeds against base on the replication seeds)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="applied to every arm, after " + " ".join(f"{k}={v}" for k, v in BASE.items()))
    p.add_argument("--jobs", type=int, default=1, help="trainings at a time (default 1)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/planted_effects"),
                   help="run folders <arm>-s<seed>, reused when finished with the same config (default "
                        "runs/planted_effects)")
    p.add_argument("--out", default="benchmarks/results",
                   help="folder of planted_effects.json and .md (default benchmarks/results)")
    args = p.parse_args(argv)
    for flag in ("--runs-dir", "--out"):
        check_folder_option(flag, getattr(args, flag[2:].replace("-", "_")))
    from retrieval.errors import UsageError

    from .common import seed_sets

    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    disc, rep = seed_sets(args.seeds, args.replication_seeds)  # >= 2 each: the recipe test needs two runs per arm
    factors = list(FACTORS)
    if args.factors:
        names = [n.strip() for n in args.factors.split(",") if n.strip()]
        known = {f.name: f for f in FACTORS}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"--factors: unknown {unknown[0]!r} (known: {', '.join(known)})")
        factors = [known[n] for n in names]
    from retrieval.config import TrialConfig, parse_override
    from reports.stats import holm, minimum_detectable_effect, pooled_seed_variance

    common = {**BASE, **dict(parse_override(o) for o in args.overrides)}
    arms: dict[str, dict[str, Any]] = {}
    for f in factors:
        for settings in (f.off, f.on):
            arms[run_label(dict(settings))] = dict(settings)
    base = run_label({})
    arms.setdefault(base, {})
    # without a replication set, the A/A pair takes the next seeds after the discovery ones (as before)
    aa_seeds = rep or list(range(max(disc) + 1, max(disc) + 1 + len(disc)))
    jobs_ = [(over, s) for s in disc + rep for over in arms.values()]  # seed by seed: every arm grows together
    if not args.no_aa and not rep:
        jobs_ += [({}, s) for s in aa_seeds]
    dirs = train_all(args.config, jobs_, args.runs_dir, args.jobs, common=common)
    x, runs = read_runs(dirs)  # one query order for every run
    row = {}
    for (over, s), m in zip(jobs_, runs):
        row[(run_label(over), s)] = len(row)
        m.update({"arm": run_label(over), "seed": s, "set": "discovery" if s in disc else
                  ("replication" if s in rep else "a/a")})
    pick = lambda label, ss: x[[row[(label, s)] for s in ss]]  # noqa: E731
    mean_runs = {key: [pick(label, ss).mean(axis=1) for label in arms] for key, ss in (("discovery", disc),
                                                                                      ("replication", rep)) if ss}
    floors = {key: pooled_seed_variance(v) for key, v in mean_runs.items()}
    floors["pooled"] = pooled_seed_variance([a for v in mean_runs.values() for a in v])
    use = floors if args.test == "floor" else {}
    results = []
    for f in factors:
        off, on = run_label(dict(f.off)), run_label(dict(f.on))
        res = analyse(f.name, pick(off, disc), pick(on, disc), sign=f.sign, floors=use,
                      rep_off=pick(off, rep) if rep else None, rep_on=pick(on, rep) if rep else None)
        res.update({"off": dict(f.off), "on": dict(f.on), "mechanism": f.mechanism, "tags": list(f.tags),
                    "off_arm": off, "on_arm": on})
        results.append(res)
    for res, ph in zip(results, holm([r["discovery"]["p_value"] for r in results])):
        res["discovery"]["p_holm"] = ph
    n_q = int(x.shape[1])
    q_med = float(np.median([r["pooled"]["query_var"] for r in results]))
    fp = floors["pooled"]
    mde = {"seed_var": fp.var, "seed_var_df": fp.df, "query_var": q_med,
           "per_set": minimum_detectable_effect(n_runs_a=len(disc), n_runs_b=len(disc), n_queries=n_q,
                                                run_var_a=fp.var, run_var_b=fp.var, query_var=q_med),
           "pooled": minimum_detectable_effect(n_runs_a=len(disc) + len(rep), n_runs_b=len(disc) + len(rep),
                                               n_queries=n_q, run_var_a=fp.var, run_var_b=fp.var, query_var=q_med)} \
        if fp.var + q_med > 0 else None
    from reports.replication import seeds_text

    def seeds_arg(ss):
        return seeds_text(ss).replace("–", "-").replace(", ", ",") if ss else "0"

    command = (f"python -m benchmarks planted_effects --config {args.config} --seeds {seeds_arg(disc)} "
               f"--replication-seeds {seeds_arg(rep)} --test {args.test}"
               + (f" --factors \"{args.factors}\"" if args.factors else "") + (" --no-aa" if args.no_aa else "")
               + "".join(f" --set {o}" for o in args.overrides) + f" --runs-dir {args.runs_dir}"
               + (f" --jobs {args.jobs}" if args.jobs > 1 else ""))
    payload: dict[str, Any] = {
        "benchmark": "planted_effects", "config": args.config, "overrides": common, "seeds": len(disc),
        "discovery_seeds": disc, "replication_seeds": rep, "test": args.test,
        "floors": {k: v.to_dict() for k, v in floors.items()}, "mde": mde,
        "synth_version": TrialConfig.load(args.config).with_overrides(common).data.synth_version,
        "machine": machine(), "n_queries": n_q, "runs_dir": str(args.runs_dir), "command": command,
        "factors": results, "runs": runs}
    if not args.no_aa:
        payload["aa"] = analyse("A/A", pick(base, disc), pick(base, aa_seeds),
                                floors={"discovery": floors["pooled"]} if args.test == "floor" else None)
        payload["aa"].update({"arm": base, "seeds_off": disc, "seeds_on": aa_seeds})
    payload["seed_sd_base"] = float(np.std(pick(base, disc + (rep or (aa_seeds if not args.no_aa else []))).mean(
        axis=1), ddof=1))
    from reports.collect import read_per_query

    dialects = query_dialects(TrialConfig.load(args.config).with_overrides(common), read_per_query(dirs[0]).keys)
    if dialects is not None:
        payload["by_dialect"] = by_dialect(x, dialects, {label: [row[(label, s)] for s in disc + rep]
                                                         for label in arms})
    md = markdown(payload)
    jpath, mpath = write_results(args.out, "planted_effects", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0
