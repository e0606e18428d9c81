"""The desk's catalogue on the in-memory fake: titles by ISBN, copies with barcodes, withdrawals, who waits
on the hold shelf. The same rules as lending_postgres.desk, checked by tests/contract/test_desk_contract.py.

Refunds, reports and imports are proven against PostgreSQL only (tests/e2e/test_desk_*.py); this fake
does not offer them.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from lending.catalogue_model import Title
from lending.circulation_model import HoldStatus
from lending.desk_model import CopyChanges, CopyRecord, NewCopy, NewTitle, TitleChanges
from lending.errors import BookNotFound, CatalogueConflict, TitleNotFound, WithdrawalRefused
from lending.model import Book, BookStatus, User
from tests.support.fakes import FakeStore, _now

_WHY_NOT = {"borrowed": "copy_on_loan", "on_hold_shelf": "on_hold_shelf", "withdrawn": "already_withdrawn",
            "sold": "copy_sold"}


class FakeDeskStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.barcodes: dict[str, str] = {}  # book id -> barcode
        self.withdrawn: dict[str, tuple[str, datetime]] = {}

    def _record(self, book: Book) -> CopyRecord:
        reason, when = self.withdrawn.get(book.book_id, (None, None))
        return CopyRecord(book.book_id, book.title_id or "", self._barcode(book.book_id), book.price_cents,
                          book.borrow_fee_cents, book.currency, book.status, reason, when)

    def _barcode(self, book_id: str) -> str:
        return self.barcodes.setdefault(book_id, "B" + book_id.replace("-", "")[:16].upper())

    def _taken(self, barcode: str, but: str | None = None) -> bool:
        return any(self._barcode(b) == barcode for b in self.books if b != but)

    def create_title(self, new: NewTitle) -> str:
        with self._lock:
            if any(t.isbn == new.isbn for t in self.titles.values()):
                raise CatalogueConflict("Another title has this ISBN.", reason="duplicate_isbn")
            title = Title(str(uuid.uuid4()), new.isbn, new.title, new.author, new.publication_year, new.language,
                          new.description)
            self.titles[title.title_id] = title
            return title.title_id

    def edit_title(self, title_id: str, changes: TitleChanges) -> None:
        with self._lock:
            title = self.titles.get(title_id)
            if title is None:
                raise TitleNotFound("No such title.")
            given = {k: v for k, v in vars(changes).items() if v is not None}
            if "isbn" in given and any(t.isbn == given["isbn"] and t.title_id != title_id for t in self.titles.values()):
                raise CatalogueConflict("Another title has this ISBN.", reason="duplicate_isbn")
            self.titles[title_id] = replace(title, **given)
            copied = {k: v for k, v in given.items() if k in ("isbn", "title", "author")}
            for book in self._copies(title_id):
                self.books[book.book_id] = replace(book, **copied)

    def add_copies(self, title_id: str, copies: list[NewCopy]) -> list[CopyRecord]:
        with self._lock:
            title = self.titles.get(title_id)
            if title is None:
                raise TitleNotFound("No such title.")
            codes = [c.barcode for c in copies if c.barcode]
            if len(codes) != len(set(codes)) or any(self._taken(code) for code in codes):
                raise CatalogueConflict("Another copy has this barcode.", reason="duplicate_barcode")
            made = []
            for new in copies:
                book = Book(str(uuid.uuid4()), title.isbn, title.title, title.author, new.price_cents,
                            new.borrow_fee_cents, new.currency, BookStatus.AVAILABLE, _now(), title_id)
                self.books[book.book_id] = book
                self.history.append((book.book_id, book.status))
                self.barcodes[book.book_id] = new.barcode or "B" + uuid.uuid4().hex[:16].upper()
                made.append(self._record(book))
            return made

    def edit_copy(self, book_id: str, changes: CopyChanges) -> CopyRecord:
        with self._lock:
            book = self.books.get(book_id)
            if book is None:
                raise BookNotFound("No such book.")
            if changes.barcode is not None:
                if self._taken(changes.barcode, but=book_id):
                    raise CatalogueConflict("Another copy has this barcode.", reason="duplicate_barcode")
                self.barcodes[book_id] = changes.barcode
            book = replace(book, price_cents=changes.price_cents or book.price_cents,
                           borrow_fee_cents=changes.borrow_fee_cents or book.borrow_fee_cents)
            self.books[book_id] = book
            return self._record(book)

    def withdraw_copy(self, book_id: str, reason: str) -> CopyRecord:
        with self._lock:
            book = self.books.get(book_id)
            if book is None:
                raise BookNotFound("No such book.")
            if book.status not in (BookStatus.AVAILABLE, BookStatus.LOST):
                status = book.status.value
                raise WithdrawalRefused(f"A copy that is {status} cannot be withdrawn.", book_status=status,
                                        reason=_WHY_NOT.get(status, "copy_on_loan"))
            book = replace(book, status=BookStatus.WITHDRAWN)
            self.books[book_id] = book
            self.history.append((book_id, book.status))
            self.withdrawn[book_id] = (reason, _now())
            return self._record(book)

    def copy_by_barcode(self, barcode: str) -> CopyRecord | None:
        with self._lock:
            found = next((b for b in self.books.values() if self._barcode(b.book_id) == barcode), None)
            return self._record(found) if found else None

    def copy_of(self, book_id: str) -> CopyRecord | None:
        with self._lock:
            book = self.books.get(book_id)
            return self._record(book) if book else None

    def waiting_on_shelf(self, book_id: str) -> tuple[User, datetime] | None:
        with self._lock:
            hold = next((h for h in self.holds.values() if h.book_id == book_id and h.status is HoldStatus.READY), None)
            return (hold.patron, hold.ready_until) if hold and hold.ready_until else None
