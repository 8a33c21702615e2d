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
SPAWN = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); " \
        "time.sleep(120)"


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_reaper_stops_the_cluster_and_only_it(tmp_path):
    temp_dir = tempfile.mkdtemp(prefix="ray-test-")
    cluster = subprocess.Popen([sys.executable, "-c", SPAWN, temp_dir])  # a "raylet" naming the temp dir + a worker
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    reaper = subprocess.Popen([sys.executable, "-m", "studies.reaper", str(os.getpid()), temp_dir],
                              stdin=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    try:
        time.sleep(3)  # the worker exists; the reaper has looked at least once
        from studies.reaper import cluster_processes

        tracked = set(cluster_processes(os.getpid(), temp_dir)) - {reaper.pid}  # (the reaper skips itself)
        assert cluster.pid in tracked and len(tracked) == 2
        worker = next(p for p in tracked if p != cluster.pid)
        reaper.stdin.close()  # the runner is done (or dead)
        assert reaper.wait(timeout=60) == 0
        cluster.wait(timeout=10)
        assert not alive(cluster.pid) and not alive(worker)
        assert bystander.poll() is None  # not ours: untouched
        assert not Path(temp_dir).exists()
    finally:
        for p in (cluster, bystander):
            p.kill()
            p.wait()
