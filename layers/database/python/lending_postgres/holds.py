"""Holds on PostgreSQL: the queue of a title, first come first served.

Placing, cancelling and expiring a hold lock the title's row first (as every move of a copy does,
see circulation.py), so a title's holds are placed one at a time and take their place in the
order they commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pg8000.exceptions import DatabaseError

from lending.circulation_model import Hold, HoldStatus, ShelfMove
from lending.errors import HoldNotFound, HoldRefused, TitleNotFound
from lending.model import BookStatus, User
from lending_postgres.circulation import lock_title, shelve
from lending_postgres.connection import ConnectionPool
from lending_postgres.rows import UNIQUE_VIOLATION, sqlstate

_HOLD = ("h.hold_id::text, h.title_id::text, h.patron_iss, h.patron_sub, h.patron_name, h.status, h.placed_at, "
         "CASE WHEN h.status = 'waiting' THEN (SELECT count(*) FROM holds q WHERE q.title_id = h.title_id "
         "AND q.status = 'waiting' AND q.seq <= h.seq) END, h.book_id::text, h.ready_until, t.title")
_ACTIVE = "h.status IN ('waiting', 'ready')"


def hold_row(r: list[Any]) -> Hold:
    return Hold(r[0], r[1], User(r[2], r[3], name=r[4]), HoldStatus(r[5]), r[6],
                int(r[7]) if r[7] is not None else None, r[8], r[9], r[10])


class HoldQueries:
    pool: ConnectionPool

    def place_hold(self, title_id: str, patron: User, *, now: datetime, max_holds: int) -> Hold:
        with self.pool.transaction() as c:
            if not lock_title(c, title_id):
                raise TitleNotFound(f"No title with id {title_id}.")
            # One patron's holds on different titles are counted one at a time too.
            c.run("SELECT pg_advisory_xact_lock(hashtext('holds:' || :iss || ' ' || :sub))",
                  iss=patron.issuer, sub=patron.subject)
            mine = {"t": title_id, "iss": patron.issuer, "sub": patron.subject}
            if c.run(f"SELECT 1 FROM holds h WHERE h.title_id = CAST(:t AS uuid) AND h.patron_iss = :iss "
                     f"AND h.patron_sub = :sub AND {_ACTIVE}", **mine):
                raise HoldRefused("You already have a hold on this title.", reason="duplicate_hold")
            if c.run("SELECT 1 FROM loans l JOIN books b USING (book_id) WHERE b.title_id = CAST(:t AS uuid) "
                     "AND l.returned_at IS NULL AND l.borrower_iss = :iss AND l.borrower_sub = :sub", **mine):
                raise HoldRefused("You have a copy of this title on loan.", reason="already_on_loan")
            if c.run("SELECT 1 FROM books WHERE title_id = CAST(:t AS uuid) AND status = 'available'", t=title_id):
                raise HoldRefused("A copy of this title is on the shelf: borrow it instead.", reason="copy_available")
            count = c.run(f"SELECT count(*) FROM holds h WHERE h.patron_iss = :iss AND h.patron_sub = :sub "
                          f"AND {_ACTIVE}", iss=patron.issuer, sub=patron.subject)[0][0]
            if count >= max_holds:
                raise HoldRefused(f"You may have at most {max_holds} holds at once.", reason="hold_limit")
            hold_id = str(uuid.uuid4())
            try:
                c.run("INSERT INTO holds (hold_id, title_id, patron_iss, patron_sub, patron_name, placed_at) "
                      "VALUES (:id, CAST(:t AS uuid), :iss, :sub, :name, :now)",
                      id=hold_id, name=patron.name or patron.handle, now=now, **mine)
            except DatabaseError as exc:
                if sqlstate(exc) == UNIQUE_VIOLATION:
                    raise HoldRefused("You already have a hold on this title.", reason="duplicate_hold") from exc
                raise
            rows = c.run(f"SELECT {_HOLD} FROM holds h JOIN titles t USING (title_id) "
                         f"WHERE h.hold_id = CAST(:id AS uuid)", id=hold_id)
        return hold_row(rows[0])

    def holds_of(self, patron: User) -> list[Hold]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_HOLD} FROM holds h JOIN titles t USING (title_id) WHERE h.patron_iss = :iss "
                         f"AND h.patron_sub = :sub ORDER BY h.seq DESC LIMIT 500",
                         iss=patron.issuer, sub=patron.subject)
        return [hold_row(r) for r in rows]

    def title_holds(self, title_id: str) -> list[Hold]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_HOLD} FROM holds h JOIN titles t USING (title_id) "
                         f"WHERE h.title_id = CAST(:t AS uuid) AND {_ACTIVE} "
                         f"ORDER BY h.status = 'ready' DESC, h.seq LIMIT 1000", t=title_id)
        return [hold_row(r) for r in rows]

    def cancel_hold(self, hold_id: str, patron: User, *, now: datetime, pickup_period: timedelta) -> None:
        with self.pool.transaction() as c:
            found = c.run("SELECT title_id::text FROM holds WHERE hold_id = CAST(:h AS uuid) AND patron_iss = :iss "
                          "AND patron_sub = :sub", h=hold_id, iss=patron.issuer, sub=patron.subject)
            if not found:
                raise HoldNotFound(f"You have no hold with id {hold_id}.")
            lock_title(c, found[0][0])
            self._close(c, hold_id, found[0][0], HoldStatus.CANCELLED, now=now, pickup_period=pickup_period)

    def expire_ready_holds(self, *, now: datetime, pickup_period: timedelta) -> list[ShelfMove]:
        with self.pool.connection() as c:
            due = c.run("SELECT hold_id::text, title_id::text FROM holds WHERE status = 'ready' AND ready_until <= :now "
                        "ORDER BY ready_until LIMIT 1000", now=now)
        moves = []
        for hold_id, title_id in due:
            with self.pool.transaction() as c:  # one hold at a time: a long run holds no title for long
                lock_title(c, title_id)
                move = self._close(c, hold_id, title_id, HoldStatus.EXPIRED, now=now, pickup_period=pickup_period,
                                   only_ready_until=now)
            if move is not None:
                moves.append(move)
        return moves

    @staticmethod
    def _close(c: Any, hold_id: str, title_id: str, to: HoldStatus, *, now: datetime, pickup_period: timedelta,
               only_ready_until: datetime | None = None) -> ShelfMove | None:
        """End an active hold (the title is locked); a copy it held goes to the next in line or the shelf."""
        guard = " AND status = 'ready' AND ready_until <= :until" if only_ready_until else ""
        extra = {"until": only_ready_until} if only_ready_until else {}
        rows = c.run(f"SELECT status, book_id::text FROM holds WHERE hold_id = CAST(:h AS uuid){guard} FOR UPDATE",
                     h=hold_id, **extra)
        if not rows or rows[0][0] not in ("waiting", "ready"):
            return None  # already over: nothing waits any more
        c.run("UPDATE holds SET status = :to, closed_at = :now WHERE hold_id = CAST(:h AS uuid)",
              to=to.value, now=now, h=hold_id)
        if rows[0][0] != "ready":
            return None
        book_id = rows[0][1]
        following = shelve(c, book_id, title_id, BookStatus.ON_HOLD_SHELF, now=now, pickup_period=pickup_period)
        return ShelfMove(hold_id, book_id, following)
