"""The one exception type of the data layer."""

from __future__ import annotations

from pathlib import Path

from ..errors import HarnessError


class DataError(HarnessError, ValueError):
    """A data file is missing, malformed or unreadable.

    The message always names the file and, where relevant, the 1-based CSV row (the header is row 1) and the
    field, e.g. ``/data/clotho_captions_development.csv: row 7, field 'caption_3': empty caption``.
    The parts are also kept as attributes (``file``, ``row``, ``field``, ``reason``).
    """

    def __init__(self, file: str | Path, reason: str, *, row: int | None = None, field: str | None = None):
        self.file = str(file)
        self.row = row
        self.field = field
        self.reason = reason
        where = []
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = f"{self.file}: " + (", ".join(where) + ": " if where else "")
        super().__init__(prefix + reason)

    def __reduce__(self):  # picklable across worker processes (keyword-only arguments)
        return _rebuild, (self.file, self.reason, self.row, self.field)


def _rebuild(file: str, reason: str, row: int | None, field: str | None) -> DataError:
    return DataError(file, reason, row=row, field=field)
