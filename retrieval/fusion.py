"""Fusion of audio and metadata into item embeddings, and the query side that matches them.

Every head produces *parts*: an item is ``K`` unit vectors ``i_{n,k}`` and a query is ``K`` unit vectors
``q_{q,k}`` with non-negative weights ``w_{q,k}`` that sum to one. The score of query ``q`` for item ``n`` is

    s(q, n) = sum_k w_{q,k} * <q_{q,k}, i_{n,k}>

so every head's scores lie in [-1, 1], a score matrix is a sum of ``K`` matrix products (chunkable for evaluation),
and the contrastive loss works unchanged.

- ``none`` (content only, K = 1): ``i = norm(P_a(pooled audio))``, ``q = norm(P_t(text(caption)))``.
- ``late`` (K = 1): ``i = norm(P_a(pooled audio) + P_t(text(keywords)))``: the metadata is embedded by the same
  text encoder *and projection* as the query (the fusion paper shares the text model; sharing the projection puts
  keywords and captions in one space). An item without metadata (or with it dropped) uses the audio term alone.
- ``mid`` (K = 2, Primus & Widmer 2024, after the multimodal transformer): the audio frame sequence is projected,
  given sinusoidal positions, prefixed with a global audio token (masked mean of the sequence + a learnt bias) and
  suffixed with the metadata token; transformer layers process the joint sequence; the transformed global audio
  token and metadata token are the two item parts. Two gated embedding units (Miech et al. 2018) turn the query
  into an audio-query and a metadata-query vector; a linear layer + softmax on the query gives the two weights.
  Items without metadata get a zero metadata part (it then contributes nothing).

The heads are the entries of the registry ``FUSIONS`` (declared in :mod:`retrieval.config.catalogue`; the config
checks ``fusion.kind`` against it): a head class (or factory) ``(cfg: FusionConfig, audio_dim, audio_seq_dim,
text_dim) -> FusionHead``. Adding one is one module plus one entry: ``FUSIONS.declare(kind, "module:Class", ...)``
next to the others, or ``@FUSIONS.register(kind)`` on a plug-in's class; config validation, study specs, model
building and ``fit`` then accept ``fusion.kind=<kind>`` with no other edit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import FUSIONS, FusionConfig


class ItemEmbedding(NamedTuple):
    parts: torch.Tensor  # [N, K, D], each part unit-norm (or zero)


class QueryEmbedding(NamedTuple):
    parts: torch.Tensor  # [Q, K, D] unit-norm
    weights: torch.Tensor  # [Q, K], rows sum to 1


def similarity(queries: QueryEmbedding, items: ItemEmbedding) -> torch.Tensor:
    """Score matrix ``[Q, N]``: ``s(q, n) = sum_k w_qk <q_qk, i_nk>``."""
    # einsum keeps this one fused contraction; for K = 1 it is a plain matmul
    return torch.einsum("qk,qkd,nkd->qn", queries.weights, queries.parts, items.parts)


class FusionHead(nn.Module):
    """Base class: maps encoder outputs to item and query embeddings."""

    uses_metadata: bool = False
    n_parts: int = 1

    def items(self, sequence: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor,
              metadata: torch.Tensor | None, has_metadata: torch.Tensor | None) -> ItemEmbedding:
        raise NotImplementedError

    def queries(self, text: torch.Tensor) -> QueryEmbedding:
        raise NotImplementedError


def _ones(n: int, device: torch.device) -> torch.Tensor:
    return torch.ones(n, 1, device=device)


class NoFusion(FusionHead):
    def __init__(self, cfg: FusionConfig, audio_dim: int, audio_seq_dim: int, text_dim: int) -> None:
        super().__init__()
        self.audio_proj = nn.Linear(audio_dim, cfg.embed_dim)
        self.text_proj = nn.Linear(text_dim, cfg.embed_dim)

    def items(self, sequence, mask, pooled, metadata=None, has_metadata=None) -> ItemEmbedding:
        return ItemEmbedding(F.normalize(self.audio_proj(pooled), dim=-1).unsqueeze(1))

    def queries(self, text: torch.Tensor) -> QueryEmbedding:
        q = F.normalize(self.text_proj(text), dim=-1).unsqueeze(1)
        return QueryEmbedding(q, _ones(text.shape[0], text.device))


class LateFusion(NoFusion):
    uses_metadata = True

    def items(self, sequence, mask, pooled, metadata=None, has_metadata=None) -> ItemEmbedding:
        fused = self.audio_proj(pooled)
        if metadata is not None:
            meta = self.text_proj(metadata)
            if has_metadata is not None:
                meta = meta * has_metadata.to(meta.dtype).unsqueeze(-1)
            fused = fused + meta
        return ItemEmbedding(F.normalize(fused, dim=-1).unsqueeze(1))


class GatedEmbeddingUnit(nn.Module):
    """``y = W1 x + b1;  out = norm(y * sigmoid(W2 y + b2))`` (Miech et al. 2018)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.gate = nn.Linear(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        return F.normalize(y * torch.sigmoid(self.gate(y)), dim=-1)


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: dim // 2])
    return pe


class MidFusion(FusionHead):
    uses_metadata = True
    n_parts = 2

    def __init__(self, cfg: FusionConfig, audio_dim: int, audio_seq_dim: int, text_dim: int) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.seq_proj = nn.Linear(audio_seq_dim, d)
        self.meta_proj = nn.Linear(text_dim, d)
        self.text_proj = nn.Linear(text_dim, d)
        self.global_bias = nn.Parameter(torch.zeros(d))
        self.meta_type = nn.Parameter(torch.zeros(d))
        layer = nn.TransformerEncoderLayer(d, cfg.mid.heads, dim_feedforward=2 * d, dropout=cfg.mid.dropout,
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.mid.layers, enable_nested_tensor=False)
        self.audio_query = GatedEmbeddingUnit(d, d)
        self.meta_query = GatedEmbeddingUnit(d, d)
        self.mixing = nn.Linear(d, 2)

    def items(self, sequence, mask, pooled, metadata=None, has_metadata=None) -> ItemEmbedding:
        n, t, _ = sequence.shape
        x = self.seq_proj(sequence) + sinusoidal_positions(t, self.global_bias.shape[0], sequence.device)
        m = mask.to(x.dtype).unsqueeze(-1)
        global_tok = (x * m).sum(1) / m.sum(1).clamp(min=1.0) + self.global_bias
        if metadata is None:
            metadata_present = torch.zeros(n, dtype=torch.bool, device=x.device)
            meta_tok = self.meta_type.expand(n, -1)
        else:
            metadata_present = (has_metadata.bool() if has_metadata is not None
                                else torch.ones(n, dtype=torch.bool, device=x.device))
            meta_tok = self.meta_proj(metadata) + self.meta_type
        tokens = torch.cat([global_tok.unsqueeze(1), x, meta_tok.unsqueeze(1)], dim=1)
        keep = torch.cat([torch.ones(n, 1, dtype=torch.bool, device=x.device), mask.bool(),
                          metadata_present.unsqueeze(1)], dim=1)
        out = self.transformer(tokens, src_key_padding_mask=~keep)
        audio_part = F.normalize(out[:, 0], dim=-1)
        meta_part = F.normalize(out[:, -1], dim=-1) * metadata_present.to(out.dtype).unsqueeze(-1)
        return ItemEmbedding(torch.stack([audio_part, meta_part], dim=1))

    def queries(self, text: torch.Tensor) -> QueryEmbedding:
        t = self.text_proj(text)
        parts = torch.stack([self.audio_query(t), self.meta_query(t)], dim=1)
        return QueryEmbedding(parts, torch.softmax(self.mixing(t), dim=-1))


def build_fusion(cfg: FusionConfig, *, audio_dim: int, audio_seq_dim: int, text_dim: int) -> FusionHead:
    """The head ``cfg.kind`` (unknown kinds: ConfigError naming ``fusion.kind`` and listing the known ones)."""
    return FUSIONS.get(cfg.kind, key="fusion.kind")(cfg, audio_dim, audio_seq_dim, text_dim)
