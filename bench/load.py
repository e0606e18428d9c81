"""Closed-loop load: C clients, each on its own book, borrow -> return for a fixed time.

Clients speak plain http.client (keep-alive, reconnect on a dropped connection) so the
client side costs as little CPU as it can; every latency is recorded.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Samples:
    cycles: list[float] = field(default_factory=list)
    borrows: list[float] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    in_flight: list[int] = field(default_factory=list)
    completed_at: list[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def merge(self, other: Samples) -> None:
        self.cycles += other.cycles
        self.borrows += other.borrows
        self.returns += other.returns
        self.completed_at += other.completed_at
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Http:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post(self, path: str, body: dict[str, object] | None, headers: dict[str, str]) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        hdrs = {**headers, "Content-Type": "application/json", "Content-Length": str(len(data))}
        for attempt in range(3):
            try:
                self.conn.request("POST", path, body=data, headers=hdrs)
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status, payload
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


Call = Callable[[str, str, dict[str, object] | None, str], tuple[int, bytes]]


def http_caller(base: str) -> Callable[[], Call]:
    """A factory of per-thread callers (method is always POST here)."""

    def make() -> Call:
        client = Http(base)

        def call(path: str, token: str, body: dict[str, object] | None, _: str = "") -> tuple[int, bytes]:
            return client.post(path, body, {"Authorization": f"Bearer {token}"})

        return call

    return make


def cycles(make_caller: Callable[[], Call], books: list[str], tokens: list[str], seconds: float,
           warmup_cycles: int = 2, on_start: Callable[[], None] = lambda: None) -> Samples:
    """Each client i loops borrow(books[i]) -> return(books[i]) until the time is up."""
    total = Samples()
    lock = threading.Lock()
    start = threading.Barrier(len(books) + 1)
    go = threading.Event()
    stop_at = [0.0]

    def client(book: str, token: str) -> None:
        call = make_caller()
        mine = Samples()
        borrow, give_back = f"/books/{book}/borrow", f"/books/{book}/return"
        body = {"payment_method": "pm_card_visa"}
        for _ in range(warmup_cycles):
            call(borrow, token, body, "")
            call(give_back, token, None, "")
        start.wait()
        go.wait()
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            status, payload = call(borrow, token, body, "")
            t1 = time.perf_counter()
            if status != 201:
                mine.error(f"borrow {status}")
            status2, _ = call(give_back, token, None, "")
            t2 = time.perf_counter()
            if status2 != 200:
                mine.error(f"return {status2}")
            if status == 201 and status2 == 200:
                mine.borrows.append((t1 - t0) * 1000)
                mine.returns.append((t2 - t1) * 1000)
                mine.cycles.append((t2 - t0) * 1000)
        with lock:
            total.merge(mine)

    threads = [threading.Thread(target=client, args=(b, t), daemon=True) for b, t in zip(books, tokens, strict=True)]
    for t in threads:
        t.start()
    start.wait()  # every client has warmed up (connections, caches)
    on_start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    go.set()
    for t in threads:
        t.join()
    total.elapsed = time.perf_counter() - began
    return total


def borrows(make_caller: Callable[[], Call], books: list[str], tokens: list[str], seconds: float, *,
            steady_after: float = 2.0, on_steady: Callable[[], None] = lambda: None,
            on_end: Callable[[], None] = lambda: None) -> Samples:
    """Open-ended borrowing: each client takes the next unborrowed book; counts requests in flight.

    `on_steady` is called `steady_after` seconds in, and `on_end` when the window closes (before the
    borrows still under way finish, which are not counted): a meter started and stopped by them sees
    the steady state's CPU, as the borrows completed after `steady_after` count its borrows."""
    total = Samples()
    lock = threading.Lock()
    queue = list(reversed(books))
    in_flight = [0]
    start = threading.Barrier(len(tokens) + 1)
    go = threading.Event()
    stop_at = [0.0]
    began = [0.0]

    def client(token: str) -> None:
        call = make_caller()
        mine = Samples()
        start.wait()
        go.wait()
        while time.perf_counter() < stop_at[0]:
            with lock:
                if not queue:
                    break
                book = queue.pop()
                in_flight[0] += 1
            t0 = time.perf_counter()
            try:
                status, _ = call(f"/books/{book}/borrow", token, {"payment_method": "pm_card_visa"}, "")
            finally:
                with lock:
                    in_flight[0] -= 1
            done = time.perf_counter()
            if done > stop_at[0]:
                break  # finished after the window: not counted
            if status == 201:
                mine.borrows.append((done - t0) * 1000)
                mine.completed_at.append(done - began[0])
            else:
                mine.error(f"borrow {status}")
        with lock:
            total.merge(mine)

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in tokens]
    for t in threads:
        t.start()
    start.wait()
    began[0] = time.perf_counter()
    stop_at[0] = began[0] + seconds
    go.set()
    steady = False
    while time.perf_counter() < stop_at[0]:
        time.sleep(0.05)
        total.in_flight.append(in_flight[0])
        if not steady and time.perf_counter() >= began[0] + steady_after:
            steady = True
            on_steady()
    on_end()
    for t in threads:
        t.join()
    total.elapsed = seconds
    return total
