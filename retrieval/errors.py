"""The base class of every error the harness reports to its user, and how every command line reports one.

Every user-facing error derives from :class:`HarnessError` and keeps the built-in base that code and tests catch it
by (``ConfigError``, ``DataError``, ``SpecError`` ... are also ``ValueError`` s; ``RunnerError`` and
``WordNetMissing`` ``RuntimeError`` s). A trial's own outcomes are not user errors and stay outside:
``retrieval.train.TrainingDiverged`` (a failed trial that the study records and moves past) and ``StopTrial``
(a scheduler's decision).

Each command line (``python -m retrieval``, ``studies``, ``reports``, ``benchmarks`` and its commands) wraps its
``main`` in :func:`command_line`: a :class:`HarnessError` prints ``error: <message>`` to stderr and exits 2, Ctrl-C
prints ``interrupted`` and exits 130, with no traceback either way.

>>> @command_line
... def main(argv=None):
...     raise UsageError("--split goes with --run")
>>> import contextlib, io
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     code = main()
>>> code, err.getvalue()
(2, 'error: --split goes with --run\\n')

This module imports nothing of the project (every package may import it without a cycle).
"""

from __future__ import annotations

import functools
import sys
from typing import Callable

__all__ = ["ConfigError", "HarnessError", "UsageError", "command_line", "error_text"]

#: The exit status of a command line that reports an error, and of one interrupted by Ctrl-C.
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class HarnessError(Exception):
    """Bad input or a refused operation, with a message that says what and where (a file, row, key or flag):
    a command line prints it as ``error: <message>`` and exits 2 instead of showing a traceback."""


class UsageError(HarnessError, ValueError):
    """Command-line options that do not fit together or are out of range (argparse cannot tell)."""


class ConfigError(HarnessError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range. The message names the key.

    Raised by the trial configuration (:mod:`retrieval.config`, which re-exports it) and by everything that reads
    a configuration's values (encoders, augmentations, the trainer)."""


def error_text(exc: BaseException, *, one_line: bool = False) -> str:
    """The message of ``exc`` as a command line prints it (``one_line``: runs of white space as one space)."""
    text = str(exc)
    return " ".join(text.split()) if one_line else text


def command_line(main: Callable[..., int] | None = None, *, also: tuple[type[BaseException], ...] = (),
                 one_line: bool = False):
    """Decorate a command line's ``main(argv) -> int``: a :class:`HarnessError` (or one of ``also``, e.g.
    ``OSError`` where an output path may be unwritable) prints ``error: <message>`` to stderr and returns 2;
    ``KeyboardInterrupt`` prints ``interrupted`` and returns 130. ``one_line``: the message on one line."""

    def wrap(func: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(func)
        def run(*args, **kwargs) -> int:
            try:
                return func(*args, **kwargs)
            except (HarnessError, *also) as exc:
                print(f"error: {error_text(exc, one_line=one_line)}", file=sys.stderr)
                return EXIT_ERROR
            except KeyboardInterrupt:
                print("interrupted", file=sys.stderr)
                return EXIT_INTERRUPTED

        return run

    return wrap if main is None else wrap(main)
