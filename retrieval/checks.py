"""Value checks shared by the trial configuration (:mod:`retrieval.config`) and the study specs (:mod:`studies.spec`).

Both read YAML or JSON, where ``true``/``false`` load as :class:`bool`, a subclass of :class:`int`: no check here
takes a bool for a number (``true`` is not 1). Their errors read ``"<dotted key>: <message>"``; :func:`require`
raises the caller's error class (``ConfigError``, ``SpecError``) in that form.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["float_from_string", "is_int", "is_integral", "is_number", "is_real", "require"]


def require(cond: bool, key: str, msg: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error(f"{key}: {msg}")`` unless ``cond``."""
    if not cond:
        raise error(f"{key}: {msg}")


def is_int(v: Any) -> bool:
    """An :class:`int`, not a bool."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_integral(v: Any) -> bool:
    """An :class:`int` (not a bool) or a float with an integer value (``2.0``)."""
    return is_int(v) or (isinstance(v, float) and v.is_integer())


def is_real(v: Any) -> bool:
    """An :class:`int` or :class:`float`, not a bool (NaN and infinities included)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite :class:`int` or :class:`float`, not a bool."""
    return is_real(v) and math.isfinite(v)


def float_from_string(v: Any) -> float | None:
    """``float(v)`` for a string that reads as a number (YAML 1.1 loads ``1e-5``, without a dot, as a string);
    None for anything else."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return None
