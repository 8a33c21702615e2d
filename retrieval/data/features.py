"""Log-mel frontends (``torch.stft`` + a mel filterbank) and an on-disk feature cache.

Three recipes (``features.kind``: an entry of ``FRONTENDS``, :mod:`retrieval.config.catalogue`, a
:class:`Recipe` here: the filterbank, the pre-processing, the padding, the compression), all with the same cache:

* ``logmel`` (the default; below): librosa's Slaney mel filterbank, power in dB, zero padding;
* ``panns``: the PANNs frontend (torchlibrosa ``Spectrogram`` + ``LogmelFilterBank``): the same as ``logmel``
  except reflect padding at the edges (``pad_mode="reflect"``), as PANNs was trained;
* ``passt``: the PaSST frontend (``AugmentMelSTFT`` of the PaSST repository, in evaluation mode): pre-emphasis
  ``y[n] = x[n+1] - 0.97 x[n]``, a symmetric (``periodic=False``) Hann window of ``win_length`` samples centred in
  ``n_fft``, reflect padding, power spectrum, Kaldi mel banks (``mel = 1127 ln(1 + f / 700)``, triangles in mel
  between ``f_min`` and ``f_max``, no filter on the Nyquist bin), then ``(ln(mel + 1e-5) + 4.5) / 5``. PaSST's
  random shifts of ``f_min``/``f_max`` in training are not done (features are computed once and cached).

Reflect padding needs more than ``n_fft // 2`` samples; shorter clips are zero-padded instead.

The ``logmel`` frontend reproduces::

    librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
                        win_length=win_length, n_mels=n_mels, fmin=f_min, fmax=f_max, power=2.0, center=True,
                        pad_mode="constant"), ref=1.0, amin=floor, top_db=None)

to about 1e-5 dB. The STFT is computed in float64 by default: in float32 the spectral leakage of a pure tone into
far-away bands is float32 round-off, which differs from librosa's by up to ~0.1 dB (torchaudio is not usable on
these machines, see STACK.md).

Cache layout: ``<cache_dir>/logmel/<Frontend.key()>/<sha1 of the audio file's bytes>.npy`` (float32
``[n_mels, T]``). Entries are written to a temporary file in the same folder and moved in place with ``os.replace``,
so concurrent writers (data-loader workers, parallel trials) never expose a partial file; an unreadable entry is
recomputed.

Example::

    >>> fe = Frontend.from_config(FeaturesConfig())                          # doctest: +SKIP
    >>> cache = FeatureCache("~/.cache/audio-retrieval-harness", fe)          # doctest: +SKIP
    >>> cache.get(Path("a.wav")).shape                                         # doctest: +SKIP
    (40, 313)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..config import FRONTENDS, FeaturesConfig
from ..utils import write_cache_entry
from .audio import read_audio_bytes
from .errors import DataError

FRONTEND_VERSION = "logmel-v1"  # bump when the computation changes: it is part of every cache key
PASST_LOG_OFFSET = 1e-5
PASST_PREEMPHASIS = 0.97


@dataclass(frozen=True)
class Frontend:
    """The resolved log-mel parameters (``f_max`` is never None here)."""

    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    f_min: float
    f_max: float
    floor: float
    kind: str = "logmel"

    def __post_init__(self) -> None:
        if not (self.sample_rate > 0 and self.n_fft > 0 and 0 < self.win_length <= self.n_fft
                and self.hop_length > 0 and self.n_mels > 0 and self.floor > 0
                and 0 <= self.f_min < self.f_max <= self.sample_rate / 2 and self.kind in FRONTENDS):
            raise ValueError(f"invalid frontend parameters: {self}")

    @property
    def recipe(self) -> "Recipe":
        """The recipe of ``kind`` (the entry of ``FRONTENDS``)."""
        return FRONTENDS.get(self.kind)

    @property
    def fixed_normalisation(self) -> bool:
        """True when the output already has the scale a pretrained encoder expects (``panns``, ``passt``)."""
        return self.recipe.fixed_normalisation

    @classmethod
    def from_config(cls, cfg: FeaturesConfig) -> "Frontend":
        return cls(
            sample_rate=int(cfg.sample_rate),
            n_fft=int(cfg.n_fft),
            win_length=int(cfg.win_length),
            hop_length=int(cfg.hop_length),
            n_mels=int(cfg.n_mels),
            f_min=float(cfg.f_min),
            f_max=float(cfg.f_max if cfg.f_max is not None else cfg.sample_rate / 2),
            floor=float(cfg.top_db_floor),
            kind=str(cfg.kind),
        )

    def key(self) -> str:
        """A short stable hash (12 hex digits) of every field and the frontend version.

        ``kind`` enters the hash only when it is not ``logmel``, so caches written before frontends had a kind
        stay valid."""
        fields = dataclasses.asdict(self)
        if fields["kind"] == "logmel":
            del fields["kind"]
        blob = json.dumps({"version": FRONTEND_VERSION, **fields}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples (``center=True``; PaSST's pre-emphasis drops one sample)."""
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        return self.recipe.n_frames(self, n_samples)


# --------------------------------------------------------------------------------------------- recipes
class Recipe:
    """The steps that differ between the log-mel frontends; an entry of ``FRONTENDS`` is one instance.

    This base class is ``logmel``: librosa's Slaney mel filterbank, a periodic Hann window, zero padding,
    ``10 log10(max(mel, floor))``. :class:`LogMel` runs the shared part (the STFT in ``compute_dtype``, the power
    spectrum, the filterbank product) around these steps.
    """

    reflect_padding = False  # pad the STFT's edges by reflection (when the clip is long enough) instead of zeros
    periodic_window = True  # torch.hann_window(periodic=...)
    fixed_normalisation = False  # the output is a pretrained encoder's own input scale: never re-standardised

    def filterbank(self, fe: "Frontend") -> np.ndarray:
        """``[n_mels, n_fft // 2 + 1]`` mel filterbank."""
        import librosa  # deferred: importing librosa costs about a second

        return librosa.filters.mel(sr=fe.sample_rate, n_fft=fe.n_fft, n_mels=fe.n_mels, fmin=fe.f_min,
                                   fmax=fe.f_max, htk=False, norm="slaney")

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """The waveform before the STFT (``[N]`` or ``[B, N]``, in the compute dtype)."""
        return x

    def n_frames(self, fe: "Frontend", n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples (``center=True``)."""
        return 1 + n_samples // fe.hop_length

    def compress(self, mel: torch.Tensor, fe: "Frontend") -> torch.Tensor:
        """Mel power -> the features."""
        return 10.0 * torch.log10(mel.clamp(min=fe.floor))


class PannsRecipe(Recipe):
    """``panns``: as ``logmel`` with reflect padding (torchlibrosa's ``pad_mode="reflect"``); fed as is."""

    reflect_padding = True
    fixed_normalisation = True


class PasstRecipe(Recipe):
    """``passt``: pre-emphasis, a symmetric Hann window, reflect padding, Kaldi mel banks,
    ``(ln(mel + 1e-5) + 4.5) / 5``; fed as is."""

    reflect_padding = True
    periodic_window = False
    fixed_normalisation = True

    def filterbank(self, fe: "Frontend") -> np.ndarray:
        return kaldi_mel_banks(fe.n_mels, fe.n_fft, fe.sample_rate, fe.f_min, fe.f_max)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 2:
            raise ValueError("the PaSST frontend needs at least 2 samples (pre-emphasis)")
        return x[..., 1:] - PASST_PREEMPHASIS * x[..., :-1]

    def n_frames(self, fe: "Frontend", n_samples: int) -> int:
        return 1 + max(n_samples - 1, 0) // fe.hop_length  # the pre-emphasis drops one sample

    def compress(self, mel: torch.Tensor, fe: "Frontend") -> torch.Tensor:
        return (torch.log(mel + PASST_LOG_OFFSET) + 4.5) / 5.0


LOGMEL, PANNS, PASST = Recipe(), PannsRecipe(), PasstRecipe()


def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: int, f_min: float, f_max: float) -> np.ndarray:
    """Kaldi's triangular mel filterbank (``torchaudio.compliance.kaldi.get_mel_banks`` without VTLN warping),
    ``[n_mels, n_fft // 2 + 1]`` with a zero column for the Nyquist bin, as PaSST pads it.

    ``mel(f) = 1127 ln(1 + f / 700)``; filter ``b`` rises from ``mel_lo + b d`` to its peak at ``mel_lo + (b+1) d``
    and falls to zero at ``mel_lo + (b+2) d``, ``d = (mel(f_max) - mel(f_min)) / (n_mels + 1)``, evaluated at the
    mel value of each FFT bin's frequency ``k * sample_rate / n_fft``, ``k < n_fft // 2``.
    """
    def mel(f):
        return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)

    n_bins = n_fft // 2
    lo, hi = mel(f_min), mel(f_max)
    delta = (hi - lo) / (n_mels + 1)
    left = lo + delta * np.arange(n_mels)[:, None]
    centre, right = left + delta, left + 2 * delta
    m = mel(np.arange(n_bins) * (sample_rate / n_fft))[None, :]
    banks = np.maximum(0.0, np.minimum((m - left) / (centre - left), (right - m) / (right - centre)))
    return np.concatenate([banks, np.zeros((n_mels, 1))], axis=1)


class LogMel(torch.nn.Module):
    """``[N]`` or ``[B, N]`` waveform -> ``[n_mels, T]`` or ``[B, n_mels, T]`` log-mel power in dB (float32).

    ``compute_dtype`` is the precision of the STFT and the filterbank product (float64 by default, see the module
    docstring); the output has the input's floating dtype (float32 for float32 input).
    """

    def __init__(self, frontend: Frontend, compute_dtype: torch.dtype = torch.float64):
        super().__init__()
        self.frontend = frontend
        self.recipe = frontend.recipe
        self.compute_dtype = compute_dtype
        mel = self.recipe.filterbank(frontend)
        # non-persistent: derived from the frontend, so they do not belong in a model's state dict
        self.register_buffer("mel_basis", torch.from_numpy(mel).to(compute_dtype), persistent=False)
        self.register_buffer("window", torch.hann_window(frontend.win_length, periodic=self.recipe.periodic_window,
                                                         dtype=compute_dtype), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() not in (1, 2):
            raise ValueError(f"LogMel expects [N] or [B, N] audio, got shape {tuple(wave.shape)}")
        if wave.shape[-1] == 0:
            raise ValueError("LogMel got an empty waveform")
        fe = self.frontend
        out_dtype = wave.dtype if wave.is_floating_point() else torch.float32
        x = self.recipe.preprocess(wave.to(self.compute_dtype))
        # reflect padding (PANNs, PaSST) needs more samples than the padding; shorter clips are zero-padded
        pad_mode = "reflect" if self.recipe.reflect_padding and x.shape[-1] > fe.n_fft // 2 else "constant"
        spec = torch.stft(x, n_fft=fe.n_fft, hop_length=fe.hop_length, win_length=fe.win_length,
                          window=self.window.to(self.compute_dtype), center=True, pad_mode=pad_mode,
                          return_complex=True)
        power = spec.real.square() + spec.imag.square()  # [..., n_fft // 2 + 1, T]
        mel = torch.matmul(self.mel_basis.to(self.compute_dtype), power)  # [..., n_mels, T]
        return self.recipe.compress(mel, fe).to(out_dtype)

    def extra_repr(self) -> str:
        return f"{self.frontend}, compute_dtype={self.compute_dtype}"


@functools.lru_cache(maxsize=8)
def _logmel_module(frontend: Frontend) -> LogMel:
    return LogMel(frontend).eval()


def compute_logmel(wave: np.ndarray, frontend: Frontend) -> np.ndarray:
    """float32 ``[n_mels, T]`` log-mel of a 1-D waveform (``T == frontend.n_frames(len(wave))``)."""
    arr = np.asarray(wave)
    if arr.ndim != 1:
        raise ValueError(f"compute_logmel expects a 1-D waveform, got shape {arr.shape}")
    x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    with torch.no_grad():
        out = _logmel_module(frontend)(x)
    return np.ascontiguousarray(out.numpy(), dtype=np.float32)


class FeatureCache:
    """Log-mels of audio files, cached on disk by content hash and frontend.

    ``get`` reads the file's bytes once: their sha1 names the entry, and on a miss the same bytes are decoded.
    ``hits`` and ``misses`` count the calls served from / written to the cache.
    """

    def __init__(self, cache_dir: str | Path, frontend: Frontend):
        self.cache_dir = Path(cache_dir).expanduser()
        self.frontend = frontend
        self.dir = self.cache_dir / "logmel" / frontend.key()
        self.hits = 0
        self.misses = 0

    def entry_path(self, digest: str) -> Path:
        return self.dir / f"{digest}.npy"

    def get(self, path: Path) -> np.ndarray:
        """float32 ``[n_mels, T]`` log-mel of the audio file (DataError naming the file if it cannot be read)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(path, f"cannot read audio file: {exc.strerror or exc}") from None
        digest = hashlib.sha1(data).hexdigest()
        entry = self.entry_path(digest)
        cached = self._load(entry)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        wave = read_audio_bytes(data, self.frontend.sample_rate, name=path)
        feats = compute_logmel(wave, self.frontend)
        self._store(entry, feats)
        return feats

    def get_many(self, paths: Sequence[Path], *, progress: bool = False, desc: str = "features") -> list[np.ndarray]:
        """``[get(p) for p in paths]`` with an optional tqdm bar on stderr."""
        from tqdm import tqdm

        return [self.get(p) for p in tqdm(paths, desc=desc, disable=not progress, file=sys.stderr,
                                          leave=False, dynamic_ncols=True)]

    # ----------------------------------------------------------------------------------------- internals
    def _load(self, entry: Path) -> np.ndarray | None:
        if not entry.is_file():
            return None
        try:
            arr = np.load(entry, allow_pickle=False)
        except Exception:  # truncated / corrupt entry: recompute
            return None
        if (not isinstance(arr, np.ndarray) or arr.dtype != np.float32 or arr.ndim != 2
                or arr.shape[0] != self.frontend.n_mels or arr.shape[1] == 0 or not np.isfinite(arr).all()):
            return None
        return arr

    def _store(self, entry: Path, feats: np.ndarray) -> None:
        # a read-only or full cache must not stop training: warn and go on uncached
        write_cache_entry(entry, lambda fh: np.save(fh, feats, allow_pickle=False), "feature cache")
