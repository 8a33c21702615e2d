"""Strict CSV parsing, shared by the data loaders (:func:`retrieval.data.clotho.read_csv_rows`) and the leaderboard's
file readers (:func:`benchmarks.leaderboard.formats.read_csv_records`).

>>> csv_records('file_name,caption_1\\n"a.wav",rain\\n')
[['file_name', 'caption_1'], ['a.wav', 'rain']]
>>> csv_records('file_name,caption_1\\n"a.wav,rain\\n', "captions.csv")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
retrieval.data.errors.DataError: captions.csv: row 2: not a parsable CSV file (unexpected end of data) in the ...
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import DataError

__all__ = ["csv_records"]


def csv_records(text: str, path: str | Path = "<text>") -> list[list[str]]:
    """Every record of the CSV ``text`` (blank lines as empty lists), or a :class:`DataError` naming ``path`` and the
    1-based number of the record that cannot be parsed.

    Strict: an unterminated quote (which would swallow the rest of the file) or a stray character after a closing
    quote is an error instead of a silently merged field.
    """
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        raise DataError(path, f"not a parsable CSV file ({exc}) in the record starting here",
                        row=len(records) + 1) from None
    return records
