"""SynthCaps generator versions: what differs between them, as one small frozen settings object per version.

Every module of the generator reads the version-dependent numbers from a :class:`VersionSettings` (never from a
module constant that a later version changed), so an old version keeps generating byte-identical data while the
default moves on. :func:`version_settings` looks a version up; :data:`VERSIONS` lists them, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .constants import GENERATOR_VERSION, HEADROOM_DB, SHIFT_GAIN_RANGE_DB


@dataclass(frozen=True)
class RecordingShift:
    """The recording conditions of the shifted splits, drawn per clip (see "What is in a clip" in the package
    docstring). Ranges are uniform; ``*_hz`` ranges are log-uniform."""

    # level offset after everything else; 2.0.0: several ranges, one chosen uniformly per clip
    gain_db: tuple[float, float] | tuple[tuple[float, float], ...] = SHIFT_GAIN_RANGE_DB
    # 1.1.0: the colouring of the shifted splits; 2.0.0: of an unseen recording device (every clip has a device)
    tilt_db: float = 8.0  # tilt t ~ U(-tilt_db, tilt_db): low shelf -t/2, high shelf +t/2
    pivot_hz: tuple[float, float] = (500.0, 2000.0)
    n_peaks: int = 1  # peaking EQs, each present with probability p_peak
    p_peak: float = 0.7
    peak_hz: tuple[float, float] = (200.0, 5000.0)
    peak_gain_db: tuple[float, float] = (3.0, 8.0)  # |gain|, random sign
    peak_q: tuple[float, float] = (0.7, 2.0)
    # interference (2.0.0): broadband noise bursts that replace the signal for a moment, and a narrow band of
    # stationary noise; levels relative to the clip's RMS before the shift
    bursts: tuple[int, int] = (0, 0)  # number of bursts, inclusive range
    burst_s: tuple[float, float] = (0.2, 0.5)
    burst_db: tuple[float, float] = (0.0, 0.0)
    p_band: float = 0.0
    band_hz: tuple[float, float] = (300.0, 5000.0)  # centre frequency of the interfering band
    band_width_oct: tuple[float, float] = (0.3, 0.6)
    band_db: tuple[float, float] = (0.0, 0.0)
    # 2.0.0: per-band compression (automatic gain control) of the unseen devices: contrast factor
    # a(f) = a0 + c1 cos(pi u) + c2 cos(2 pi u) over log frequency u (see render.compression_curve)
    compression_a0: tuple[float, float] | None = None
    compression_c: float = 0.0  # c1, c2 ~ U(-c, c)


#: 2.0.0: the three recording devices of the development split (one per clip, uniformly): smooth frequency
#: responses (tilt around a pivot, peaking EQs), the same for every seed, like the devices of a real recording
#: campaign. Validation and evaluation clips are recorded with unseen devices, one random device per clip.
DEV_DEVICES: tuple[dict, ...] = (
    {"name": "A", "tilt_db": 3.0, "tilt_pivot_hz": 1000.0, "peaks": [{"freq_hz": 2500.0, "gain_db": 5.0, "q": 1.0}]},
    {"name": "B", "tilt_db": -4.0, "tilt_pivot_hz": 700.0, "peaks": [{"freq_hz": 400.0, "gain_db": -6.0, "q": 1.2}]},
    {"name": "C", "tilt_db": 1.0, "tilt_pivot_hz": 1500.0,
     "peaks": [{"freq_hz": 800.0, "gain_db": 4.0, "q": 0.8}, {"freq_hz": 4000.0, "gain_db": -5.0, "q": 1.5}]},
)


@dataclass(frozen=True)
class VersionSettings:
    """What one generator version generates."""

    version: str
    sizes: dict[str, tuple[int, int, int]]
    shifted_splits: tuple[str, ...]
    shift: RecordingShift = field(default_factory=RecordingShift)
    headroom_db: float = HEADROOM_DB  # one fixed factor on every mix
    dev_devices: tuple[dict, ...] = ()  # 2.0.0: recording devices of the unshifted splits
    # 2.0.0: captions of these splits use phrasings (dialects) the development captions never use
    dialect_splits: tuple[str, ...] = ()
    dialects: tuple[tuple[str, float], ...] = ()  # (dialect, probability per caption); the rest are plain
    variations: bool = False  # write the caption variations file of the development split


V1_1_0 = VersionSettings(
    version="1.1.0",
    sizes={"tiny": (64, 24, 24), "small": (400, 100, 100), "default": (2000, 500, 500)},
    shifted_splits=("evaluation",),
)

V2_0_0 = VersionSettings(
    version="2.0.0",
    sizes={"tiny": (64, 24, 24), "small": (400, 200, 200), "default": (2000, 500, 500)},
    shifted_splits=("validation", "evaluation"),
    shift=RecordingShift(gain_db=((-16.0, -6.0), (6.0, 10.0)), tilt_db=10.0, n_peaks=2, p_peak=0.8,
                         peak_hz=(150.0, 5000.0), peak_gain_db=(4.0, 10.0), bursts=(0, 1), burst_s=(0.2, 0.5),
                         burst_db=(-6.0, 0.0), p_band=0.0, compression_a0=(0.5, 0.8), compression_c=0.15),
    headroom_db=-9.0,
    dev_devices=DEV_DEVICES,
    dialect_splits=("validation", "evaluation"),
    dialects=(("bt", 0.3), ("eda", 0.2), ("var", 0.15)),
    variations=True,
)

VERSIONS: dict[str, VersionSettings] = {s.version: s for s in (V1_1_0, V2_0_0)}
assert GENERATOR_VERSION in VERSIONS


def version_settings(version: str | None = None) -> VersionSettings:
    """The settings of ``version`` (default: :data:`GENERATOR_VERSION`); ``ValueError`` names the known ones."""
    version = GENERATOR_VERSION if version is None else str(version)
    if version not in VERSIONS:
        raise ValueError(f"unknown SynthCaps generator version {version!r}; known: {', '.join(VERSIONS)}")
    return VERSIONS[version]
