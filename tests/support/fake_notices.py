"""The fake store's notices outbox (mixed into FakeStore), as the notices table keeps it.

It passes the same contract tests as PostgreSQL's (tests/contract/test_notice_store_contract.py):
one notice per kind and event, claims that no second sender gets, backoff, no_address.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lending.model import Loan, Patron, User
from lending.notice_model import ClaimedNotice, Notice, NoticeKind, NoticeState, event_key


class FakeNotices:
    _lock: Any
    loans: dict[str, Loan]
    patrons: dict[tuple[str, str], Patron]
    notices: dict[str, Notice]
    notice_keys: set[tuple[str, str]]
    claimed_at: dict[str, datetime]

    def _notices_init(self) -> None:
        self.notices, self.notice_keys, self.claimed_at = {}, set(), {}

    def write_notice(self, *, kind: str, patron_iss: str, patron_sub: str, loan_id: str | None = None,
                     hold_id: str | None = None, charge_id: str | None = None, payment_id: str | None = None,
                     details: dict[str, Any] | None = None, due_from: datetime | None = None) -> bool:
        """notice_hooks.write_notice, in the fake's own (locked) transaction (due now, as the database's now())."""
        key = (kind, event_key(kind, loan_id=loan_id, hold_id=hold_id, charge_id=charge_id, payment_id=payment_id,
                               details=details))
        with self._lock:
            if key in self.notice_keys:
                return False
            self.notice_keys.add(key)
            now = datetime.now(UTC)
            notice = Notice(str(uuid.uuid4()), NoticeKind(kind), User(patron_iss, patron_sub), NoticeState.PENDING,
                            now, dict(details or {}), 0, due_from or now, None, None, loan_id, hold_id, charge_id, payment_id)
            self.notices[notice.notice_id] = notice
            return True

    def _loan_notices(self, kind: str, stage: int, due: Any, now: datetime) -> int:
        written = 0
        for loan in list(self.loans.values()):
            if loan.returned_at is None and due(loan):
                if kind == "due_soon" and not self._wants_reminders(loan.borrower):
                    continue
                at = loan.due_at.astimezone(UTC).replace(microsecond=0).isoformat()
                written += self.write_notice(kind=kind, patron_iss=loan.borrower.issuer,
                                             patron_sub=loan.borrower.subject, loan_id=loan.loan_id,
                                             details={"title": loan.title, "due_at": at, "stage": stage},
                                             due_from=now)
        return written

    def _wants_reminders(self, user: User) -> bool:
        patron = self.patrons.get((user.issuer, user.subject))
        return patron is None or patron.reminders

    def write_due_soon_notices(self, *, now: datetime, before: datetime) -> int:
        return self._loan_notices("due_soon", 0, lambda loan: now < loan.due_at <= before, now)

    def write_overdue_notices(self, *, now: datetime, second_after: datetime) -> int:
        return (self._loan_notices("overdue", 1, lambda loan: second_after < loan.due_at <= now, now)
                + self._loan_notices("overdue", 2, lambda loan: loan.due_at <= second_after, now))

    def claim_notice(self, *, now: datetime) -> ClaimedNotice | None:
        with self._lock:
            due = sorted((n for n in self.notices.values() if n.state is NoticeState.PENDING
                          and n.next_attempt_at is not None and n.next_attempt_at <= now),
                         key=lambda n: (n.next_attempt_at or now, n.created_at))
            if not due:
                return None
            patron = self.patrons.get((due[0].patron.issuer, due[0].patron.subject))
            email = patron.email if patron else None
            claimed = replace(due[0], state=NoticeState.SENDING if email else NoticeState.NO_ADDRESS,
                              attempts=due[0].attempts + (1 if email else 0))
            self.notices[claimed.notice_id] = claimed
            self.claimed_at[claimed.notice_id] = now
            return ClaimedNotice(claimed, email, patron.name if patron else None)

    def notice_sent(self, notice_id: str, *, to: str, now: datetime) -> None:
        with self._lock:
            n = self.notices[notice_id]
            if n.state is NoticeState.SENDING:
                self.notices[notice_id] = replace(n, state=NoticeState.SENT, sent_at=now, last_error=None)

    def notice_not_sent(self, notice_id: str, *, error: str, retry_at: datetime | None) -> None:
        with self._lock:
            n = self.notices[notice_id]
            if n.state is NoticeState.SENDING:
                self.notices[notice_id] = replace(
                    n, state=NoticeState.FAILED if retry_at is None else NoticeState.PENDING,
                    next_attempt_at=retry_at or n.next_attempt_at, last_error=error[:500])

    def abandon_interrupted_notices(self, *, claimed_before: datetime) -> int:
        with self._lock:
            stale = [n for n in self.notices.values() if n.state is NoticeState.SENDING
                     and self.claimed_at[n.notice_id] < claimed_before]
            for n in stale:
                self.notices[n.notice_id] = replace(n, state=NoticeState.FAILED,
                                                    last_error="the sender stopped during the send")
            return len(stale)

    def notices_of(self, patron: User) -> list[Notice]:
        with self._lock:
            mine = [n for n in self.notices.values() if (n.patron.issuer, n.patron.subject)
                    == (patron.issuer, patron.subject)]
        return sorted(mine, key=lambda n: n.created_at, reverse=True)[:200]

    def set_reminders(self, patron: User, on: bool) -> None:
        with self._lock:
            known = self.patrons.get((patron.issuer, patron.subject))
            self.patrons[(patron.issuer, patron.subject)] = (
                replace(known, reminders=on) if known else
                Patron(str(uuid.uuid4()), patron.issuer, patron.subject, patron.name, None, on))
