"""Shared test set-up: offline, quiet, and one cache folder per test session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A session-wide cache (generated SynthCaps + log-mel features) so tests share the work."""
    path = tmp_path_factory.mktemp("cache")
    return path


@pytest.fixture
def error_from_file(tmp_path):
    """``error_from_file(name, text, read, error)``: write ``text`` to ``tmp_path / name``, expect ``read(path)`` to
    raise ``error``; returns ``(path, message)`` for the test to check what the message names."""

    def check(name: str, text: str, read, error: type[BaseException]) -> tuple[Path, str]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(error) as info:
            read(path)
        return path, str(info.value)

    return check


# ---------------------------------------------------------------- a real PostgreSQL server (study + board tests)
def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server on 127.0.0.1 (a fresh data dir, trust auth) and the URL of a new database on it."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (the project's 'postgres' extra)")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                             "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    opts = f"-k {root} -p {port} -h 127.0.0.1 -c fsync=off -c max_connections=100"
    subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "server.log"),
                             "-w", "-t", "60", "start"], check=True, capture_output=True)
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE studies")
        conn.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/studies"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
