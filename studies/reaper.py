"""``python -m studies.reaper DRIVER_PID RAY_TEMP_DIR``: stops what a runner's local Ray cluster leaves behind
when the runner dies without shutting Ray down (``kill -9``, out-of-memory killer).

A killed driver takes raylet and gcs_server with it, but not every helper (the dashboard and runtime-env agents
survive, children of the dead raylet). The runner starts this small watcher (in its own session, so Ctrl-C does
not reach it) right after ``ray.init`` and holds the write end of its stdin. Every second it records, by PID and
start time, the processes of *this* Ray cluster: the driver's children whose command line names the cluster's
unique temp dir, and everything below them. When stdin closes (the runner exited, however it exited) it sends
SIGTERM, then SIGKILL, to those of them still alive (a PID whose start time changed is another process and is left
alone) and removes the temp dir. On a normal exit ``ray.shutdown()`` has already stopped them all.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, start time in clock ticks) of a live process, or None (gone, or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), float(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cluster_processes(driver: int | None, temp_dir: str) -> dict[int, float]:
    """PID -> start time of the Ray processes of the cluster in ``temp_dir``: the children of ``driver`` (any
    process once the driver is gone) that name the temp dir, and everything below them."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                table[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    candidates = children.get(driver, []) if driver is not None else list(table)
    roots = [p for p in candidates if p != os.getpid() and temp_dir in _cmdline(p)]
    found: dict[int, float] = {}
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in table and pid not in found:
            found[pid] = table[pid][1]
            stack.extend(children.get(pid, []))
    return found


def _alive_same(pid: int, start: float) -> bool:
    st = _stat(pid)
    return st is not None and st[1] == start


def reap(tracked: dict[int, float], grace_s: float = 3.0) -> list[int]:
    """SIGTERM, then SIGKILL, every tracked process still alive; returns the PIDs signalled."""
    hit = [p for p, start in tracked.items() if _alive_same(p, start)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in [p for p in hit if _alive_same(p, tracked[p])]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace_s
        while time.time() < deadline and any(_alive_same(p, tracked[p]) for p in hit):
            time.sleep(0.1)
    return hit


def main(argv: list[str]) -> int:
    driver, temp_dir = int(argv[0]), argv[1]
    tracked: dict[int, float] = {}
    while True:
        tracked.update(cluster_processes(driver, temp_dir))
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready and not os.read(sys.stdin.fileno(), 1024):
            break  # the runner is gone (or done)
    tracked.update(cluster_processes(None, temp_dir))  # the orphans now belong to init (or a subreaper)
    reap(tracked)
    if not os.environ.get("STUDIES_KEEP_RAY_TMP"):
        shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
