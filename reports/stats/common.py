"""What the statistics families share: input checks and the Welch-Satterthwaite degrees of freedom.

Score arrays must be 1-D, non-empty, finite (no NaN / inf) and of equal length; violations raise ``ValueError``
naming the argument and, for bad values, the first bad index. Arms of runs are sequences of such arrays (or 2-D
arrays, one row per run), all over the same queries.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np



@dataclass(frozen=True)
class Difference:
    """What every comparison reports first: each arm's (or system's) mean score, ``diff = mean_a - mean_b`` and a
    CI of ``diff`` at ``ci_level``; the tests add their own fields after these (so ``to_dict`` keeps this order)."""

    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    ci_level: float

    def to_dict(self) -> dict:
        """Plain ``dict`` of the fields (JSON-serialisable: floats, ints and ``None``)."""
        return asdict(self)


def _as_scores(x, name: str) -> np.ndarray:
    """``x`` as a finite, non-empty, 1-D float64 array, or ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of real numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per query), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one query score")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "NaN" if np.isnan(arr[i]) else "a non-finite value"
        raise ValueError(f"{name} contains {what} at index {i} ({int(bad.sum())} bad value(s) in total)")
    return arr



def _check_integer(value, name: str, lo: int, what: str) -> int:
    """``value`` as an int when it is an integer (not a bool) >= ``lo``, else ``ValueError`` saying ``what`` it must
    be."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def _check_n_resamples(n_resamples) -> int:
    return _check_integer(n_resamples, "n_resamples", 1, "a positive integer")


def _check_seed(seed) -> int:
    return _check_integer(seed, "seed", 0, "a non-negative integer")


def _check_probability(x, name: str, example: str = "") -> float:
    """``x`` as a float in the open interval (0, 1), else ``ValueError`` naming ``name`` (``example``: a hint)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1), got {x!r}") from None
    if not 0.0 < x < 1.0:
        raise ValueError(f"{name} must be in (0, 1){example}, got {x!r}")
    return x


def _check_level(level) -> float:
    return _check_probability(level, "level", " (e.g. 0.95)")


def _check_finite(x, name: str, *, non_negative: bool = False) -> float:
    """``x`` as a finite float (``non_negative``: also >= 0), else ``ValueError`` naming ``name``."""
    what = "a finite number >= 0" if non_negative else "a finite number"
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, got {x!r}") from None
    if not math.isfinite(x) or (non_negative and x < 0):
        raise ValueError(f"{name} must be {what}, got {x!r}")
    return x



def _welch_satterthwaite(components: Sequence[np.ndarray], dfs: Sequence[int | np.ndarray]) -> np.ndarray:
    """``(sum_i c_i)^2 / sum_i (c_i^2 / nu_i)``; NaN where every ``c_i`` is 0 (``nu_i``: scalars or arrays)."""
    total = sum(components)
    denom = sum(c**2 / nu for c, nu in zip(components, dfs))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, total**2 / np.where(denom > 0, denom, 1.0), np.nan)
