"""The error type of study specs, in a module of its own so that :mod:`studies.storage` (whose
:class:`~studies.storage.StorageError` is one) and :mod:`studies.spec` (which opens storages) need not import each
other."""

from __future__ import annotations

from retrieval.errors import HarnessError

__all__ = ["SpecError"]


class SpecError(HarnessError, ValueError):
    """A study spec is invalid. The message starts with the dotted spec key."""
