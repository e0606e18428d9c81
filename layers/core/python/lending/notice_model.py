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
from typing import Any

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
