"""The fake store's patrons (mixed into FakeStore), as PostgreSQL's patrons table keeps them."""

from __future__ import annotations

import uuid

from lending.model import Patron, User


class FakePatrons:
    patrons: dict[tuple[str, str], Patron]
    patron_writes: int = 0  # how many remembers changed a row (the real upsert writes only then)

    def remember_patron(self, user: User) -> None:
        email = user.email if user.email and len(user.email) <= 320 and user.email.find("@") >= 1 else None
        known = self.patrons.get((user.issuer, user.subject))
        if known is not None and (known.name, known.email) == (user.name, email):
            return
        patron_id = known.patron_id if known else str(uuid.uuid4())
        reminders = known.reminders if known else True
        self.patrons[(user.issuer, user.subject)] = Patron(patron_id, user.issuer, user.subject, user.name, email,
                                                           reminders)
        self.patron_writes += 1

    def find_patron(self, issuer: str, subject: str) -> Patron | None:
        return self.patrons.get((issuer, subject))
