"""Real concurrent clients for the VM tests: patrons cycling borrow/return, readers polling GETs.

Every answer is recorded (kind, status, content type, when, and the colour of the VM the load
balancer says served it, its X-Lending-VM header); a request that gets no HTTP answer at all is
recorded with status 0. Loops are bounded by a stop event and a deadline, so a test can never
leave traffic running. `assert_ran` fails a test whose traffic did not really run: "no failed
request" means nothing when no request was sent.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

import requests

PAYMENT = {"payment_method": "pm_card_visa"}


@dataclass(frozen=True)
class Answer:
    kind: str
    status: int
    content_type: str
    at: float
    detail: str = ""
    vm: str = ""  # X-Lending-VM: the colour behind the load balancer that answered ("" straight to a VM)


@dataclass
class Traffic:
    base: str
    deadline_seconds: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, response: requests.Response | None, error: str = "") -> requests.Response | None:
        answer = Answer(kind, response.status_code if response is not None else 0,
                        response.headers.get("Content-Type", "") if response is not None else "", time.monotonic(),
                        error or (response.text[:300] if response is not None and response.status_code >= 300 else ""),
                        response.headers.get("X-Lending-VM", "") if response is not None else "")
        with self._lock:
            self.answers.append(answer)
        return response

    def _call(self, session: requests.Session, kind: str, method: str, path: str, **kw: object) -> requests.Response | None:
        try:
            return self.record(kind, session.request(method, self.base + path, timeout=30, **kw))  # type: ignore[arg-type]
        except requests.RequestException as exc:
            self.record(kind, None, repr(exc))
            return None

    def _running(self, until: float) -> bool:
        return not self.stop.is_set() and time.monotonic() < until

    def reader(self, path: str) -> None:
        until = time.monotonic() + self.deadline_seconds
        with requests.Session() as session:
            while self._running(until):
                self._call(session, "GET", "GET", path)

    def patron(self, token: str, book_id: str) -> None:
        """Borrow then return one copy, again and again; after an unclear answer, look before acting."""
        until = time.monotonic() + self.deadline_seconds
        auth = {"Authorization": f"Bearer {token}"}
        with requests.Session() as session:
            while self._running(until):
                seen = self._call(session, "GET", "GET", f"/books/{book_id}")
                if seen is None or seen.status_code != 200:
                    continue
                if seen.json()["status"] == "available":
                    self._call(session, "borrow", "POST", f"/books/{book_id}/borrow", json=PAYMENT,
                               headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
                else:
                    self._call(session, "return", "POST", f"/books/{book_id}/return", headers=auth)

    def start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self.threads.append(thread)
        thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=40)
        assert not any(t.is_alive() for t in self.threads)

    def count(self, *kinds: str, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.kind in kinds and a.at >= since)

    def failures(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if not 200 <= a.status < 300]

    def served_by(self, since: float = 0.0) -> Counter[str]:
        """Answers per colour of the VM that served them (from the load balancer's X-Lending-VM)."""
        with self._lock:
            return Counter(a.vm for a in self.answers if a.vm and a.at >= since)

    def assert_ran(self, at_least: int, *, borrows_returns: int = 1, served_by: Collection[str] | None = None) -> None:
        """Fail unless traffic really ran: `at_least` HTTP answers, `borrows_returns` of them borrows or
        returns, and (if given) answers from exactly the colours `served_by`, each at least once."""
        with self._lock:
            answered = sum(1 for a in self.answers if a.status)
        colours = self.served_by()
        summary = f"{answered} answers ({self.count('borrow', 'return')} borrows/returns), served by {dict(colours)}"
        print(f"background traffic: {summary}")
        assert answered >= at_least, f"background traffic did not run: {summary}, expected at least {at_least}"
        assert self.count("borrow", "return") >= borrows_returns, \
            f"background traffic did not run: {summary}, expected at least {borrows_returns} borrows/returns"
        if served_by is not None:
            assert set(colours) == set(served_by), f"expected answers from exactly {sorted(served_by)}: {summary}"
