"""Where the two cores went: CPU seconds per process group over a phase (psutil).

Processes come and go during a phase (PostgreSQL backends, pgbench, a handler
subprocess), so a sampler thread reads every group's processes every 0.2 s and keeps
each process's first and last reading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import psutil

Group = Callable[[], list[psutil.Process]]
INTERVAL = 0.2


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def postgres(pgdata: str) -> Group:
    def find() -> list[psutil.Process]:
        with open(os.path.join(pgdata, "postmaster.pid")) as f:
            return tree(int(f.readline()))

    return find


class Meter:
    """Start sampling now; `stop()` gives CPU seconds per group (and the machine's busy seconds)."""

    def __init__(self, groups: dict[str, Group]) -> None:
        self.groups = groups
        self._first: dict[str, dict[int, float]] = {name: {} for name in groups}
        self._last: dict[str, dict[int, float]] = {name: {} for name in groups}
        self._procs: dict[int, psutil.Process] = {}
        self._machine = psutil.cpu_times()
        self._done = threading.Event()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self, first: bool = False) -> None:
        for name, find in self.groups.items():
            try:
                found = find()
            except (OSError, psutil.Error):
                continue
            for proc in found:
                proc = self._procs.setdefault(proc.pid, proc)  # keep one object: cpu_times of the same process
                try:
                    t = proc.cpu_times()
                except psutil.Error:
                    continue
                used = t.user + t.system
                # A process first seen after the start began during the phase: all its CPU counts.
                self._first[name].setdefault(proc.pid, used if first else 0.0)
                self._last[name][proc.pid] = used

    def _run(self) -> None:
        while not self._done.wait(INTERVAL):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._done.set()
        self._thread.join()
        self._sample()
        used = {name: sum(last - self._first[name].get(pid, 0.0) for pid, last in self._last[name].items())
                for name in self.groups}
        machine = psutil.cpu_times()
        used["(whole machine, all users)"] = sum(getattr(machine, f) - getattr(self._machine, f)
                                                 for f in ("user", "system", "nice", "irq", "softirq"))
        return used
