"""PaSST: the released checkpoint layout, a naive re-implementation of the reference forward pass, positional
embedding cropping, structured patchout, checkpoint errors, and segment averaging."""

from __future__ import annotations

import math

import pytest
import torch

from retrieval.config import AudioEncoderConfig, ConfigError
from retrieval.encoders.audio import SegmentedAudioEncoder, build_audio_encoder
from retrieval.encoders.passt import PaSST

TINY = dict(name="passt", dim=32, depth=2, heads=4, max_time_patches=12, dropout=0.0)


def tiny(n_mels: int = 40, **kw) -> PaSST:
    torch.manual_seed(0)
    return build_audio_encoder(AudioEncoderConfig.from_dict(TINY | kw), n_mels)


def released_passt_s_keys(depth: int = 12, dim: int = 768) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of passt-s-f128-p16-s10-ap.476-swa.pt without its heads (models/passt.py of kkoutini/PaSST:
    timm ViT names, 12 x 99 patch grid for 128 mels x 998 frames)."""
    keys = {"patch_embed.proj.weight": (dim, 1, 16, 16), "patch_embed.proj.bias": (dim,),
            "cls_token": (1, 1, dim), "dist_token": (1, 1, dim), "new_pos_embed": (1, 2, dim),
            "freq_new_pos_embed": (1, dim, 12, 1), "time_new_pos_embed": (1, dim, 1, 99),
            "norm.weight": (dim,), "norm.bias": (dim,)}
    for i in range(depth):
        b = f"blocks.{i}"
        keys |= {f"{b}.norm1.weight": (dim,), f"{b}.norm1.bias": (dim,), f"{b}.attn.qkv.weight": (3 * dim, dim),
                 f"{b}.attn.qkv.bias": (3 * dim,), f"{b}.attn.proj.weight": (dim, dim), f"{b}.attn.proj.bias": (dim,),
                 f"{b}.norm2.weight": (dim,), f"{b}.norm2.bias": (dim,), f"{b}.mlp.fc1.weight": (4 * dim, dim),
                 f"{b}.mlp.fc1.bias": (4 * dim,), f"{b}.mlp.fc2.weight": (dim, 4 * dim), f"{b}.mlp.fc2.bias": (dim,)}
    return keys


def test_passt_s_has_the_released_key_names_and_shapes():
    enc = PaSST(128, depth=1)  # one block is enough for the names; the grid sizes depend on n_mels / defaults
    got = {k: tuple(v.shape) for k, v in enc.state_dict().items()}
    assert got == released_passt_s_keys(depth=1)
    assert enc.output_frames(998) == 99 and enc.output_frames(1000) == 99 and enc.freq_patches == 12


def naive_reference(enc: PaSST, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference forward_features in eval mode (full-length input), written out step by step: explicit
    attention softmax, no masks. Returns (cls + dist) / 2 and the frequency-averaged patch tokens."""
    sd = {k: v.detach() for k, v in enc.state_dict().items()}
    h = torch.nn.functional.conv2d(x.unsqueeze(1), sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"],
                                   stride=enc.patch_stride)
    b, c, f, t = h.shape
    h = h + sd["time_new_pos_embed"][..., :t] + sd["freq_new_pos_embed"]
    h = h.flatten(2).transpose(1, 2)
    cls = sd["cls_token"].expand(b, -1, -1) + sd["new_pos_embed"][:, :1]
    dist = sd["dist_token"].expand(b, -1, -1) + sd["new_pos_embed"][:, 1:]
    h = torch.cat([cls, dist, h], 1)
    heads = len(enc.blocks[0].attn.qkv.weight) // 3 // (c // enc.blocks[0].attn.heads)
    ln = torch.nn.functional.layer_norm
    for i in range(len(enc.blocks)):
        p = f"blocks.{i}."
        y = ln(h, (c,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], eps=1e-6)
        qkv = (y @ sd[p + "attn.qkv.weight"].T + sd[p + "attn.qkv.bias"]).reshape(b, -1, 3, heads, c // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * (c // heads) ** -0.5).softmax(-1)
        y = (attn @ v).transpose(1, 2).reshape(b, -1, c)
        h = h + y @ sd[p + "attn.proj.weight"].T + sd[p + "attn.proj.bias"]
        y = ln(h, (c,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], eps=1e-6)
        y = torch.nn.functional.gelu(y @ sd[p + "mlp.fc1.weight"].T + sd[p + "mlp.fc1.bias"])
        h = h + y @ sd[p + "mlp.fc2.weight"].T + sd[p + "mlp.fc2.bias"]
    h = ln(h, (c,), sd["norm.weight"], sd["norm.bias"], eps=1e-6)
    return (h[:, 0] + h[:, 1]) / 2, h[:, 2:].reshape(b, f, t, c).mean(1)


def test_forward_matches_a_naive_reference():
    enc = tiny().eval()
    x = torch.randn(3, 40, 90, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = enc(x, None)
        pooled, seq = naive_reference(enc, x)
    torch.testing.assert_close(out.pooled, pooled, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.sequence, seq, rtol=1e-5, atol=1e-5)
    assert out.mask.all() and out.sequence.shape == (3, 8, 32)


def test_short_inputs_use_the_first_time_positions_in_evaluation():
    enc = tiny().eval()
    x = torch.randn(2, 40, 60)  # 5 time patches of the 12 the embedding holds
    with torch.no_grad():
        before = enc(x, None).pooled
        enc.time_new_pos_embed[..., 5:] += torch.randn(1, 32, 1, 7)  # positions beyond the input's columns must not matter
        after = enc(x, None).pooled
        enc.time_new_pos_embed[..., :1] += torch.randn(1, 32, 1, 1)  # (a constant would vanish in LayerNorm)
        changed = enc(x, None).pooled
    torch.testing.assert_close(before, after)
    assert not torch.allclose(before, changed)


def test_too_long_input_asks_for_segments():
    enc = tiny().eval()
    with pytest.raises(ValueError, match="segment_seconds"):
        enc(torch.randn(1, 40, enc.max_frames + 1), None)
    enc(torch.randn(1, 40, enc.max_frames), None)  # the longest accepted input works


def test_structured_patchout_drops_columns_and_rows_in_training_only():
    enc = tiny(s_patchout_t=3, s_patchout_f=1)
    x = torch.randn(2, 40, 90)
    seen_rows = []
    enc.blocks[0].register_forward_pre_hook(lambda m, args: seen_rows.append(args[0].shape[1]))
    enc.train()
    out = enc(x, None)
    assert out.sequence.shape == (2, 8 - 3, 32) and out.mask.shape == (2, 5)
    assert seen_rows[-1] == 2 + (3 - 1) * (8 - 3)  # cls + dist + (F' - 1) rows x (T' - 3) columns
    enc.eval()
    with torch.no_grad():
        out = enc(x, None)
    assert out.sequence.shape == (2, 8, 32) and seen_rows[-1] == 2 + 3 * 8
    with pytest.raises(ConfigError, match="s_patchout_f"):
        tiny(s_patchout_f=3)  # every frequency row of 40 mels (3 rows)


def test_patchout_is_refused_for_a_frozen_encoder():
    with pytest.raises(ConfigError, match="audio_encoder.passt.s_patchout_t"):
        AudioEncoderConfig.from_dict(TINY | {"frozen": True, "s_patchout_t": 5})._validate("audio_encoder")


def _save(state: dict, path) -> None:
    torch.save(state, path)


def test_released_checkpoint_heads_are_ignored(tmp_path):
    enc = tiny()
    state = dict(enc.state_dict())
    state["head.0.weight"], state["head.0.bias"] = torch.ones(32), torch.zeros(32)
    state["head.1.weight"], state["head.1.bias"] = torch.zeros(527, 32), torch.zeros(527)
    state["head_dist.weight"], state["head_dist.bias"] = torch.zeros(527, 32), torch.zeros(527)
    path = tmp_path / "passt-s-f128-p16-s10-ap.476-swa.pt"
    _save(state, path)
    torch.manual_seed(5)
    loaded = build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"checkpoint": str(path)}), 40)
    assert torch.equal(loaded.time_new_pos_embed, enc.time_new_pos_embed)
    assert torch.equal(loaded.blocks[1].mlp.fc2.weight, enc.blocks[1].mlp.fc2.weight)


def test_mismatched_checkpoint_names_the_file_and_the_keys(tmp_path):
    state = dict(tiny().state_dict())
    del state["dist_token"]
    state["pos_embed"] = torch.zeros(1, 3, 32)
    state["time_new_pos_embed"] = torch.zeros(1, 32, 1, 99)  # a 10-s checkpoint into a 12-column model
    path = tmp_path / "bad.pt"
    _save(state, path)
    with pytest.raises(ConfigError) as err:
        build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"checkpoint": str(path)}), 40)
    msg = str(err.value)
    assert str(path) in msg and "missing key(s): dist_token" in msg and "unexpected key(s): pos_embed" in msg
    assert "time_new_pos_embed: checkpoint [1, 32, 1, 99] vs model [1, 32, 1, 12]" in msg
    with pytest.raises(ConfigError, match="file not found"):
        build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"checkpoint": str(tmp_path / "none.pt")}), 40)


def test_frozen_segmented_checkpoint_loads_into_the_inner_encoder(tmp_path):
    enc = tiny()
    path = tmp_path / "w.pt"
    _save(enc.state_dict(), path)
    seg = build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"checkpoint": str(path), "segment_seconds": 1.0,
                                                            "frozen": True}), 40, frame_rate=100)
    assert isinstance(seg, SegmentedAudioEncoder) and torch.equal(seg.inner.cls_token, enc.cls_token)
    seg.train()
    assert not any(m.training for m in seg.modules()) and not any(p.requires_grad for p in seg.parameters())


# --------------------------------------------------------------------------------------------- segments
def segmented(n_mels: int = 40, seconds: float = 1.0) -> SegmentedAudioEncoder:
    torch.manual_seed(0)
    return build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"segment_seconds": seconds}), n_mels,
                               frame_rate=100).eval()


def test_segments_are_averaged_over_the_real_ones():
    enc = segmented()  # 100-frame segments
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 40, 300, generator=g)
    lengths = torch.tensor([250, 100])  # 2.5 s = 3 segments (the last half padded); 1 s = 1 segment
    with torch.no_grad():
        out = enc(x, lengths)
        # naive reference: each real segment through the bare encoder, then the plain mean
        parts = [enc.inner(x[0:1, :, 0:100], None).pooled, enc.inner(x[0:1, :, 100:200], None).pooled,
                 enc.inner(x[0:1, :, 200:300], torch.tensor([50])).pooled]
        ref0 = torch.cat(parts).mean(0)
        ref1 = enc.inner(x[1:2, :, 0:100], None).pooled[0]
    torch.testing.assert_close(out.pooled[0], ref0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.pooled[1], ref1, rtol=1e-5, atol=1e-5)  # padding-only segments never count
    seg_out = enc.inner.output_frames(100)
    assert out.sequence.shape == (2, 3 * seg_out, 32)
    assert out.mask[0].sum() == 2 * seg_out + math.ceil(50 / 10) and out.mask[1].sum() == seg_out
    assert not out.mask[1, seg_out:].any()


def test_a_25_second_clip_is_three_segments_at_the_passt_rate():
    torch.manual_seed(0)
    enc = build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"segment_seconds": 10.0, "max_time_patches": 99}),
                              40, frame_rate=32000 / 320)
    assert enc.segment_frames == 1000
    real, counts = enc.segment_lengths(torch.tensor([2500, 1000, 1005, 3]), 3000)
    assert counts.tolist() == [[True, True, True], [True, False, False], [True, False, False],
                               [True, False, False]]  # 5 leftover frames are fewer than one 16-frame patch
    assert real[0].tolist() == [1000, 1000, 500]


def test_segment_longer_than_the_positional_embedding_is_refused():
    with pytest.raises(ConfigError, match="segment_seconds"):
        build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"segment_seconds": 20.0}), 40, frame_rate=100)
    with pytest.raises(ConfigError, match="frame rate"):
        build_audio_encoder(AudioEncoderConfig.from_dict(TINY | {"segment_seconds": 1.0}), 40)
