"""Patrons on PostgreSQL: who has signed in, as their ID token named them."""

from __future__ import annotations

from typing import Any

from lending.model import Patron, User

_PATRON = "patron_id::text, issuer, subject, name, email, reminders"


def patron_row(r: list[Any]) -> Patron:
    return Patron(r[0], r[1], r[2], r[3], r[4], r[5])


class PatronRecords:
    pool: Any

    def remember_patron(self, user: User) -> None:
        """Insert the patron, or bring their name and email up to date (no write when nothing changed)."""
        with self.pool.connection() as c:
            c.run("INSERT INTO patrons (issuer, subject, name, email) VALUES (:iss, :sub, :name, :email) "
                  "ON CONFLICT (issuer, subject) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, "
                  "last_seen = now() WHERE (patrons.name, patrons.email) IS DISTINCT FROM "
                  "(EXCLUDED.name, EXCLUDED.email)",
                  iss=user.issuer, sub=user.subject, name=user.name, email=_email(user.email))

    def find_patron(self, issuer: str, subject: str) -> Patron | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_PATRON} FROM patrons WHERE issuer = :iss AND subject = :sub",
                         iss=issuer, sub=subject)
        return patron_row(rows[0]) if rows else None


def _email(email: str | None) -> str | None:
    """An address the table accepts, or none (a token's email claim is not ours to trust blindly)."""
    if email is None or len(email) > 320 or email.find("@") < 1:
        return None
    return email
