"""The reaper stops the processes of one Ray cluster (found by its temp dir, followed by PID) once its runner is
gone, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a "raylet" naming the temp dir (argv[1]) that starts a worker, then says so in a file (argv[2])
SPAWN = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
         "open(sys.argv[2], 'w').write('ready'); time.sleep(600)")


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until ``path`` exists (the timeout only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_reaper_stops_the_cluster_and_only_it(tmp_path):
    temp_dir = tempfile.mkdtemp(prefix="ray-test-")
    ready = tmp_path / "ready"
    cluster = subprocess.Popen([sys.executable, "-c", SPAWN, temp_dir, str(ready)])  # a "raylet" + a worker
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    reaper = subprocess.Popen([sys.executable, "-m", "studies.reaper", str(os.getpid()), temp_dir],
                              stdin=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    try:
        wait_for_file(ready, cluster)  # the worker exists (the reaper looks again once its stdin closes)
        from studies.reaper import cluster_processes

        tracked = set(cluster_processes(os.getpid(), temp_dir)) - {reaper.pid}  # (the reaper skips itself)
        assert cluster.pid in tracked and len(tracked) == 2
        worker = next(p for p in tracked if p != cluster.pid)
        reaper.stdin.close()  # the runner is done (or dead)
        assert reaper.wait(timeout=300) == 0
        cluster.wait(timeout=300)
        assert not alive(cluster.pid) and not alive(worker)
        assert bystander.poll() is None  # not ours: untouched
        assert not Path(temp_dir).exists()
    finally:
        for p in (cluster, bystander):
            p.kill()
            p.wait()
