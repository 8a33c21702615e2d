"""Fixtures for the study runner tests: runner subprocesses whose Ray processes are tracked by PID, tiny study
specs, and a throw-away PostgreSQL server on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml


# --------------------------------------------------------------------------------------------- processes
def _ppids() -> dict[int, int]:
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def descendants(pid: int) -> set[int]:
    """PIDs of every live process below ``pid``."""
    parents = _ppids()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class Runner:
    """``python -m studies ...`` in a subprocess. Every process it starts (raylet, gcs_server, workers, ...) is
    recorded by PID while it runs, so the test can check that none outlives it, and kill leftovers."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None):
        self.args = args
        self.log = Path(tempfile.mkstemp(prefix="studies-runner-", suffix=".log")[1])
        self._fh = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "studies", *args], cwd=cwd, stdout=self._fh,
                                     stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                     start_new_session=True)
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._track, daemon=True)
        self._watch.start()

    def _track(self) -> None:
        while not self._stop.is_set():
            self.seen |= descendants(self.proc.pid)
            if self.proc.poll() is not None:
                break
            self._stop.wait(0.3)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"runner did not finish in {timeout} s:\n{self.output()[-4000:]}") from None
        finally:
            self._stop.set()
            self._watch.join(timeout=5)

    def kill(self) -> None:
        """SIGKILL the runner itself (its Ray processes are left to the test)."""
        self.seen |= descendants(self.proc.pid)
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._stop.set()

    def output(self) -> str:
        self._fh.flush()
        return self.log.read_text(errors="replace")

    def leftovers(self, grace_s: float = 180.0) -> list[int]:
        """Processes this runner started that are still alive: returns as soon as none is; ``grace_s`` only
        guards against a hang (a process that never goes away)."""
        deadline = time.monotonic() + grace_s
        while True:
            left = sorted(p for p in self.seen if alive(p))
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def kill_leftovers(self) -> list[str]:
        left = [p for p in self.seen if alive(p)]
        names = [command(p) for p in left]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return names

    def assert_no_leftovers(self) -> None:
        left = self.leftovers()
        if left:
            names = self.kill_leftovers()
            raise AssertionError(f"processes started by the runner outlived it: {names}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.kill_leftovers()
        self._fh.close()
        self.log.unlink(missing_ok=True)


@pytest.fixture
def runner(tmp_path):
    """``runner(args, cwd=tmp_path)`` starts ``python -m studies ARGS``; at teardown every runner and every process
    it started is gone (the test fails if the test itself did not make sure of it)."""
    started: list[Runner] = []

    def start(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Runner:
        r = Runner([str(a) for a in args], cwd or tmp_path, env)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


# --------------------------------------------------------------------------------------------- specs
def write_tiny_spec(path: Path, cache_dir: Path, **sections) -> Path:
    """A SynthCaps-tiny study spec at ``path`` (sections override the defaults below)."""
    spec = {
        "name": "tiny",
        "base": {"extends": "synthcaps-tiny", "data": {"cache_dir": str(cache_dir)}},
        "space": {"fusion.kind": {"categorical": ["none", "late"]},
                  "optim.lr_audio": {"loguniform": [1.0e-4, 1.0e-2]}},
        "sampler": {"kind": "tpe", "seed": 0, "n_startup_trials": 2},
        "scheduler": {"kind": "asha", "grace_period": 1, "reduction_factor": 2},
        "budget": {"num_samples": 4, "max_epochs": 2},
        "resources": {"cpu": 1, "max_concurrent": 2},
    }
    spec.update(sections)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def tiny_spec(tmp_path, cache_dir):
    """``tiny_spec(name="tiny", **sections) -> Path``: write a SynthCaps-tiny spec into the test's folder."""

    def make(name: str = "tiny", **sections) -> Path:
        return write_tiny_spec(tmp_path / f"{name}.yaml", cache_dir, name=name, **sections)

    return make
