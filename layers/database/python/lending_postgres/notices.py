"""The notices outbox on PostgreSQL (mixed into PostgresStore): writing, claiming, marking, listing.

A claim is one statement: the next pending notice due, taken FOR UPDATE SKIP LOCKED and moved to
`sending` (or `no_address`) in the same UPDATE, committed before the mail leaves. Two senders at
once therefore never hold one notice, and a `sending` notice is never claimed again.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lending.model import User
from lending_postgres.connection import ConnectionPool

if TYPE_CHECKING:  # the notices' data load with the outbox's first use
    from lending.notice_model import ClaimedNotice, Notice

_NOTICE = ("n.notice_id::text, n.kind, n.patron_iss, n.patron_sub, n.state, n.created_at, n.details, n.attempts, "
           "n.next_attempt_at, n.sent_at, n.last_error, n.loan_id::text, n.hold_id::text, n.charge_id::text, "
           "n.payment_id::text")
_PATRON = "LEFT JOIN patrons p ON p.issuer = {t}.borrower_iss AND p.subject = {t}.borrower_sub"
_LOAN_NOTICE = (
    "INSERT INTO notices (kind, patron_iss, patron_sub, event_key, loan_id, details, next_attempt_at) "
    "SELECT :kind, l.borrower_iss, l.borrower_sub, "
    "l.loan_id::text || '@' || to_char(l.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') || {suffix}, "
    "l.loan_id, jsonb_build_object('title', t.title, 'due_at', "
    "to_char(l.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'), 'stage', {stage}), :now "
    "FROM loans l JOIN books b USING (book_id) JOIN titles t USING (title_id) " + _PATRON.format(t="l") + " "
    "WHERE l.returned_at IS NULL AND {where} ON CONFLICT (kind, event_key) DO NOTHING RETURNING 1")


def notice_row(r: list[Any]) -> Notice:
    from lending.notice_model import Notice, NoticeKind, NoticeState

    details = r[6] if isinstance(r[6], dict) else json.loads(r[6] or "{}")
    return Notice(r[0], NoticeKind(r[1]), User(r[2], r[3]), NoticeState(r[4]), r[5], details, r[7], r[8], r[9],
                  r[10], r[11], r[12], r[13], r[14])


class NoticeRecords:
    pool: ConnectionPool

    def write_due_soon_notices(self, *, now: datetime, before: datetime) -> int:
        sql = _LOAN_NOTICE.format(suffix="''", stage="0",
                                  where="l.due_at > :now AND l.due_at <= :before AND coalesce(p.reminders, true)")
        with self.pool.connection() as c:  # one statement: its own transaction
            return len(c.run(sql, kind="due_soon", now=now, before=before))

    def write_overdue_notices(self, *, now: datetime, second_after: datetime) -> int:
        first = _LOAN_NOTICE.format(suffix="'#1'", stage="1", where="l.due_at <= :now AND l.due_at > :second")
        second = _LOAN_NOTICE.format(suffix="'#2'", stage="2", where="l.due_at <= :second")
        with self.pool.transaction() as c:
            return (len(c.run(first, kind="overdue", now=now, second=second_after))
                    + len(c.run(second, kind="overdue", now=now, second=second_after)))

    def claim_notice(self, *, now: datetime) -> ClaimedNotice | None:
        with self.pool.connection() as c:  # one statement: its own transaction, committed before the send
            rows = c.run(
                "WITH next AS (SELECT n.notice_id, p.email, p.name FROM notices n LEFT JOIN patrons p "
                " ON p.issuer = n.patron_iss AND p.subject = n.patron_sub "
                " WHERE n.state = 'pending' AND n.next_attempt_at <= :now "
                " ORDER BY n.next_attempt_at, n.created_at LIMIT 1 FOR UPDATE OF n SKIP LOCKED) "
                "UPDATE notices n SET state = CASE WHEN next.email IS NULL THEN 'no_address' ELSE 'sending' END, "
                " attempts = n.attempts + CASE WHEN next.email IS NULL THEN 0 ELSE 1 END, claimed_at = :now "
                f"FROM next WHERE n.notice_id = next.notice_id RETURNING {_NOTICE}, next.email, next.name",
                now=now)
        if not rows:
            return None
        from lending.notice_model import ClaimedNotice

        return ClaimedNotice(notice_row(rows[0][:15]), rows[0][15], rows[0][16])

    def notice_sent(self, notice_id: str, *, to: str, now: datetime) -> None:
        with self.pool.connection() as c:
            c.run("UPDATE notices SET state = 'sent', sent_at = :now, sent_to = :to, last_error = NULL "
                  "WHERE notice_id = CAST(:id AS uuid) AND state = 'sending'", id=notice_id, now=now, to=to)

    def notice_not_sent(self, notice_id: str, *, error: str, retry_at: datetime | None) -> None:
        with self.pool.connection() as c:
            c.run("UPDATE notices SET state = CASE WHEN CAST(:at AS timestamptz) IS NULL THEN 'failed' "
                  "ELSE 'pending' END, next_attempt_at = coalesce(CAST(:at AS timestamptz), next_attempt_at), "
                  "last_error = left(:e, 500) WHERE notice_id = CAST(:id AS uuid) AND state = 'sending'",
                  id=notice_id, at=retry_at, e=error)

    def abandon_interrupted_notices(self, *, claimed_before: datetime) -> int:
        with self.pool.connection() as c:
            return len(c.run(
                "UPDATE notices SET state = 'failed', last_error = 'the sender stopped during the send: not sent "
                "again, as it may have been accepted' WHERE notice_id IN (SELECT notice_id FROM notices "
                "WHERE state = 'sending' AND claimed_at < :before FOR UPDATE SKIP LOCKED) RETURNING 1",
                before=claimed_before))

    def notices_of(self, patron: User) -> list[Notice]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_NOTICE} FROM notices n WHERE n.patron_iss = :iss AND n.patron_sub = :sub "
                         f"ORDER BY n.created_at DESC, n.notice_id LIMIT 200", iss=patron.issuer, sub=patron.subject)
        return [notice_row(r) for r in rows]

    def set_reminders(self, patron: User, on: bool) -> None:
        with self.pool.connection() as c:
            c.run("INSERT INTO patrons (issuer, subject, name, reminders) VALUES (:iss, :sub, :name, :on) "
                  "ON CONFLICT (issuer, subject) DO UPDATE SET reminders = EXCLUDED.reminders",
                  iss=patron.issuer, sub=patron.subject, name=patron.name, on=on)
