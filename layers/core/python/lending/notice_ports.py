"""The notices' ports: the outbox a store keeps and the mailer that sends (their data: lending.notice_model).

Apart from the data so that a store and the hosts can name the ports without building the notices'
classes: a process that only lends and returns never needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from lending.model import User
    from lending.notice_model import ClaimedNotice, Mail, Notice


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
