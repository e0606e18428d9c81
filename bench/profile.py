"""py-spy over a running service: where its CPU goes (BENCH_PROFILE=1)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        return None
    # --gil: only samples that hold the GIL, i.e. Python CPU work, not threads blocked on sockets.
    # --nonblocking: read the process without pausing it, so sampling does not add to its CPU time.
    return subprocess.Popen([exe, "record", "--format", "raw", "--subprocesses", "--gil", "--nonblocking", "-r", "200",
                             "-d", str(int(seconds)), "-o", str(out), "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


BUCKETS = [  # first match wins, checked from the leaf up
    ("jwt verify (jose/cryptography)", ("jose/", "cryptography/")),
    ("stripe lib + requests/urllib3", ("stripe/", "requests/", "urllib3/")),
    ("database driver (pg8000, psycopg)", ("pg8000/", "psycopg/", "psycopg_pool/")),
    # the log line and EMF: Powertools' until 2026-12-04, our own code (in Powertools' format) since
    ("logging + EMF", ("aws_lambda_powertools/", "logging/", "lending_observability/")),
    ("chalice local HTTP host", ("chalice/", "http/server.py", "socketserver.py")),
    ("json", ("json/",)),
    ("our code", ("/layers/", "/functions/", "app.py")),
]


def summary(raw: Path, top: int = 12) -> list[str]:
    """Share of on-CPU samples per area (the innermost known area of each stack) and hottest frames."""
    areas: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(f.startswith(("wait (threading", "select (selectors", "accept (socket", "_wait_for_tstate_lock"))
               or "idle" in f for f in frames[-1:]):
            continue  # idle threads
        total += n
        area = "other (stdlib, interpreter)"
        for frame in reversed(frames):
            hit = next((name for name, keys in BUCKETS if any(k in frame for k in keys)), None)
            if hit:
                area = hit
                break
        areas[area] += n
        leaves[frames[-1][:110]] += n
    if not total:
        return ["  (no samples)"]
    lines = [f"  {name:34} {100 * n / total:5.1f}%" for name, n in areas.most_common()]
    lines.append("  hottest frames:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in leaves.most_common(top)]
    return lines
