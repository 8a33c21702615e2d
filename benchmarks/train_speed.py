"""Training and evaluation throughput, and what the log-mel cache saves.

Measured side by side in one process on the same data (SynthCaps, generated on first use):

- ``train``: clips per second of the full training step (crop, augment, forward, backward, Adam step) with the
  named config's model, averaged over ``--batches`` batches after one warm-up batch;
- ``evaluate``: recordings embedded per second and caption queries scored per second (the validation pass);
- ``feature cache``: the cost of one epoch's features without the cache (decode WAV + resample + STFT + mel for
  every training clip) against reading them from the on-disk cache, and the epoch time each implies
  (feature time + training time): the second epoch (or trial) of a run pays only the cached cost.
- ``frozen encoder`` (:func:`frozen_cache_speed`): real ``fit`` runs of the same config, side by side: the audio
  (and text) encoder trainable, frozen without the output cache, and frozen with it (a cold run that fills the
  cache, then a warm one, i.e. the next trial of a study). Epoch time = training + validation, averaged over the
  epochs; input augmentations and patchout are switched off in every variant (a cached encoder refuses them).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch

from retrieval.errors import command_line

from .common import machine, markdown_table, write_results

if TYPE_CHECKING:
    from retrieval.config import TrialConfig


def run(config: str = "synthcaps-small", overrides: dict | None = None, batches: int = 8, threads: int | None = None,
        out_dir: str | Path = "benchmarks/results", frozen_epochs: int = 2) -> dict:
    from retrieval.augment.audio import AudioAugment
    from retrieval.config import TrialConfig
    from retrieval.data.audio import read_audio
    from retrieval.data.clotho import load_clotho_split
    from retrieval.data.features import FeatureCache, Frontend, compute_logmel
    from retrieval.model import Retriever
    from retrieval.batching import make_audio_batch, normalise_batch, seconds_to_frames
    from retrieval.evaluation import evaluate_split
    from retrieval.data.loading import load_split, resolve_data_root
    from retrieval.train import build_optimizer

    if threads:
        torch.set_num_threads(threads)
    cfg = TrialConfig.load(config).with_overrides({"train.progress": False, **(overrides or {})})
    root = resolve_data_root(cfg, progress=True)
    train_split = load_clotho_split(root, cfg.data.train_split)
    paths = [r.path for r in train_split.recordings]
    frontend = Frontend.from_config(cfg.features)

    # ---- feature cost per epoch: no cache (decode + log-mel) vs on-disk cache (cold then warm)
    tmp = Path(tempfile.mkdtemp(prefix="train-speed-"))
    try:
        t0 = time.perf_counter()
        feats = [compute_logmel(read_audio(p, frontend.sample_rate), frontend) for p in paths]
        t_nocache = time.perf_counter() - t0
        cache = FeatureCache(tmp, frontend)
        t0 = time.perf_counter()
        cache.get_many(paths)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = cache.get_many(paths)
        t_warm = time.perf_counter() - t0
        assert all(np.array_equal(a, b) for a, b in zip(feats, warm))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- training step throughput
    torch.manual_seed(0)
    corpus = [c for r in train_split.recordings for c in r.captions]
    model = Retriever(cfg, text_corpus=corpus)
    mean = float(np.concatenate([f.reshape(-1) for f in feats]).mean())
    std = float(np.concatenate([f.reshape(-1) for f in feats]).std())
    model.set_normalisation(mean, std)
    opt = build_optimizer(model, cfg)
    aug = AudioAugment(cfg.augment)
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    bs = cfg.train.batch_size
    frames = seconds_to_frames(cfg.features, cfg.features.train_seconds)
    meta = [" ".join(r.keywords) for r in train_split.recordings]

    def step(b: int) -> None:
        idx = [(b * bs + j) % len(feats) for j in range(bs)]
        x, lengths = make_audio_batch([feats[i] for i in idx], frames, mean, rng)
        x = normalise_batch(aug.gain(x, gen), lengths, model.feat_mean, model.feat_std)  # as fit's batches
        x = aug.spectral(x, lengths, gen)
        caps = [train_split.recordings[i].captions[0] for i in idx]
        ids = torch.tensor(idx)
        loss = model.loss(x, lengths, caps, [meta[i] for i in idx] if model.uses_metadata else None,
                          ids.unsqueeze(1) == ids.unsqueeze(0))
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    step(0)
    t0 = time.perf_counter()
    for b in range(1, batches + 1):
        step(b)
    t_train = time.perf_counter() - t0
    train_cps = batches * bs / t_train

    # ---- evaluation throughput (validation split)
    cache = FeatureCache(Path(cfg.data.cache_dir) if cfg.data.cache_dir else _default_cache(), frontend)
    val = load_split(cfg, root, cfg.data.val_split, cache)
    t0 = time.perf_counter()
    qm = evaluate_split(model, val, cfg, torch.device("cpu"))
    t_eval = time.perf_counter() - t0

    n = len(paths)
    epoch_train_s = n / train_cps
    payload = {
        "benchmark": "train_speed", "config": config, "overrides": overrides or {}, "machine": machine(),
        "train": {"clips_per_s": train_cps, "batch_size": bs, "batches": batches,
                  "frames": frames, "n_mels": cfg.features.n_mels},
        "evaluate": {"recordings": len(val.features), "queries": len(qm.ap), "seconds": t_eval,
                     "recordings_per_s": len(val.features) / t_eval, "queries_per_s": len(qm.ap) / t_eval},
        "feature_cache": {"clips": n, "no_cache_s": t_nocache, "cold_cache_s": t_cold, "warm_cache_s": t_warm,
                          "feature_speedup": t_nocache / max(t_warm, 1e-9),
                          "epoch_s_without_cache": t_nocache + epoch_train_s,
                          "epoch_s_with_cache": t_warm + epoch_train_s,
                          "epoch_speedup": (t_nocache + epoch_train_s) / (t_warm + epoch_train_s)},
    }
    fc = payload["feature_cache"]
    md = (f"# train_speed ({config}, {payload['machine']['date']}, {payload['machine']['cpus']} CPUs, "
          f"torch threads {payload['machine']['torch_threads']})\n\n")
    md += markdown_table(["measure", "value"], [
        ["training clips/s (batch %d, %d mels x %d frames)" % (bs, cfg.features.n_mels, frames), train_cps],
        ["evaluation recordings/s", payload["evaluate"]["recordings_per_s"]],
        ["evaluation queries/s", payload["evaluate"]["queries_per_s"]],
        [f"features for {n} clips, no cache (s)", t_nocache],
        [f"features for {n} clips, cold cache (s)", t_cold],
        [f"features for {n} clips, warm cache (s)", t_warm],
        ["feature speed-up (no cache / warm cache)", fc["feature_speedup"]],
        ["epoch time without cache (s)", fc["epoch_s_without_cache"]],
        ["epoch time with cache (s)", fc["epoch_s_with_cache"]],
        ["epoch speed-up from the cache (second epoch vs first)", fc["epoch_speedup"]],
    ])
    if frozen_epochs:
        payload["frozen_encoder"] = frozen_cache_speed(cfg, frozen_epochs)
        md += "\n## Frozen encoder: trainable vs frozen vs frozen + cached outputs\n\n"
        md += frozen_markdown(payload["frozen_encoder"])
    jpath, mpath = write_results(out_dir, "train_speed", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return payload


def frozen_cache_speed(cfg: "TrialConfig | str", epochs: int = 2, *, overrides: Mapping[str, Any] | None = None,
                       work_dir: str | Path | None = None, freeze_text: bool = True) -> dict[str, Any]:
    """Epoch times of ``fit`` with the encoders trainable, frozen (no cache) and frozen + cached, side by side.

    ``cfg``: a TrialConfig or a named config / YAML file; ``overrides``: dotted keys applied on top. Each variant
    trains ``epochs`` epochs in its own run folder below ``work_dir`` (a temporary folder, removed afterwards,
    when None); features and encoder outputs are cached in ``work_dir/cache``, so feature extraction is paid once
    before the variants run. ``freeze_text``: freeze (and cache) the text encoder together with the audio one.

    Returns ``{"variants": {name: {"epoch_s", "epoch_times_s", "train_s", "encode_s", "wall_s", "val_map10",
    "encoder_cache"}}, "speedup_cached_vs_uncached", "speedup_cached_vs_trainable", "speedup_uncached_vs_trainable",
    "config", "epochs"}`` with variants ``trainable``, ``frozen``, ``frozen_cached_cold``, ``frozen_cached_warm``.
    """
    from retrieval.config import TrialConfig
    from retrieval.train import fit

    base = cfg if isinstance(cfg, TrialConfig) else TrialConfig.load(cfg)
    tmp = Path(tempfile.mkdtemp(prefix="frozen-speed-")) if work_dir is None else Path(work_dir)
    no_aug = {"augment.gain.g_max": 0.0, "augment.spec.n_f": 0, "augment.spec.n_t": 0, "augment.mixstyle.p": 0.0,
              "audio_encoder.s_patchout_t": 0, "audio_encoder.s_patchout_f": 0}
    common = {**(overrides or {}), **no_aug, "train.epochs": int(epochs), "train.progress": False,
              "train.patience": None, "data.cache_dir": str(tmp / "cache")}
    variants = {
        "trainable": {"audio_encoder.frozen": False, "text_encoder.frozen": False},
        "frozen": {"audio_encoder.frozen": True, "audio_encoder.cache": False,
                   "text_encoder.frozen": freeze_text, "text_encoder.cache": False},
        "frozen_cached_cold": {"audio_encoder.frozen": True, "audio_encoder.cache": True,
                               "text_encoder.frozen": freeze_text, "text_encoder.cache": True},
        "frozen_cached_warm": {"audio_encoder.frozen": True, "audio_encoder.cache": True,
                               "text_encoder.frozen": freeze_text, "text_encoder.cache": True},
    }
    results: dict[str, Any] = {}
    try:
        # pay feature extraction (and SynthCaps generation) once, outside the measured runs
        fit(base.with_overrides({**common, "train.epochs": 1, "data.max_train_items": 2}), tmp / "warmup")
        for name, sets in variants.items():
            c = base.with_overrides({**common, **sets})
            t0 = time.perf_counter()
            r = fit(c, tmp / name, resume=False)
            wall = time.perf_counter() - t0
            times = [h["epoch_time_s"] for h in r.history]
            enc = r.extra.get("encoder_cache", {})
            results[name] = {"epoch_s": float(np.mean(times)), "epoch_times_s": times,
                             "train_s": float(np.mean([h["train_time_s"] for h in r.history])),
                             "encode_s": float(enc.get("encode_seconds", 0.0)), "wall_s": wall,
                             "val_map10": r.val["val_map10"], "encoder_cache": enc}
    finally:
        if work_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    warm, unc, tr = (results[k]["epoch_s"] for k in ("frozen_cached_warm", "frozen", "trainable"))
    return {"config": base.fingerprint(), "epochs": int(epochs), "freeze_text": freeze_text, "variants": results,
            "speedup_cached_vs_uncached": unc / max(warm, 1e-9), "speedup_cached_vs_trainable": tr / max(warm, 1e-9),
            "speedup_uncached_vs_trainable": tr / max(unc, 1e-9)}


def frozen_markdown(res: dict[str, Any]) -> str:
    """The frozen-encoder comparison as a Markdown table."""
    rows = [[name, v["epoch_s"], v["train_s"], v["encode_s"],
             f"{v['encoder_cache'].get('audio', {}).get('hits', '-')}/"
             f"{v['encoder_cache'].get('audio', {}).get('misses', '-')}", v["val_map10"]]
            for name, v in res["variants"].items()]
    md = markdown_table(["variant", "epoch s (train + val)", "train s", "one-time encode s",
                         "audio cache hits/misses", "val mAP@10"], rows)
    md += (f"\nfrozen + cached vs frozen: {res['speedup_cached_vs_uncached']:.2f}x faster epochs; vs trainable: "
           f"{res['speedup_cached_vs_trainable']:.2f}x; frozen (uncached) vs trainable: "
           f"{res['speedup_uncached_vs_trainable']:.2f}x ({res['epochs']} epochs each)\n")
    return md


def _default_cache() -> Path:
    from retrieval.utils import default_cache_dir

    return default_cache_dir()


@command_line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks train_speed", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--frozen-epochs", type=int, default=2,
                   help="epochs per variant of the frozen-encoder comparison (0 skips it)")
    args = p.parse_args(argv)
    from retrieval.config import parse_override

    run(args.config, dict(parse_override(o) for o in args.overrides), args.batches, args.threads, args.out,
        args.frozen_epochs)
    return 0
