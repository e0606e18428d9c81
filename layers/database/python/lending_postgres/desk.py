"""The librarian's catalogue edits on PostgreSQL: titles, copies with barcodes, withdrawals.

A copy keeps its own price and fee; a payment keeps its own amount, so a change of price or fee
applies to loans and sales from then on and never to money already taken. A withdrawal is a
conditional move of the copy (only from the open shelf), under its title's lock like every move.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending.errors import BookNotFound, CatalogueConflict, TitleNotFound, WithdrawalRefused
from lending.model import BookStatus, User
from lending_postgres.circulation import lock_title, lock_title_of_book
from lending_postgres.connection import ConnectionPool
from lending_postgres.rows import UNIQUE_VIOLATION, sqlstate

if TYPE_CHECKING:  # the desk's records load with the desk's first call: other paths (a return) never need them
    from lending.desk_model import CopyChanges, CopyRecord, NewCopy, NewTitle, TitleChanges

COPY = ("book_id::text, title_id::text, barcode, price_cents, borrow_fee_cents, currency, status, withdrawn_reason, "
        "withdrawn_at")
_WHY_NOT = {"borrowed": "copy_on_loan", "on_hold_shelf": "on_hold_shelf", "withdrawn": "already_withdrawn",
            "sold": "copy_sold"}


def copy_row(r: list[Any]) -> CopyRecord:
    from lending.desk_model import CopyRecord

    return CopyRecord(r[0], r[1], r[2], r[3], r[4], r[5].strip(), BookStatus(r[6]), r[7], r[8])


def conflict(exc: DatabaseError) -> CatalogueConflict | None:
    """The desk's refusal for a unique violation (a barcode or ISBN already taken), else None."""
    if sqlstate(exc) != UNIQUE_VIOLATION:
        return None
    name = str(exc.args[0].get("n", "")) if exc.args and isinstance(exc.args[0], dict) else ""
    if "barcode" in name:
        return CatalogueConflict("Another copy has this barcode.", reason="duplicate_barcode")
    return CatalogueConflict("Another title has this ISBN.", reason="duplicate_isbn")


@contextmanager
def conflicts() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        found = conflict(exc)
        if found is None:
            raise
        raise found from exc


def insert_copy(c: pg8000.native.Connection, title_id: str, new: NewCopy) -> list[Any]:
    # books.isbn, title and author are the copy's copy of its title's (until the contract migration drops them).
    rows = c.run(
        f"INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency, title_id, barcode) "
        f"SELECT gen_random_uuid(), t.isbn, t.title, t.author, :price, :fee, :cur, t.title_id, "
        f"coalesce(CAST(:barcode AS text), 'B' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16))) "
        f"FROM titles t WHERE t.title_id = CAST(:t AS uuid) RETURNING {COPY}",
        t=title_id, price=new.price_cents, fee=new.borrow_fee_cents, cur=new.currency, barcode=new.barcode)
    return list(rows[0])


def insert_title(c: pg8000.native.Connection, new: NewTitle) -> str:
    rows = c.run("INSERT INTO titles (isbn, title, author, publication_year, language, description) "
                 "VALUES (:isbn, :title, :author, :year, :lang, :desc) RETURNING title_id::text",
                 isbn=new.isbn, title=new.title, author=new.author, year=new.publication_year, lang=new.language,
                 desc=new.description)
    return str(rows[0][0])


def update_title(c: pg8000.native.Connection, title_id: str, changes: TitleChanges) -> bool:
    given = {k: v for k, v in vars(changes).items() if v is not None}
    if not given:
        return bool(c.run("SELECT 1 FROM titles WHERE title_id = CAST(:t AS uuid)", t=title_id))
    sets = ", ".join(f"{k} = :{k}" for k in given)
    if not c.run(f"UPDATE titles SET {sets} WHERE title_id = CAST(:t AS uuid) RETURNING 1", t=title_id, **given):
        return False
    copied = {k: v for k, v in given.items() if k in ("isbn", "title", "author")}
    if copied:
        c.run(f"UPDATE books SET {', '.join(f'{k} = :{k}' for k in copied)} WHERE title_id = CAST(:t AS uuid)",
              t=title_id, **copied)
    return True


class DeskCatalogue:
    pool: ConnectionPool

    def create_title(self, new: NewTitle) -> str:
        with conflicts(), self.pool.transaction() as c:
            return insert_title(c, new)

    def edit_title(self, title_id: str, changes: TitleChanges) -> None:
        with conflicts(), self.pool.transaction() as c:
            if not lock_title(c, title_id) or not update_title(c, title_id, changes):
                raise TitleNotFound("No such title.")

    def add_copies(self, title_id: str, copies: list[NewCopy]) -> list[CopyRecord]:
        with conflicts(), self.pool.transaction() as c:
            if not lock_title(c, title_id):
                raise TitleNotFound("No such title.")
            return [copy_row(insert_copy(c, title_id, new)) for new in copies]

    def edit_copy(self, book_id: str, changes: CopyChanges) -> CopyRecord:
        given = {k: v for k, v in vars(changes).items() if v is not None}
        sets = ", ".join(f"{k} = :{k}" for k in given) or "book_id = book_id"
        with conflicts(), self.pool.transaction() as c:
            rows = c.run(f"UPDATE books SET {sets} WHERE book_id = CAST(:b AS uuid) RETURNING {COPY}",
                         b=book_id, **given)
        if not rows:
            raise BookNotFound("No such book.")
        return copy_row(rows[0])

    def withdraw_copy(self, book_id: str, reason: str) -> CopyRecord:
        with self.pool.transaction() as c:
            if lock_title_of_book(c, book_id) is None:
                raise BookNotFound("No such book.")
            rows = c.run(f"UPDATE books SET status = 'withdrawn', withdrawn_reason = :r, withdrawn_at = now() "
                         f"WHERE book_id = CAST(:b AS uuid) AND status IN ('available', 'lost') RETURNING {COPY}",
                         b=book_id, r=reason)
            if rows:
                return copy_row(rows[0])
            status = c.run("SELECT status FROM books WHERE book_id = CAST(:b AS uuid)", b=book_id)[0][0]
        raise WithdrawalRefused(f"A copy that is {status} cannot be withdrawn.", book_status=status,
                                reason=_WHY_NOT.get(status, "copy_on_loan"))

    def copy_by_barcode(self, barcode: str) -> CopyRecord | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {COPY} FROM books WHERE barcode = :b", b=barcode)
        return copy_row(rows[0]) if rows else None

    def copy_of(self, book_id: str) -> CopyRecord | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {COPY} FROM books WHERE book_id = CAST(:b AS uuid)", b=book_id)
        return copy_row(rows[0]) if rows else None

    def waiting_on_shelf(self, book_id: str) -> tuple[User, datetime] | None:
        with self.pool.connection() as c:
            rows = c.run("SELECT patron_iss, patron_sub, patron_name, ready_until FROM holds "
                         "WHERE book_id = CAST(:b AS uuid) AND status = 'ready'", b=book_id)
        return (User(rows[0][0], rows[0][1], name=rows[0][2]), rows[0][3]) if rows else None
