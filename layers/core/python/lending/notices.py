"""Use cases of notices: writing due-soon and overdue notices, sending the outbox, a patron's notices.

Every date comes from the injected clock. Sending is at most once per notice: a sender claims one
notice at a time (committed as `sending` before the mail leaves), marks it sent as soon as the
server accepts it, and never claims a `sending` notice again; a refusal for now is retried with
backoff, and after `max_attempts` the notice is failed (the job's `failed` count, a metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lending.clock import Clock
from lending.model import User
from lending.notice_mail import Letterhead, compose
from lending.notice_model import MailRefused, MailUnavailable, Notice, NoticeState
from lending.notice_ports import Mailer, NoticeStore

DEFAULT_SECOND_OVERDUE = timedelta(days=7)


@dataclass(frozen=True)
class SendPolicy:
    max_attempts: int = 5
    retry_first: timedelta = timedelta(minutes=5)
    retry_max: timedelta = timedelta(hours=6)
    batch: int = 200  # notices per run at most: a run ends well within its schedule
    interrupted_after: timedelta = timedelta(minutes=15)  # a claim this old was a sender that died

    def retry_delay(self, attempts: int) -> timedelta:
        delay: timedelta = self.retry_first * (1 << max(0, attempts - 1))
        return min(self.retry_max, delay)


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    no_address: int = 0
    interrupted: int = 0

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed, "no_address": self.no_address,
                "interrupted": self.interrupted}


def write_reminders(store: NoticeStore, clock: Clock, *, before_due: timedelta) -> int:
    """Due-soon notices for loans due within `before_due` (each loan and due date once)."""
    now = clock.now()
    return store.write_due_soon_notices(now=now, before=now + before_due)


def write_overdue_notices(store: NoticeStore, clock: Clock, *,
                          second_after: timedelta = DEFAULT_SECOND_OVERDUE) -> int:
    """Overdue notices: on the first day a loan is overdue, and again `second_after` later."""
    now = clock.now()
    return store.write_overdue_notices(now=now, second_after=now - second_after)


def send_notices(store: NoticeStore, mailer: Mailer, clock: Clock, letterhead: Letterhead,
                 policy: SendPolicy = SendPolicy()) -> SendReport:
    """Send what the outbox holds and is due, one claimed notice at a time."""
    sent = retried = failed = no_address = 0
    interrupted = store.abandon_interrupted_notices(claimed_before=clock.now() - policy.interrupted_after)
    for _ in range(policy.batch):
        now = clock.now()
        claimed = store.claim_notice(now=now)
        if claimed is None:
            break
        if claimed.email is None:
            no_address += 1
            continue
        notice = claimed.notice
        mail = compose(notice, letterhead, to=claimed.email, patron_name=claimed.patron_name)
        try:
            mailer.send(mail)
        except MailRefused as refused:
            last_try = not refused.temporary or notice.attempts >= policy.max_attempts
            retry_at = None if last_try else clock.now() + policy.retry_delay(notice.attempts)
            store.notice_not_sent(notice.notice_id, error=str(refused)[:500], retry_at=retry_at)
            failed, retried = failed + last_try, retried + (not last_try)
            if isinstance(refused, MailUnavailable):
                break  # no server: the rest of the batch would only spend attempts
            continue
        store.notice_sent(notice.notice_id, to=claimed.email, now=clock.now())
        sent += 1
    return SendReport(sent, retried, failed, no_address, interrupted)


def notices_of(store: NoticeStore, patron: User) -> list[Notice]:
    return store.notices_of(patron)


def set_reminders(store: NoticeStore, patron: User, on: bool) -> None:
    """Due-soon reminders on or off; overdue and hold-ready notices are always sent."""
    store.set_reminders(patron, on)


__all__ = ["Letterhead", "NoticeState", "SendPolicy", "SendReport", "notices_of", "send_notices", "set_reminders",
           "write_overdue_notices", "write_reminders"]
