"""The store's upkeep for scheduled jobs: one run at a time (an advisory lock), when each last ran, retention."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pg8000.native

from lending.ports import Purged
from lending_postgres.connection import ConnectionPool

# Jobs' advisory locks use the two-key form, a key space apart from the one-key locks (migrations, settling).
_JOB_LOCKS = 17


class _JobTurn:
    def __init__(self, conn: pg8000.native.Connection, job: str, last_finished: datetime | None) -> None:
        self._c, self._job, self.last_finished = conn, job, last_finished

    def finished(self, summary: str) -> None:
        self._c.run("INSERT INTO job_runs (job, last_finished_at, last_summary) VALUES (:job, now(), left(:s, 2000)) "
                    "ON CONFLICT (job) DO UPDATE SET last_finished_at = excluded.last_finished_at, "
                    "last_summary = excluded.last_summary", job=self._job, s=summary)


class Upkeep:
    pool: ConnectionPool

    @contextmanager
    def job_turn(self, job: str) -> Iterator[_JobTurn | None]:
        # A connection of its own, outside the pool: the lock is the session's for the whole run, and a
        # pool of one (Lambda) stays free for the job's own statements. A process that dies drops it.
        with self.pool.dedicated(statement_timeout_ms=5000, lock_timeout_ms=2000, purpose=f"job {job}") as c:
            if not c.run("SELECT pg_try_advisory_lock(:ns, hashtext(:job))", ns=_JOB_LOCKS, job=job)[0][0]:
                yield None
                return
            try:
                rows = c.run("SELECT last_finished_at FROM job_runs WHERE job = :job", job=job)
                yield _JobTurn(c, job, rows[0][0] if rows else None)
            finally:
                with contextlib.suppress(Exception):
                    c.run("SELECT pg_advisory_unlock(:ns, hashtext(:job))", ns=_JOB_LOCKS, job=job)

    def purge(self, *, keys_finished_before: datetime, events_received_before: datetime, limit: int) -> Purged:
        with self.pool.connection() as c:  # each DELETE one statement: its own transaction
            keys = c.run(
                "DELETE FROM idempotency_keys WHERE (user_iss, user_sub, key) IN ("
                " SELECT user_iss, user_sub, key FROM idempotency_keys WHERE finished_at < :before"
                " LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING 1", before=keys_finished_before, n=int(limit))
            events = c.run(
                "DELETE FROM processor_events WHERE event_id IN ("
                " SELECT event_id FROM processor_events WHERE received_at < :before"
                " LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING 1", before=events_received_before, n=int(limit))
        return Purged(len(keys), len(events))
