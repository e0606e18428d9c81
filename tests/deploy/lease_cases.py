"""The lease scenario every lock store must pass (the file lock here, the SSM one against moto), on a moved clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from deploy.estate import LockStore
from deploy.lease import Lease
from deploy.model import LockHeld, LockHolder, lease_end


class MovedClock:
    """A clock the test moves by hand: no waiting for real time to pass."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def move(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def a_renewed_lease_holds_and_an_expired_one_goes_to_exactly_one_taker(lock: LockStore, clock: MovedClock) -> None:
    lease = 10.0
    holder = LockHolder("dora", "v1", "long deploy", expires=lease_end(lease, clock))
    assert lock.acquire(holder) is None
    keeper = Lease(lock, holder, lease, clock)

    clock.move(9)
    assert keeper.renew() and not keeper.lost.is_set()  # now until t+19
    clock.move(6)  # t+15: the first lease would have run out; the renewed one has not
    assert holder.expired(clock()) and not keeper.holder.expired(clock())
    with pytest.raises(LockHeld, match="dora since"):
        lock.acquire(LockHolder("eve", "v2", "too early", expires=lease_end(lease, clock)))
    assert lock.current() == keeper.holder

    clock.move(5)  # t+20: dora stopped renewing (killed) a full lease ago
    start, won, refused = threading.Barrier(8), [], []

    def take(n: int) -> None:
        taker = LockHolder(f"taker-{n}", "v3", "after the lease", expires=lease_end(lease, clock))
        start.wait()
        try:
            replaced = lock.acquire(taker)
            won.append((taker, replaced))
        except LockHeld as held:
            refused.append(held.holder)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7, (won, refused)
    winner, replaced = won[0]
    assert replaced is not None and replaced.token == holder.token  # the expired holder it replaced, for the audit
    assert lock.current() == winner
    assert {h.token for h in refused} <= {winner.token, holder.token}

    # dora's process, if it was only stalled, learns that the lock is gone and cannot take it back.
    assert not keeper.renew() and keeper.lost.is_set()
    lock.release(keeper.holder)
    assert lock.current() == winner
    lock.release(winner)
    assert lock.current() is None
