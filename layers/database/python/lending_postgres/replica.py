"""Catalogue reads on a streaming read replica, with the primary as the fallback.

Every read first asks the replica how far behind it is (one short query on the same connection).
When the replica is unreachable, fails mid-read, is behind by more than `max_lag_seconds`, or its lag
is unknown (no WAL receiver streaming from the primary, so it may be stale without limit), the
read runs on the primary instead and the replica is left alone for `retry_after_seconds`: no
request fails because of the replica. Each fallback is logged once per window as a warning that
is also a CloudWatch embedded-metric document (`ReplicaFallback`, by reason), and when the replica
serves again that is logged too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending.errors import DatabaseUnavailable
from lending_postgres.connection import ConnectionPool

T = TypeVar("T")
log = logging.getLogger("lending_postgres.replica")
METRIC_NAMESPACE = "LibraryLending"

# Seconds the replica is behind: 0 when it streams from the primary and has replayed all it received
# (or is not in recovery). Infinity when unknown: with no WAL receiver streaming, "replayed all it
# received" says nothing about the primary, so the replica may be stale without limit.
# pg_stat_wal_receiver shows `status` only to pg_read_all_stats (e.g. pg_monitor) and superusers;
# for other roles a receiver process that exists counts as streaming.
LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0::float8 "
    "WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE coalesce(status, 'streaming') = 'streaming') "
    "THEN 'Infinity'::float8 "
    "WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0::float8 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, 'Infinity'::float8) END")
_RECOVERY_CONFLICT = "40001"  # "canceling statement due to conflict with recovery"


class ReplicaPool:
    """Reads on `replica` while it is up and close enough to `primary`; on `primary` otherwise."""

    def __init__(self, replica: ConnectionPool, primary: ConnectionPool, *, max_lag_seconds: float = 30.0,
                 retry_after_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.replica = replica
        self.primary = primary
        self.max_lag_seconds = max_lag_seconds
        self.retry_after_seconds = retry_after_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._avoid_until = 0.0
        self._falling_back: str | None = None
        self.served = {"replica": 0, "primary": 0}

    def read(self, query: Callable[[pg8000.native.Connection], T]) -> T:
        """Run `query` on the replica, or on the primary when the replica cannot serve it."""
        if self._clock() >= self._avoid_until:
            try:
                with self.replica.connection() as conn:
                    lag = float(conn.run(LAG_SQL)[0][0])
                    if lag <= self.max_lag_seconds:
                        result = query(conn)
                        self._served_by_replica()
                        return result
                self._fall_back(*_behind(lag))
            except DatabaseUnavailable:
                self._fall_back("unavailable")
            except DatabaseError as exc:
                if not _is_recovery_conflict(exc):
                    raise
                self._fall_back("recovery_conflict")
        with self.primary.connection() as conn:
            result = query(conn)
        with self._lock:
            self.served["primary"] += 1
        return result

    @contextmanager
    def connection(self) -> Iterator[pg8000.native.Connection]:
        """A connection for reading: the replica's when it is usable, else the primary's.

        Prefer `read()`: it also moves a read that fails half-way on the replica to the primary.
        """
        pool = self.primary
        if self._clock() >= self._avoid_until:
            try:
                with self.replica.connection() as conn:
                    lag = float(conn.run(LAG_SQL)[0][0])
                if lag <= self.max_lag_seconds:
                    pool = self.replica
                    self._served_by_replica()
                else:
                    self._fall_back(*_behind(lag))
            except DatabaseUnavailable:
                self._fall_back("unavailable")
        with pool.connection() as conn:  # the pool hands back the connection just checked
            yield conn

    def _served_by_replica(self) -> None:
        with self._lock:
            self.served["replica"] += 1
            recovered, self._falling_back = self._falling_back, None
        if recovered:
            log.info("read replica serving again", extra={"replica_recovered_from": recovered})

    def _fall_back(self, reason: str, lag: float | None = None) -> None:
        with self._lock:
            self._avoid_until = self._clock() + self.retry_after_seconds
            self._falling_back = reason
        detail = f", {lag:.2f}s behind (bound {self.max_lag_seconds:g}s)" if lag is not None else ""
        log.warning(f"read replica {reason}{detail}: catalogue reads go to the primary for "
                    f"{self.retry_after_seconds:g}s", extra=_metric(reason, lag))


def _behind(lag: float) -> tuple[str, float | None]:
    """The fallback reason for a lag over the bound: an unknown lag is not a number of seconds."""
    return ("lag_unknown", None) if math.isinf(lag) or math.isnan(lag) else ("lagging", lag)


def _metric(reason: str, lag: float | None) -> dict[str, Any]:
    """Fields that make the JSON log line a CloudWatch embedded-metric document."""
    fields: dict[str, Any] = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": METRIC_NAMESPACE, "Dimensions": [["reason"]],
            "Metrics": [{"Name": "ReplicaFallback", "Unit": "Count"}]}]},
        "ReplicaFallback": 1, "reason": reason,
    }
    if lag is not None and lag != float("inf"):
        fields["replica_lag_seconds"] = round(lag, 3)
    return fields


def _is_recovery_conflict(exc: DatabaseError) -> bool:
    return bool(exc.args) and isinstance(exc.args[0], dict) and exc.args[0].get("C") == _RECOVERY_CONFLICT
