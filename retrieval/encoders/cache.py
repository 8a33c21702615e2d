"""Frozen-encoder output caches: a frozen encoder's outputs are computed once per data set and kept on disk.

When ``audio_encoder.frozen`` (and ``audio_encoder.cache``, the default), :func:`prepare_frozen_caches` embeds every
recording of every split once and ``fit`` then trains only the projections and the fusion head on the stored
outputs. When ``text_encoder.frozen`` (and ``text_encoder.cache``), every caption and keyword text of the splits is
embedded once the same way.

What is cached
--------------
Per recording (one ``.npz`` per recording and *view*, named by the sha1 of its log-mel, so by the audio content
and the frontend):

* the **evaluation view**: the encoder output for exactly the input evaluation uses (the centre crop of
  ``features.eval_seconds``, zero-padded, cut into segments when ``audio_encoder.segment_seconds`` is set):
  ``pooled`` and, when the fusion head needs it (``mid``), ``sequence`` + ``mask``;
* the **training windows**: the whole recording cut into fixed windows on a grid starting at frame 0, each
  embedded separately (a window = one segment of ``segment_seconds``, or ``features.train_seconds`` without
  segments). A window counts when it holds at least the encoder's minimum number of real frames (the first always
  does). In training, a recording contributes ``m = ceil(train_seconds / window)`` consecutive windows (1 without
  segments) from a random start window drawn with the epoch's generator, and their average (masked) like the
  segmented encoder would compute for that crop. So with a cached encoder the random training crops are aligned
  on the window grid; everything else equals the uncached frozen encoder.

Per set of texts: one ``.npz`` holding the embedding of every distinct caption / keyword text of the splits.
Texts the table lacks (augmented captions: EDA, back-translation, caption variations) are embedded on the fly by
the frozen encoder.

Keys
----
``<cache_dir>/encoded/audio/<encoder key>/<view>/<log-mel sha1>.npz`` where the encoder key hashes the encoder's
class, its full state dict (so the checkpoint's weights, or a random initialisation), its segment length, the
input standardisation and the frontend key, and the view names the crop lengths. Text:
``<cache_dir>/encoded/text/<encoder key>/<texts sha1>.npz`` (state dict, tokenizer, pooling, token limit).
Every file is written to a temporary name and moved into place (``os.replace``); unreadable entries are recomputed.

Input augmentations (gain, SpecAugment, Freq-MixStyle, patchout) cannot act on a cached encoder's input: the
config validation refuses them (see ``TrialConfig._validate``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from retrieval.batching import make_audio_batch, normalise_batch, seconds_to_frames
from retrieval.config import FUSIONS
from retrieval.encoders.audio import SegmentedAudioEncoder
from retrieval.encoders.base import AudioEncoder, AudioEncoderOutput
from retrieval.utils import write_cache_entry

__all__ = ["CacheStats", "EncodedAudioStore", "EncodedSplit", "TextEmbeddingCache", "prepare_frozen_caches",
           "state_digest"]

ENCODED_VERSION = "encoded-v2"  # bump when what is stored changes


def state_digest(module: torch.nn.Module) -> str:
    """sha1 of a module's state dict: every key, dtype, shape and value (so two encoders with the same digest
    compute the same function)."""
    h = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")  # 0-dim: BN counters
    return h.hexdigest()


def _short_hash(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_cache_entry(path, lambda fh: np.savez(fh, **arrays), "encoder cache")  # a failure only warns


def _load_npz(path: Path, required: Iterable[str]) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception:  # truncated / corrupt entry: recompute
        return None
    if not all(k in out for k in required) or not all(np.isfinite(v).all() for v in out.values()
                                                      if v.dtype.kind == "f"):
        return None
    return out


@dataclass
class CacheStats:
    """Hits and misses of one cache (recordings for audio, text sets for text)."""

    hits: int = 0
    misses: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}


# --------------------------------------------------------------------------------------------- audio
@dataclass
class EncodedSplit:
    """A split's cached audio-encoder outputs, in memory.

    ``eval_*``: the evaluation view ``[N, ...]``; ``win_*``: training windows padded to the most windows of any
    recording, ``[N, W, ...]``, with ``n_windows [N]``. ``*_seq`` / ``*_mask`` are None when not stored.
    """

    eval_pooled: torch.Tensor
    eval_seq: torch.Tensor | None
    eval_mask: torch.Tensor | None
    win_pooled: torch.Tensor
    win_seq: torch.Tensor | None
    win_mask: torch.Tensor | None
    n_windows: np.ndarray
    windows_per_crop: int

    def __len__(self) -> int:
        return int(self.eval_pooled.shape[0])

    def eval_batch(self, start: int, stop: int, device: torch.device | str = "cpu") -> AudioEncoderOutput:
        """The evaluation outputs of recordings ``start:stop``."""
        pooled = self.eval_pooled[start:stop]
        if self.eval_seq is None:
            seq, mask = pooled.unsqueeze(1), torch.ones(pooled.shape[0], 1, dtype=torch.bool)
        else:
            seq, mask = self.eval_seq[start:stop], self.eval_mask[start:stop]
        return AudioEncoderOutput(seq.to(device), mask.to(device), pooled.to(device))

    def crop_starts(self, idx: Sequence[int], rng: np.random.Generator) -> np.ndarray:
        """A random start window per recording: uniform over ``0 .. n_windows - windows_per_crop`` (0 when the
        recording has fewer windows)."""
        span = np.maximum(self.n_windows[np.asarray(idx, dtype=np.int64)] - self.windows_per_crop, 0) + 1
        return np.floor(rng.random(len(idx)) * span).astype(np.int64)

    def train_batch(self, idx: Sequence[int], rng: np.random.Generator,
                    device: torch.device | str = "cpu") -> AudioEncoderOutput:
        """Training outputs for recordings ``idx``: ``windows_per_crop`` consecutive windows from a random start,
        ``pooled`` averaged over the windows that exist and count, sequences side by side."""
        idx_t = torch.as_tensor(np.asarray(idx, dtype=np.int64))
        starts = torch.as_tensor(self.crop_starts(idx, rng))
        m = self.windows_per_crop
        cols = starts[:, None] + torch.arange(m)[None, :]  # [B, m]
        present = cols < torch.as_tensor(self.n_windows)[idx_t][:, None]
        cols = cols.clamp(max=self.win_pooled.shape[1] - 1)
        pooled = self.win_pooled[idx_t[:, None], cols]  # [B, m, D]
        w = present.to(pooled.dtype).unsqueeze(-1)
        pooled = (pooled * w).sum(1) / w.sum(1).clamp(min=1.0)
        if self.win_seq is None:
            seq, mask = pooled.unsqueeze(1), torch.ones(len(idx), 1, dtype=torch.bool)
        else:
            seq = self.win_seq[idx_t[:, None], cols]  # [B, m, T, C]
            mask = self.win_mask[idx_t[:, None], cols] & present[:, :, None]
            seq = seq.reshape(len(idx), -1, seq.shape[-1])
            mask = mask.reshape(len(idx), -1)
        return AudioEncoderOutput(seq.to(device), mask.to(device), pooled.to(device))


class EncodedAudioStore:
    """Computes or loads the cached outputs of a frozen audio encoder (see the module docstring).

    ``normalise`` maps raw log-mels to the encoder input (the model's standardisation) and is part of the key
    through ``normalisation``; ``fill`` is the raw value padding holds before normalisation.
    """

    def __init__(self, cache_dir: str | Path, encoder: AudioEncoder, *, frontend_key: str,
                 normalisation: tuple[float, float], with_sequence: bool) -> None:
        self.encoder = encoder
        self.mean, self.std = float(normalisation[0]), float(normalisation[1])
        self.with_sequence = with_sequence
        seg = encoder.segment_frames if isinstance(encoder, SegmentedAudioEncoder) else None
        self.segment_frames = seg
        self.key = _short_hash({"version": ENCODED_VERSION, "class": type(encoder).__name__,
                                "inner": type(getattr(encoder, "inner", encoder)).__name__,
                                "state": state_digest(encoder), "segment_frames": seg, "mean": self.mean,
                                "std": self.std, "frontend": frontend_key})
        self.dir = Path(cache_dir).expanduser() / "encoded" / "audio" / self.key
        self.stats = CacheStats()

    @torch.no_grad()
    def _run(self, features: Sequence[np.ndarray], frames: int, device: torch.device,
             starts: Sequence[int] | None = None) -> AudioEncoderOutput:
        """Encoder outputs for crops of ``frames`` frames (centred when ``starts`` is None)."""
        if starts is not None:
            features = [f[:, s:s + frames] for f, s in zip(features, starts)]
        x, lengths = make_audio_batch(features, frames, self.mean, None)
        x = normalise_batch(x, lengths, self.mean, max(self.std, 1e-5))
        out = self.encoder(x.to(device), lengths.to(device))
        return AudioEncoderOutput(out.sequence.float().cpu(), out.mask.bool().cpu(), out.pooled.float().cpu())

    def _windows(self, n_frames: int, window: int) -> int:
        """Windows of a recording: every grid window whose real part reaches the encoder's minimum (>= 1)."""
        need = min(max(1, getattr(self.encoder, "min_frames", 1)), window)
        if isinstance(self.encoder, SegmentedAudioEncoder):
            need = min(max(1, self.encoder.inner.min_frames), window)
        full, rest = divmod(n_frames, window)
        return max(1, full + (1 if rest >= need else 0))

    def encode(self, features: Sequence[np.ndarray], *, eval_frames: int, train_frames: int, batch_size: int,
               device: torch.device | str = "cpu", progress: bool = False, desc: str = "encode") -> EncodedSplit:
        """The split's :class:`EncodedSplit`, computing (and storing) only the recordings not cached yet."""
        from tqdm import tqdm

        device = torch.device(device)
        window = self.segment_frames or train_frames
        per_crop = max(1, -(-train_frames // window)) if self.segment_frames else 1
        view = f"e{eval_frames}-w{window}"
        digests = [hashlib.sha1(np.ascontiguousarray(f, dtype=np.float32).tobytes()
                                + str(f.shape).encode()).hexdigest() for f in features]
        required = ["eval_pooled", "win_pooled"] + (["eval_seq", "eval_mask", "win_seq", "win_mask"]
                                                    if self.with_sequence else [])
        entries: list[dict[str, np.ndarray] | None] = [_load_npz(self.dir / view / f"{d}.npz", required)
                                                       for d in digests]
        todo = [i for i, e in enumerate(entries) if e is None]
        self.stats.hits += len(entries) - len(todo)
        self.stats.misses += len(todo)
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            for b in tqdm(range(0, len(todo), batch_size), desc=desc, disable=not progress or not todo,
                          file=sys.stderr, leave=False, dynamic_ncols=True):
                chunk = todo[b:b + batch_size]
                ev = self._run([features[i] for i in chunk], eval_frames, device)
                # all windows of the chunk's recordings in one pass
                jobs = [(i, k) for i in chunk for k in range(self._windows(features[i].shape[1], window))]
                wins = [self._run([features[i] for i, _ in jobs[j:j + batch_size]], window, device,
                                  [k * window for _, k in jobs[j:j + batch_size]])
                        for j in range(0, len(jobs), batch_size)]
                w_pooled = torch.cat([w.pooled for w in wins])
                w_seq = torch.cat([w.sequence for w in wins])
                w_mask = torch.cat([w.mask for w in wins])
                for row, i in enumerate(chunk):
                    sel = [j for j, (r, _) in enumerate(jobs) if r == i]
                    entry = {"eval_pooled": ev.pooled[row].numpy(), "win_pooled": w_pooled[sel].numpy()}
                    if self.with_sequence:
                        entry |= {"eval_seq": ev.sequence[row].numpy(), "eval_mask": ev.mask[row].numpy(),
                                  "win_seq": w_seq[sel].numpy(), "win_mask": w_mask[sel].numpy()}
                    _save_npz(self.dir / view / f"{digests[i]}.npz", entry)
                    entries[i] = entry
        finally:
            self.encoder.train(was_training)
        return self._assemble(entries, per_crop)

    def _assemble(self, entries: list[dict[str, np.ndarray]], per_crop: int) -> EncodedSplit:
        n = len(entries)
        n_windows = np.array([e["win_pooled"].shape[0] for e in entries], dtype=np.int64)
        w_max = int(n_windows.max()) if n else 1
        d = entries[0]["win_pooled"].shape[-1] if n else 1
        win_pooled = torch.zeros(n, w_max, d)
        win_seq = win_mask = eval_seq = eval_mask = None
        if self.with_sequence and n:
            t, c = entries[0]["win_seq"].shape[1:]
            win_seq = torch.zeros(n, w_max, t, c)
            win_mask = torch.zeros(n, w_max, t, dtype=torch.bool)
            eval_seq = torch.from_numpy(np.stack([e["eval_seq"] for e in entries]))
            eval_mask = torch.from_numpy(np.stack([e["eval_mask"] for e in entries])).bool()
        for i, e in enumerate(entries):
            k = int(n_windows[i])
            win_pooled[i, :k] = torch.from_numpy(e["win_pooled"])
            if win_seq is not None:
                win_seq[i, :k] = torch.from_numpy(e["win_seq"])
                win_mask[i, :k] = torch.from_numpy(e["win_mask"]).bool()
        eval_pooled = torch.from_numpy(np.stack([e["eval_pooled"] for e in entries])) if n else torch.zeros(0, d)
        return EncodedSplit(eval_pooled, eval_seq, eval_mask, win_pooled, win_seq, win_mask, n_windows, per_crop)


# --------------------------------------------------------------------------------------------- text
def _tokenizer_fingerprint(tokenizer: Any) -> str:
    to_str = getattr(tokenizer, "to_str", None)  # a tokenizers.Tokenizer (tiny-bert)
    if callable(to_str):
        return hashlib.sha1(to_str().encode()).hexdigest()
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    blob = json.dumps({"class": type(tokenizer).__name__, "vocab": vocab,
                       "special": [str(t) for t in getattr(tokenizer, "all_special_tokens", [])]}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()


class TextEmbeddingCache:
    """Embeddings of a frozen text encoder for a set of texts, computed once and stored as one ``.npz``."""

    def __init__(self, cache_dir: str | Path, encoder: torch.nn.Module) -> None:
        self.encoder = encoder
        self.key = _short_hash({"version": ENCODED_VERSION, "class": type(encoder).__name__,
                                "state": state_digest(encoder),
                                "tokenizer": _tokenizer_fingerprint(encoder.tokenizer),
                                "pooling": getattr(encoder, "pooling", None),
                                "max_tokens": getattr(encoder, "max_tokens", None)})
        self.dir = Path(cache_dir).expanduser() / "encoded" / "text" / self.key
        self.stats = CacheStats()

    @torch.no_grad()
    def table(self, texts: Iterable[str], *, batch_size: int = 128, progress: bool = False) -> dict[str, torch.Tensor]:
        """``{text: embedding}`` for every distinct text (loaded when this exact set was embedded before)."""
        from tqdm import tqdm

        unique = sorted(set(texts))
        digest = hashlib.sha1("\n".join(unique).encode()).hexdigest()
        path = self.dir / f"{digest}.npz"
        cached = _load_npz(path, ["embeddings"])
        if cached is not None and cached["embeddings"].shape[0] == len(unique):
            self.stats.hits += 1
            emb = torch.from_numpy(cached["embeddings"])
        else:
            self.stats.misses += 1
            was_training = self.encoder.training
            self.encoder.eval()
            try:
                parts = [self.encoder.encode(unique[i:i + batch_size]).float().cpu()
                         for i in tqdm(range(0, len(unique), batch_size), desc="embed texts", disable=not progress,
                                       file=sys.stderr, leave=False, dynamic_ncols=True)]
            finally:
                self.encoder.train(was_training)
            emb = torch.cat(parts) if parts else torch.zeros(0, getattr(self.encoder, "out_dim", 1))
            _save_npz(path, {"embeddings": emb.numpy()})
        return {t: emb[i] for i, t in enumerate(unique)}


# --------------------------------------------------------------------------------------------- fit's entry point
@dataclass
class FrozenCaches:
    """What :func:`prepare_frozen_caches` set up, and its hit/miss counts for ``RunResult.extra``."""

    audio: EncodedAudioStore | None = None
    text: TextEmbeddingCache | None = None
    encode_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"encode_seconds": round(self.encode_seconds, 3)}
        if self.audio is not None:
            out["audio"] = {**self.audio.stats.as_dict(), "key": self.audio.key, "unit": "recording"}
        if self.text is not None:
            out["text"] = {**self.text.stats.as_dict(), "key": self.text.key, "unit": "text set"}
        return out


def prepare_frozen_caches(model: Any, cfg: Any, splits: Sequence[Any], *, cache_dir: str | Path,
                          frontend_key: str, device: torch.device | str = "cpu",
                          progress: bool = False) -> FrozenCaches:
    """For a frozen, cached audio encoder: set ``split.encoded`` (an :class:`EncodedSplit`) on every split. For a
    frozen, cached text encoder: give the model a table of every caption and keyword text of the splits
    (``model.set_text_table``). ``splits`` are :class:`retrieval.batching.SplitData` objects (``features``,
    ``captions``, ``metadata()``, ``split.name``)."""
    import time

    t0 = time.perf_counter()
    out = FrozenCaches()
    ae, te = cfg.audio_encoder, cfg.text_encoder
    if ae.frozen and ae.cache:
        out.audio = EncodedAudioStore(cache_dir, model.audio_encoder, frontend_key=frontend_key,
                                      normalisation=(float(model.feat_mean), float(model.feat_std)),
                                      with_sequence=bool(FUSIONS.entry(cfg.fusion.kind).meta.get("needs_sequence")))
        eval_frames = seconds_to_frames(cfg.features, cfg.features.eval_seconds)
        train_frames = seconds_to_frames(cfg.features, cfg.features.train_seconds)
        for data in splits:
            data.encoded = out.audio.encode(
                data.features, eval_frames=eval_frames, train_frames=train_frames,
                batch_size=cfg.train.eval_batch_size, device=device, progress=progress,
                desc=f"encode {data.split.name}")
    if te.frozen and te.cache:
        out.text = TextEmbeddingCache(cache_dir, model.text_encoder)
        texts = {c for data in splits for c, _ in data.captions}
        if model.uses_metadata:
            texts |= {m for data in splits for m in data.metadata() if m.strip()}
        model.set_text_table(out.text.table(texts, batch_size=cfg.train.eval_batch_size, progress=progress))
    out.encode_seconds = time.perf_counter() - t0
    return out
