"""Evaluation: a model's retrieval metrics on a split, its per-query results, and the model of a finished run.

The DCASE protocol: every caption of a split is a query whose one relevant item is its recording, ranked against
all the split's recordings. :func:`embed_items` embeds the recordings (the evaluation crop, or a frozen encoder's
cached outputs), :func:`score_chunks` scores the captions chunk by chunk (``train.eval_batch_size`` at a time, never
the full matrix at once) and :func:`evaluate_split` ranks them (:func:`retrieval.metrics.query_metrics_chunked`:
per-query rank, AP@10, R@k). ``fit`` (:mod:`retrieval.train`) calls :func:`evaluate` after every epoch and
:func:`final_evaluation` on the best checkpoint, which writes ``per_query.csv`` (:func:`write_per_query`); the
submission export (:mod:`retrieval.submission`) ranks with the same embeddings and chunks, so its scores are the
run's own. :func:`load_run_model` rebuilds a finished run's model from its folder.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from .batching import SplitData, make_audio_batch, normalise_batch, seconds_to_frames
from .checkpoint import load_checkpoint, load_state
from .config import TrialConfig
from .utils import atomic_write_text

__all__ = ["embed_items", "evaluate", "evaluate_split", "final_evaluation", "load_run_model", "prefixed",
           "score_chunks", "write_per_query"]


@torch.no_grad()
def embed_items(model, data: SplitData, cfg: TrialConfig, device: torch.device):
    """The :class:`~retrieval.fusion.ItemEmbedding` of every recording of ``data`` (evaluation crop, in batches of
    ``train.eval_batch_size``)."""
    from .fusion import ItemEmbedding

    model.eval()
    frames = seconds_to_frames(cfg.features, cfg.features.eval_seconds)
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
        x, lengths = x.to(device), lengths.to(device)
        x = normalise_batch(x, lengths, model.feat_mean, model.feat_std)  # the padding (the mean) becomes 0
        emb = model.encode_items(x, lengths, meta[start:start + bs])
        parts.append(emb.parts)
    return ItemEmbedding(torch.cat(parts))


@torch.no_grad()
def score_chunks(model, items, captions: Sequence[str], batch_size: int,
                 device: torch.device) -> Iterator[tuple[int, torch.Tensor]]:
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


def prefixed(summary: dict[str, float], prefix: str) -> dict[str, float]:
    """``summary`` (a metrics summary) with every key prefixed (``val_map10`` ...), ``n_queries`` left out."""
    return {f"{prefix}_{k}": float(v) for k, v in summary.items() if k != "n_queries"}


def evaluate(model, data: SplitData, cfg: TrialConfig, device: torch.device, prefix: str = "val") -> dict[str, float]:
    """Summary metrics of ``data`` (``<prefix>_map10``, ``<prefix>_r1`` ...)."""
    return prefixed(evaluate_split(model, data, cfg, device).summary(), prefix)


def write_per_query(path: Path, data: SplitData, qm) -> None:
    """``per_query.csv``: ``query,target,rank,ap10`` for every caption of ``data`` (atomically)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["query", "target", "rank", "ap10"])
    recs = data.split.recordings
    for (caption, idx), rank, ap in zip(data.captions, qm.rank, qm.ap):
        w.writerow([caption, recs[idx].file_name, int(rank) if np.isfinite(rank) else "", f"{float(ap):.6f}"])
    atomic_write_text(path, buf.getvalue())


def final_evaluation(model, data: Any, cfg: TrialConfig, run_dir: Path,
                     device: torch.device) -> tuple[dict[str, float], dict[str, float]]:
    """Validation and test metrics of the model as it is (the best checkpoint) on a run's data
    (:class:`retrieval.data.loading.RunData`); writes ``per_query.csv`` and, with ``data.train_on``,
    ``per_query_<dataset>.csv`` for the other data sets' test splits."""
    val_qm = evaluate_split(model, data.val, cfg, device)
    test_qm = evaluate_split(model, data.test, cfg, device)
    write_per_query(run_dir / "per_query.csv", data.test, test_qm)
    test_metrics = prefixed(test_qm.summary(), "test")
    if cfg.data.train_on:  # per benchmark: test_<dataset>_map10 ...; per_query_<dataset>.csv for the others
        test_metrics.update(prefixed(test_qm.summary(), f"test_{cfg.data.dataset}"))
        for name, split in data.extra_tests.items():
            qm = evaluate_split(model, split, cfg, device)
            test_metrics.update(prefixed(qm.summary(), f"test_{name}"))
            write_per_query(run_dir / f"per_query_{name}.csv", split, qm)
    return prefixed(val_qm.summary(), "val"), test_metrics


def load_run_model(run_dir: str | Path, device: str = "cpu"):
    """Rebuild the model of a finished run from ``config.yaml``, ``text_encoder/`` and ``best.pt``."""
    from .model import Retriever

    run_dir = Path(run_dir)
    cfg = TrialConfig.load(run_dir / "config.yaml")
    model = Retriever(cfg, text_corpus=None, artifacts_dir=run_dir / "text_encoder")
    best = run_dir / "best.pt"
    hint = (f"train the run again (python -m retrieval train --config {run_dir / 'config.yaml'} --out {run_dir} "
            "--no-resume), or use another run")
    load_state(model, load_checkpoint(best, map_location=device, hint=hint), best, hint=hint)
    return cfg, model.to(device).eval()
