"""Training a fused retriever: ``fit(config, run_dir, report)``, and what it builds (model, optimisation, batches,
run folder). The run's data is loaded by :mod:`retrieval.data.loading`.

``fit`` reads top to bottom: set-up (:func:`check_run_dir`: refuse a bad run folder before any work;
:func:`~retrieval.data.loading.load_run_data`: generate SynthCaps if needed, load splits, log-mels through the
on-disk cache; only then :func:`start_run_dir`, so that a run whose data cannot be read leaves no folder;
:func:`build_model`; the frozen encoders' output caches; :func:`build_optimisation`; :func:`build_batches`; the
resume state) → per epoch: :func:`train_one_epoch`, :func:`evaluate` on the validation split,
:func:`save_checkpoint`, report (early stopping is decided in one place, :meth:`Progress.patience_exhausted`) →
:func:`final_evaluation` of the best checkpoint on the validation and test splits → write the run directory.
Batches are assembled by :class:`retrieval.batching.BatchAssembler`; the metrics are :mod:`retrieval.evaluation`'s,
the checkpoint files (``best.pt``, ``last.pt``, ``train.init_from``) :mod:`retrieval.checkpoint`'s.

The run directory:

- ``config.yaml``: resolved config, fingerprint, seed, package version, git commit;
- ``metrics.json``: per-epoch history, best epoch, final validation and test metrics;
- ``per_query.csv``: ``query,target,rank,ap10`` for the test split of the best checkpoint;
- ``best.pt`` (state dict, ``torch.load(weights_only=True)``), ``last.pt`` (resume state),
  ``text_encoder/`` (tokenizer files).

Every random draw of epoch ``e`` comes from generators seeded with ``(seed, e)`` (one seed, or a stream per
consumer with ``train.seed_streams.mode: split``: :mod:`retrieval.seeding`), so a run resumed from ``last.pt``
after epoch ``e`` continues exactly as the uninterrupted run would. With ``train.weight_averaging`` the evaluated
weights are an average (:mod:`retrieval.averaging`), which ``last.pt`` keeps too.

``retrieval`` never imports Ray or Optuna: a study runner passes ``report(epoch, metrics)``, which may raise
:class:`StopTrial` to end the run early (a scheduler's decision).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .averaging import WeightAveraging
from .batching import BatchAssembler, SplitData, epoch_pairs, seconds_to_frames
from .checkpoint import (apply_init_weights, init_weights, load_best, load_resume_state, resume_fingerprint,
                         save_checkpoint)
from .config import TEXT_ENCODERS, ConfigError, TrialConfig, is_generated
from .data.loading import RunData, load_run_data, used_datasets
from .encoders.cache import prepare_frozen_caches
from .errors import HarnessError
from .evaluation import evaluate, final_evaluation
from .registry import resolve
from .seeding import epoch_draws, init_seed, vocabulary_draws
from .utils import atomic_write_json, atomic_write_yaml, file_in_the_way, git_commit, package_version

ReportFn = Callable[[int, dict[str, float]], None]


class StopTrial(Exception):
    """Raised by a ``report`` callback to stop training early; ``fit`` finishes the run cleanly."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class RunDirError(HarnessError, ValueError):
    """A run folder that cannot be used: its path is a file or lies under one, or it cannot be created."""


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


# ---------------------------------------------------------------------------------------------- set-up
def build_text_augment(cfg: TrialConfig, train: SplitData, sources: Sequence[str], cache_dir: Path, *,
                       progress: bool = False, synthcaps_root: Path | None = None, warn: bool = True):
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
        keys = variations.match(names, [r.captions for r in train.split.recordings], warn=warn)
    return TextAugment(cfg.augment, back_translations=back_translations, variations=variations), keys


def check_requirements(cfg: TrialConfig) -> None:
    """Fail before any work when something the config asks for is not installed or not found."""
    from .augment.text import check_text_augment_requirements

    check_text_augment_requirements(cfg.augment)
    check = TEXT_ENCODERS.entry(cfg.text_encoder.name).meta.get("check")  # e.g. hf: the model folder exists
    if check is not None:
        resolve(check)(cfg.text_encoder)
    if cfg.audio_encoder.checkpoint and not Path(cfg.audio_encoder.checkpoint).expanduser().is_file():
        raise ConfigError(f"audio_encoder.checkpoint: file not found: {cfg.audio_encoder.checkpoint}")
    for name in used_datasets(cfg):
        if is_generated(name):
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


@dataclass
class Optimisation:
    """The optimiser, its learning-rate schedule and the mixed-precision gradient scaler, stepped together."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    use_amp: bool  # mixed precision: CUDA with train.amp only
    grad_clip: float | None

    def step(self, loss: torch.Tensor, model: torch.nn.Module) -> None:
        """Backward pass, gradient clipping, optimiser and scheduler step."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # disabled scaler (CPU, amp off): plain backward and step
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

    def learning_rates(self) -> dict[str, float]:
        return {f"lr_{g['name']}": g["lr"] for g in self.optimizer.param_groups}


#: The dtype of mixed precision (``train.amp`` on CUDA): float16 with a gradient scaler, as in the DCASE systems.
AMP_DTYPE = torch.float16


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """The forward pass's mixed-precision context: float16 autocast on ``device`` when ``enabled`` (see
    :func:`build_optimisation`: CUDA with ``train.amp`` only); a no-op context otherwise."""
    return torch.autocast(device_type=device.type, dtype=AMP_DTYPE, enabled=enabled)


def steps_per_epoch(cfg: TrialConfig, train: SplitData) -> int:
    """Optimiser steps of one epoch as the learning-rate schedule counts them."""
    per_clip = 1 if cfg.data.epoch_mode == "clip" else \
        max(1, round(train.split.n_captions / max(1, len(train.features))))
    return max(1, len(train.features) * per_clip // cfg.train.batch_size)


def build_optimisation(model, cfg: TrialConfig, train: SplitData, device: torch.device) -> Optimisation:
    optimizer = build_optimizer(model, cfg)
    steps = steps_per_epoch(cfg, train)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps, cfg))
    # mixed precision on CUDA only (train.amp); on the CPU everything stays float32 and bit-reproducible
    use_amp = bool(cfg.train.amp and device.type == "cuda")
    return Optimisation(optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=use_amp), use_amp,
                        cfg.optim.grad_clip)


# ---------------------------------------------------------------------------------------------- fit
def check_run_dir(run_dir: Path, fingerprint: str, *, resume: bool) -> None:
    """Refuse, before any work and without writing anything, a run folder path that is a file or lies under one,
    and (when resuming) a folder whose ``last.pt`` cannot be read or belongs to another configuration."""
    blocker = file_in_the_way(run_dir)
    if blocker is not None:
        where = "is a file" if blocker == run_dir.expanduser() else f"lies under {blocker}, which is a file"
        raise RunDirError(f"{run_dir}: {where}, not a folder: choose another folder for the run")
    last_path = run_dir / "last.pt"
    if resume and last_path.is_file():
        other = resume_fingerprint(last_path)
        if other != fingerprint:
            raise ConfigError(f"{run_dir}: holds a run of another configuration (fingerprint {other} != "
                              f"{fingerprint}); use another --out folder, or --no-resume to start over there")


def start_run_dir(run_dir: Path, cfg: TrialConfig, fingerprint: str) -> None:
    """Create ``run_dir`` and write ``config.yaml``. ``fit`` calls it once the data loaded, so a run that cannot
    start leaves no folder behind (:func:`check_run_dir` has refused a bad path before)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{run_dir}: cannot create the run folder ({exc.strerror or exc}): choose another "
                          "folder for the run") from None
    atomic_write_yaml(run_dir / "config.yaml", {
        "fingerprint": fingerprint, "seed": cfg.train.seed, "version": package_version(),
        "git_commit": git_commit(), "config": cfg.to_dict()})


def vocabulary_corpus(cfg: TrialConfig, data: RunData, text_augment=None) -> list[str]:
    """What a from-scratch text encoder learns its vocabulary from: the training captions and metadata, then
    ``text_encoder.vocab_augment_passes`` passes of the captions through the run's text augmentations (drawn from a
    generator of their own, seeded by ``train.seed`` or the ``text`` stream: :func:`retrieval.seeding.vocabulary_draws`,
    so training draws are unchanged). ``text_augment``: the run's ``(TextAugment, variation keys)`` of
    :func:`build_text_augment` (built here when not given); its counts are left as they were, so the run's
    augmentation statistics count training captions only."""
    recordings = data.train.split.recordings
    captions = [c for r in recordings for c in r.captions]
    corpus = captions + data.train.metadata()
    passes = cfg.text_encoder.vocab_augment_passes
    if passes and TEXT_ENCODERS.entry(cfg.text_encoder.name).meta.get("tokenizer") == "learnt":
        text_aug, keys = text_augment or build_text_augment(
            cfg, data.train, data.sources, data.cache.cache_dir, synthcaps_root=data.roots.get("synthcaps"),
            warn=False)
        if text_aug.enabled:
            per_caption_keys = ([k for k, r in zip(keys, recordings) for _ in r.captions]
                                if keys is not None else None)
            rng = vocabulary_draws(cfg.train)
            counts = dict(text_aug.counts)
            for _ in range(passes):
                corpus += text_aug(captions, rng, keys=per_caption_keys)
            text_aug.counts.update(counts)
    return corpus


def build_model(cfg: TrialConfig, data: RunData, run_dir: Path, device: torch.device, *, text_augment=None):
    """The :class:`~retrieval.model.Retriever`, initialised with ``train.seed`` or the ``init`` stream
    (:func:`retrieval.seeding.init_seed`), or from ``train.init_from``:
    the pre-trained weights and their input standardisation) and standardising with the training split's.
    ``text_augment``: the run's text augmentation (:func:`vocabulary_corpus`)."""
    from .model import Retriever

    torch.manual_seed(init_seed(cfg.train))
    corpus = vocabulary_corpus(cfg, data, text_augment)
    init_state = init_weights(cfg.train.init_from, run_dir) if cfg.train.init_from else None
    model = Retriever(cfg, text_corpus=corpus, artifacts_dir=run_dir / "text_encoder").to(device)
    model.set_normalisation(data.mean, data.std)
    if init_state is not None:
        apply_init_weights(model, init_state, cfg.train.init_from)
    return model


def build_batches(cfg: TrialConfig, model, data: RunData, device: torch.device, *,
                  progress: bool = False, text_augment=None) -> BatchAssembler:
    """The training batches' assembler, with the run's audio and text augmentations (``text_augment``: the output of
    :func:`build_text_augment`, built here when not given)."""
    from .augment.audio import AudioAugment

    text_aug, variation_keys = text_augment or build_text_augment(
        cfg, data.train, data.sources, data.cache.cache_dir, progress=progress,
        synthcaps_root=data.roots.get("synthcaps"))
    return BatchAssembler(
        data.train, seconds_to_frames(cfg.features, cfg.features.train_seconds), fill=data.mean,
        mean=model.feat_mean, std=model.feat_std, audio_augment=AudioAugment(cfg.augment), text_augment=text_aug,
        variation_keys=variation_keys, metadata=data.train.metadata() if model.uses_metadata else None,
        metadata_dropout=cfg.fusion.metadata_dropout, device=device)


@dataclass
class Progress:
    """Where training stands (what ``last.pt`` keeps besides the weights): one metrics dict per finished epoch and
    the best epoch so far (``epoch`` 0 before the first)."""

    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": 0, "val_map10": -1.0})

    def record(self, metrics: dict[str, float]) -> bool:
        """Append an epoch's metrics (adding ``best_val_map10``); True when its ``val_map10`` is a new best."""
        improved = metrics["val_map10"] > self.best["val_map10"]
        if improved:
            self.best = {"epoch": int(metrics["epoch"]), "val_map10": metrics["val_map10"]}
        metrics["best_val_map10"] = self.best["val_map10"]
        self.history.append(metrics)
        return improved

    def patience_exhausted(self, patience: int | None) -> bool:
        """Early stopping: ``patience`` epochs in a row without a new best validation mAP@10."""
        return patience is not None and len(self.history) - int(self.best["epoch"]) >= patience


def train_one_epoch(model, batches: BatchAssembler, opt: Optimisation, cfg: TrialConfig, epoch: int, *,
                    averaging: WeightAveraging | None = None) -> float:
    """One epoch (0-based ``epoch``) of training; every random draw comes from the epoch's generators
    (:func:`retrieval.seeding.epoch_draws`: seeded with ``(train.seed, epoch)``, or one stream per consumer), and
    the model's own draws (dropout) from torch's global generator, seeded for the epoch. ``averaging``: folds the
    weights into the EMA after every step. Returns the mean training loss."""
    from tqdm.auto import tqdm

    draws, model_seed = epoch_draws(cfg.train, epoch)
    torch.manual_seed(model_seed)
    pairs = epoch_pairs(batches.data, cfg.data.epoch_mode, draws.data)
    model.train()
    losses = []
    size = cfg.train.batch_size
    n_batches = len(pairs) // size if len(pairs) >= size else 1
    bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{cfg.train.epochs}", disable=not cfg.train.progress,
               leave=False, file=sys.stderr, dynamic_ncols=True)
    for b in bar:
        batch = batches(pairs[b * size:(b + 1) * size], draws)
        with autocast(batches.device, opt.use_amp):
            loss = model.loss(batch.x, batch.lengths, batch.captions, batch.metadata, batch.positives,
                              audio=batch.audio)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch + 1}, batch {b + 1}")
        opt.step(loss, model)
        if averaging is not None:
            averaging.after_step(model)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    bar.close()
    return float(np.mean(losses))


def fit(cfg: TrialConfig, run_dir: str | Path | None = None, report: ReportFn | None = None, *,
        resume: bool = True) -> RunResult:
    """Train ``cfg`` and write the run directory. See the module docstring."""
    t_start = time.time()
    cfg.validate()
    check_requirements(cfg)
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / f"run-{cfg.fingerprint()}"
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    device, show, fingerprint = torch.device(cfg.train.device), cfg.train.progress, cfg.fingerprint()
    check_run_dir(run_dir, fingerprint, resume=resume)

    # ---- set-up: data, run folder, model (frozen encoders' outputs cached), optimisation, batches, resume state
    data = load_run_data(cfg, progress=show)
    text_augment = build_text_augment(cfg, data.train, data.sources, data.cache.cache_dir, progress=show,
                                      synthcaps_root=data.roots.get("synthcaps"))
    start_run_dir(run_dir, cfg, fingerprint)  # only once the data loaded: a failed start leaves no folder
    model = build_model(cfg, data, run_dir, device, text_augment=text_augment)
    frozen_caches = prepare_frozen_caches(model, cfg, data.splits(), cache_dir=data.cache.cache_dir,
                                          frontend_key=data.cache.frontend.key(), device=device, progress=show)
    opt = build_optimisation(model, cfg, data.train, device)
    averaging = WeightAveraging(model, cfg, data.train, device)  # kind none: the model as trained
    batches = build_batches(cfg, model, data, device, progress=show, text_augment=text_augment)
    progress, start_epoch = Progress(), 0
    if resume and (run_dir / "last.pt").exists():
        history, best, start_epoch = load_resume_state(run_dir / "last.pt", model, opt, device, averaging)
        progress = Progress(history, best)
        if show:
            print(f"Resuming {run_dir} after epoch {start_epoch}", file=sys.stderr)

    # ---- epochs: train, validate, checkpoint, report
    stopped = "completed"
    for epoch in range(start_epoch, cfg.train.epochs):
        if progress.patience_exhausted(cfg.train.patience):
            stopped = "early_stopping"
            break
        t_epoch = time.time()
        loss = train_one_epoch(model, batches, opt, cfg, epoch, averaging=averaging)
        train_time = time.time() - t_epoch
        evaluated = averaging.end_of_epoch(model, epoch)  # the weights as trained, or their average
        metrics = {"epoch": epoch + 1, "loss": loss, **evaluate(evaluated, data.val, cfg, device),
                   **opt.learning_rates(), "train_time_s": train_time, "epoch_time_s": time.time() - t_epoch,
                   "temperature": model.loss_fn.temperature}
        improved = progress.record(metrics)
        save_checkpoint(run_dir, model, opt, progress, fingerprint, improved=improved, evaluated=evaluated,
                        averaged=averaging.state_dict())
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

    # ---- final evaluation of the best checkpoint
    load_best(run_dir, model, device)
    val_metrics, test_metrics = final_evaluation(model, data, cfg, run_dir, device)
    result = RunResult(
        run_dir=str(run_dir), fingerprint=fingerprint, best_epoch=progress.best["epoch"], val=val_metrics,
        test=test_metrics, history=progress.history, epochs_trained=len(progress.history), stopped=stopped,
        wall_time_s=time.time() - t_start, extra=run_extra(cfg, data, frozen_caches, batches.text_augment,
                                                           device=device, amp=opt.use_amp))
    atomic_write_json(run_dir / "metrics.json", {**asdict(result), "complete": True})
    return result


def run_extra(cfg: TrialConfig, data: RunData, frozen_caches, text_aug, *, device: torch.device | None = None,
              amp: bool = False) -> dict[str, Any]:
    """``RunResult.extra``: where it trained (device, whether mixed precision was on), cache statistics, data
    folders and sizes, text augmentation statistics."""
    return {"device": {"type": device.type if device is not None else "cpu", "amp": bool(amp),
                       "amp_dtype": str(AMP_DTYPE).replace("torch.", "") if amp else None},
            "feature_cache": {"hits": data.cache.hits, "misses": data.cache.misses},
            "encoder_cache": frozen_caches.as_dict(),
            "data_root": str(data.roots[cfg.data.dataset]), "n_train": len(data.train.features),
            "n_val": len(data.val.features), "n_test": len(data.test.features),
            "n_test_queries": len(data.test.captions),
            "data_roots": {k: str(v) for k, v in data.roots.items()},
            "n_train_per_dataset": {n: data.sources.count(n) for n in cfg.data.training_sets},
            "n_test_per_dataset": {cfg.data.dataset: len(data.test.features),
                                   **{n: len(d.features) for n, d in data.extra_tests.items()}},
            "text_augment": text_aug.stats(),
            "variations": dict(text_aug.variations.stats) if text_aug.variations is not None else None}
