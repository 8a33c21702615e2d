"""Training and evaluation of a fused retriever: ``fit(config, run_dir, report)``.

The loop reads top to bottom: prepare data (generate SynthCaps if needed, load splits, log-mels through the
on-disk cache) → build the model → per epoch: train, validate, report, checkpoint → evaluate the best checkpoint
on the validation and test splits → write the run directory:

- ``config.yaml``: resolved config, fingerprint, seed, package version, git commit;
- ``metrics.json``: per-epoch history, best epoch, final validation and test metrics;
- ``per_query.csv``: ``query,target,rank,ap10`` for the test split of the best checkpoint;
- ``best.pt`` (state dict, ``torch.load(weights_only=True)``), ``last.pt`` (resume state),
  ``text_encoder/`` (tokenizer files).

Every random draw of epoch ``e`` comes from generators seeded with ``(seed, e)``, so a run resumed from
``last.pt`` after epoch ``e`` continues exactly as the uninterrupted run would.

``retrieval`` never imports Ray or Optuna: a study runner passes ``report(epoch, metrics)``, which may raise
:class:`StopTrial` to end the run early (a scheduler's decision).
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .config import ConfigError, TrialConfig
from .utils import (atomic_torch_save, atomic_write_json, atomic_write_text, atomic_write_yaml, default_cache_dir,
                    git_commit, package_version)

ReportFn = Callable[[int, dict[str, float]], None]


class StopTrial(Exception):
    """Raised by a ``report`` callback to stop training early; ``fit`` finishes the run cleanly."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class RunResult:
    run_dir: str
    fingerprint: str
    best_epoch: int
    val: dict[str, float]
    test: dict[str, float]
    history: list[dict[str, float]]
    epochs_trained: int
    stopped: str  # "completed" | "early_stopping" | "stopped_by_report"
    wall_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- data
@dataclass
class SplitData:
    """A split with its log-mels in memory (raw dB, full length)."""

    split: Any  # retrieval.data.clotho.Split
    features: list[np.ndarray]
    encoded: Any = None  # retrieval.encoders.cache.EncodedSplit when the frozen audio encoder's outputs are cached

    @property
    def captions(self) -> list[tuple[str, int]]:
        return self.split.queries()

    def metadata(self) -> list[str]:
        return [" ".join(r.keywords) for r in self.split.recordings]


def resolve_data_root(cfg: TrialConfig, *, progress: bool = False, dataset: str | None = None) -> Path:
    """The folder of ``dataset`` (default: the primary ``data.dataset``): ``data.<dataset>.root``, else ``data.root``
    for the primary data set; SynthCaps is generated on first use into the cache folder."""
    dataset = dataset or cfg.data.dataset
    given = cfg.data.root_of(dataset)
    if given is not None:
        root = Path(given).expanduser()
        if dataset == "synthcaps" and not (root / "synthcaps.json").exists():
            _generate_synthcaps(cfg, root, progress)
        if not root.is_dir():
            key = "data.root" if given == cfg.data.root and dataset == cfg.data.dataset else f"data.{dataset}.root"
            raise ConfigError(f"{key}: {root} is not a folder")
        return root
    if dataset != "synthcaps":
        raise ConfigError(f"data.{dataset}.root: is required: {dataset!r} is used (give the folder of its files)")
    from .data.synthcaps import default_root

    cache = Path(cfg.data.cache_dir).expanduser() if cfg.data.cache_dir else default_cache_dir()
    root = default_root(cache, cfg.data.synth_size, cfg.data.synth_seed, cfg.data.synth_version)
    if not (root / "synthcaps.json").exists():
        _generate_synthcaps(cfg, root, progress)
    return root


def _generate_synthcaps(cfg: TrialConfig, root: Path, progress: bool) -> None:
    from .data.synthcaps import generate

    if progress:
        print(f"Generating SynthCaps {cfg.data.synth_version} {cfg.data.synth_size} (seed {cfg.data.synth_seed}) "
              f"into {root}", file=sys.stderr)
    generate(root, cfg.data.synth_size, cfg.data.synth_seed, sample_rate=cfg.features.sample_rate,
             progress=progress, version=cfg.data.synth_version)


def feature_cache(cfg: TrialConfig):
    from .data.features import FeatureCache, Frontend

    cache = Path(cfg.data.cache_dir).expanduser() if cfg.data.cache_dir else default_cache_dir()
    return FeatureCache(cache, Frontend.from_config(cfg.features))


def load_split(cfg: TrialConfig, root: Path, name: str, cache, *, progress: bool = False,
               limit: int | None = None, dataset: str | None = None) -> SplitData:
    """Split ``name`` of ``dataset`` (default ``data.dataset``) with its log-mels. ClothoV2/SynthCaps must be
    complete; AudioCaps/WavCaps clips without audio are left out and counted (see ``retrieval.data.datasets``)."""
    from dataclasses import replace

    from .data.datasets import LoadOptions
    from .data.datasets import load_split as load_dataset_split

    dataset = dataset or cfg.data.dataset
    split = load_dataset_split(dataset, root, name, options=LoadOptions.from_config(cfg.data))
    if progress and (split.missing_audio or split.excluded):
        listed = len(split.recordings) + len(split.missing_audio) + len(split.excluded)
        print(f"{dataset} {split.name}: {len(split.recordings)} of {listed} listed recordings used "
              f"({len(split.missing_audio)} without audio, {len(split.excluded)} excluded)", file=sys.stderr)
    if not split.recordings:
        from .data.errors import DataError

        raise DataError(root, f"{dataset} split {split.name!r} has no recordings with audio "
                              f"({len(split.missing_audio)} listed without audio)")
    if limit is not None and limit < len(split.recordings):
        split = replace(split, recordings=split.recordings[:limit])
    feats = cache.get_many([r.path for r in split.recordings], progress=progress, desc=f"log-mel {name}")
    return SplitData(split, feats)


def used_datasets(cfg: TrialConfig) -> tuple[str, ...]:
    """The primary data set, then the other training data sets, without repeats."""
    return tuple(dict.fromkeys((cfg.data.dataset,) + cfg.data.training_sets))


def load_training_data(cfg: TrialConfig, roots: dict[str, Path], cache, *,
                       progress: bool = False) -> tuple[SplitData, list[str]]:
    """The training splits of ``data.train_on`` (or ``data.dataset``), concatenated, and the data set of each
    recording. ``max_train_items`` caps each data set's split."""
    from .data.datasets import concat_splits, role_split

    parts: list[SplitData] = []
    sources: list[str] = []
    for name in cfg.data.training_sets:
        split = cfg.data.train_split if name == cfg.data.dataset else role_split(name, "train")
        part = load_split(cfg, roots[name], split, cache, progress=progress, limit=cfg.data.max_train_items,
                          dataset=name)
        parts.append(part)
        sources.extend([name] * len(part.features))
    if len(parts) == 1:
        return parts[0], sources
    merged = concat_splits([p.split for p in parts], name="+".join(cfg.data.training_sets))
    return SplitData(merged, [f for p in parts for f in p.features]), sources


def load_extra_tests(cfg: TrialConfig, roots: dict[str, Path], cache, *,
                     progress: bool = False) -> dict[str, SplitData]:
    """The test split of every training data set other than ``data.dataset`` that has one (WavCaps has none)."""
    from .data.datasets import role_split

    out: dict[str, SplitData] = {}
    for name in cfg.data.training_sets:
        split = role_split(name, "test")
        if name != cfg.data.dataset and split is not None:
            out[name] = load_split(cfg, roots[name], split, cache, progress=progress, dataset=name)
    return out


def build_text_augment(cfg: TrialConfig, train: SplitData, sources: Sequence[str], cache_dir: Path, *,
                       progress: bool = False, synthcaps_root: Path | None = None):
    """The training loop's text augmentation (caption variations, back-translation, EDA, in that order) and the
    variation key of each training recording (None when variations are off). ``synthcaps_root``: the SynthCaps
    folder, whose own variations file ``augment.variations.file: synthcaps`` names."""
    from .augment.text import TextAugment

    back_translations = variations = keys = None
    if cfg.augment.bt.p_bt > 0:
        from .augment.backtranslate import back_translation_table

        captions = [c for r in train.split.recordings for c in r.captions]
        back_translations = back_translation_table(captions, Path(cache_dir), progress=progress)
    if cfg.augment.variations.p > 0:
        from .augment.variations import load_variations, variations_path

        variations = load_variations(variations_path(cfg.augment.variations.file, synthcaps_root))
        target = cfg.augment.variations.dataset or cfg.data.dataset
        names = [r.file_name if src == target else None for r, src in zip(train.split.recordings, sources)]
        # paired with the captions exactly as the training loop passes them to TextAugment (cleaned)
        keys = variations.match(names, [r.captions for r in train.split.recordings], warn=True)
    return TextAugment(cfg.augment, back_translations=back_translations, variations=variations), keys


def check_requirements(cfg: TrialConfig) -> None:
    """Fail before any work when something the config asks for is not installed or not found."""
    from .augment.text import check_text_augment_requirements

    check_text_augment_requirements(cfg.augment)
    if cfg.text_encoder.name == "hf":
        from .encoders.text import resolve_hf_path

        if not resolve_hf_path(cfg.text_encoder.path).is_dir():  # a folder, or a name in the offline HF cache
            raise ConfigError(f"text_encoder.path: {cfg.text_encoder.path!r} is not a folder; give a local Hugging "
                              "Face model folder (saved with save_pretrained, e.g. bert-base-uncased) or a model "
                              "name in the offline Hugging Face cache; nothing is downloaded")
    if cfg.audio_encoder.checkpoint and not Path(cfg.audio_encoder.checkpoint).expanduser().is_file():
        raise ConfigError(f"audio_encoder.checkpoint: file not found: {cfg.audio_encoder.checkpoint}")
    for name in used_datasets(cfg):
        if name == "synthcaps":
            continue
        given = cfg.data.root_of(name)
        if not Path(given or "").expanduser().is_dir():
            key = "data.root" if name == cfg.data.dataset and cfg.data.root is not None and given == cfg.data.root \
                else f"data.{name}.root"
            raise ConfigError(f"{key}: {given!r} is not a folder (the {name} files)")
    if cfg.train.init_from:
        src = Path(cfg.train.init_from).expanduser()
        if not (src / "best.pt").is_file() and not src.is_file():
            raise ConfigError(f"train.init_from: {src} not found (give a finished run folder holding best.pt, "
                              "or a state-dict file)")
    if cfg.train.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: 'cuda' asked for but no CUDA device is available")


# ---------------------------------------------------------------------------------------------- batches
def _frames(cfg: TrialConfig, seconds: float) -> int:
    return max(1, int(round(seconds * cfg.features.sample_rate / cfg.features.hop_length)))


def make_audio_batch(features: Sequence[np.ndarray], frames: int, fill: float,
                     rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop (random offset with ``rng``, centred without) or pad each log-mel to ``frames``; padding holds
    ``fill``. Returns ``x [B, n_mels, frames]`` and ``lengths [B]``."""
    n_mels = features[0].shape[0]
    x = np.full((len(features), n_mels, frames), fill, dtype=np.float32)
    lengths = np.empty(len(features), dtype=np.int64)
    for i, f in enumerate(features):
        total = f.shape[1]
        if total > frames:
            start = int(rng.integers(0, total - frames + 1)) if rng is not None else (total - frames) // 2
            x[i] = f[:, start:start + frames]
            lengths[i] = frames
        else:
            x[i, :, :total] = f
            lengths[i] = total
    return torch.from_numpy(x), torch.from_numpy(lengths)


def epoch_pairs(data: SplitData, mode: str, rng: np.random.Generator) -> list[tuple[int, str]]:
    """(recording index, caption) pairs one epoch visits, shuffled."""
    recs = data.split.recordings
    if mode == "clip":
        pairs = [(i, r.captions[int(rng.integers(len(r.captions)))]) for i, r in enumerate(recs)]
    else:
        pairs = [(i, c) for i, r in enumerate(recs) for c in r.captions]
    order = rng.permutation(len(pairs))
    return [pairs[j] for j in order]


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


# ---------------------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def embed_items(model, data: SplitData, cfg: TrialConfig, device: torch.device):
    from .fusion import ItemEmbedding

    model.eval()
    frames = _frames(cfg, cfg.features.eval_seconds)
    meta = data.metadata()
    parts = []
    bs = cfg.train.eval_batch_size
    for start in range(0, len(data.features), bs):
        if data.encoded is not None:  # a frozen audio encoder's cached outputs
            stop = min(start + bs, len(data.features))
            emb = model.encode_items(None, None, meta[start:stop], audio=data.encoded.eval_batch(start, stop, device))
            parts.append(emb.parts)
            continue
        x, lengths = make_audio_batch(data.features[start:start + bs], frames, float(model.feat_mean), None)
        x = model.normalise(x.to(device))
        emb = model.encode_items(x, lengths.to(device), meta[start:start + bs])
        parts.append(emb.parts)
    return ItemEmbedding(torch.cat(parts))


@torch.no_grad()
def score_chunks(model, items, captions: Sequence[str], batch_size: int, device: torch.device):
    """Yield ``(first_query_index, scores [c, N])`` chunk by chunk (never the full matrix at once)."""
    model.eval()
    for start in range(0, len(captions), batch_size):
        q = model.encode_queries(captions[start:start + batch_size])
        yield start, model.scores(q, items).float().cpu()


def evaluate_split(model, data: SplitData, cfg: TrialConfig, device: torch.device):
    """Per-query metrics of every caption of ``data`` against all its recordings (DCASE protocol)."""
    from .metrics import query_metrics_chunked

    items = embed_items(model, data, cfg, device)
    queries = data.captions
    captions = [c for c, _ in queries]
    relevant = [[i] for _, i in queries]
    return query_metrics_chunked(score_chunks(model, items, captions, cfg.train.eval_batch_size, device),
                                 relevant, len(data.features))


def _prefixed(summary: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{k}": float(v) for k, v in summary.items() if k != "n_queries"}


def write_per_query(path: Path, data: SplitData, qm) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["query", "target", "rank", "ap10"])
    recs = data.split.recordings
    for (caption, idx), rank, ap in zip(data.captions, qm.rank, qm.ap):
        w.writerow([caption, recs[idx].file_name, int(rank) if np.isfinite(rank) else "", f"{float(ap):.6f}"])
    atomic_write_text(path, buf.getvalue())


# ---------------------------------------------------------------------------------------------- optimisation
def build_optimizer(model, cfg: TrialConfig) -> torch.optim.Optimizer:
    lrs = {"audio": cfg.optim.lr_audio, "text": cfg.optim.lr_text, "head": cfg.optim.lr_head}
    groups = [{"params": ps, "lr": lrs[name], "name": name}
              for name, ps in model.parameter_groups().items() if ps]
    cls = torch.optim.AdamW if cfg.optim.name == "adamw" else torch.optim.Adam
    return cls(groups, weight_decay=cfg.optim.weight_decay)


def lr_factor(step: int, steps_per_epoch: int, cfg: TrialConfig) -> float:
    """Linear warm-up over ``warmup_epochs``, then cosine decay from 1 to ``min_lr_ratio`` at the last step."""
    warm = cfg.optim.warmup_epochs * steps_per_epoch
    total = cfg.train.epochs * steps_per_epoch
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    r = cfg.optim.min_lr_ratio
    return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------------- fit
def fit(cfg: TrialConfig, run_dir: str | Path | None = None, report: ReportFn | None = None, *,
        resume: bool = True) -> RunResult:
    """Train ``cfg`` and write the run directory. See the module docstring."""
    from tqdm.auto import tqdm

    from .augment.audio import AudioAugment
    from .augment.text import TextAugment
    from .model import Retriever

    t_start = time.time()
    cfg.validate()
    check_requirements(cfg)
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / f"run-{cfg.fingerprint()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    device = torch.device(cfg.train.device)
    show = cfg.train.progress
    fingerprint = cfg.fingerprint()
    last_path = run_dir / "last.pt"
    if resume and last_path.exists():  # refuse before writing anything into another run's folder
        other = torch.load(last_path, map_location="cpu", weights_only=True).get("fingerprint")
        if other != fingerprint:
            raise ConfigError(f"{run_dir}: holds a run of another configuration (fingerprint {other} != "
                              f"{fingerprint}); use another --out folder, or --no-resume to start over there")
    atomic_write_yaml(run_dir / "config.yaml", {
        "fingerprint": fingerprint, "seed": cfg.train.seed, "version": package_version(),
        "git_commit": git_commit(), "config": cfg.to_dict()})

    # ---- data (training splits of every data set in data.train_on; validation and test of data.dataset; the
    # test split of every other training data set that has one)
    roots = {name: resolve_data_root(cfg, progress=show, dataset=name) for name in used_datasets(cfg)}
    root = roots[cfg.data.dataset]
    cache = feature_cache(cfg)
    train, train_sources = load_training_data(cfg, roots, cache, progress=show)
    val = load_split(cfg, root, cfg.data.val_split, cache, progress=show)
    test = load_split(cfg, root, cfg.data.test_split, cache, progress=show)
    extra_tests = load_extra_tests(cfg, roots, cache, progress=show)
    all_train = np.concatenate([f.reshape(-1) for f in train.features])
    mean, std = float(all_train.mean()), float(all_train.std())
    if cfg.features.kind != "logmel":  # PANNs / PaSST frontends give the pretrained encoder's own input scale
        mean, std = 0.0, 1.0

    # ---- model
    torch.manual_seed(cfg.train.seed)
    corpus = [c for r in train.split.recordings for c in r.captions] + train.metadata()
    init_state = _init_weights(cfg, run_dir) if cfg.train.init_from else None
    model = Retriever(cfg, text_corpus=corpus, artifacts_dir=run_dir / "text_encoder").to(device)
    model.set_normalisation(mean, std)
    if init_state is not None:  # fine-tuning: the pre-trained weights, and its input normalisation
        _load_init_state(model, init_state, cfg.train.init_from)
    from .encoders.cache import prepare_frozen_caches

    frozen_caches = prepare_frozen_caches(model, cfg, [train, val, test, *extra_tests.values()],
                                          cache_dir=cache.cache_dir,
                                          frontend_key=cache.frontend.key(), device=device, progress=show)
    optimizer = build_optimizer(model, cfg)
    batch = cfg.train.batch_size
    n_pairs = len(train.features) * (1 if cfg.data.epoch_mode == "clip" else
                                     max(1, round(train.split.n_captions / max(1, len(train.features)))))
    steps_per_epoch = max(1, n_pairs // batch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps_per_epoch, cfg))
    audio_aug = AudioAugment(cfg.augment)
    text_aug, variation_keys = build_text_augment(cfg, train, train_sources, cache.cache_dir, progress=show,
                                                  synthcaps_root=roots.get("synthcaps"))
    # mixed precision on CUDA only (train.amp); on the CPU everything stays float32 and bit-reproducible
    use_amp = bool(cfg.train.amp and device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    train_frames = _frames(cfg, cfg.features.train_seconds)
    train_meta = train.metadata()

    history: list[dict[str, float]] = []
    best = {"epoch": 0, "val_map10": -1.0}
    start_epoch = 0
    if resume and last_path.exists():
        state = torch.load(last_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if use_amp and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        history, best, start_epoch = list(state["history"]), dict(state["best"]), int(state["epoch"])
        if show:
            print(f"Resuming {run_dir} after epoch {start_epoch}", file=sys.stderr)

    stopped = "completed"
    bad_epochs = _epochs_since_best(history, best) if history else 0
    for epoch in range(start_epoch, cfg.train.epochs):
        if cfg.train.patience is not None and bad_epochs >= cfg.train.patience:
            stopped = "early_stopping"
            break
        t_epoch = time.time()
        seed = _epoch_seed(cfg.train.seed, epoch)
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        pairs = epoch_pairs(train, cfg.data.epoch_mode, rng)
        model.train()
        losses = []
        n_batches = len(pairs) // batch if len(pairs) >= batch else 1
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{cfg.train.epochs}", disable=not show,
                   leave=False, file=sys.stderr, dynamic_ncols=True)
        for b in bar:
            chunk = pairs[b * batch:(b + 1) * batch]
            idx = [i for i, _ in chunk]
            captions = [c for _, c in chunk]
            if text_aug.enabled:
                captions = text_aug(captions, rng, keys=[variation_keys[i] for i in idx] if variation_keys else None)
            if train.encoded is not None:  # frozen, cached audio encoder: its outputs for a window-aligned crop
                x = lengths = None
                audio = train.encoded.train_batch(idx, rng, device)
            else:
                audio = None
                x, lengths = make_audio_batch([train.features[i] for i in idx], train_frames, mean, rng)
                x = audio_aug.gain(x, gen)
                x = model.normalise(x)
                pad = torch.arange(x.shape[-1]).unsqueeze(0) >= lengths.unsqueeze(1)
                x = x.masked_fill(pad.unsqueeze(1), 0.0)
                x = audio_aug.spectral(x, lengths, gen)
                x, lengths = x.to(device), lengths.to(device)
            metadata = None
            if model.uses_metadata:
                metadata = [train_meta[i] for i in idx]
                if cfg.fusion.metadata_dropout > 0:
                    drop = rng.random(len(metadata)) < cfg.fusion.metadata_dropout
                    metadata = ["" if d else m for m, d in zip(metadata, drop)]
            ids = torch.tensor(idx)
            positives = ids.unsqueeze(1) == ids.unsqueeze(0)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = model.loss(x, lengths, captions, metadata, positives.to(device), audio=audio)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch + 1}, batch {b + 1}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # disabled scaler (CPU, amp off): plain backward and step
            if cfg.optim.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        bar.close()
        train_time = time.time() - t_epoch
        qm = evaluate_split(model, val, cfg, device)
        metrics = {"epoch": epoch + 1, "loss": float(np.mean(losses)), **_prefixed(qm.summary(), "val"),
                   **{f"lr_{g['name']}": g["lr"] for g in optimizer.param_groups}, "train_time_s": train_time,
                   "epoch_time_s": time.time() - t_epoch, "temperature": model.loss_fn.temperature}
        improved = metrics["val_map10"] > best["val_map10"]
        if improved:
            best = {"epoch": epoch + 1, "val_map10": metrics["val_map10"]}
            atomic_torch_save(model.state_dict(), run_dir / "best.pt")
        metrics["best_val_map10"] = best["val_map10"]
        history.append(metrics)
        bad_epochs = 0 if improved else bad_epochs + 1
        atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "history": history,
                           "best": best, "fingerprint": fingerprint,
                           **({"scaler": scaler.state_dict()} if use_amp else {})}, last_path)
        atomic_write_json(run_dir / "metrics.json", {"fingerprint": fingerprint, "history": history,
                                                     "best_epoch": best["epoch"], "complete": False})
        if show:
            print(f"epoch {epoch + 1:3d}  loss {metrics['loss']:.4f}  val mAP@10 {metrics['val_map10']:.4f}  "
                  f"R@1 {metrics['val_r1']:.3f}  R@10 {metrics['val_r10']:.3f}  "
                  f"({metrics['epoch_time_s']:.1f}s){'  *' if improved else ''}", file=sys.stderr)
        if report is not None:
            try:
                report(epoch + 1, dict(metrics))
            except StopTrial:
                stopped = "stopped_by_report"
                break
    else:
        if cfg.train.patience is not None and bad_epochs >= cfg.train.patience and len(history) < cfg.train.epochs:
            stopped = "early_stopping"

    # ---- final evaluation of the best checkpoint
    if (run_dir / "best.pt").exists():
        model.load_state_dict(torch.load(run_dir / "best.pt", map_location=device, weights_only=True))
    val_qm = evaluate_split(model, val, cfg, device)
    test_qm = evaluate_split(model, test, cfg, device)
    write_per_query(run_dir / "per_query.csv", test, test_qm)
    test_metrics = _prefixed(test_qm.summary(), "test")
    if cfg.data.train_on:  # per benchmark: test_<dataset>_map10 ...; per_query_<dataset>.csv for the others
        test_metrics.update(_prefixed(test_qm.summary(), f"test_{cfg.data.dataset}"))
        for name, data in extra_tests.items():
            qm = evaluate_split(model, data, cfg, device)
            test_metrics.update(_prefixed(qm.summary(), f"test_{name}"))
            write_per_query(run_dir / f"per_query_{name}.csv", data, qm)
    result = RunResult(
        run_dir=str(run_dir), fingerprint=fingerprint, best_epoch=best["epoch"],
        val=_prefixed(val_qm.summary(), "val"), test=test_metrics, history=history,
        epochs_trained=len(history), stopped=stopped, wall_time_s=time.time() - t_start,
        extra={"feature_cache": {"hits": cache.hits, "misses": cache.misses},
               "encoder_cache": frozen_caches.as_dict(),
               "data_root": str(root), "n_train": len(train.features), "n_val": len(val.features),
               "n_test": len(test.features), "n_test_queries": len(test.captions),
               "data_roots": {k: str(v) for k, v in roots.items()},
               "n_train_per_dataset": {n: train_sources.count(n) for n in cfg.data.training_sets},
               "n_test_per_dataset": {cfg.data.dataset: len(test.features),
                                      **{n: len(d.features) for n, d in extra_tests.items()}},
               "text_augment": text_aug.stats(),
               "variations": dict(text_aug.variations.stats) if text_aug.variations is not None else None})
    atomic_write_json(run_dir / "metrics.json", {**asdict(result), "complete": True})
    return result


def _init_weights(cfg: TrialConfig, run_dir: Path) -> dict[str, torch.Tensor]:
    """The state dict ``train.init_from`` names (a run folder's ``best.pt`` or a ``.pt`` file). A run folder's
    text-encoder artifacts (tiny-bert's WordPiece vocabulary) are copied into this run first, so that the token ids
    the pre-trained embeddings were learnt with stay the same."""
    import shutil

    src = Path(cfg.train.init_from).expanduser()
    weights = src / "best.pt" if src.is_dir() else src  # its existence was checked by check_requirements
    artifacts = src / "text_encoder" if src.is_dir() else None
    if artifacts is not None and artifacts.is_dir() and not (run_dir / "text_encoder").exists():
        tmp = run_dir / ".text_encoder.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(artifacts, tmp)
        tmp.rename(run_dir / "text_encoder")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable file of any kind
        raise ConfigError(f"train.init_from: cannot read {weights}: {type(exc).__name__}: {exc}") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a last.pt resume state
    if not isinstance(state, dict):
        raise ConfigError(f"train.init_from: {weights} does not hold a state dict")
    return state


def _load_init_state(model, state: dict[str, torch.Tensor], source: str) -> None:
    from .encoders.audio import state_dict_mismatch

    parts = state_dict_mismatch(model.state_dict(), state)
    if parts:
        raise ConfigError(f"train.init_from: {source} does not fit this model's architecture: " + "; ".join(parts)
                          + " (fine-tuning needs the same encoders, sizes and fusion)")
    model.load_state_dict(state)


def _epochs_since_best(history: list[dict[str, float]], best: dict[str, Any]) -> int:
    return len(history) - int(best["epoch"])


def load_run_model(run_dir: str | Path, device: str = "cpu"):
    """Rebuild the model of a finished run from ``config.yaml``, ``text_encoder/`` and ``best.pt``."""
    from .model import Retriever

    run_dir = Path(run_dir)
    cfg = TrialConfig.load(run_dir / "config.yaml")
    model = Retriever(cfg, text_corpus=None, artifacts_dir=run_dir / "text_encoder")
    state = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(state)
    return cfg, model.to(device).eval()
