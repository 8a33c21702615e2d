"""Persistent leaderboards: SQLite by default, PostgreSQL accepted (SQLAlchemy Core; no torch here).

Where (first that is set): ``--boards URL``, ``$LEADERBOARD_DB``, ``sqlite:///runs/leaderboards/boards.db``
(relative to the working directory). URLs: ``sqlite:///PATH`` (a bare file path means the same),
``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`` (``postgres://`` and ``postgresql+psycopg2://`` too; psycopg2 is
named as the driver when psycopg 3 is not installed). Two tables, ``lb_boards`` and ``lb_entries``, prefixed so
they can share a database with the Optuna studies.

Rules:

* A board is created by its first submission and bound to that ground truth's fingerprint
  (:func:`benchmarks.leaderboard.formats.fingerprint_of`) and to its cut-off ``k`` (mAP@k; column ``k``, NULL --
  a board created before boards had a k -- reads as 10); a submission scored on another ground truth, or at another
  k, is refused with an error naming both. The board keeps the canonical query -> relevant-files mapping and the
  evaluation files that no query is relevant for (``other_files``, JSON; NULL when none).
* One *active* entry per (board, team, system) -- enforced by a partial unique index, so it also holds between
  concurrent writers. A second submission for the same team and system is refused unless ``replace=True``; then
  the old entry is kept with status ``superseded`` (and ``replaced_by`` = the new id), never deleted or overwritten.
* Each entry stores its summary metrics -- ``map_k`` (mAP@k at the board's k; NULL for entries stored before it
  existed, read as ``map10``, which they were scored at), ``map10``, R@1/5/10 -- and its per-query AP@k and best
  rank (JSON, in the board's canonical query order: sorted by query text), which the significance tests pair on,
  ``n_reduced``: how many of the submission's file names carried a directory prefix and were matched by their base
  name, and ``n_ties``: how many query rows of a score matrix had a relevant file's score tied (NULL for entries
  stored before these columns existed; an older database gets the columns when it is opened).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .formats import GroundTruth, LeaderboardError
from .kcut import DEFAULT_K

__all__ = ["DEFAULT_BOARDS_URL", "ENV_VAR", "BoardError", "BoardInfo", "BoardStore", "Entry", "redact",
           "resolve_boards_url"]

DEFAULT_BOARDS_URL = "sqlite:///runs/leaderboards/boards.db"
ENV_VAR = "LEADERBOARD_DB"
_NAME_MAX = 200


class BoardError(LeaderboardError):
    """A refused or failed board operation (wrong split, duplicate entry, unknown board, database error)."""


@dataclass(frozen=True)
class BoardInfo:
    name: str
    fingerprint: str
    n_queries: int
    n_files: int
    source: str
    created_at: str
    n_entries: int = 0  # active entries (filled by list_boards)
    k: int = DEFAULT_K  # the cut-off of mAP@k
    n_other: int = 0  # evaluation files that no query is relevant for (part of n_files)


@dataclass(frozen=True)
class Entry:
    id: int
    board: str
    team: str
    system: str
    status: str  # "active" | "superseded"
    submitted_at: str
    superseded_at: str | None
    replaced_by: int | None
    source: str
    source_sha256: str | None
    map10: float
    r1: float
    r5: float
    r10: float
    n_queries: int
    n_missing: int
    ap: np.ndarray = field(repr=False)  # per-query AP@k, canonical query order
    rank: np.ndarray = field(repr=False)  # per-query best rank (NaN: not in the top k), canonical order
    n_reduced: int | None = None  # file names matched by their base name (None: stored before it was recorded)
    k: int = DEFAULT_K  # the board's cut-off
    map_k: float | None = None  # mAP@k (None: = map10, the entry's k being 10)
    n_ties: int | None = None  # score-matrix query rows with a tied relevant score (None: not recorded)

    def __post_init__(self) -> None:
        if self.map_k is None:
            object.__setattr__(self, "map_k", self.map10)

    @property
    def label(self) -> str:
        return f"{self.team} / {self.system}"


def redact(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def resolve_boards_url(url: str | None = None) -> str:
    """``url``, else ``$LEADERBOARD_DB``, else the default SQLite file; SQLite paths made absolute."""
    url = url or os.environ.get(ENV_VAR) or DEFAULT_BOARDS_URL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:  # a bare file path
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if scheme == "sqlite":
        raw = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not raw or raw.startswith(":memory:"):
            raise BoardError(f"boards: {url!r}: expected sqlite:///PATH to a database file (an in-memory database "
                             "would not keep the boards)")
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        if scheme == "postgres":
            url = "postgresql" + url[len("postgres"):]
        if url.startswith("postgresql://"):
            import importlib.util

            if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
                url = "postgresql+psycopg2://" + url[len("postgresql://"):]
        return url
    raise BoardError(f"boards: unsupported URL {redact(url)!r}; use sqlite:///PATH or postgresql://USER@HOST/DB")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _check_name(what: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise BoardError(f"{what} must not be empty")
    if len(value) > _NAME_MAX or any(ord(c) < 32 for c in value):
        raise BoardError(f"{what} {value[:40]!r}: at most {_NAME_MAX} printable characters")
    return value


def _tables():
    from sqlalchemy import Column, Double, ForeignKey, Index, Integer, MetaData, String, Table, Text

    md = MetaData()
    boards = Table(
        "lb_boards", md,
        Column("name", String(_NAME_MAX), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("n_queries", Integer, nullable=False),
        Column("n_files", Integer, nullable=False),
        Column("mapping", Text, nullable=False),  # canonical [[query, [files...]], ...] JSON
        Column("source", Text, nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("k", Integer),  # the cut-off of mAP@k; NULL: a board created before boards had one (k = 10)
        Column("other_files", Text),  # JSON list of evaluation files relevant to no query; NULL: none
    )
    entries = Table(
        "lb_entries", md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("board", String(_NAME_MAX), ForeignKey("lb_boards.name"), nullable=False),
        Column("team", String(_NAME_MAX), nullable=False),
        Column("system", String(_NAME_MAX), nullable=False),
        Column("status", String(16), nullable=False),
        Column("submitted_at", String(40), nullable=False),
        Column("superseded_at", String(40)),
        Column("replaced_by", Integer),
        Column("source", Text, nullable=False),
        Column("source_sha256", String(64)),
        Column("map10", Double, nullable=False),
        Column("r1", Double, nullable=False),
        Column("r5", Double, nullable=False),
        Column("r10", Double, nullable=False),
        Column("n_queries", Integer, nullable=False),
        Column("n_missing", Integer, nullable=False),
        Column("per_query", Text, nullable=False),  # {"ap": [...], "rank": [int | null, ...]} canonical order
        Column("n_reduced", Integer),  # file names reduced to their base name; NULL: stored before it was recorded
        Column("map_k", Double),  # mAP@k at the board's k; NULL: stored before it was recorded (then k = 10)
        Column("n_ties", Integer),  # score-matrix rows with a tied relevant score; NULL: not recorded
    )
    active = entries.c.status == "active"
    Index("lb_entries_one_active", entries.c.board, entries.c.team, entries.c.system, unique=True,
          sqlite_where=active, postgresql_where=active)
    return md, boards, entries


class BoardStore:
    """The boards in one database. ``create=False`` refuses to create a missing SQLite file (read-only use)."""

    def __init__(self, url: str | None = None, *, create: bool = True):
        from sqlalchemy import create_engine
        from sqlalchemy.exc import SQLAlchemyError

        self.url = resolve_boards_url(url)
        kwargs: dict[str, Any] = {}
        if self.url.startswith("sqlite:///"):
            path = Path(self.url[len("sqlite:///"):])
            if not path.exists():
                if not create:
                    raise BoardError(f"no boards database at {path} (submit an entry first, or give --boards URL / "
                                     f"${ENV_VAR})")
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 60}
        else:
            kwargs["pool_pre_ping"] = True
        self._md, self._boards, self._entries = _tables()
        try:
            self.engine = create_engine(self.url, **kwargs)
            self._md.create_all(self.engine, checkfirst=True)
            self._add_missing_columns()
        except ImportError as exc:
            raise BoardError(f"boards: {redact(self.url)}: {exc} (install the project's 'postgres' extra)") from None
        except SQLAlchemyError as exc:
            raise BoardError(f"boards: cannot open {redact(self.url)}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0]}") from None

    def _add_missing_columns(self) -> None:
        """Bring a database made by an older version up to date (columns added since: ``lb_entries.n_reduced``,
        ``lb_entries.map_k``, ``lb_entries.n_ties``, ``lb_boards.k``, ``lb_boards.other_files``)."""
        from sqlalchemy import inspect, text
        from sqlalchemy.exc import SQLAlchemyError

        double = "DOUBLE PRECISION" if self.engine.dialect.name == "postgresql" else "FLOAT"
        for table, name, ddl in (("lb_entries", "n_reduced", "INTEGER"), ("lb_entries", "map_k", double),
                                 ("lb_entries", "n_ties", "INTEGER"), ("lb_boards", "k", "INTEGER"),
                                 ("lb_boards", "other_files", "TEXT")):
            if name in {c["name"] for c in inspect(self.engine).get_columns(table)}:
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
            except SQLAlchemyError:  # added at the same time by another process: fine if it is there now
                if name not in {c["name"] for c in inspect(self.engine).get_columns(table)}:
                    raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "BoardStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ boards
    def _board_row(self, conn, name: str):
        from sqlalchemy import select

        return conn.execute(select(self._boards).where(self._boards.c.name == name)).mappings().first()

    @staticmethod
    def _info(row, n_entries: int = 0) -> BoardInfo:
        other = json.loads(row["other_files"]) if row.get("other_files") else []
        return BoardInfo(name=row["name"], fingerprint=row["fingerprint"], n_queries=row["n_queries"],
                         n_files=row["n_files"], source=row["source"], created_at=row["created_at"],
                         n_entries=n_entries, k=DEFAULT_K if row.get("k") is None else int(row["k"]),
                         n_other=len(other))

    def board_names(self) -> list[str]:
        from sqlalchemy import select

        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(self._boards.c.name).order_by(self._boards.c.name))]

    def get_board(self, name: str) -> BoardInfo:
        with self.engine.connect() as conn:
            row = self._board_row(conn, name)
        if row is None:
            names = self.board_names()
            known = ", ".join(repr(n) for n in names) if names else "none yet"
            raise BoardError(f"no board named {name!r} in {redact(self.url)} (boards: {known})")
        return self._info(row)

    def list_boards(self) -> list[BoardInfo]:
        from sqlalchemy import func, select

        e = self._entries
        with self.engine.connect() as conn:
            counts = dict(conn.execute(select(e.c.board, func.count()).where(e.c.status == "active")
                                       .group_by(e.c.board)).all())
            rows = conn.execute(select(self._boards).order_by(self._boards.c.name)).mappings().all()
        return [self._info(r, int(counts.get(r["name"], 0))) for r in rows]

    def ground_truth_mapping(self, name: str) -> list[tuple[str, list[str]]]:
        """The board's canonical ``[(query, [files])]`` (sorted by query: the order of per-query scores)."""
        with self.engine.connect() as conn:
            row = self._board_row(conn, name)
        if row is None:
            self.get_board(name)  # raises the helpful error
        return [(q, files) for q, files in json.loads(row["mapping"])]

    def other_files(self, name: str) -> list[str]:
        """The board's evaluation files that no query is relevant for (sorted; empty when none were given)."""
        with self.engine.connect() as conn:
            row = self._board_row(conn, name)
        if row is None:
            self.get_board(name)
        return json.loads(row["other_files"]) if row["other_files"] else []

    def ensure_board(self, name: str, gt: GroundTruth, k: int = DEFAULT_K) -> BoardInfo:
        """The board ``name``, created and bound to ``gt`` and ``k`` if new; refuses a ground truth with another
        fingerprint, or another k."""
        from sqlalchemy.exc import IntegrityError

        name = _check_name("board name", name)
        fp = gt.fingerprint
        with self.engine.connect() as conn:
            row = self._board_row(conn, name)
        if row is None:
            mapping = [[q, sorted(files)] for q, files in sorted(gt.mapping().items())]
            try:
                with self.engine.begin() as conn:
                    conn.execute(self._boards.insert().values(
                        name=name, fingerprint=fp, n_queries=gt.n_queries, n_files=len(gt.files),
                        mapping=json.dumps(mapping, ensure_ascii=False), source=gt.source or "",
                        created_at=_now(), k=int(k),
                        other_files=json.dumps(sorted(gt.other_files), ensure_ascii=False) if gt.other_files
                        else None))
            except IntegrityError:  # created concurrently: check it below like any existing board
                pass
            with self.engine.connect() as conn:
                row = self._board_row(conn, name)
        info = self._info(row)
        if info.fingerprint != fp:
            raise BoardError(
                f"board {name!r} is bound to the ground truth with fingerprint {info.fingerprint} ({info.n_queries} "
                f"queries, {info.n_files} files, from {info.source or '?'}), but this submission was scored on "
                f"{gt.source or 'a ground truth'} with fingerprint {fp} ({gt.n_queries} queries, {len(gt.files)} "
                "files): it is for another split or version of the ground truth; use another board")
        if info.k != k:
            raise BoardError(f"board {name!r} ranks by mAP@{info.k} (k={info.k}, set when it was created), but this "
                             f"submission was scored at k={k}: give --k {info.k}, or use another board for mAP@{k}")
        return info

    # ----------------------------------------------------------------------------------------- entries
    def submit(self, board: str, gt: GroundTruth, result, *, team: str, system: str, source: str,
               source_sha256: str | None = None, replace: bool = False) -> Entry:
        """Store a scored submission (a :class:`~benchmarks.leaderboard.scoring.ScoreResult` on ``gt``)."""
        from sqlalchemy import select, update
        from sqlalchemy.exc import IntegrityError

        team = _check_name("team", team)
        system = _check_name("system", system)
        info = self.ensure_board(board, gt, getattr(result, "k", DEFAULT_K))
        order = gt.canonical_order()
        per_query = {"ap": [float(result.ap[i]) for i in order],
                     "rank": [None if np.isnan(result.rank[i]) else int(result.rank[i]) for i in order]}
        s = result.summary()
        e = self._entries
        now = _now()
        try:
            with self.engine.begin() as conn:
                old = conn.execute(select(e.c.id, e.c.map10, e.c.map_k, e.c.submitted_at).where(
                    (e.c.board == info.name) & (e.c.team == team) & (e.c.system == system)
                    & (e.c.status == "active"))).first()
                if old is not None and not replace:
                    raise BoardError(
                        f"board {info.name!r} already has an entry for team {team!r}, system {system!r} (entry "
                        f"#{old.id}, mAP@{info.k} {old.map10 if old.map_k is None else old.map_k:.4f}, "
                        f"submitted {old.submitted_at}); entries are never "
                        "overwritten: use --replace to supersede it (the old entry is kept as superseded), or "
                        "another --system name")
                if old is not None:
                    conn.execute(update(e).where(e.c.id == old.id).values(status="superseded", superseded_at=now))
                new_id = conn.execute(e.insert().values(
                    board=info.name, team=team, system=system, status="active", submitted_at=now,
                    source=str(source), source_sha256=source_sha256, map10=s["map10"], r1=s["r1"], r5=s["r5"],
                    r10=s["r10"], n_queries=s["n_queries"], n_missing=s["n_missing"],
                    per_query=json.dumps(per_query), n_reduced=int(s.get("n_reduced", 0)),
                    map_k=s[f"map{info.k}"], n_ties=int(s.get("n_ties", 0)))).inserted_primary_key[0]
                if old is not None:
                    conn.execute(update(e).where(e.c.id == old.id).values(replaced_by=new_id))
        except IntegrityError:
            raise BoardError(f"board {info.name!r}: another entry for team {team!r}, system {system!r} was stored at "
                             "the same time; look at the board and retry (with --replace to supersede it)") from None
        return self.entry(int(new_id))

    @staticmethod
    def _entry(row, k: int = DEFAULT_K) -> Entry:
        pq = json.loads(row["per_query"])
        return Entry(id=int(row["id"]), board=row["board"], team=row["team"], system=row["system"],
                     status=row["status"], submitted_at=row["submitted_at"], superseded_at=row["superseded_at"],
                     replaced_by=row["replaced_by"], source=row["source"], source_sha256=row["source_sha256"],
                     map10=float(row["map10"]), r1=float(row["r1"]), r5=float(row["r5"]), r10=float(row["r10"]),
                     n_queries=int(row["n_queries"]), n_missing=int(row["n_missing"]),
                     ap=np.asarray(pq["ap"], dtype=np.float64),
                     rank=np.asarray([np.nan if r is None else r for r in pq["rank"]], dtype=np.float64),
                     n_reduced=None if row.get("n_reduced") is None else int(row["n_reduced"]), k=k,
                     map_k=None if row.get("map_k") is None else float(row["map_k"]),
                     n_ties=None if row.get("n_ties") is None else int(row["n_ties"]))

    def entry(self, entry_id: int) -> Entry:
        from sqlalchemy import select

        with self.engine.connect() as conn:
            row = conn.execute(select(self._entries).where(self._entries.c.id == entry_id)).mappings().first()
        if row is None:
            raise BoardError(f"no entry #{entry_id}")
        return self._entry(row, self.get_board(row["board"]).k)

    def entries(self, board: str, *, include_superseded: bool = False) -> list[Entry]:
        """The board's entries in submission order (active only unless ``include_superseded``)."""
        from sqlalchemy import select

        k = self.get_board(board).k
        e = self._entries
        q = select(e).where(e.c.board == board)
        if not include_superseded:
            q = q.where(e.c.status == "active")
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(e.c.id)).mappings().all()
        return [self._entry(r, k) for r in rows]
