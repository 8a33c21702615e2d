"""Reading audio files: float32 mono at a requested sample rate.

Decoding is done by ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis, MP3 with libsndfile >= 1.1); resampling by
``librosa.resample`` with ``res_type="soxr_hq"`` when ``soxr`` is installed (librosa's default otherwise).
Every failure is a :class:`~retrieval.data.errors.DataError` naming the file.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import DataError

try:  # soxr is a librosa dependency, but keep working (with librosa's default) without it
    import soxr  # noqa: F401

    _RES_TYPE: str | None = "soxr_hq"
except ImportError:  # pragma: no cover - depends on the environment
    _RES_TYPE = None


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """The file's samples as float32 mono (channels averaged) at ``sample_rate``.

    Raises DataError naming the file if it cannot be decoded, holds no samples or holds only NaNs.
    Isolated non-finite samples (NaN/inf in a float file) are replaced by 0 with a warning.
    """
    return _decode(path, Path(path), sample_rate)


def read_audio_bytes(data: bytes, sample_rate: int, *, name: str | Path) -> np.ndarray:
    """Like :func:`read_audio` for a file already read into memory; ``name`` is used in error messages."""
    return _decode(io.BytesIO(data), name, sample_rate)


def audio_duration(path: Path) -> float:
    """Duration in seconds, from the file header (no decoding). DataError naming the file if unreadable."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises LibsndfileError/RuntimeError/TypeError depending on the failure
        raise DataError(path, f"cannot read audio header: {_short(exc)}") from None
    if not info.samplerate:
        raise DataError(path, "audio header has a sample rate of 0")
    return float(info.frames) / float(info.samplerate)


# --------------------------------------------------------------------------------------------- internals
def _decode(source, name: str | Path, sample_rate: int) -> np.ndarray:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    src = str(source) if isinstance(source, Path) else source
    try:
        data, file_sr = sf.read(src, dtype="float32", always_2d=True)
    except Exception as exc:
        # libsndfile names what it was given: the path, or the repr of an in-memory buffer; the file is named once,
        # in front, so leave out its "Error opening <...>: "
        reason = _short(exc)
        for given in (repr(src), str(src)):
            reason = reason.replace(f"Error opening {given}: ", "").replace(given, str(name))
        raise DataError(name, f"cannot decode audio: {reason} (is it an audio file? replace it, or remove it from "
                              "the data set)") from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise DataError(name, "audio file holds no samples")
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    finite = np.isfinite(wave)
    if not finite.all():
        if np.isnan(wave).all():
            raise DataError(name, "audio samples are all NaN")
        if not finite.any():
            raise DataError(name, "audio samples are all non-finite")
        warnings.warn(f"{name}: {int((~finite).sum())} non-finite audio samples replaced by 0", stacklevel=3)
        wave = np.where(finite, wave, np.float32(0.0))
    if file_sr != sample_rate:
        import librosa  # deferred: importing librosa costs about a second

        kwargs = {"res_type": _RES_TYPE} if _RES_TYPE else {}
        try:
            wave = librosa.resample(wave, orig_sr=file_sr, target_sr=sample_rate, **kwargs)
        except Exception as exc:
            raise DataError(name, f"cannot resample from {file_sr} Hz to {sample_rate} Hz: {_short(exc)}") from None
        if wave.shape[0] == 0:
            raise DataError(name, f"audio is too short to resample from {file_sr} Hz to {sample_rate} Hz")
    return np.ascontiguousarray(wave, dtype=np.float32)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."
