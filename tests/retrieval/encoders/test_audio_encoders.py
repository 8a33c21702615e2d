"""Contract tests for every registered audio encoder, plus checkpoint loading and the registry.

The contract tests are parametrized over ``AUDIO_ENCODERS.names()``: a new registry entry is tested automatically
(built with ``AudioEncoderConfig(name=...)`` defaults and 40 mel bins, on 2-3 clips of max(64, 2 * time_stride)
frames; the output length comes from ``enc.output_frames``).
The CNN14 and PaSST-S checkpoint round trips (320-340 MB state dicts) are marked ``slow``.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch
from torch import nn

from retrieval.config import AudioEncoderConfig, CnnEncoderConfig, ConfigError
from retrieval.encoders import AUDIO_ENCODERS, AudioEncoderOutput, build_audio_encoder
from retrieval.registry import Registry

N_MELS = 40
AUDIO = AUDIO_ENCODERS.names()
SLOW = {"cnn14", "passt"}  # entries whose checkpoint round trip takes seconds


_CACHE: dict[tuple[str, int], nn.Module] = {}


def _encoder(name: str, n_mels: int = N_MELS) -> nn.Module:
    """One randomly initialised encoder per entry, shared by the tests (CNN14 takes ~1.5 s to build)."""
    if (name, n_mels) not in _CACHE:
        torch.manual_seed(0)
        _CACHE[name, n_mels] = build_audio_encoder(AudioEncoderConfig(name=name), n_mels)
    enc = _CACHE[name, n_mels]
    enc.zero_grad(set_to_none=True)
    return enc


def _inputs(enc, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    n_frames = max(64, 2 * enc.time_stride)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, N_MELS, n_frames, generator=g)
    lengths = torch.tensor([n_frames, n_frames // 3])
    x[1, :, n_frames // 3:] = 0.0  # zero padding, as a collate function would produce
    return x, lengths


def _first_conv(enc: nn.Module) -> nn.Conv2d:
    return next(m for m in enc.modules() if isinstance(m, nn.Conv2d))


# --------------------------------------------------------------------------------------------- contract
def test_registry_has_the_documented_entries():
    assert {"cnn-small", "cnn10", "cnn14", "passt"} <= set(AUDIO)


@pytest.mark.parametrize("name", AUDIO)
def test_forward_backward_shapes_and_gradients(name):
    enc = _encoder(name).train()
    x, lengths = _inputs(enc)
    out = enc(x, lengths)
    assert isinstance(out, AudioEncoderOutput)
    t_out = enc.output_frames(x.shape[2])
    assert out.sequence.shape == (2, t_out, enc.seq_dim)
    assert out.mask.shape == (2, t_out) and out.mask.dtype == torch.bool
    assert out.pooled.shape == (2, enc.out_dim)
    assert torch.isfinite(out.sequence).all() and torch.isfinite(out.pooled).all()

    loss = out.pooled.square().mean() + out.sequence[out.mask].mean()
    loss.backward()
    grad = _first_conv(enc).weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("name", AUDIO)
def test_mask_follows_lengths(name):
    enc = _encoder(name).eval()
    x, lengths = _inputs(enc)
    with torch.no_grad():
        out = enc(x, lengths)
    t_out = enc.output_frames(x.shape[2])
    valid = out.mask.sum(1)
    expected = torch.clamp(-(-lengths // enc.time_stride), max=t_out)  # ceil(lengths / stride)
    assert valid.tolist() == expected.tolist()
    assert valid[0] == t_out and valid[1] < valid[0]  # the shorter clip has fewer valid frames
    for row, n in zip(out.mask, valid):  # valid frames come first
        assert row[:n].all() and not row[n:].any()


@pytest.mark.parametrize("name", AUDIO)
def test_pooled_ignores_padded_frames(name):
    enc = _encoder(name).eval()
    x, lengths = _inputs(enc)
    n_frames, pad_from = x.shape[2], int(lengths[1])
    noisy = x[1].clone()
    noisy[:, pad_from:] = 5.0 * torch.randn(N_MELS, n_frames - pad_from, generator=torch.Generator().manual_seed(1))
    # One eval-mode batch (clips are independent in eval mode): the short clip zero-padded, the same clip with
    # garbage in its padding, and that garbage declared valid.
    batch = torch.stack([x[1], noisy, noisy])
    with torch.no_grad():
        out = enc(batch, torch.tensor([pad_from, pad_from, n_frames]))
    torch.testing.assert_close(out.pooled[0], out.pooled[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.sequence[0][out.mask[0]], out.sequence[1][out.mask[1]], rtol=1e-5, atol=1e-5)
    assert out.mask[0].sum() < out.mask[2].sum()
    # ... the padding is ignored only because of the lengths: declared valid, it changes pooled.
    assert not torch.allclose(out.pooled[1], out.pooled[2], atol=1e-4)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in AUDIO])
def test_checkpoint_roundtrip_and_frozen(name, tmp_path):
    enc = _encoder(name)
    path = tmp_path / f"{name}.pt"
    torch.save(enc.state_dict(), path)
    torch.manual_seed(123)  # a different random init, so equality below comes from the checkpoint
    loaded = build_audio_encoder(AudioEncoderConfig(name=name, checkpoint=str(path), frozen=True), N_MELS)
    expected = enc.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert not any(p.requires_grad for p in loaded.parameters())
    loaded.train()
    assert loaded.frozen and not any(m.training for m in loaded.modules())  # frozen stays in eval mode


# --------------------------------------------------------------------------------------------- specific
def test_cnn_small_shapes_on_the_benchmark_frontend():
    enc = build_audio_encoder(AudioEncoderConfig(name="cnn-small"), n_mels=40)
    assert [getattr(enc, f"conv_block{i}").conv2.out_channels for i in range(1, 5)] == [16, 32, 64, 128]
    out = enc(torch.randn(3, 40, 160), torch.tensor([160, 100, 17]))
    assert out.sequence.shape == (3, 10, 128) and out.pooled.shape == (3, 128)
    assert out.mask.sum(1).tolist() == [10, 7, 2]
    assert enc(torch.randn(1, 40, 40), None).mask.all()  # lengths=None: every frame is valid
    narrow = build_audio_encoder(AudioEncoderConfig(name="cnn-small", cnn=CnnEncoderConfig(width=4)), n_mels=40)
    assert narrow.out_dim == narrow.seq_dim == 32


def _panns_keys(channels: list[int], n_mels: int = 64) -> dict[str, tuple[int, ...]]:
    """State-dict keys and shapes of PANNs Cnn10/Cnn14 (Kong et al. 2020, audioset_tagging_cnn/pytorch/models.py),
    without the frontend and fc_audioset."""
    def bn(prefix: str, n: int) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.weight": (n,), f"{prefix}.bias": (n,), f"{prefix}.running_mean": (n,),
                f"{prefix}.running_var": (n,), f"{prefix}.num_batches_tracked": ()}

    keys = bn("bn0", n_mels)
    c_in = 1
    for i, c in enumerate(channels, start=1):
        keys[f"conv_block{i}.conv1.weight"] = (c, c_in, 3, 3)
        keys[f"conv_block{i}.conv2.weight"] = (c, c, 3, 3)
        keys |= bn(f"conv_block{i}.bn1", c) | bn(f"conv_block{i}.bn2", c)
        c_in = c
    keys["fc1.weight"] = (c_in, c_in)
    keys["fc1.bias"] = (c_in,)
    return keys


@pytest.mark.parametrize("name, channels", [("cnn10", [64, 128, 256, 512]),
                                            ("cnn14", [64, 128, 256, 512, 1024, 2048])])
def test_panns_module_names_and_shapes(name, channels):
    got = {k: tuple(v.shape) for k, v in _encoder(name).state_dict().items()}
    assert got == _panns_keys(channels, n_mels=N_MELS)


def _fake_panns_checkpoint(enc) -> dict:
    state = dict(enc.state_dict())
    state["fc_audioset.weight"] = torch.zeros(527, enc.out_dim)
    state["fc_audioset.bias"] = torch.zeros(527)
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(513, 1, 1024)
    state["logmel_extractor.melW"] = torch.zeros(513, 64)
    return {"iteration": 600000, "model": state}  # PANNs releases wrap the state dict like this


def test_panns_frontend_and_classifier_keys_are_ignored(tmp_path):
    enc = _encoder("cnn10", n_mels=64)
    path = tmp_path / "Cnn10.pth"
    torch.save(_fake_panns_checkpoint(enc), path)
    loaded = build_audio_encoder(AudioEncoderConfig(name="cnn10", checkpoint=str(path)), 64)
    assert torch.equal(loaded.conv_block1.conv1.weight, enc.conv_block1.conv1.weight)
    assert loaded.conv_block1.conv1.weight.requires_grad  # not frozen unless asked


def test_panns_checkpoint_with_other_mel_count_reports_bn0(tmp_path):
    path = tmp_path / "Cnn10.pth"
    torch.save(_fake_panns_checkpoint(_encoder("cnn10", n_mels=64)), path)
    with pytest.raises(ConfigError) as err:
        build_audio_encoder(AudioEncoderConfig(name="cnn10", checkpoint=str(path)), n_mels=40)
    msg = str(err.value)
    assert str(path) in msg and "bn0.weight: checkpoint [64] vs model [40]" in msg and "n_mels=64" in msg


@pytest.fixture()
def small_state():
    enc = build_audio_encoder(AudioEncoderConfig(name="cnn-small", cnn=CnnEncoderConfig(width=4)), n_mels=40)
    return dict(enc.state_dict())


def _load_small(path) -> None:
    build_audio_encoder(AudioEncoderConfig(name="cnn-small", cnn=CnnEncoderConfig(width=4), checkpoint=str(path)),
                        n_mels=40)


def test_checkpoint_missing_key(tmp_path, small_state):
    del small_state["conv_block2.bn1.running_var"]
    path = tmp_path / "missing.pt"
    torch.save(small_state, path)
    with pytest.raises(ConfigError, match="missing key") as err:
        _load_small(path)
    assert str(path) in str(err.value) and "conv_block2.bn1.running_var" in str(err.value)


def test_checkpoint_unexpected_key(tmp_path, small_state):
    small_state["head.weight"] = torch.zeros(3)
    small_state["fc_audioset.weight"] = torch.zeros(3)  # only the PANNs entries ignore this one
    path = tmp_path / "extra.pt"
    torch.save(small_state, path)
    with pytest.raises(ConfigError, match="unexpected key") as err:
        _load_small(path)
    assert str(path) in str(err.value) and "head.weight" in str(err.value)
    assert "fc_audioset.weight" in str(err.value)


def test_checkpoint_shape_mismatch(tmp_path, small_state):
    small_state["fc1.weight"] = torch.zeros(5, 32)
    path = tmp_path / "shape.pt"
    torch.save(small_state, path)
    with pytest.raises(ConfigError, match="shape mismatch") as err:
        _load_small(path)
    assert str(path) in str(err.value) and "fc1.weight: checkpoint [5, 32] vs model [32, 32]" in str(err.value)


def test_checkpoint_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "weights.pt"
    with pytest.raises(ConfigError, match="not found") as err:
        _load_small(path)
    assert str(path) in str(err.value)


def test_checkpoint_not_a_state_dict(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="not a readable checkpoint") as err:
        _load_small(path)
    assert str(path) in str(err.value)


def test_unknown_name_lists_known_encoders():
    with pytest.raises(ConfigError) as err:
        build_audio_encoder(AudioEncoderConfig(name="resnet9000"), N_MELS)
    msg = str(err.value)
    assert msg.startswith("audio_encoder.name:") and "resnet9000" in msg
    assert all(name in msg for name in AUDIO)


def test_too_few_mels_or_frames():
    with pytest.raises(ConfigError, match="features.n_mels"):
        build_audio_encoder(AudioEncoderConfig(name="cnn-small"), n_mels=8)
    enc = build_audio_encoder(AudioEncoderConfig(name="cnn-small", cnn=CnnEncoderConfig(width=4)), n_mels=40)
    with pytest.raises(ValueError, match="at least 16 frames"):
        enc(torch.randn(1, 40, 10), torch.tensor([10]))
    with pytest.raises(ValueError, match=r"\[B, 40, T\]"):
        enc(torch.randn(1, 64, 32), torch.tensor([32]))


# --------------------------------------------------------------------------------------------- registry
def test_registry_register_get_names():
    reg: Registry = Registry("widget", error=ConfigError)

    @reg.register("b")
    def make_b():
        return "b"

    reg.register("a")(lambda: "a")
    assert reg.names() == ["a", "b"] and "a" in reg and len(reg) == 2
    assert reg.get("b") is make_b
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(lambda: "again")
    with pytest.raises(ConfigError, match=r"unknown widget 'c' \(known widgets: a, b\)"):
        reg.get("c")
    with pytest.raises(ConfigError, match=r"^thing\.name: unknown widget"):
        reg.get("c", key="thing.name")
    assert AUDIO_ENCODERS.names() == AUDIO
