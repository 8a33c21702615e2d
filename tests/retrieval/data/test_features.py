"""Audio reading, the log-mel frontend (vs librosa) and the on-disk feature cache."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from retrieval.config import FeaturesConfig
from retrieval.data.audio import audio_duration, read_audio
from retrieval.data.errors import DataError
from retrieval.data.features import FeatureCache, Frontend, LogMel, compute_logmel

SR = 16000


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend.from_config(FeaturesConfig())


def librosa_logmel(y: np.ndarray, fe: Frontend) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=y, sr=fe.sample_rate, n_fft=fe.n_fft, hop_length=fe.hop_length, win_length=fe.win_length,
        n_mels=fe.n_mels, fmin=fe.f_min, fmax=fe.f_max, power=2.0, center=True, pad_mode="constant")
    return librosa.power_to_db(mel, ref=1.0, amin=fe.floor, top_db=None)


def noise(n: int, seed: int = 0, scale: float = 0.1) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def sine(n: int, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


# --------------------------------------------------------------------------------------------- audio
def test_read_audio_stereo_to_mono(tmp_path):
    left, right = noise(4000, 1), noise(4000, 2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    wave = read_audio(path, SR)
    assert wave.dtype == np.float32 and wave.shape == (4000,)
    np.testing.assert_allclose(wave, (left + right) / 2, atol=1e-6)
    assert audio_duration(path) == pytest.approx(0.25)


def test_read_audio_resamples(tmp_path):
    path = tmp_path / "hi.wav"
    sf.write(path, sine(22050, freq=1000.0, sr=44100), 44100)  # 0.5 s at 44.1 kHz
    wave = read_audio(path, SR)
    assert wave.dtype == np.float32 and wave.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * SR / len(wave) == pytest.approx(1000.0, abs=2.0)
    assert audio_duration(path) == pytest.approx(0.5)


def test_read_audio_errors(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(DataError, match="empty.wav"):
        read_audio(empty, SR)

    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    with pytest.raises(DataError, match="notes.wav"):
        read_audio(text, SR)
    with pytest.raises(DataError, match="notes.wav"):
        audio_duration(text)

    with pytest.raises(DataError, match="absent.wav"):
        read_audio(tmp_path / "absent.wav", SR)

    nans = tmp_path / "nans.wav"
    sf.write(nans, np.full(100, np.nan, dtype=np.float32), SR, subtype="FLOAT")
    with pytest.raises(DataError, match="nans.wav.*NaN"):
        read_audio(nans, SR)


# --------------------------------------------------------------------------------------------- frontend
def test_frontend_from_config_and_key():
    fe = Frontend.from_config(FeaturesConfig())
    assert fe.f_max == 8000.0 and fe.floor == 1e-10 and fe.n_mels == FeaturesConfig().n_mels == 32
    assert fe.key() == Frontend.from_config(FeaturesConfig()).key()
    assert len(fe.key()) == 12
    assert fe.key() != dataclasses.replace(fe, n_mels=64).key()
    assert fe.key() != dataclasses.replace(fe, floor=1e-8).key()
    assert Frontend.from_config(FeaturesConfig(f_max=4000.0)).f_max == 4000.0
    with pytest.raises(ValueError):
        dataclasses.replace(fe, win_length=4096)


@pytest.mark.parametrize("n", [700, 1024, 5000, 16000])
@pytest.mark.parametrize("kind", ["noise", "sine"])
def test_logmel_matches_librosa(frontend, n, kind):
    y = noise(n, seed=n) if kind == "noise" else sine(n)
    ours = compute_logmel(y, frontend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa: "n_fft=1024 is too large for input signal of length=700"
        ref = librosa_logmel(y, frontend)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (frontend.n_mels, frontend.n_frames(n))
    assert np.abs(ours - ref).max() < 1e-3


def test_logmel_other_frontend_matches_librosa():
    fe = Frontend.from_config(FeaturesConfig(n_fft=512, win_length=400, hop_length=160, n_mels=64,
                                             f_min=50.0, f_max=7600.0, top_db_floor=1e-8))
    y = sine(8000, freq=1234.0) + noise(8000, seed=3, scale=0.01)
    ours = compute_logmel(y, fe)
    ref = librosa_logmel(y, fe)
    assert ours.shape == ref.shape == (64, fe.n_frames(8000))
    assert np.abs(ours - ref).max() < 1e-3


def test_logmel_batch_equals_single(frontend):
    module = LogMel(frontend)
    batch = torch.from_numpy(np.stack([noise(6000, 1), sine(6000), noise(6000, 2, scale=1.0)]))
    with torch.no_grad():
        out = module(batch)
        singles = [module(row) for row in batch]
    assert out.shape == (3, frontend.n_mels, frontend.n_frames(6000)) and out.dtype == torch.float32
    for i, single in enumerate(singles):
        assert single.shape == (frontend.n_mels, frontend.n_frames(6000))
        assert torch.equal(out[i], single)
    with pytest.raises(ValueError):
        module(torch.zeros(1, 2, 100))


def test_logmel_floor_on_silence(frontend):
    out = compute_logmel(np.zeros(3000, dtype=np.float32), frontend)
    assert np.all(out == pytest.approx(10 * np.log10(frontend.floor)))


def test_n_frames(frontend):
    assert frontend.n_frames(0) == 1
    hop = frontend.hop_length
    assert frontend.n_frames(hop - 1) == 1
    assert frontend.n_frames(hop) == 2
    assert frontend.n_frames(16000) == 1 + 16000 // hop
    for n in (1, 700, 1536, 9999):
        assert compute_logmel(noise(n), frontend).shape[1] == frontend.n_frames(n)


# --------------------------------------------------------------------------------------------- cache
@pytest.fixture()
def wav(tmp_path) -> Path:
    path = tmp_path / "audio" / "clip.wav"
    path.parent.mkdir()
    sf.write(path, noise(8000, 5), SR)
    return path


def entries(cache: FeatureCache) -> list[Path]:
    return sorted(cache.dir.glob("*.npy")) if cache.dir.exists() else []


def test_cache_hit_miss(tmp_path, wav, frontend):
    cache = FeatureCache(tmp_path / "cache", frontend)
    first = cache.get(wav)
    assert (cache.hits, cache.misses) == (0, 1)
    assert first.shape == (frontend.n_mels, frontend.n_frames(8000)) and first.dtype == np.float32
    np.testing.assert_array_equal(first, compute_logmel(read_audio(wav, SR), frontend))
    second = cache.get(wav)
    assert (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(first, second)
    (entry,) = entries(cache)
    assert entry.parent == tmp_path / "cache" / "logmel" / frontend.key()
    assert not list(cache.dir.glob("*.tmp")) and not list(cache.dir.glob(".*"))

    # a new cache object on the same folder hits too; the same content under another name is the same entry
    other = FeatureCache(tmp_path / "cache", frontend)
    copy = tmp_path / "copy.wav"
    copy.write_bytes(wav.read_bytes())
    np.testing.assert_array_equal(other.get(copy), first)
    assert (other.hits, other.misses) == (1, 0)


def test_cache_changed_content_and_frontend(tmp_path, wav, frontend):
    cache = FeatureCache(tmp_path / "cache", frontend)
    before = cache.get(wav)
    sf.write(wav, noise(8000, 6), SR)  # same path, new content
    after = cache.get(wav)
    assert (cache.hits, cache.misses) == (0, 2)
    assert len(entries(cache)) == 2 and not np.array_equal(before, after)

    fe64 = dataclasses.replace(frontend, n_mels=64)
    cache64 = FeatureCache(tmp_path / "cache", fe64)
    assert cache64.dir != cache.dir
    assert cache64.get(wav).shape[0] == 64 and cache64.misses == 1
    assert len(entries(cache64)) == 1 and len(entries(cache)) == 2


def test_cache_corrupt_entry_recomputed(tmp_path, wav, frontend):
    cache = FeatureCache(tmp_path / "cache", frontend)
    good = cache.get(wav)
    (entry,) = entries(cache)
    for garbage in (b"", b"not a numpy file", entry.read_bytes()[:100]):
        entry.write_bytes(garbage)
        again = cache.get(wav)
        np.testing.assert_array_equal(again, good)
        assert entry.stat().st_size > 1000
    np.save(entry, np.zeros((3, 3), dtype=np.float32))  # well-formed but the wrong shape
    np.testing.assert_array_equal(cache.get(wav), good)
    assert (cache.hits, cache.misses) == (0, 5)
    assert not list(cache.dir.glob("*.tmp"))


def test_cache_concurrent_writers(tmp_path, frontend):
    from concurrent.futures import ThreadPoolExecutor

    paths = []
    for i in range(3):
        p = tmp_path / f"c{i}.wav"
        sf.write(p, noise(4000, 10 + i), SR)
        paths.append(p)
    caches = [FeatureCache(tmp_path / "cache", frontend) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: c.get_many(paths), caches))
    for res in results[1:]:
        for a, b in zip(results[0], res):
            np.testing.assert_array_equal(a, b)
    assert len(entries(caches[0])) == 3
    assert sorted(p.name for p in caches[0].dir.iterdir()) == sorted(p.name for p in entries(caches[0]))
    assert not list(caches[0].dir.glob("*.tmp"))


def test_cache_get_many_and_errors(tmp_path, wav, frontend, capsys):
    cache = FeatureCache(tmp_path / "cache", frontend)
    out = cache.get_many([wav, wav], progress=True, desc="logmel")
    assert len(out) == 2 and (cache.hits, cache.misses) == (1, 1)
    assert capsys.readouterr().out == ""

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage bytes, not audio")
    with pytest.raises(DataError, match="bad.wav"):
        cache.get(bad)
    with pytest.raises(DataError, match="missing.wav"):
        cache.get(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(DataError, match="empty.wav"):
        cache.get(empty)
    assert len(entries(cache)) == 1


@pytest.mark.parametrize("how", ["cache", "file"])
def test_audio_that_is_not_audio_names_the_file_not_a_buffer(tmp_path, frontend, how):
    """The cache decodes from memory: libsndfile's message named the buffer (``<_io.BytesIO object at 0x..>``)."""
    bad = tmp_path / "clip_007.wav"
    bad.write_bytes(b"RIFF this is not audio at all")
    with pytest.raises(DataError) as err:
        FeatureCache(tmp_path / "cache", frontend).get(bad) if how == "cache" else read_audio(bad, SR)
    msg = str(err.value)
    assert msg.startswith(f"{bad}: cannot decode audio: ") and "BytesIO" not in msg and " at 0x" not in msg
    assert msg.count(str(bad)) == 1 and "replace it" in msg


def test_cache_resamples_to_frontend_rate(tmp_path, frontend):
    path = tmp_path / "hi.wav"
    sf.write(path, noise(44100, 9), 44100)
    feats = FeatureCache(tmp_path / "cache", frontend).get(path)
    assert feats.shape == (frontend.n_mels, frontend.n_frames(16000))


# --------------------------------------------------------------------------------------------- PANNs / PaSST kinds
def _kaldi_banks_naive(n_mels, n_fft, sr, f_min, f_max):
    """Kaldi's mel banks written out filter by filter and bin by bin (mel-computations.cc, no VTLN)."""
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    delta = (mel(f_max) - mel(f_min)) / (n_mels + 1)
    out = np.zeros((n_mels, n_fft // 2 + 1))
    for b in range(n_mels):
        left, centre, right = mel(f_min) + b * delta, mel(f_min) + (b + 1) * delta, mel(f_min) + (b + 2) * delta
        for k in range(n_fft // 2):
            m = mel(k * sr / n_fft)
            if left < m < right:
                out[b, k] = (m - left) / (centre - left) if m <= centre else (right - m) / (right - centre)
    return out


def test_kaldi_mel_banks_match_a_naive_loop():
    from retrieval.data.features import kaldi_mel_banks

    got = kaldi_mel_banks(128, 1024, 32000, 0.0, 15000.0)
    assert got.shape == (128, 513) and not got[:, -1].any()
    np.testing.assert_allclose(got, _kaldi_banks_naive(128, 1024, 32000, 0.0, 15000.0), atol=1e-12)


def _passt_frontend_naive(wave: np.ndarray, fe) -> np.ndarray:
    """PaSST's AugmentMelSTFT (eval mode) in numpy: pre-emphasis, reflect padding, symmetric Hann window centred
    in n_fft, |rfft|^2, Kaldi banks, (ln(x + 1e-5) + 4.5) / 5."""
    x = wave[1:] - 0.97 * wave[:-1]
    x = np.pad(x.astype(np.float64), fe.n_fft // 2, mode="reflect")
    n = np.arange(fe.win_length)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * n / (fe.win_length - 1))
    left = (fe.n_fft - fe.win_length) // 2
    window = np.zeros(fe.n_fft)
    window[left:left + fe.win_length] = win
    n_frames = 1 + (len(x) - fe.n_fft) // fe.hop_length
    frames = np.stack([x[i * fe.hop_length:i * fe.hop_length + fe.n_fft] * window for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = _kaldi_banks_naive(fe.n_mels, fe.n_fft, fe.sample_rate, fe.f_min, fe.f_max) @ power.T
    return ((np.log(mel + 1e-5) + 4.5) / 5.0).astype(np.float32)


def _kind_frontend(kind: str, **kw) -> Frontend:
    base = dict(kind=kind, sample_rate=32000, n_fft=1024, win_length=800, hop_length=320, n_mels=128,
                f_min=0.0, f_max=15000.0, top_db_floor=1e-10)
    return Frontend.from_config(FeaturesConfig(**(base | kw)))


def test_passt_frontend_matches_a_naive_reference():
    fe = _kind_frontend("passt")
    rng = np.random.default_rng(0)
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 32000) + 0.05 * rng.normal(size=32000)
            ).astype(np.float32)
    ours = compute_logmel(wave, fe)
    ref = _passt_frontend_naive(wave, fe)
    assert ours.shape == ref.shape == (128, fe.n_frames(32000)) == (128, 100)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert fe.n_frames(320000) == 1000  # 10 s at 32 kHz: 1000 frames, 99 PaSST time patches


def test_panns_frontend_matches_librosa_with_reflect_padding():
    import librosa

    fe = _kind_frontend("panns", win_length=1024, n_mels=64, f_min=50.0, f_max=14000.0)
    wave = np.random.default_rng(1).normal(scale=0.1, size=16000).astype(np.float32)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(
        y=wave, sr=32000, n_fft=1024, hop_length=320, win_length=1024, n_mels=64, fmin=50.0, fmax=14000.0,
        power=2.0, center=True, pad_mode="reflect"), ref=1.0, amin=1e-10, top_db=None)
    ours = compute_logmel(wave, fe)
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    zero_padded = compute_logmel(wave, _kind_frontend("logmel", win_length=1024, n_mels=64, f_min=50.0,
                                                      f_max=14000.0))
    assert not np.allclose(ours[:, 0], zero_padded[:, 0], atol=1e-2)  # the edges differ, so the kind matters


def test_frontend_kinds_have_their_own_cache_keys_and_logmel_keeps_its_old_key():
    import dataclasses
    import hashlib
    import json

    from retrieval.data.features import FRONTEND_VERSION

    logmel = Frontend.from_config(FeaturesConfig())
    fields = {k: v for k, v in dataclasses.asdict(logmel).items() if k != "kind"}
    old_key = hashlib.sha1(json.dumps({"version": FRONTEND_VERSION, **fields}, sort_keys=True).encode()
                           ).hexdigest()[:12]
    assert logmel.key() == old_key  # caches written before frontends had a kind stay valid
    keys = {Frontend.from_config(FeaturesConfig(kind=k)).key() for k in ("logmel", "panns", "passt")}
    assert len(keys) == 3
    assert not logmel.fixed_normalisation and _kind_frontend("passt").fixed_normalisation


def test_reflect_kinds_fall_back_to_zero_padding_for_very_short_clips():
    fe = _kind_frontend("passt")
    out = compute_logmel(np.ones(300, dtype=np.float32), fe)
    assert out.shape == (128, fe.n_frames(300)) and np.isfinite(out).all()
