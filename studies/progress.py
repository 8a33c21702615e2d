"""Live progress of a study on the terminal: one compact line when something changes (at most every few seconds),
plus a line every minute while nothing does::

    [  1:42] quick  finished 5/12 (complete 3, pruned 1, failed 1)  running 2: #5 ep 4/12 0.183, #6 ep 1/12 0.051
             best val_map10 0.2134 (#3, fusion.kind=late, audio_encoder.width=16, ...)

Counts and the best trial come from the Optuna study (so they include other runners of the same study); the
running trials and their latest epoch come from Ray Tune.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ray.tune import ProgressReporter
from ray.tune.experiment import Trial

from .search import StudySearcher
from .study import format_params


class StudyProgress(ProgressReporter):
    """A Tune progress reporter that prints study-level progress lines (see the module docstring)."""

    def __init__(self, searcher: StudySearcher, *, name: str, max_epochs: int, every_s: float = 5.0,
                 idle_s: float = 60.0, out: TextIO | None = None):
        self.searcher = searcher
        self.name = name
        self.max_epochs = max_epochs
        self.every_s = every_s
        self.idle_s = idle_s
        self.out = out
        self._start = time.time()
        self._last_time = 0.0
        self._last_line = ""

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles the run config; the stream stays behind
        return {k: v for k, v in self.__dict__.items() if k != "out"}

    def setup(self, start_time: float | None = None, total_samples: int | None = None, metric: str | None = None,
              mode: str | None = None, **kwargs: Any) -> None:
        self._start = start_time or time.time()

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        now = time.time()
        if done:
            return True
        if now - self._last_time < self.every_s:
            return False
        return self._line(trials) != self._last_line or now - self._last_time >= self.idle_s

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        line = self._line(trials)
        self._last_line, self._last_time = line, time.time()
        elapsed = int(time.time() - self._start)
        out = self.out or sys.stdout
        out.write(f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {line}\n")
        out.flush()

    def _line(self, trials: list[Trial]) -> str:
        p = self.searcher.progress()
        c = p["counts"]
        finished = c["COMPLETE"] + c["PRUNED"] + c["FAIL"]
        running = []
        metric = self.searcher.metric
        for t in trials:
            if t.status not in (Trial.RUNNING, Trial.PENDING):
                continue
            number = t.config.get("trial", {}).get("number", "?")
            r = t.last_result or {}
            if "epoch" in r:
                value = r.get(metric)
                running.append(f"#{number} ep {int(r['epoch'])}/{self.max_epochs}"
                               + (f" {value:.3f}" if isinstance(value, float) else ""))
            else:
                running.append(f"#{number} starting")
        line = (f"{self.name}  finished {finished}/{p['budget']} (complete {c['COMPLETE']}, "
                f"pruned {c['PRUNED']}, failed {c['FAIL']})  running {len(running)}"
                + (": " + ", ".join(running) if running else ""))
        others = c["RUNNING"] - len(running)
        if others > 0:
            line += f"  (+{others} running elsewhere or stale)"
        if p["best"]:
            b = p["best"]
            line += f"\n         best {metric} {b['value']:.4f} (#{b['number']}, {format_params(b['params'])})"
        return line


__all__ = ["StudyProgress"]
