"""The one validator of the harness's inputs: value checks and typed coercion shared by the trial configuration
(:mod:`retrieval.config`) and the study specs (:mod:`studies.spec`).

Both read YAML or JSON, where ``true``/``false`` load as :class:`bool`, a subclass of :class:`int`: no check here
takes a bool for a number (``true`` is not 1). Their errors read ``"<dotted key>: <message>"`` and are of the
caller's error class (``ConfigError``, ``SpecError``): :func:`require` for a condition, :func:`boolean`,
:func:`integer`, :func:`number`, :func:`string` and :func:`one_of` for one value, :func:`coerce` for a value and
its type annotation (what the config's dataclass fields declare), :func:`check_pattern` for a ``str.format``
pattern.

Example::

    >>> coerce(tuple[str, ...], "clotho, audiocaps", "data.train_on"), coerce(tuple[int, ...], [1, 2.0], "sizes")
    (('clotho', 'audiocaps'), (1, 2))
    >>> coerce(float | None, "1e-5", "optim.lr")
    1e-05
    >>> coerce(bool, 1, "train.amp")
    Traceback (most recent call last):
    ...
    ValueError: train.amp: expected true/false, got 1
"""

from __future__ import annotations

import dataclasses
import math
import string as _string
import types
import typing
from typing import Any, Callable, Literal

__all__ = ["boolean", "check_pattern", "coerce", "float_from_string", "integer", "is_int", "is_integral",
           "is_number", "is_real", "number", "one_of", "require", "string"]

Error = type[Exception]


def require(cond: bool, key: str, msg: str, error: Error = ValueError) -> None:
    """Raise ``error(f"{key}: {msg}")`` unless ``cond``."""
    if not cond:
        raise error(f"{key}: {msg}")


# --------------------------------------------------------------------------------------------- predicates
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


# --------------------------------------------------------------------------------------------- one value
def boolean(v: Any, key: str, error: Error = ValueError) -> bool:
    """``v`` when it is a bool; else ``error("<key>: expected true/false, got <v>")``."""
    require(isinstance(v, bool), key, f"expected true/false, got {v!r}", error)
    return v


def integer(v: Any, key: str, error: Error = ValueError) -> int:
    """``v`` as an int: an int (not a bool) or a float with an integer value (``2.0`` -> 2)."""
    require(is_integral(v), key, f"expected an integer, got {v!r}", error)
    return v if is_int(v) else int(v)


def number(v: Any, key: str, error: Error = ValueError, *, finite: bool = False) -> float | int:
    """``v`` when it is a number (``finite``: and finite), or the number a string reads as (``"1e-5"``)."""
    parsed = float_from_string(v)
    if parsed is not None:
        return parsed
    require(is_number(v) if finite else is_real(v), key, f"expected a number, got {v!r}", error)
    return v


def string(v: Any, key: str, error: Error = ValueError) -> str:
    """``v`` when it is a string."""
    require(isinstance(v, str), key, f"expected a string, got {v!r}", error)
    return v


def one_of(v: Any, choices: typing.Sequence[Any], key: str, error: Error = ValueError) -> Any:
    """``v`` when it is one of ``choices``."""
    require(v in choices, key, f"{v!r} is not one of {', '.join(map(repr, choices))}", error)
    return v


def check_pattern(pattern: str, key: str, known: tuple[str, ...], required: tuple[str, ...],
                  error: Error = ValueError) -> None:
    """A ``str.format`` pattern (an audio path pattern) that uses only the ``known`` placeholders and every
    ``required`` one."""
    try:
        names = [f for _, f, _, _ in _string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        raise error(f"{key}: {pattern!r} is not a valid pattern ({exc})") from None
    unknown = [n for n in names if n not in known]
    require(not unknown, key, f"unknown placeholder {{{unknown[0] if unknown else ''}}} "
                              f"(known: {', '.join('{' + k + '}' for k in known)})", error)
    missing = [r for r in required if r not in names]
    require(not missing, key, f"must contain {{{missing[0] if missing else ''}}}", error)


# --------------------------------------------------------------------------------------------- typed values
def is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def coerce(tp: Any, value: Any, key: str, error: Error = ValueError, *,
           nested: Callable[[type, Any, str], Any] | None = None) -> Any:
    """``value`` checked against the annotation ``tp`` and converted where the input format allows it: ``bool``,
    ``int`` (``2.0`` -> 2), ``float`` (ints, and strings that read as numbers), ``str``, ``Literal[...]``,
    ``X | None`` and the other unions (the first member that fits), ``tuple[X, ...]`` (a list, or a string of
    comma-separated items: ``--set data.train_on=clotho,audiocaps``). A dataclass type is built by ``nested(tp,
    value, key)``."""
    if is_dataclass_type(tp) and nested is not None:
        return nested(tp, value, key)
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:  # pragma: no cover - a bug in the caller's annotations
            raise error(f"{key}: unsupported type {tp}")
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        require(isinstance(value, (list, tuple)), key, f"expected a list, got {value!r}", error)
        return tuple(coerce(args[0], v, f"{key}[{i}]", error, nested=nested) for i, v in enumerate(value))
    if origin is Literal:
        return one_of(value, typing.get_args(tp), key, error)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            require(type(None) in args, key, "must not be null", error)
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(arg, value, key, error, nested=nested)
            except error as exc:
                errors.append(str(exc))
        raise error(errors[0] if len(errors) == 1 else f"{key}: {value!r} does not fit {tp}")
    if tp is bool:
        return boolean(value, key, error)
    if tp is int:
        return integer(value, key, error)
    if tp is float:
        return float(number(value, key, error))
    if tp is str:
        return string(value, key, error)
    raise error(f"{key}: unsupported type {tp}")  # pragma: no cover - a bug in the caller's annotations
