"""The deploy lock with a lease: taken (waiting for a holder, or for its lease to run out), kept
alive while the deploy runs, broken only on purpose.

A holder's record says until when it holds the lock (`expires`). A live deploy renews it every
third of the lease from a background thread, so only a deploy that died (SIGKILL, a lost machine)
or stalled for a whole lease stops renewing; once its lease has run out, the next deploy takes
the lock over and the audit log says whose lease it was.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from deploy.estate import Estate, LockStore
from deploy.model import AuditEntry, Clock, LockHeld, LockHolder, lease_end, now, utc_now

DEFAULT_LEASE_SECONDS = 120.0


def lease_seconds(default: float = DEFAULT_LEASE_SECONDS) -> float:
    """DEPLOY_LOCK_LEASE (seconds) when set, else `default`."""
    value = os.environ.get("DEPLOY_LOCK_LEASE", "").strip()
    seconds = float(value) if value else default
    if seconds <= 0:
        raise ValueError("DEPLOY_LOCK_LEASE must be a positive number of seconds")
    return seconds


class Lease:
    """Renews `holder`'s lease on `lock` until stopped; `lost` is set if the lock stopped being ours."""

    def __init__(self, lock: LockStore, holder: LockHolder, seconds: float, clock: Clock = utc_now) -> None:
        self.lock, self.seconds, self.clock = lock, seconds, clock
        self.holder = holder
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deploy-lock-lease", daemon=True)

    def renew(self) -> bool:
        """One renewal: the lease runs a full `seconds` from now. False (and `lost`) when not ours."""
        renewed = replace(self.holder, expires=lease_end(self.seconds, self.clock))
        try:
            kept = self.lock.renew(renewed)
        except Exception:  # noqa: BLE001 - a failed call is retried at the next tick; the lease is still running
            return True
        if kept:
            self.holder = renewed
        else:
            self.lost.set()
        return kept

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            if not self.renew():
                return

    def start(self) -> Lease:
        self._thread.start()
        return self

    def stop(self) -> LockHolder:
        """Stop renewing; returns the holder as last stored (what releasing the lock needs)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.seconds)
        return self.holder


def take_lock(estate: Estate, holder: LockHolder, wait: float, say: Callable[[str], None],
              who: str | None = None) -> None:
    """Take the environment's lock, waiting up to `wait` seconds for the holder to finish or its lease to end."""
    deadline = time.monotonic() + wait
    told = 0.0
    while True:
        try:
            expired = estate.lock.acquire(holder)
            if expired is not None:
                say(f"took over the lock of {expired.describe()}: its lease ran out")
                estate.audit.append(AuditEntry(now(), who or holder.who, "take-over", expired.version, "", "",
                                               f"lease of {expired.who} ran out at {expired.expires}"))
            return
        except LockHeld as held:
            if time.monotonic() >= deadline:
                raise
            if time.monotonic() - told > 10:
                say(f"waiting up to {wait:.0f}s: {held}")
                told = time.monotonic()
            time.sleep(0.5)  # polling another process's lock: nothing to wait on but the clock


def break_lock(estate: Estate, who: str, say: Callable[[str], None]) -> None:
    previous = estate.lock.break_lock()
    if previous is None:
        say("no lock to break")
        return
    say(f"broke the deploy lock held by {previous.describe()}")
    estate.audit.append(AuditEntry(now(), who, "break-lock", previous.version, "", "", f"broke lock of {previous.who}"))
