"""The fused dual-encoder retriever: audio encoder + shared text encoder + fusion head + contrastive loss."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .config import TrialConfig
from .encoders.audio import build_audio_encoder
from .encoders.base import AudioEncoderOutput
from .encoders.text import build_text_encoder
from .fusion import ItemEmbedding, QueryEmbedding, build_fusion, similarity
from .loss import ContrastiveLoss


class Retriever(nn.Module):
    """Embeds items (log-mel + metadata text) and queries (captions) into one retrieval space.

    Log-mels are standardised with one global mean and standard deviation measured on the training split
    (buffers, saved with the weights), so SpecAugment's fill value 0 is the average level.
    """

    def __init__(self, cfg: TrialConfig, *, text_corpus: Sequence[str] | None = None,
                 artifacts_dir: Path | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio_encoder = build_audio_encoder(cfg.audio_encoder, cfg.features.n_mels,
                                                 frame_rate=cfg.features.sample_rate / cfg.features.hop_length)
        self.text_encoder = build_text_encoder(cfg.text_encoder, corpus=text_corpus, artifacts_dir=artifacts_dir)
        # a frozen text encoder's embeddings of known texts ({text: [D]}, see retrieval.encoders.cache); not state
        self._text_table: dict[str, torch.Tensor] = {}
        self.fusion = build_fusion(cfg.fusion, audio_dim=self.audio_encoder.out_dim,
                                   audio_seq_dim=self.audio_encoder.seq_dim, text_dim=self.text_encoder.out_dim)
        self.loss_fn = ContrastiveLoss(cfg.loss.temperature, cfg.loss.learn_temperature)
        self.register_buffer("feat_mean", torch.zeros(()))
        self.register_buffer("feat_std", torch.ones(()))

    @property
    def uses_metadata(self) -> bool:
        return self.fusion.uses_metadata

    def set_normalisation(self, mean: float, std: float) -> None:
        self.feat_mean.fill_(float(mean))
        self.feat_std.fill_(max(float(std), 1e-5))

    def normalise(self, logmel: torch.Tensor) -> torch.Tensor:
        return (logmel - self.feat_mean) / self.feat_std

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by learning-rate group: ``audio``, ``text``, ``head`` (fusion + temperature)."""
        groups = {
            "audio": [p for p in self.audio_encoder.parameters() if p.requires_grad],
            "text": [p for p in self.text_encoder.parameters() if p.requires_grad],
            "head": [p for p in list(self.fusion.parameters()) + list(self.loss_fn.parameters()) if p.requires_grad],
        }
        return groups

    # ------------------------------------------------------------------ embedding
    def set_text_table(self, table: dict[str, torch.Tensor] | None) -> None:
        """Precomputed embeddings of a frozen text encoder; :meth:`embed_texts` uses them for the texts they hold."""
        if table and not self.text_encoder.frozen:
            raise ValueError("a text table stands in for a frozen text encoder only (text_encoder.frozen)")
        self._text_table = dict(table or {})

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Text-encoder embeddings ``[len(texts), D]``; texts in the frozen encoder's table are looked up, the rest
        (augmented captions) are embedded by the encoder (without gradients when it is frozen)."""
        texts = list(texts)
        device = next(self.text_encoder.parameters()).device
        if not self._text_table:
            return self.text_encoder.encode(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_table]
        fresh: dict[str, torch.Tensor] = {}
        if missing:
            with torch.no_grad():
                fresh = dict(zip(missing, self.text_encoder.encode(missing)))
        return torch.stack([self._text_table[t].to(device) if t in self._text_table else fresh[t] for t in texts])

    def encode_items(self, features: torch.Tensor | None, lengths: torch.Tensor | None,
                     metadata: Sequence[str] | None = None, *, audio: AudioEncoderOutput | None = None
                     ) -> ItemEmbedding:
        """``features``: normalised (and possibly augmented) log-mels ``[N, n_mels, T]``; ``metadata``: one text per
        item (keywords joined by spaces; the empty string means no metadata). ``audio``: the audio encoder's
        outputs when they are known already (a frozen encoder's cache); ``features`` and ``lengths`` are then
        ignored."""
        out = audio if audio is not None else self.audio_encoder(features, lengths)
        meta_emb = has_meta = None
        if self.fusion.uses_metadata and metadata is not None:
            has_meta = torch.tensor([bool(m.strip()) for m in metadata], device=out.pooled.device)
            meta_emb = self.embed_texts([m if m.strip() else "" for m in metadata])
        return self.fusion.items(out.sequence, out.mask, out.pooled, meta_emb, has_meta)

    def encode_queries(self, captions: Sequence[str]) -> QueryEmbedding:
        return self.fusion.queries(self.embed_texts(list(captions)))

    def scores(self, queries: QueryEmbedding, items: ItemEmbedding) -> torch.Tensor:
        return similarity(queries, items)

    def loss(self, features: torch.Tensor | None, lengths: torch.Tensor | None, captions: Sequence[str],
             metadata: Sequence[str] | None, positives: torch.Tensor, *,
             audio: AudioEncoderOutput | None = None) -> torch.Tensor:
        """Symmetric NT-Xent over a batch: rows are captions, columns are items; ``positives[q, i]`` is True when
        caption ``q`` describes item ``i``. ``audio``: cached audio-encoder outputs (see :meth:`encode_items`)."""
        items = self.encode_items(features, lengths, metadata, audio=audio)
        queries = self.encode_queries(captions)
        return self.loss_fn(self.scores(queries, items), positives)
