"""Where a study lives: storage URLs -> Optuna storage objects, the rules for sharing them, and a study lock.

Accepted URLs:

- ``sqlite:///PATH`` (relative paths are relative to the working directory, as in SQLAlchemy); the default is
  ``runs/<name>/optuna.db`` in the study's run folder. One runner at a time.
- ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`` (also ``postgresql+psycopg2://``): a server database, for
  several runners and several machines. (SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; with only
  psycopg2 installed the runner names the driver itself. Other tools, e.g. the ``optuna`` CLI, need
  ``postgresql+psycopg2://``.)
- ``journal:PATH``: Optuna's journal file storage, for several runner processes on one machine.

With ``--address`` (an existing, possibly multi-machine Ray cluster) only a server database is accepted: an
SQLite or journal file is local to one machine and does not take concurrent writers from other hosts.

:func:`study_lock` serialises the few read-modify-write steps of the runners (count the trials, ask a new one,
enqueue the seed repeats) across processes: an advisory lock on PostgreSQL, ``flock`` beside a file storage.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import SpecError


class StorageError(SpecError):
    """A storage URL is malformed, unsupported or not allowed here. The message starts with ``storage:``."""


SERVER_SCHEMES = ("postgresql", "postgresql+psycopg2", "postgres")


@dataclass(frozen=True)
class StorageURL:
    """A resolved storage location. ``path`` is absolute for the file-based kinds."""

    url: str
    kind: str  # "sqlite" | "journal" | "postgresql"
    path: Path | None = None
    default: bool = False  # the study's own SQLite file in its run folder (the folder is created with it)

    @property
    def is_server(self) -> bool:
        return self.kind == "postgresql"

    def __str__(self) -> str:
        return redact(self.url)

    def display(self, cwd: str | Path | None = None) -> str:
        """The URL as a user would type it: a file storage under ``cwd`` (default: the working directory) with a
        relative path, a server URL with its password hidden. For what is written into results and reports, which
        must not carry one machine's absolute paths."""
        if self.path is None:
            return redact(self.url)
        try:
            rel = self.path.relative_to(Path(cwd or Path.cwd()).resolve())
        except ValueError:
            return redact(self.url)
        return f"sqlite:///{rel.as_posix()}" if self.kind == "sqlite" else f"journal:{rel.as_posix()}"


def default_url(run_root: str | Path) -> str:
    return f"sqlite:///{Path(run_root).resolve() / 'optuna.db'}"


def resolve(url: str | None, run_root: str | Path) -> StorageURL:
    """Parse and normalise ``url`` (None: the SQLite file in ``run_root``)."""
    if not url:
        path = Path(run_root).resolve() / "optuna.db"
        return StorageURL(f"sqlite:///{path}", "sqlite", path, default=True)
    if url.startswith("journal:"):
        raw = url[len("journal:"):]
        if raw.startswith("//"):  # journal:///abs/path written URL-style
            raw = raw[2:]
        if not raw:
            raise StorageError("storage: journal:PATH needs a file path")
        path = Path(raw).expanduser().resolve()
        return StorageURL(f"journal:{path}", "journal", path)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        raw = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not raw or raw == ":memory:":
            raise StorageError(f"storage: {url!r}: expected sqlite:///PATH to a database file "
                               "(an in-memory database would not persist the study)")
        path = Path(raw).expanduser().resolve()
        return StorageURL(f"sqlite:///{path}", "sqlite", path)
    if scheme in SERVER_SCHEMES:
        if scheme == "postgres":
            url = "postgresql" + url[len("postgres"):]
        return StorageURL(url, "postgresql")
    raise StorageError(f"storage: unsupported URL {redact(url)!r}; use sqlite:///PATH, postgresql://… or journal:PATH")


def check_cluster(storage: StorageURL, address: str | None) -> None:
    """Refuse file storages when the trials may run on several machines (``--address``)."""
    if address and not storage.is_server:
        raise StorageError(
            f"storage: {storage} is a {storage.kind} file, but --address {address} joins a Ray cluster whose "
            "trials may run on other machines; use a server database, e.g. --storage "
            "postgresql://USER:PASSWORD@HOST:5432/DB (SQLite and journal files are for one machine)")


def check_folder(path: Path, what: str, *, create: bool = True) -> None:
    """Make sure ``path`` is (or, with ``create``, can become) a folder: a regular file at ``path`` or at one of
    its parents is a :class:`StorageError` naming it, as is a folder that cannot be created."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise StorageError(f"{what}: {p} is a file, not a folder" + (f" (in {path})" if p != path else "")
                                   + "; pick another path")
            break
    if not path.is_dir():
        if not create:
            raise StorageError(f"{what}: the folder {path} does not exist; create it first or pick another path")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{what}: cannot create the folder {path}: {exc.strerror or exc}") from None


def _check_file(storage: StorageURL, write: bool) -> None:
    """A file storage must be usable before Optuna touches it: its folder there (only the study's default SQLite
    file creates its run folder), the file a file, an SQLite file an SQLite database, writable when ``write``."""
    path = storage.path
    check_folder(path.parent, f"storage: {storage}", create=storage.default and write)
    if path.exists() and not path.is_file():
        raise StorageError(f"storage: {path} is not a file")
    if write and path.exists() and not _writable(path):
        raise StorageError(f"storage: {path} is read-only (the file, its folder or its file system); make it "
                           "writable (SQLite also writes a journal beside the file) or copy the study elsewhere")
    if storage.kind == "journal" or not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise StorageError(f"storage: {path} is not an SQLite database (another file at that path?); "
                               "pick another path for the study's storage")
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"storage: cannot read the SQLite database {path}: {exc} (a damaged file?)") from None


def _writable(path: Path) -> bool:
    """The file and its folder take writes: permissions (what os.access says) and a file system not mounted
    read-only (which root's os.access does not see)."""
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return False
    try:
        return not os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        return True


def open_storage(storage: StorageURL, *, write: bool = True):
    """The Optuna storage object (Ray's OptunaSearch wants an object, not a URL). A file storage that cannot be
    used (see :func:`_check_file`; ``write``: the runner will write to it) is a :class:`StorageError`."""
    import optuna

    if storage.kind in ("journal", "sqlite"):
        _check_file(storage, write)
    try:
        if storage.kind == "journal":
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(str(storage.path)))
        if storage.kind == "sqlite":
            # a longer busy timeout: the status command or a second reader may hold the file briefly
            return optuna.storages.RDBStorage(storage.url, engine_kwargs={"connect_args": {"timeout": 60}})
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - sqlalchemy / optuna errors of a damaged file: name the file
        raise StorageError(f"storage: cannot open {storage}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                           ) from None
    try:
        with _advisory_lock(_with_driver(storage.url), "schema"):  # runners starting together on an empty
            # database would both create Optuna's tables (and one would fail)
            return optuna.storages.RDBStorage(_with_driver(storage.url), engine_kwargs={"pool_pre_ping": True})
    except ImportError as exc:  # psycopg2 missing
        raise StorageError(f"storage: {storage}: {exc} (install the project's 'postgres' extra)") from None
    except Exception as exc:  # noqa: BLE001 - sqlalchemy's OperationalError etc.: say which server failed
        raise StorageError(f"storage: cannot open {storage}: {type(exc).__name__}: {str(exc).strip()}") from None


@contextlib.contextmanager
def study_lock(storage: StorageURL, storage_obj: Any, study_name: str) -> Iterator[None]:
    """An exclusive lock on ``study_name`` shared by every runner of the study (processes and machines)."""
    if storage.is_server:
        with _pg_lock(storage_obj.engine, f"study/{study_name}"):
            yield
        return
    lock_path = storage.path.with_name(storage.path.name + ".studies-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _pg_lock(engine: Any, name: str) -> Iterator[None]:
    """A PostgreSQL advisory lock (session level) named ``name``."""
    from sqlalchemy import text

    key = zlib.crc32(f"audio-retrieval-harness/{name}".encode()) - 2**31  # a signed 32-bit key
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextlib.contextmanager
def _advisory_lock(url: str, name: str) -> Iterator[None]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with _pg_lock(engine, name):
            yield
    finally:
        engine.dispose()


def _with_driver(url: str) -> str:
    """SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; the project installs psycopg2: name it unless psycopg 3
    is there."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def redact(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


__all__ = ["StorageError", "StorageURL", "check_cluster", "check_folder", "default_url", "open_storage", "redact",
           "resolve", "study_lock"]
