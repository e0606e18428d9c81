"""Notices to patrons: the outbox's rows, the mail they become, and the ports that keep and send them.

A notice is written to the outbox in the transaction of the event that causes it (the store's
`notice_hooks.write_notice` on PostgreSQL), and sent later by the send_notices job through a
`Mailer`. Its state: pending → sending → sent; a send refused for now goes back to pending with a
later `next_attempt_at`; failed after NOTICE_MAX_ATTEMPTS (or a permanent refusal); no_address
when the patron has no email (kept, listed in GET /me/notices, never sent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lending.model import User


class NoticeKind(str, enum.Enum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    HOLD_READY = "hold_ready"
    LOST_CHARGED = "lost_charged"
    PAYMENT_RECEIPT = "payment_receipt"


def event_key(kind: str, *, loan_id: str | None = None, hold_id: str | None = None, charge_id: str | None = None,
              payment_id: str | None = None, details: dict[str, Any] | None = None) -> str:
    """What makes a notice of `kind` one of a kind (unique with its kind): due soon per loan and due date,
    overdue per loan, due date and stage, hold ready per hold, lost charged per charge, a receipt per payment."""
    details = details or {}
    keys = {"due_soon": f"{loan_id}@{details.get('due_at')}",
            "overdue": f"{loan_id}@{details.get('due_at')}#{details.get('stage', 1)}",
            "hold_ready": str(hold_id), "lost_charged": str(charge_id), "payment_receipt": str(payment_id)}
    if kind not in keys:
        raise ValueError(f"no notice of kind {kind!r} (kinds: {', '.join(keys)})")
    return keys[kind]


class NoticeState(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender: never claimed again (at most once)
    SENT = "sent"
    FAILED = "failed"
    NO_ADDRESS = "no_address"


@dataclass(frozen=True)
class Notice:
    notice_id: str
    kind: NoticeKind
    patron: User
    state: NoticeState
    created_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    loan_id: str | None = None
    hold_id: str | None = None
    charge_id: str | None = None
    payment_id: str | None = None


@dataclass(frozen=True)
class ClaimedNotice:
    """A notice a sender has claimed (state sending, attempts counted), with where it goes."""

    notice: Notice
    email: str | None  # None: the patron has no address; the claim marked it no_address
    patron_name: str | None = None


@dataclass(frozen=True)
class Mail:
    message_id: str  # derived from the notice id: a receiving system can tell a resend from a new mail
    sender: str
    to: str
    subject: str
    text: str
    html: str


class MailRefused(Exception):
    """The mail server did not accept the mail. `temporary`: try again later (4xx, no connection)."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class MailUnavailable(MailRefused):
    """No mail server to talk to (connection refused, timed out, TLS failed): nothing was accepted."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=True)


class Mailer(Protocol):
    """Sends one mail; returns once the server has accepted it, else raises MailRefused."""

    def send(self, mail: Mail) -> None: ...


class NoticeStore(Protocol):
    """The outbox (PostgreSQL: the notices table). Every method is its own transaction."""

    def write_due_soon_notices(self, *, now: datetime, before: datetime) -> int:
        """A due_soon notice for each open loan due in (now, before] whose patron wants reminders."""
        ...

    def write_overdue_notices(self, *, now: datetime, second_after: datetime) -> int:
        """An overdue notice, stage 1 for each open loan due by now, stage 2 for those due by `second_after`
        (now minus the second notice's delay); each loan, due date and stage once."""
        ...

    def claim_notice(self, *, now: datetime) -> ClaimedNotice | None:
        """The next pending notice due by `now`, claimed (no other sender gets it), or None."""
        ...

    def notice_sent(self, notice_id: str, *, to: str, now: datetime) -> None: ...

    def notice_not_sent(self, notice_id: str, *, error: str, retry_at: datetime | None) -> None:
        """Back to pending until `retry_at`, or failed for good when it is None."""
        ...

    def abandon_interrupted_notices(self, *, claimed_before: datetime) -> int:
        """Claims older than `claimed_before` (a sender died mid-send) become failed: they may have been
        accepted, and a notice is sent at most once."""
        ...

    def notices_of(self, patron: User) -> list[Notice]: ...

    def set_reminders(self, patron: User, on: bool) -> None: ...
