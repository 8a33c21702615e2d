"""Device propagation without a GPU: the ``meta`` device stands in for CUDA.

PyTorch treats a meta tensor like a CUDA one when it meets a CPU tensor: an op on a CPU tensor and a (even 0-dim)
meta tensor fails with "Tensor on device meta is not on the expected device cpu", exactly where a CUDA run would
fail with "Expected all tensors to be on the same device". So a piece of the training step that runs on ``meta``
creates no stray CPU tensor on its way (a ``torch.arange`` without ``device``, a mask, a permutation).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from retrieval.augment.audio import AudioAugment
from retrieval.augment.text import TextAugment
from retrieval.batching import BatchAssembler, Draws, SplitData, normalise_batch
from retrieval.config import AugmentConfig, FusionConfig, GainConfig, MixStyleConfig, SpecAugmentConfig
from retrieval.fusion import build_fusion, similarity

META = torch.device("meta")


def test_a_cpu_tensor_meeting_a_meta_buffer_fails_as_on_cuda():
    """The premise of this module: the model's standardisation buffers on the device, the batch on the CPU."""
    x, lengths = torch.zeros(2, 4, 6), torch.tensor([6, 3])
    with pytest.raises(RuntimeError, match="meta"):
        normalise_batch(x, lengths, torch.zeros((), device=META), torch.ones((), device=META))


def _split(n: int = 4, n_mels: int = 8, frames: int = 30) -> SplitData:
    rng = np.random.default_rng(0)
    recs = [SimpleNamespace(captions=[f"a sound {i}", f"another sound {i}"], keywords=[f"k{i}"], file_name=f"{i}.wav")
            for i in range(n)]
    feats = [rng.normal(size=(n_mels, frames - 5 * (i % 2))).astype(np.float32) for i in range(n)]
    return SplitData(SimpleNamespace(recordings=recs), feats)


@pytest.mark.parametrize("augment", ["none", "all"])
def test_training_batches_are_assembled_on_the_model_device(augment):
    """fit's batches meet the model's buffers (``feat_mean``/``feat_std``, on the training device): the batch goes
    to that device first. Before the fix the standardisation ran on the CPU batch with CUDA buffers, which fails
    on the first training step of every ``--device cuda`` run."""
    cfg = AugmentConfig()
    if augment == "all":
        cfg = AugmentConfig(gain=GainConfig(g_max=3.0), spec=SpecAugmentConfig(n_f=1, w_f=2, n_t=1, w_t=4),
                            mixstyle=MixStyleConfig(p=1.0))
    data = _split()
    mean, std = torch.full((), 0.5, device=META), torch.full((), 2.0, device=META)
    assembler = BatchAssembler(data, frames=20, fill=0.5, mean=mean, std=std, audio_augment=AudioAugment(cfg),
                               text_augment=TextAugment(AugmentConfig()), variation_keys=None,
                               metadata=data.metadata(), metadata_dropout=0.5, device=META)
    batch = assembler([(0, "a"), (1, "b"), (2, "c"), (1, "d")],
                      Draws.shared(np.random.default_rng(0), torch.Generator().manual_seed(0)))
    assert batch.x.device == META and batch.lengths.device == META and batch.positives.device == META
    assert tuple(batch.x.shape) == (4, 8, 20) and batch.positives.dtype == torch.bool


def test_batches_on_the_cpu_are_unchanged_by_the_device_move():
    """The same draws and values as before on the CPU: the move is a no-op there (runs stay bit-identical)."""
    cfg = AugmentConfig(gain=GainConfig(g_max=3.0), spec=SpecAugmentConfig(n_f=1, w_f=2, n_t=1, w_t=4),
                        mixstyle=MixStyleConfig(p=1.0))
    data = _split()
    from retrieval.batching import make_audio_batch

    rng, gen = np.random.default_rng(3), torch.Generator().manual_seed(3)
    assembler = BatchAssembler(data, frames=20, fill=0.5, mean=torch.tensor(0.5), std=torch.tensor(2.0),
                               audio_augment=AudioAugment(cfg), text_augment=TextAugment(AugmentConfig()),
                               variation_keys=None, metadata=None, metadata_dropout=0.0,
                               device=torch.device("cpu"))
    got = assembler([(0, "a"), (1, "b"), (3, "c")], Draws.shared(rng, gen))
    rng, gen = np.random.default_rng(3), torch.Generator().manual_seed(3)
    aug = AudioAugment(cfg)
    x, lengths = make_audio_batch([data.features[i] for i in (0, 1, 3)], 20, 0.5, rng)
    x = aug.spectral(normalise_batch(aug.gain(x, gen), lengths, 0.5, 2.0), lengths, gen)
    assert torch.equal(got.x, x) and torch.equal(got.lengths, lengths)


@pytest.mark.parametrize("kind", ["none", "late", "mid"])
def test_fusion_heads_create_their_masks_and_positions_on_the_input_device(kind):
    """Every tensor a fusion head makes (masks, sinusoidal positions, metadata flags, query weights) lands on
    the input's device: the heads run end to end on ``meta``."""
    cfg = FusionConfig(kind=kind, embed_dim=16)
    head = build_fusion(cfg, audio_dim=12, audio_seq_dim=10, text_dim=14).to(META).train()
    n, t = 3, 5
    seq = torch.empty(n, t, 10, device=META)
    mask = torch.ones(n, t, dtype=torch.bool, device=META)
    pooled, meta = torch.empty(n, 12, device=META), torch.empty(n, 14, device=META)
    has_meta = torch.tensor([True, False, True], device=META)
    items = head.items(seq, mask, pooled, meta if head.uses_metadata else None,
                       has_meta if head.uses_metadata else None)
    queries = head.queries(torch.empty(4, 14, device=META))
    scores = similarity(queries, items)
    assert items.parts.device == queries.weights.device == scores.device == META
    assert tuple(scores.shape) == (4, n)
