"""Trial cost: what one trial of a study costs with and without the feature cache, and with a frozen encoder's cache.

Measured with real :func:`retrieval.train.fit` runs of the same config (``synthcaps-small`` with ``train.epochs``
small, one torch thread), side by side in one process on the same generated SynthCaps data, after one unmeasured
warm-up run (imports and other one-off costs of a process):

- **cold cache**: ``data.cache_dir`` is a fresh empty folder, so the trial decodes and computes the log-mels of
  every clip (train, validation and test) before its first epoch: what every trial would pay without the cache;
- **warm cache**: the same config again with that folder now filled: what the second and later trials of a study
  pay (the cache is keyed by audio content and frontend, so all trials of a study share it).

Reported per run: trial wall time, mean epoch time (training + validation, from the run's ``metrics.json``), the
set-up time before the first epoch (wall time minus epochs minus the final evaluation is not separable, so it is
reported as ``wall - sum(epoch times)``), and the feature-cache hits/misses. The per-epoch figure *without any
feature store* (a pipeline that computes log-mels on the fly every epoch, as GPU frontends do) is derived:
warm epoch time + the cold-minus-warm feature cost scaled to the train + validation clips that one epoch visits.
Per-batch throughput and the raw feature cost are what ``python -m benchmarks train_speed`` measures.

The frozen-encoder cache (``audio_encoder.frozen: true``: the encoder's outputs are computed once and trials train
only projections and fusion) is measured by :func:`benchmarks.train_speed.frozen_cache_speed` (real ``fit`` runs:
encoders trainable, frozen without the output cache, frozen with it cold and warm; input augmentations off in every
variant, since a cached encoder refuses them); if that function is missing the result says ``not measured``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

def _fit_once(cfg, run_dir: Path) -> dict[str, Any]:
    from retrieval.train import fit

    t0 = time.perf_counter()
    result = fit(cfg, run_dir, resume=False)
    wall = time.perf_counter() - t0
    epochs = [float(h["epoch_time_s"]) for h in result.history]
    return {"wall_s": wall, "epochs": len(epochs), "epoch_s": epochs, "mean_epoch_s": sum(epochs) / len(epochs),
            "outside_epochs_s": wall - sum(epochs), "feature_cache": result.extra.get("feature_cache"),
            "n_train": result.extra.get("n_train"), "n_val": result.extra.get("n_val"),
            "n_test": result.extra.get("n_test"), "val_map10": result.val.get("val_map10")}


def run(config: str = "synthcaps-small", *, epochs: int = 2, threads: int = 1, overrides: dict | None = None,
        frozen_epochs: int = 2, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Cold vs warm feature cache on real ``fit`` runs, then the frozen-encoder cache (see the module docstring)."""
    import torch

    from retrieval.config import TrialConfig
    from retrieval.data.loading import resolve_data_root

    torch.set_num_threads(threads)
    base = TrialConfig.load(config).with_overrides({"train.progress": False, "train.epochs": int(epochs),
                                                    "train.num_threads": int(threads), **(overrides or {})})
    root = resolve_data_root(base, progress=True)  # generated once into the default cache if needed
    tmp = Path(tempfile.mkdtemp(prefix="perf-trial-cost-"))
    try:
        # a first, unmeasured one-epoch run pays the one-off costs of a process (imports, lazy initialisations),
        # so the measured cold run differs from the warm one by the feature computation only
        log(f"  trial cost: {config}, warm-up run (1 epoch, not measured) ...")
        _fit_once(base.with_overrides({"data.root": str(root), "data.cache_dir": str(tmp / "warm-up-cache"),
                                       "train.epochs": 1}), tmp / "run-warm-up")
        cfg = base.with_overrides({"data.root": str(root), "data.cache_dir": str(tmp / "cache")})
        log(f"  trial cost: {config}, {epochs} epochs, cold feature cache ...")
        cold = _fit_once(cfg, tmp / "run-cold")
        log(f"  trial cost: {config}, {epochs} epochs, warm feature cache ...")
        warm = _fit_once(cfg, tmp / "run-warm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n_all = (cold["n_train"] or 0) + (cold["n_val"] or 0) + (cold["n_test"] or 0)
    feature_s = max(0.0, cold["outside_epochs_s"] - warm["outside_epochs_s"])
    per_epoch_features = feature_s * ((cold["n_train"] or 0) + (cold["n_val"] or 0)) / max(1, n_all)
    out: dict[str, Any] = {
        "config": config, "epochs": epochs, "threads": threads, "cold_cache": cold, "warm_cache": warm,
        "feature_cost_per_trial_s": feature_s,
        "trial_speedup_warm_vs_cold": cold["wall_s"] / warm["wall_s"],
        "epoch_s_with_cache": warm["mean_epoch_s"],
        "epoch_s_on_the_fly_features_derived": warm["mean_epoch_s"] + per_epoch_features,
        "epoch_speedup_vs_on_the_fly_derived": (warm["mean_epoch_s"] + per_epoch_features) / warm["mean_epoch_s"],
    }
    out["frozen"] = frozen_cache(config, epochs=frozen_epochs, data_root=str(root), threads=threads,
                                 log=log) if frozen_epochs else \
        {"measured": False, "reason": "not measured: skipped (frozen_epochs=0)"}
    return out


def frozen_cache(config: str, *, epochs: int = 2, data_root: str | None = None, threads: int = 1,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """The frozen-encoder cache comparison of :func:`benchmarks.train_speed.frozen_cache_speed` (epoch times with
    the encoders trainable, frozen, frozen + cached), or ``not measured`` when that function is not available."""
    try:
        from ..train_speed import frozen_cache_speed
    except ImportError:
        return {"measured": False, "reason": "not measured: frozen cache not available "
                                             "(benchmarks.train_speed.frozen_cache_speed is missing)"}
    log(f"  trial cost: frozen-encoder cache via benchmarks.train_speed.frozen_cache_speed ({epochs} epochs x "
        "4 variants) ...")
    overrides = {"train.num_threads": int(threads), **({"data.root": data_root} if data_root else {})}
    try:
        result = frozen_cache_speed(config, epochs, overrides=overrides)
    except Exception as exc:  # noqa: BLE001 - report what failed, keep the other measurements
        return {"measured": False, "function": "frozen_cache_speed", "reason": f"{type(exc).__name__}: {exc}"}
    return {"measured": True, "function": "benchmarks.train_speed.frozen_cache_speed", "result": result}


def markdown_rows(res: dict[str, Any]) -> list[list[Any]]:
    """``[measure, value]`` rows for the report."""
    c, w = res["cold_cache"], res["warm_cache"]
    rows = [
        [f"trial wall time, cold feature cache ({res['epochs']} epochs, s)", c["wall_s"]],
        [f"trial wall time, warm feature cache ({res['epochs']} epochs, s)", w["wall_s"]],
        ["trial speed-up from the feature cache (cold / warm)", res["trial_speedup_warm_vs_cold"]],
        [f"feature cost per trial without the cache ({c['n_train']}+{c['n_val']}+{c['n_test']} clips, s)",
         res["feature_cost_per_trial_s"]],
        ["epoch time with the cache (train + validation, s)", res["epoch_s_with_cache"]],
        ["epoch time with on-the-fly features (derived, s)", res["epoch_s_on_the_fly_features_derived"]],
        ["epoch speed-up of the cache vs on-the-fly features (derived)", res["epoch_speedup_vs_on_the_fly_derived"]],
    ]
    fz = res["frozen"]
    if not fz.get("measured"):
        rows.append(["frozen-encoder cache", fz["reason"]])
        return rows
    r = fz["result"]
    names = {"trainable": "encoders trainable", "frozen": "encoders frozen, no output cache",
             "frozen_cached_cold": "encoders frozen + output cache, cold (first trial)",
             "frozen_cached_warm": "encoders frozen + output cache, warm (later trials)"}
    for key, v in r.get("variants", {}).items():
        rows.append([f"epoch time, {names.get(key, key)} (s)", v["epoch_s"]])
    cold_run = r.get("variants", {}).get("frozen_cached_cold")
    if cold_run is not None:
        rows.append(["one-time encoding into the output cache (cold run, s)", cold_run.get("encode_s", 0.0)])
    rows += [["epoch speed-up: frozen + cache (warm) vs frozen without cache", r["speedup_cached_vs_uncached"]],
             ["epoch speed-up: frozen + cache (warm) vs trainable encoders", r["speedup_cached_vs_trainable"]]]
    return rows
