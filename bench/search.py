"""The catalogue search at 100,000 titles through one VM: `make bench-search`, or the `search` phase of `make bench`.

Seeds BENCH_SEARCH_TITLES (100,000) titles with bench/seed_titles.py (one copy each; every 7th copy
lost, so availability is not the same everywhere), then for each of BENCH_SEARCH_CLIENTS (1,4) clients each loop
over a fixed mix of searches (`MIX`: prefixes, accents, a typo, ISBNs, broad words, filters, a later
page, no `q`) with GET /titles for BENCH_SECONDS, keep-alive, through nginx. Every latency is kept;
the report gives p50/p95/p99 per query and over the mix, and whether p95 <= 50 ms was met.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from bench import load

TITLES = int(os.environ.get("BENCH_SEARCH_TITLES", "100000"))
# One client: how long one search takes to answer; then several at once: how long under concurrent load.
CLIENTS = [int(n) for n in os.environ.get("BENCH_SEARCH_CLIENTS", "1,4").split(",") if n]
TARGET_P95_MS = 50.0

MIX: tuple[dict[str, str], ...] = (
    {"q": "shadow"}, {"q": "hobb"}, {"q": "dostoevsky"}, {"q": "dostoyevsky"}, {"q": "garcia marquez"},
    {"q": "kafak"}, {"q": "winter fire"}, {"q": "river of the"}, {"q": "the"}, {"q": "979-0-00-001234-5"},
    {"q": "9790000054321"}, {"q": "silent empire", "available": "true"}, {"q": "shadow", "language": "fr"},
    {"q": "city", "author": "Clara Kafka"}, {"q": "iron", "offset": "40"}, {}, {"available": "false"},
    {"language": "de", "offset": "100"},
)


@dataclass
class Result:
    by_query: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def all(self) -> list[float]:
        return [t for times in self.by_query.values() for t in times]


def _path(params: dict[str, str]) -> str:
    return "/titles" + (f"?{urlencode(params)}" if params else "")


def run(base: str, seconds: float, clients: int) -> Result:
    parts = urlsplit(base)
    result = Result({_path(p): [] for p in MIX})
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    go = threading.Event()  # set once stop_at is
    stop_at = [0.0]

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        mine: dict[str, list[float]] = {}
        errors: dict[str, int] = {}
        paths = [_path(p) for p in MIX]
        for path in paths:  # warm up: connections, prepared statements, caches
            conn.request("GET", path)
            conn.getresponse().read()
        start.wait()
        go.wait()
        i = n * 5
        while time.perf_counter() < stop_at[0]:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
                status = 0
            took = (time.perf_counter() - t0) * 1000
            if status == 200:
                mine.setdefault(path, []).append(took)
            else:
                errors[f"{status}"] = errors.get(f"{status}", 0) + 1
        with lock:
            for path, times in mine.items():
                result.by_query[path] += times
            for k, v in errors.items():
                result.errors[k] = result.errors.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    go.set()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - began
    return result


def floor(base: str, seconds: float = 3.0) -> list[float]:
    """GET /health from one client: what any answer through the VM costs here, search or not."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    times: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        conn.request("GET", "/health")
        conn.getresponse().read()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def report(result: Result, titles: int, clients: int, out: Callable[[str], None] = print) -> None:
    out(f"\ncatalogue search through one VM: {titles} titles, {clients} clients, GET /titles, "
        f"{len(result.all)} searches in {result.elapsed:.0f} s ({len(result.all) / max(result.elapsed, 1e-9):.0f}/s)")
    out(f"  {'query':58} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for path, times in result.by_query.items():
        out(f"  {path:58} {len(times):6} {load.percentile(times, 50):8.1f} {load.percentile(times, 95):8.1f}"
            f" {load.percentile(times, 99):8.1f}")
    every = result.all
    p95 = load.percentile(every, 95)
    out(f"  {'the whole mix':58} {len(every):6} {load.percentile(every, 50):8.1f} {p95:8.1f}"
        f" {load.percentile(every, 99):8.1f}")
    out(f"  errors: {result.errors or 'none'}")
    out(f"  target: p95 <= {TARGET_P95_MS:.0f} ms at {titles} titles through one VM: "
        f"{'met' if p95 <= TARGET_P95_MS else 'MISSED'} ({p95:.1f} ms)")
