"""Planted effects of SynthCaps: each factor's off and on arms trained with N seeds, compared with the recipe test.

SynthCaps 2.0.0 plants one mechanism per factor the seed papers vary (see "What is in a clip" in
:mod:`retrieval.data.synthcaps`): audio augmentations against the recording-condition shift of the validation and
evaluation splits, text augmentations against their caption dialects, encoder capacity, metadata fusion. This
benchmark trains (or reuses, when the run folder holds a finished run of the same config, as
:func:`benchmarks.seed_noise.train_or_reuse`) ``--seeds N`` runs of each arm and prints, per factor: Δ test mAP@10
(on minus off), the seed-aware 95% CI and p of :func:`reports.stats.recipe_test`, and the seed sd of each arm. Arms
share everything but the factor's settings, so the off arm of most factors is the same set of runs (the base
configuration).

An **A/A** pair checks the test: the base configuration with seeds ``0..N-1`` against seeds ``N..2N-1``; it has no
effect, so it should stay null (``--no-aa`` skips it).

Output: ``benchmarks/results/planted_effects.{json,md}`` (``--out``). ``--jobs 2`` trains two runs at a time (give
``--set train.num_threads=1`` so they do not compete for threads).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from retrieval.errors import command_line

from .common import check_folder_option, machine, markdown_table, write_results
from .seed_noise import read_runs, run_label, train_or_reuse


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


#: Applied to every arm before ``--set``: the planted mechanisms are those of SynthCaps 2.0.0, and its tiny-bert text
#: encoder (post-LN, from scratch) needs a 3-epoch warm-up at the rate of ``synthcaps-small`` (with 1 epoch, test
#: mAP@10 is ~7 pp lower and its seed sd higher); both are what ``synthcaps-small`` has held since 2026-11-29, and are
#: kept here so that ``--config synthcaps-small-v1`` measures the same arms. ``vocab_augment_passes`` is 0 but in the
#: text arms (:data:`VOCAB`): without text augmentation it changes nothing, and so the off arms are the runs measured
#: before the key existed.
BASE: dict[str, Any] = {"data.synth_version": "2.0.0", "optim.warmup_epochs": 3, "text_encoder.vocab_augment_passes": 0}

#: The factors of SynthCaps 2.0.0, each augmentation switched on alone at a moderate setting (the DCASE 2022 paper's
#: SpecAugment and EDA settings mask 40 % of a 5-second crop and corrupt most captions: too strong for this recipe).
GAIN = {"augment.gain.g_max": 6.0}
MIXSTYLE = {"augment.mixstyle.p": 0.5, "augment.mixstyle.alpha": 0.83}
SPECAUGMENT = {"augment.spec.n_t": 2, "augment.spec.w_t": 8}
#: The text arms learn tiny-bert's vocabulary from 3 augmented passes of the training captions as well
#: (``text_encoder.vocab_augment_passes``): otherwise every word an augmentation brings in is a string of letter pieces
#: shared with unrelated words, and the augmentation costs more than it teaches (measured: see the README). Without
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


def analyse(name: str, off: np.ndarray, on: np.ndarray, *, sign: int | None = None) -> dict[str, Any]:
    """Recipe test of arm ``on`` against arm ``off`` (runs x queries, paired by query): Δ = on - off."""
    from reports.stats import recipe_test

    r = recipe_test(on, off).to_dict()
    maps_off, maps_on = off.mean(axis=1), on.mean(axis=1)
    out = {"factor": name, "n_off": int(off.shape[0]), "n_on": int(on.shape[0]), "n_queries": int(off.shape[1]),
           "map_off": float(maps_off.mean()), "map_on": float(maps_on.mean()),
           "seed_sd_off": float(np.std(maps_off, ddof=1)), "seed_sd_on": float(np.std(maps_on, ddof=1)),
           "runs_off": [float(v) for v in maps_off], "runs_on": [float(v) for v in maps_on], "recipe": r,
           "significant": bool(r["p_value"] is not None and r["p_value"] < 0.05)}
    if sign is not None:
        out["sign"] = int(sign)
        out["sign_ok"] = bool(np.sign(r["diff"]) == np.sign(sign))
    return out


def query_dialects(cfg, keys: Sequence[tuple]) -> list[str] | None:
    """The caption dialect (``plain``, ``bt``, ``eda``, ``var``) of each test query ``(caption, file, k)``, from the
    SynthCaps manifest of ``cfg``'s data; None for data without dialects (SynthCaps 1.1.0, other data sets)."""
    import json

    from retrieval.train import resolve_data_root

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


def _train(args: tuple) -> str:
    config, overrides, seed, runs_dir, label = args
    return str(train_or_reuse(config, dict(overrides), seed, Path(runs_dir), label=label))


def train_all(config: str, jobs_: Sequence[tuple[dict[str, Any], int]], runs_dir: Path, n_jobs: int, *,
              common: Mapping[str, Any] | None = None) -> list[Path]:
    """Train or reuse every (arm settings, seed) with the ``common`` overrides on top of ``config``, as
    ``runs_dir/<arm>-s<seed>`` (arm: :func:`benchmarks.seed_noise.run_label` of the arm's own settings); ``n_jobs``
    at a time in worker processes (1: in this process)."""
    todo = [(config, tuple(sorted({**(common or {}), **o}.items())), s, str(runs_dir), run_label(o))
            for o, s in jobs_]
    if n_jobs <= 1:
        return [Path(_train(t)) for t in todo]
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
        return [Path(p) for p in pool.map(_train, todo)]


def _pp(v: float | None, signed: bool = True) -> str:
    return "–" if v is None else (f"{100 * v:+.2f}" if signed else f"{100 * v:.2f}")


def markdown(payload: dict[str, Any]) -> str:
    rows = []
    for f in payload["factors"]:
        r = f["recipe"]
        rows.append([f["factor"], f"{'+' if f['sign'] > 0 else '−'}", _pp(f["map_off"], False), _pp(f["map_on"], False),
                     f"{_pp(r['diff'])} [{_pp(r['ci_low'])}, {_pp(r['ci_high'])}]",
                     "–" if r["p_value"] is None else f"{r['p_value']:.2g}",
                     f"{_pp(f['seed_sd_off'], False)} / {_pp(f['seed_sd_on'], False)}",
                     ("yes" if f["sign_ok"] else "NO") + (", significant" if f["significant"] else "")])
    aa = payload.get("aa")
    if aa:
        r = aa["recipe"]
        rows.append(["A/A (base, seeds split in two)", "0", _pp(aa["map_off"], False), _pp(aa["map_on"], False),
                     f"{_pp(r['diff'])} [{_pp(r['ci_low'])}, {_pp(r['ci_high'])}]",
                     "–" if r["p_value"] is None else f"{r['p_value']:.2g}",
                     f"{_pp(aa['seed_sd_off'], False)} / {_pp(aa['seed_sd_on'], False)}",
                     "null" if not aa["significant"] else "FALSE POSITIVE"])
    n = payload["seeds"]
    md = [f"# planted_effects ({payload['config']}, {n} seeds per arm, {payload['machine']['date']})", "",
          f"SynthCaps {payload['synth_version']}, test split = {payload['n_queries']} caption queries. Δ = mean test "
          "mAP@10 of the on arm minus the off arm, in percentage points; 95% CI and two-sided p of the recipe test "
          "(reports.stats.recipe_test: seed variance and query sampling, Welch–Satterthwaite df); seed sd = sample "
          "sd of the arm's run mAP@10s.", "",
          markdown_table(["factor", "expected sign", "off mAP@10", "on mAP@10", "Δ pp [95% CI]", "p",
                          "seed sd off / on (pp)", "sign as documented"], rows),
          "Mechanisms (what makes each factor matter):", ""]
    md += [f"- **{f['factor']}** ({', '.join(f'{k}={v}' for k, v in f['on'].items()) or 'base'} against "
           f"{', '.join(f'{k}={v}' for k, v in f['off'].items()) or 'base'}): {f['mechanism']}."
           for f in payload["factors"]]
    dialect = payload.get("by_dialect")
    if dialect:
        kinds = list(dialect["n_queries"])
        names = {run_label(dict(f["on"])): f["factor"] for f in payload["factors"]}
        names.update({run_label(dict(f["off"])): f"{f['factor']} (off)" for f in payload["factors"] if f["off"]})
        names[run_label({})] = "base (every off arm but the width's)"
        md += ["", "Test mAP@10 by caption dialect (mean over the arm's runs; queries per dialect: "
               + ", ".join(f"{k} {dialect['n_queries'][k]}" for k in kinds) + "):", "",
               markdown_table(["arm"] + kinds,
                              [[names.get(arm, arm)] + [_pp(v[k], False) for k in kinds]
                               for arm, v in dialect["arms"].items()])]
    md += ["", f"How: `python -m benchmarks planted_effects --seeds {n}"
           + "".join(f" --set {k}={v}" for k, v in payload["overrides"].items()) + "` (trains or reuses "
           f"`{payload['runs_dir']}/<arm>-s<seed>`).", ""]
    return "\n".join(md)


@command_line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks planted_effects", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small",
                   help="named config or YAML file every arm starts from (default synthcaps-small)")
    p.add_argument("--seeds", type=int, default=5, help="runs per arm (seeds 0..N-1; default 5)")
    p.add_argument("--factors", default=None,
                   help="comma-separated factor names (default: all): " + ", ".join(f.name for f in FACTORS))
    p.add_argument("--no-aa", action="store_true", help="skip the A/A pair (base seeds N..2N-1)")
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
    if args.seeds < 2:
        p.error(f"--seeds must be >= 2 (the recipe test needs two runs per arm), got {args.seeds}")
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    factors = list(FACTORS)
    if args.factors:
        names = [n.strip() for n in args.factors.split(",") if n.strip()]
        known = {f.name: f for f in FACTORS}
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"--factors: unknown {unknown[0]!r} (known: {', '.join(known)})")
        factors = [known[n] for n in names]
    from retrieval.config import TrialConfig, parse_override

    common = {**BASE, **dict(parse_override(o) for o in args.overrides)}
    arms: dict[str, dict[str, Any]] = {}
    for f in factors:
        for settings in (f.off, f.on):
            arms[run_label(dict(settings))] = dict(settings)
    base = run_label({})
    arms.setdefault(base, {})
    seeds = range(args.seeds)
    jobs_ = [(over, s) for s in seeds for over in arms.values()]  # seed by seed: every arm grows together
    if not args.no_aa:
        jobs_ += [({}, s) for s in range(args.seeds, 2 * args.seeds)]
    dirs = train_all(args.config, jobs_, args.runs_dir, args.jobs, common=common)
    x, runs = read_runs(dirs)  # one query order for every run
    row = {}
    for (over, s), d, m in zip(jobs_, dirs, runs):
        row[(run_label(over), s)] = len(row)
        m.update({"arm": run_label(over), "seed": s})
    pick = lambda label, ss: x[[row[(label, s)] for s in ss]]  # noqa: E731
    results = []
    for f in factors:
        off, on = run_label(dict(f.off)), run_label(dict(f.on))
        res = analyse(f.name, pick(off, seeds), pick(on, seeds), sign=f.sign)
        res.update({"off": dict(f.off), "on": dict(f.on), "mechanism": f.mechanism, "tags": list(f.tags),
                    "off_arm": off, "on_arm": on})
        results.append(res)
    payload: dict[str, Any] = {
        "benchmark": "planted_effects", "config": args.config, "overrides": common, "seeds": args.seeds,
        "synth_version": TrialConfig.load(args.config).with_overrides(common).data.synth_version,
        "machine": machine(), "n_queries": int(x.shape[1]), "runs_dir": str(args.runs_dir),
        "factors": results, "runs": runs}
    if not args.no_aa:
        payload["aa"] = analyse("A/A", pick(base, seeds), pick(base, range(args.seeds, 2 * args.seeds)))
        payload["aa"].update({"arm": base, "seeds_off": list(seeds),
                              "seeds_on": list(range(args.seeds, 2 * args.seeds))})
        all_base = x[[row[(base, s)] for s in range(2 * args.seeds)]].mean(axis=1)
        payload["seed_sd_base"] = float(np.std(all_base, ddof=1))
    from reports.collect import read_per_query

    dialects = query_dialects(TrialConfig.load(args.config).with_overrides(common), read_per_query(dirs[0]).keys)
    if dialects is not None:
        payload["by_dialect"] = by_dialect(x, dialects, {label: [row[(label, s)] for s in seeds] for label in arms})
    md = markdown(payload)
    jpath, mpath = write_results(args.out, "planted_effects", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0
