"""The DCASE submission export: a trained run's rankings in a submission format (and the split's ground truth).

``python -m retrieval evaluate --run RUN_DIR [--split evaluation] --submission OUT.csv [--top-k K | --scores]
[--ground-truth GT.csv]``

Two layouts: a **top-k list** (default, ``k = 10``; ``--top-k 16`` for a DCASE 2025 board) or the **score matrix**
of the DCASE 2025 baseline's ``predict.py`` (``--scores``; :func:`score_matrix_text`): header ``index,<file>,...``
(the recordings in the split's order), one row per distinct caption, every recording's score in Python's shortest
round-trip form. Both score against a board of any k; the matrix holds every rank, the list the top k.

The run is rebuilt with :func:`retrieval.evaluation.load_run_model` (``config.yaml``, ``text_encoder/``, ``best.pt``);
the split is read with the run's own config (its data root: ``data.root``, or the SynthCaps folder in the cache,
generated if absent; ``data_root=`` overrides it), its recordings are embedded with
:func:`retrieval.evaluation.embed_items` and the captions are scored in chunks of ``train.eval_batch_size`` with
:func:`retrieval.evaluation.score_chunks` -- exactly the computation behind the run's own ``metrics.json``, so a
submission scored by ``python -m benchmarks leaderboard score`` reproduces the run's test mAP@10.

DCASE top-k list format (one row per query, UTF-8)::

    caption,file_name_1,file_name_2,...,file_name_10
    a dog barks twice,synth_eval_00003.wav,synth_eval_00017.wav,...

(The DCASE 2023-2025 system outputs name the columns ``fname_1`` ... ``fname_10``; the leaderboard reads both headers,
:data:`DCASE_2023_HEADER`. A list of another length -- ``--top-k 16`` -- is written with the ``fname_`` header.) File names are the recordings' names as found on disk, unaltered (a released Clotho name
that begins with a space keeps it; the CSV writer leaves it unquoted). The files are the top 10 recordings by
descending score; ties in the score are broken by item order (the lower
recording index, in captions-file order, first), as in :mod:`retrieval.metrics`. When the split holds fewer than 10
recordings, the remaining cells are left empty (trailing padding; the leaderboard scorer accepts it).

Queries are the distinct captions: a caption that occurs several times (for two recordings, or twice for one) is
written once -- its ranking does not depend on which recording it came from -- and the leaderboard scores it as one
query whose relevant set is all those recordings. (The run's own ``metrics.json`` keeps every caption as its own
query with one relevant recording, so the two agree exactly when no caption repeats -- as in SynthCaps -- and may
differ slightly otherwise.) Captions are compared after :func:`normalise_query` (surrounding
whitespace removed, inner runs of whitespace collapsed to one space; case and punctuation are kept).

The ground-truth file (``ground_truth=``) is the split's captions file in the Clotho captions format
``file_name,caption_1,...,caption_5``, rewritten from the loaded split (recordings in file order).

This module imports torch only inside the functions that need it, so the leaderboard can use the format helpers
(:data:`DCASE_HEADER`, :func:`normalise_query`) cheaply.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .utils import atomic_write_text

__all__ = [
    "DCASE_2023_HEADER",
    "DCASE_HEADER",
    "TOP_K",
    "ExportResult",
    "export_run",
    "normalise_query",
    "rank_split",
    "ground_truth_text",
    "score_matrix_text",
    "score_split",
    "resolve_split_name",
    "stable_top_k",
    "submission_text",
    "summary_line",
]

#: Ranking depth of a DCASE language-based audio retrieval submission.
TOP_K = 10
#: The exact header of a DCASE submission (DCASE 2022; what :func:`submission_text` writes).
DCASE_HEADER: tuple[str, ...] = ("caption", *(f"file_name_{i}" for i in range(1, TOP_K + 1)))
#: The header of the DCASE 2023-2025 system outputs (the leaderboard reads both).
DCASE_2023_HEADER: tuple[str, ...] = ("caption", *(f"fname_{i}" for i in range(1, TOP_K + 1)))


def normalise_query(text: str) -> str:
    """A caption as a query key: surrounding whitespace stripped, inner whitespace runs collapsed to one space."""
    return " ".join(str(text).split())


@dataclass
class ExportResult:
    run_dir: str
    split: str
    data_root: str
    n_queries: int  # distinct captions (= submission rows)
    n_captions: int  # captions in the split (with repeats)
    n_items: int
    submission: str | None
    ground_truth: str | None
    rows: list[tuple[str, list[str]]] = field(repr=False, default_factory=list)
    layout: str = "top10"  # "top{k}" or "scores"


def resolve_split_name(cfg, split: str | None) -> str:
    """``None``/``"test"`` -> the run's test split, ``"val"`` -> its validation split, ``"train"`` -> its training
    split; any other name is a split of the data folder (``development``, ``validation``, ``evaluation`` ...)."""
    aliases = {None: cfg.data.test_split, "test": cfg.data.test_split, "val": cfg.data.val_split,
               "train": cfg.data.train_split}
    return aliases.get(split, split)


def stable_top_k(scores, k: int):
    """Indices ``[c, min(k, N)]`` of the ``k`` highest scores per row, ties broken by the lower column index.

    This is the order of :mod:`retrieval.metrics` (``rank(j) = 1 + #{i: s_i > s_j} + #{i < j: s_i == s_j}``).
    ``torch.topk`` does not promise an order among ties, so a stable sort of ``-scores`` is used.
    """
    import torch

    if bool(torch.isnan(scores).any()):
        row = int(torch.isnan(scores).any(dim=1).nonzero()[0, 0])
        raise ValueError(f"scores contain NaN in query row {row}")
    order = torch.sort(-scores, dim=1, stable=True).indices
    return order[:, : min(k, scores.shape[1])]


def rank_split(model, data, cfg, device, *, k: int = TOP_K) -> list[tuple[str, list[str]]]:
    """``(caption, top-k file names)`` for every distinct caption of ``data`` (a :class:`retrieval.batching.SplitData`).

    All captions are scored in file order and in the run's evaluation batches (the same chunks as
    :func:`retrieval.evaluation.evaluate_split`, so the scores are bit-identical to the run's own evaluation); a repeated
    caption keeps the ranking of its first occurrence.
    """
    from .evaluation import embed_items, score_chunks

    items = embed_items(model, data, cfg, device)
    captions = [c for c, _ in data.captions]
    names = [r.file_name for r in data.split.recordings]
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for start, chunk in score_chunks(model, items, captions, cfg.train.eval_batch_size, device):
        top = stable_top_k(chunk, k).tolist()
        for offset, idx in enumerate(top):
            caption = captions[start + offset]
            key = normalise_query(caption)
            if key in seen:
                continue
            seen.add(key)
            out.append((caption, [names[j] for j in idx]))
    return out


def score_split(model, data, cfg, device) -> tuple[list[str], list[str], "np.ndarray"]:  # noqa: F821
    """``(queries, file names, scores[len(queries), len(files)])``: every distinct caption of ``data`` (first
    occurrence, captions-file order) scored against every recording (split order) in the run's evaluation batches,
    the same chunks and scores as :func:`rank_split`; float32 scores, as the model computes them."""
    import numpy as np

    from .evaluation import embed_items, score_chunks

    items = embed_items(model, data, cfg, device)
    captions = [c for c, _ in data.captions]
    names = [r.file_name for r in data.split.recordings]
    queries: list[str] = []
    parts: list = []
    seen: set[str] = set()
    for start, chunk in score_chunks(model, items, captions, cfg.train.eval_batch_size, device):
        chunk = chunk.float().cpu().numpy()
        keep = []
        for offset in range(chunk.shape[0]):
            key = normalise_query(captions[start + offset])
            if key in seen:
                continue
            seen.add(key)
            queries.append(captions[start + offset])
            keep.append(offset)
        parts.append(chunk[keep])
    scores = np.concatenate(parts) if parts else np.zeros((0, len(names)), dtype=np.float32)
    if np.isnan(scores).any():
        raise ValueError(f"scores contain NaN in query row {int(np.isnan(scores).any(axis=1).nonzero()[0][0])}")
    return queries, names, scores


def score_matrix_text(queries: Sequence[str], files: Sequence[str], scores, *, index_name: str = "index") -> str:
    """A score matrix as the DCASE 2025 baseline writes it: header ``index,<file>,...``, one row per query, the
    scores in Python's shortest round-trip form (a float32 score is written exactly)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([index_name, *files])
    for query, row in zip(queries, scores):
        w.writerow([query, *map(repr, row.tolist())])
    return buf.getvalue()


def submission_text(rows: Sequence[tuple[str, Sequence[str]]], k: int = TOP_K, *, header: str | None = None) -> str:
    """The DCASE top-k list CSV for ``(caption, ranked file names)`` rows (short rankings padded with empty cells).
    ``header``: ``"file_name"`` (DCASE 2022) or ``"fname"`` (DCASE 2023-2025); default ``file_name`` for k = 10,
    ``fname`` otherwise."""
    prefix = header or ("file_name" if k == TOP_K else "fname")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("caption", *(f"{prefix}_{i}" for i in range(1, k + 1))))
    for caption, files in rows:
        files = list(files)
        if len(files) > k:
            raise ValueError(f"ranking of {caption!r} has {len(files)} files, more than {k}")
        w.writerow([caption, *files, *([""] * (k - len(files)))])
    return buf.getvalue()


def ground_truth_text(split) -> str:
    """A split (:class:`retrieval.data.clotho.Split`) in the Clotho captions format."""
    from .data.clotho import CAPTION_COLUMNS

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("file_name", *CAPTION_COLUMNS))
    for rec in split.recordings:
        w.writerow((rec.file_name, *rec.captions))
    return buf.getvalue()


def export_run(run_dir: str | Path, split: str | None = None, *, submission: str | Path | None = None,
               ground_truth: str | Path | None = None, data_root: str | Path | None = None, device: str = "cpu",
               progress: bool = False, top_k: int = TOP_K, scores: bool = False) -> ExportResult:
    """Rank every distinct caption of ``split`` with the run's best checkpoint (see the module docstring).

    Writes the submission -- the top ``top_k`` list, or the score matrix with ``scores=True`` -- to ``submission``
    and the split's ground truth to ``ground_truth`` when given (atomically); a top-k list's rows are also returned
    in :attr:`ExportResult.rows`. Raises ``ConfigError`` when the run folder is incomplete and ``DataError`` when the
    split cannot be read.
    """
    import torch

    from .config import ConfigError
    from .evaluation import load_run_model
    from .data.loading import feature_cache, load_split, resolve_data_root

    run_dir = Path(run_dir)
    for name in ("config.yaml", "best.pt"):
        if not (run_dir / name).is_file():
            what = "not a folder" if not run_dir.is_dir() else f"has no {name} (not a finished run?)"
            raise ConfigError(f"--run {run_dir}: {what}")
    cfg, model = load_run_model(run_dir, device=device)
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    name = resolve_split_name(cfg, split)
    root = Path(data_root).expanduser() if data_root is not None else resolve_data_root(cfg, progress=progress)
    data = load_split(cfg, root, name, feature_cache(cfg), progress=progress)
    if scores:
        queries, names, matrix = score_split(model, data, cfg, torch.device(device))
        rows: list[tuple[str, list[str]]] = []
        n_queries = len(queries)
        if submission is not None:
            atomic_write_text(submission, score_matrix_text(queries, names, matrix))
    else:
        rows = rank_split(model, data, cfg, torch.device(device), k=top_k)
        n_queries = len(rows)
        if submission is not None:
            atomic_write_text(submission, submission_text(rows, k=top_k))
    if ground_truth is not None:
        atomic_write_text(ground_truth, ground_truth_text(data.split))
    return ExportResult(run_dir=str(run_dir), split=name, data_root=str(root), n_queries=n_queries,
                        n_captions=len(data.captions), n_items=len(data.features),
                        submission=str(submission) if submission is not None else None,
                        ground_truth=str(ground_truth) if ground_truth is not None else None, rows=rows,
                        layout="scores" if scores else f"top{top_k}")


def summary_line(result: ExportResult) -> str:
    parts = [f"{result.n_queries} queries ({result.n_captions} captions) x {result.n_items} recordings of split "
             f"{result.split!r}"]
    if result.submission:
        what = "score matrix" if result.layout == "scores" else f"top-{result.layout[3:]} list"
        parts.append(f"submission ({what}): {result.submission}")
    if result.ground_truth:
        parts.append(f"ground truth: {result.ground_truth}")
    return "; ".join(parts)
