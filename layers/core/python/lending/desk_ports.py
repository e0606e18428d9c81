"""What the librarian's desk needs from the store, beside lending.ports.LendingStore.

The PostgreSQL store implements both (lending_postgres.desk, .refunds, .reports, .imports); the
desk's operations are proven against it in tests/integration/test_desk_store.py and tests/e2e/.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Protocol

from lending.desk_model import CheckedRecord, CopyChanges, CopyRecord, NewCopy, NewTitle, TitleChanges
from lending.model import Payment, User


class DeskStore(Protocol):
    # catalogue
    def create_title(self, new: NewTitle) -> str:
        """The new title's id. Raises CatalogueConflict(duplicate_isbn)."""
        ...

    def edit_title(self, title_id: str, changes: TitleChanges) -> None:
        """Raises TitleNotFound, CatalogueConflict(duplicate_isbn). The copies' copy of title and author follows."""
        ...

    def add_copies(self, title_id: str, copies: list[NewCopy]) -> list[CopyRecord]:
        """All or none. Raises TitleNotFound, CatalogueConflict(duplicate_barcode)."""
        ...

    def edit_copy(self, book_id: str, changes: CopyChanges) -> CopyRecord:
        """Price and fee apply from now on: a payment already made keeps its own amount.
        Raises BookNotFound, CatalogueConflict(duplicate_barcode)."""
        ...

    def withdraw_copy(self, book_id: str, reason: str) -> CopyRecord:
        """Raises BookNotFound, WithdrawalRefused(copy_on_loan | on_hold_shelf | already_withdrawn)."""
        ...

    def copy_by_barcode(self, barcode: str) -> CopyRecord | None: ...

    def copy_of(self, book_id: str) -> CopyRecord | None: ...

    def waiting_on_shelf(self, book_id: str) -> tuple[User, datetime] | None:
        """The patron a copy on the hold shelf waits for, and until when."""
        ...

    # refunds
    def reverse_sale_for_refund(self, purchase_id: str, librarian: User, reason: str, *, now: datetime,
                                pickup_period: timedelta) -> Payment:
        """In one transaction: the sale is reversed, the copy goes back on the shelf (the hold shelf
        if its title has a queue) and the payment is `refunded` with processor_synced false (the
        processor is told next). Of refunds at once, one wins. Raises PurchaseNotFound, RefundRefused."""
        ...

    # reports (rows as plain dicts, in the order the report lists them)
    def overdue_report(self, now: datetime) -> list[dict[str, Any]]: ...

    def hold_shelf_report(self) -> list[dict[str, Any]]: ...

    def revenue_report(self, start: date, end: date, timezone: str) -> list[dict[str, Any]]: ...

    def circulation_report(self, start: date, end: date, timezone: str) -> list[dict[str, Any]]: ...

    # import
    def import_batch(self, records: list[CheckedRecord]) -> list[str]:
        """One transaction: each record's outcome, in order: created | updated | unchanged, or
        `rejected: <why>` (e.g. a barcode another title's copy has). Titles match by ISBN, copies by barcode."""
        ...
