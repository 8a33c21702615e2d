"""Storage URLs, the refusal rules for clusters, and the study lock."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import yaml

from studies.storage import StorageError, check_cluster, default_url, open_storage, redact, resolve, study_lock


def test_default_is_sqlite_in_the_run_folder(tmp_path):
    s = resolve(None, tmp_path / "runs" / "quick")
    assert s.kind == "sqlite" and s.path == (tmp_path / "runs/quick/optuna.db").resolve()
    assert s.url == default_url(tmp_path / "runs" / "quick") and not s.is_server


def test_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = resolve("sqlite:///db/o.db", "unused")
    assert rel.path == tmp_path / "db/o.db" and rel.url == f"sqlite:///{tmp_path / 'db/o.db'}"
    assert resolve("sqlite:////abs/o.db", "x").path == Path("/abs/o.db")
    j = resolve("journal:j/study.log", "x")
    assert (j.kind, j.path, j.url) == ("journal", tmp_path / "j/study.log", f"journal:{tmp_path / 'j/study.log'}")
    pg = resolve("postgresql://u:secret@db.example:5432/studies", "x")
    assert pg.kind == "postgresql" and pg.is_server and pg.path is None
    assert "secret" not in str(pg) and str(pg) == "postgresql://u:***@db.example:5432/studies"
    assert resolve("postgres://u@h/db", "x").url == "postgresql://u@h/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "journal:", "optuna.db"])
def test_unsupported_urls(url):
    with pytest.raises(StorageError, match=r"^storage: "):
        resolve(url, "x")


def test_cluster_refuses_files(tmp_path):
    for url in (None, "journal:j.log"):
        s = resolve(url, tmp_path)
        check_cluster(s, None)  # one machine: fine
        with pytest.raises(StorageError, match=r"^storage: .*--address auto.*postgresql://"):
            check_cluster(s, "auto")
    check_cluster(resolve("postgresql://u@h/db", tmp_path), "10.0.0.1:6379")


def test_cli_refuses_sqlite_with_address(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "s", "base": "synthcaps-tiny", "budget": {"num_samples": 1},
                                    "space": {"fusion.kind": {"categorical": ["none"]}}}))
    for extra, kind in (([], "sqlite"), (["--storage", f"journal:{tmp_path / 'j.log'}"], "journal")):
        proc = subprocess.run([sys.executable, "-m", "studies", "run", str(spec), "--address", "127.0.0.1:1",
                               "--runs-dir", str(tmp_path / "runs"), *extra],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"error: storage: ") and f"is a {kind} file" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_file_storages_open(tmp_path):
    # the study's default SQLite file creates its run folder; a storage the user names must have its folder
    with pytest.raises(StorageError, match=r"the folder .*/j does not exist; create it first"):
        open_storage(resolve(f"journal:{tmp_path / 'j' / 'study.log'}", tmp_path / "run"))
    assert not (tmp_path / "j").exists()
    (tmp_path / "j").mkdir()
    for url in (None, f"journal:{tmp_path / 'j' / 'study.log'}"):
        s = resolve(url, tmp_path / "run")
        study = optuna.create_study(study_name="x", storage=open_storage(s))
        study.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=2)
        assert len(optuna.load_study(study_name="x", storage=open_storage(s)).trials) == 2


def test_unreachable_server_is_a_clear_error():
    s = resolve("postgresql://nobody@127.0.0.1:1/none", "x")
    with pytest.raises(StorageError, match=r"^storage: cannot open postgresql://nobody@127.0.0.1:1/none"):
        open_storage(s)


def test_study_lock_excludes_other_processes(tmp_path):
    s = resolve(f"journal:{tmp_path / 'study.log'}", tmp_path)
    stamp, trying, released = tmp_path / "child.txt", tmp_path / "trying", tmp_path / "released"
    child = (f"import os; from studies.storage import resolve, study_lock\n"
             f"s = resolve({s.url!r}, '.')\n"
             f"open({str(trying)!r}, 'w').write('')\n"
             f"with study_lock(s, None, 'x'):\n"
             f"    open({str(stamp)!r}, 'w').write(str(os.path.exists({str(released)!r})))\n")
    with study_lock(s, None, "x"):
        proc = subprocess.Popen([sys.executable, "-c", child], cwd=Path(__file__).resolve().parents[2])
        deadline = time.monotonic() + 300  # a hang guard only
        while not trying.exists():  # the child is about to ask for the lock (or asks already)
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert not stamp.exists()
        released.write_text("")  # written while the lock is still held: the child can only see it if it waited
    assert proc.wait(timeout=300) == 0
    assert stamp.read_text() == "True"  # the child entered the lock only after this process let go of it


def test_study_lock_excludes_other_threads(tmp_path):
    s = resolve(None, tmp_path)
    order = []

    def hold(name):
        with study_lock(s, None, "x"):
            order.append(f"{name}+")
            time.sleep(0.3)
            order.append(f"{name}-")

    threads = [threading.Thread(target=hold, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])


def test_runners_opening_a_new_postgresql_database_together(postgres_url, tmp_path):
    import psycopg2

    server, _ = postgres_url.rsplit("/", 1)
    host_port = server.split("@", 1)[1]
    host, port = host_port.split(":")
    conn = psycopg2.connect(host=host, port=int(port), user="postgres", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute("CREATE DATABASE fresh_schema")
    conn.close()
    url = f"{server}/fresh_schema"
    code = ("import sys, optuna; from studies.storage import open_storage, resolve\n"
            "s = open_storage(resolve(sys.argv[1], '.'))\n"
            "optuna.create_study(study_name='race', storage=s, load_if_exists=True)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]  # all create Optuna's tables at once in an empty database
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
