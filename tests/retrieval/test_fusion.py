import pytest
import torch

from retrieval.config import FUSIONS, FusionConfig
from retrieval.fusion import ItemEmbedding, QueryEmbedding, build_fusion, similarity

AUDIO, SEQ, TEXT = 24, 20, 16


def _inputs(n=5, t=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    seq = torch.randn(n, t, SEQ, generator=g, requires_grad=True)
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[0, 4:] = False
    pooled = torch.randn(n, AUDIO, generator=g, requires_grad=True)
    meta = torch.randn(n, TEXT, generator=g, requires_grad=True)
    has = torch.tensor([True, False, True, True, True][:n])
    text = torch.randn(3, TEXT, generator=g, requires_grad=True)
    return seq, mask, pooled, meta, has, text


@pytest.mark.parametrize("kind", FUSIONS.names())
def test_every_fusion_forward_backward(kind):
    torch.manual_seed(0)
    head = build_fusion(FusionConfig(kind=kind, embed_dim=16), audio_dim=AUDIO, audio_seq_dim=SEQ, text_dim=TEXT)
    seq, mask, pooled, meta, has, text = _inputs()
    items = head.items(seq, mask, pooled, meta if head.uses_metadata else None, has)
    queries = head.queries(text)
    assert items.parts.shape == (5, head.n_parts, 16)
    assert queries.parts.shape == (3, head.n_parts, 16)
    torch.testing.assert_close(queries.weights.sum(1), torch.ones(3))
    s = similarity(queries, items)
    assert s.shape == (3, 5)
    assert s.abs().max() <= 1.0 + 1e-5
    s.sum().backward()
    assert text.grad is not None and text.grad.abs().sum() > 0
    grads = [p.grad for p in head.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    if head.uses_metadata:
        assert meta.grad is not None and meta.grad[has].abs().sum() > 0
        # an item without metadata gets no gradient into its (absent) metadata vector
        assert meta.grad[~has].abs().sum() == 0


def test_similarity_formula_matches_loops():
    g = torch.Generator().manual_seed(1)
    q = QueryEmbedding(torch.randn(4, 2, 8, generator=g), torch.softmax(torch.randn(4, 2, generator=g), -1))
    i = ItemEmbedding(torch.randn(6, 2, 8, generator=g))
    expect = torch.zeros(4, 6)
    for a in range(4):
        for b in range(6):
            expect[a, b] = sum(q.weights[a, k] * (q.parts[a, k] @ i.parts[b, k]) for k in range(2))
    torch.testing.assert_close(similarity(q, i), expect)


def test_late_fusion_without_metadata_is_audio_only():
    torch.manual_seed(0)
    cfg = FusionConfig(kind="late", embed_dim=16)
    late = build_fusion(cfg, audio_dim=AUDIO, audio_seq_dim=SEQ, text_dim=TEXT)
    seq, mask, pooled, meta, has, _ = _inputs()
    with_none = late.items(seq, mask, pooled, None, None).parts
    no_meta = late.items(seq, mask, pooled, meta, torch.zeros(5, dtype=torch.bool)).parts
    torch.testing.assert_close(with_none, no_meta)
    changed = late.items(seq, mask, pooled, meta, torch.ones(5, dtype=torch.bool)).parts
    assert not torch.allclose(with_none, changed)


def test_mid_fusion_ignores_padded_frames():
    torch.manual_seed(0)
    head = build_fusion(FusionConfig(kind="mid", embed_dim=16), audio_dim=AUDIO, audio_seq_dim=SEQ, text_dim=TEXT)
    head.eval()
    seq, mask, pooled, meta, has, _ = _inputs()
    a = head.items(seq, mask, pooled, meta, has).parts
    seq2 = seq.detach().clone()
    seq2[0, 4:] = 100.0  # padded frames of item 0
    b = head.items(seq2, mask, pooled, meta, has).parts
    torch.testing.assert_close(a, b)
    # metadata-less item 1 has a zero metadata part
    assert a[1, 1].abs().sum() == 0
