"""Audio augmentations: gain, SpecAugment, Freq-MixStyle and the AudioAugment pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.augment.audio import AudioAugment, freq_mixstyle, gain, spec_augment
from retrieval.config import AugmentConfig, GainConfig, MixStyleConfig, SpecAugmentConfig

FLOOR = 1e-10


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(b: int = 4, f: int = 16, t: int = 50, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, f, t, generator=g) * 5 - 40  # dB-like values, never exactly 0


# --------------------------------------------------------------------------------------------- gain
def test_gain_adds_one_constant_per_clip_within_bounds():
    x = batch(b=64)
    out = gain(x, 6.0, gen(1))
    diff = out - x
    per_clip = diff.mean(dim=(1, 2))
    assert torch.allclose(diff, per_clip.view(-1, 1, 1).expand_as(diff), atol=1e-5)  # constant per clip
    assert per_clip.abs().max() <= 6.0
    assert per_clip.min() < -1.0 and per_clip.max() > 1.0  # spread over the range, both signs
    assert per_clip.unique().numel() == 64  # independent draw per clip


def test_gain_zero_is_exact_noop_and_does_not_draw():
    x = batch()
    g = gen(3)
    state = g.get_state()
    assert gain(x, 0.0, g) is x
    assert torch.equal(g.get_state(), state)


def test_gain_is_deterministic_given_generator():
    x = batch()
    assert torch.equal(gain(x, 3.0, gen(7)), gain(x, 3.0, gen(7)))
    assert not torch.equal(gain(x, 3.0, gen(7)), gain(x, 3.0, gen(8)))


def _mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters equally spaced on the HTK mel scale, [n_mels, n_fft // 2 + 1]."""
    def hz2mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel2hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel2hz(np.linspace(hz2mel(0.0), hz2mel(sr / 2), n_mels + 2))
    freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


def _logmel_db(y: np.ndarray, sr: int, n_fft: int = 1024, hop: int = 512, n_mels: int = 40) -> np.ndarray:
    """A plain numpy log-power-mel frontend (Hann STFT, power 2, clamp at FLOOR, dB): [n_mels, frames]."""
    y = np.pad(y, n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2
    mel = _mel_filterbank(sr, n_fft, n_mels) @ power.T
    return 10.0 * np.log10(np.maximum(mel, FLOOR))


def test_gain_on_log_mel_equals_waveform_gain():
    sr = 16000
    t = np.arange(sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * np.sin(2 * np.pi * 3000.0 * t)
    ref = _logmel_db(y, sr)
    x = torch.from_numpy(np.stack([ref] * 3)).float()
    out = gain(x, 6.0, gen(0))
    checked = 0
    for b in range(3):
        g = float((out[b] - x[b]).mean())
        assert g != 0.0 and abs(g) <= 6.0
        wave = _logmel_db(y * 10.0 ** (g / 20.0), sr)  # the paper's definition: waveform times w = 10**(g/20)
        away = (ref > 10 * np.log10(FLOOR) + 30) & (wave > 10 * np.log10(FLOOR) + 30)  # away from the floor
        assert away.sum() > 100
        np.testing.assert_allclose(out[b].double().numpy()[away], wave[away], atol=1e-3)
        checked += int(away.sum())
    assert checked > 300


# --------------------------------------------------------------------------------------------- SpecAugment
FILL = -1000.0


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous True runs as (start, length)."""
    runs, start = [], None
    for i, v in enumerate(list(flags) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def test_spec_augment_zero_settings_are_exact_noop():
    x = batch()
    g = gen(0)
    state = g.get_state()
    assert spec_augment(x, torch.tensor([50, 40, 30, 20]), 0, 8, 0, 20, g) is x
    assert torch.equal(g.get_state(), state)


def test_spec_augment_frequency_stripes_count_and_width():
    x = batch(b=200, f=16, t=10)
    out = spec_augment(x, None, 1, 4, 0, 20, gen(0), fill=FILL)
    masked = out == FILL
    widths = set()
    for b in range(200):
        rows = masked[b].any(dim=1).numpy()
        assert bool((masked[b].all(dim=1) == masked[b].any(dim=1)).all())  # whole rows (every frame)
        runs = _runs(rows)
        assert len(runs) <= 1
        widths.add(runs[0][1] if runs else 0)
    assert widths == {0, 1, 2, 3, 4}  # width ~ U{0..w_f}: both ends reached, never wider
    assert torch.equal(out[~masked], x[~masked])

    out3 = spec_augment(x, None, 3, 4, 0, 20, gen(1), fill=FILL)
    rows3 = (out3 == FILL).all(dim=2)
    assert int(rows3.sum(dim=1).max()) <= 12  # at most n_f * w_f bins
    assert all(len(_runs(r.numpy())) <= 3 for r in rows3)


def test_spec_augment_time_stripes_stay_within_valid_frames():
    b, t = 120, 60
    x = batch(b=b, f=8, t=t)
    lengths = torch.tensor([[60, 30, 5, 0, 1, 45][i % 6] for i in range(b)])
    out = spec_augment(x, lengths, 0, 8, 2, 10, gen(2), fill=FILL)
    masked = out == FILL
    assert torch.equal(out[~masked], x[~masked])
    long_widths = set()
    for i in range(b):
        cols = masked[i].any(dim=0)
        assert bool((masked[i].all(dim=0) == cols).all())  # whole columns (every mel bin)
        length = int(lengths[i])
        assert not bool(cols[length:].any()), "masked a padding frame"
        assert int(cols.sum()) <= min(2 * 10, length)
        runs = _runs(cols.numpy())
        assert len(runs) <= 2 and all(w <= min(20, length) for _, w in runs)
        if length == 60 and len(runs) == 1 and int(cols.sum()) <= 10:
            long_widths.add(int(cols.sum()))
    assert max(long_widths) <= 10


def test_spec_augment_time_width_range_single_stripe():
    x = batch(b=300, f=4, t=40)
    out = spec_augment(x, torch.full((300,), 40), 0, 8, 1, 6, gen(5), fill=FILL)
    widths = {int((out[i] == FILL).all(dim=0).sum()) for i in range(300)}
    assert widths == set(range(7))


def test_spec_augment_is_deterministic_and_default_fill_is_zero():
    x = batch()
    lengths = torch.tensor([50, 40, 30, 20])
    a = spec_augment(x, lengths, 2, 5, 3, 10, gen(9))
    assert torch.equal(a, spec_augment(x, lengths, 2, 5, 3, 10, gen(9)))
    assert not torch.equal(a, spec_augment(x, lengths, 2, 5, 3, 10, gen(10)))
    assert bool((a == 0).any()) and not bool((x == 0).any())
    assert a.shape == x.shape and a.dtype == x.dtype


# --------------------------------------------------------------------------------------------- Freq-MixStyle
def styled_batch(b: int = 6, f: int = 12, t: int = 80) -> torch.Tensor:
    """Clips with clearly different per-frequency means and standard deviations."""
    g = torch.Generator().manual_seed(123)
    base = torch.randn(b, f, t, generator=g)
    mu = torch.randn(b, f, 1, generator=g) * 10
    sd = torch.rand(b, f, 1, generator=g) * 3 + 0.5
    return base * sd + mu


def test_freq_mixstyle_p0_is_identity_and_small_batches_untouched():
    x = styled_batch()
    g = gen(0)
    state = g.get_state()
    assert freq_mixstyle(x, 0.0, 0.3, g) is x
    assert torch.equal(g.get_state(), state)
    one = x[:1]
    assert torch.equal(freq_mixstyle(one, 1.0, 0.3, gen(0)), one)


@pytest.mark.parametrize("alpha,seed", [(2.0, 4), (0.3, 4), (0.3, 5)])
def test_freq_mixstyle_mixes_statistics_towards_another_clip_with_lam_at_least_half(alpha, seed):
    x = styled_batch()
    out = freq_mixstyle(x, 1.0, alpha, gen(seed))
    assert out.shape == x.shape and out.dtype == x.dtype
    mu, sd = x.mean(-1), x.std(-1, unbiased=False)
    mu_o, sd_o = out.mean(-1), out.std(-1, unbiased=False)
    weights = []
    for i in range(x.shape[0]):
        # find the partner j: mu_o[i] - mu[i] = (1 - lam) * (mu[j] - mu[i]) for some j != i
        fits = []
        for j in range(x.shape[0]):
            if j == i:
                continue
            d = mu[j] - mu[i]
            c = float((mu_o[i] - mu[i]) @ d / (d @ d))
            resid = float((mu_o[i] - mu[i] - c * d).abs().max())
            fits.append((resid, c, j))
        resid, c, j = min(fits)
        assert resid < 2e-3
        assert -1e-6 <= c <= 0.5 + 1e-6  # c = 1 - lam with lam >= 0.5: own statistics weigh more
        assert float((mu_o[i] - mu[i]).norm()) <= float((mu_o[i] - mu[j]).norm()) + 1e-4
        # standard deviations are mixed with the same partner and the same lam
        np.testing.assert_allclose(sd_o[i].numpy(), ((1 - c) * sd[i] + c * sd[j]).numpy(), rtol=1e-3, atol=1e-3)
        weights.append(c)
    if alpha == 2.0:  # Beta(2, 2) rarely puts lam near 1: every clip moves visibly toward its partner
        assert min(weights) > 0.01
    assert max(weights) > 0.05


def test_freq_mixstyle_deterministic_given_seed():
    x = styled_batch()
    a = freq_mixstyle(x, 1.0, 0.5, gen(11))
    assert torch.equal(a, freq_mixstyle(x, 1.0, 0.5, gen(11)))
    assert not torch.equal(a, freq_mixstyle(x, 1.0, 0.5, gen(12)))


def test_freq_mixstyle_probability_selects_clips():
    x = styled_batch(b=40, t=20)
    out = freq_mixstyle(x, 0.5, 0.3, gen(2))
    same = torch.tensor([torch.equal(out[i], x[i]) for i in range(40)])
    assert 5 <= int(same.sum()) <= 35  # some clips untouched (exactly), others mixed


def test_freq_mixstyle_with_lengths_ignores_and_keeps_padding():
    x = styled_batch(b=4, t=60)
    lengths = torch.tensor([60, 40, 30, 1])
    x[1, :, 40:] = -100.0  # padding with a very different level must not leak into the statistics
    x[2, :, 30:] = -100.0
    out = freq_mixstyle(x, 1.0, 0.3, gen(3), lengths=lengths)
    assert torch.equal(out[1, :, 40:], x[1, :, 40:]) and torch.equal(out[2, :, 30:], x[2, :, 30:])
    assert torch.equal(out[3], x[3])  # a single valid frame: no statistics, untouched
    for i, n in [(0, 60), (1, 40), (2, 30)]:
        assert not torch.allclose(out[i, :, :n], x[i, :, :n])
        assert float(out[i, :, :n].mean()) > -60  # padding level did not leak in


# --------------------------------------------------------------------------------------------- pipeline
def test_audio_augment_disabled_by_default_is_exact_noop():
    aug = AudioAugment(AugmentConfig())
    assert not aug.enabled
    x = batch()
    lengths = torch.tensor([50, 50, 50, 50])
    g = gen(0)
    state = g.get_state()
    assert aug.gain(x, g) is x
    assert aug.spectral(x, lengths, g) is x
    assert torch.equal(g.get_state(), state)


def test_audio_augment_enabled_runs_without_touching_global_rngs():
    cfg = AugmentConfig(gain=GainConfig(g_max=3.0), spec=SpecAugmentConfig(n_f=1, w_f=4, n_t=2, w_t=10),
                        mixstyle=MixStyleConfig(p=0.8, alpha=0.5))
    aug = AudioAugment(cfg)
    assert aug.enabled
    x = batch()
    lengths = torch.tensor([50, 30, 20, 10])
    torch.manual_seed(0)
    np.random.seed(0)
    t_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    y1 = aug.spectral(aug.gain(x, gen(5)), lengths, gen(6))
    assert torch.equal(torch.random.get_rng_state(), t_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()
    y2 = aug.spectral(aug.gain(x, gen(5)), lengths, gen(6))
    assert y1.shape == x.shape and torch.equal(y1, y2) and not torch.equal(y1, x)


def test_audio_augment_requires_an_explicit_generator():
    aug = AudioAugment(AugmentConfig(gain=GainConfig(g_max=3.0)))
    with pytest.raises(TypeError, match="Generator"):
        aug.gain(batch(), None)
