"""Training and evaluation throughput, and what the log-mel cache saves.

Measured side by side in one process on the same data (SynthCaps, generated on first use):

- ``train``: clips per second of the full training step (crop, augment, forward, backward, Adam step) with the
  named config's model, averaged over ``--batches`` batches after one warm-up batch;
- ``evaluate``: recordings embedded per second and caption queries scored per second (the validation pass);
- ``feature cache``: the cost of one epoch's features without the cache (decode WAV + resample + STFT + mel for
  every training clip) against reading them from the on-disk cache, and the epoch time each implies
  (feature time + training time): the second epoch (or trial) of a run pays only the cached cost.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .common import machine, markdown_table, write_results


def run(config: str = "synthcaps-small", overrides: dict | None = None, batches: int = 8, threads: int | None = None,
        out_dir: str | Path = "benchmarks/results") -> dict:
    from retrieval.augment.audio import AudioAugment
    from retrieval.config import TrialConfig
    from retrieval.data.audio import read_audio
    from retrieval.data.clotho import load_clotho_split
    from retrieval.data.features import FeatureCache, Frontend, compute_logmel
    from retrieval.model import Retriever
    from retrieval.train import (_frames, build_optimizer, evaluate_split, load_split, make_audio_batch,
                                 resolve_data_root)

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
    frames = _frames(cfg, cfg.features.train_seconds)
    meta = [" ".join(r.keywords) for r in train_split.recordings]

    def step(b: int) -> None:
        idx = [(b * bs + j) % len(feats) for j in range(bs)]
        x, lengths = make_audio_batch([feats[i] for i in idx], frames, mean, rng)
        x = aug.spectral(model.normalise(aug.gain(x, gen)), lengths, gen)
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
    jpath, mpath = write_results(out_dir, "train_speed", payload, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return payload


def _default_cache() -> Path:
    from retrieval.utils import default_cache_dir

    return default_cache_dir()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks train_speed", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="synthcaps-small")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    from retrieval.config import parse_override

    run(args.config, dict(parse_override(o) for o in args.overrides), args.batches, args.threads, args.out)
    return 0
