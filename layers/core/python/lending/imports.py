"""Import a catalogue file's records (read by lending_marc) into titles and copies, idempotently.

A title is matched by its ISBN and a copy by its barcode, so running a file again changes nothing.
Every record is checked here first (ISBN check digit, title, copies' barcodes and prices, a barcode
seen earlier in the file); a record that fails is rejected with its number and the reason and never
stops the others. The rest are written in batches, one transaction per batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lending.desk_model import CheckedRecord, ImportRecord, ImportReport, NewCopy, NewTitle
from lending.desk_ports import DeskStore

BARCODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
UNKNOWN_AUTHOR = "Unknown"
MAX_PRICE_CENTS = 10_000_000


class Rejected(Exception):
    pass


def check(record: ImportRecord, *, isbn13: Callable[[str], str | None], default_fee_cents: int,
          default_currency: str, seen_barcodes: dict[str, int]) -> CheckedRecord:
    """The record as a title and its copies, or Rejected with the reason."""
    if record.error:
        raise Rejected(record.error)
    if not record.isbn:
        raise Rejected("no ISBN (020 $a, or the isbn column)")
    isbn = isbn13(record.isbn)
    if isbn is None:
        raise Rejected(f"ISBN {record.isbn!r} is not a valid ISBN (check digit)")
    title = (record.title or "").strip()
    if not title or len(title) > 500:
        raise Rejected("no title (245 $a, or the title column)" if not title else "title longer than 500 characters")
    author = (record.author or "").strip()[:500] or UNKNOWN_AUTHOR
    year = record.publication_year if record.publication_year and 1 <= record.publication_year <= 2999 else None
    language = record.language.lower() if record.language and _LANGUAGE.match(record.language.lower()) else None
    copies = []
    for copy in record.copies:
        if not BARCODE.match(copy.barcode):
            raise Rejected(f"barcode {copy.barcode!r} is not 1-64 letters, digits, '.', '_' or '-'")
        if copy.barcode in seen_barcodes:
            raise Rejected(f"barcode {copy.barcode} is also in record {seen_barcodes[copy.barcode]} of this file")
        if copy.price_cents is None:
            raise Rejected(f"copy {copy.barcode} has no price (952 $v or $g, or the price_cents column)")
        fee = copy.borrow_fee_cents if copy.borrow_fee_cents is not None else default_fee_cents
        for name, cents in (("price", copy.price_cents), ("borrow fee", fee)):
            if not 1 <= cents <= MAX_PRICE_CENTS:
                raise Rejected(f"copy {copy.barcode}: {name} {cents} is not between 1 and {MAX_PRICE_CENTS} cents")
        currency = (copy.currency or default_currency).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise Rejected(f"copy {copy.barcode}: currency {currency!r} is not an ISO 4217 code")
        copies.append(NewCopy(copy.price_cents, fee, currency, copy.barcode))
    for copy in record.copies:
        seen_barcodes[copy.barcode] = record.number
    return CheckedRecord(record.number, NewTitle(isbn, title, author, year, language), tuple(copies))


def import_records(desk: DeskStore, records: Iterable[ImportRecord], *, isbn13: Callable[[str], str | None],
                   default_fee_cents: int, default_currency: str, batch_size: int = 500,
                   progress: Callable[[ImportReport], None] | None = None) -> ImportReport:
    report = ImportReport()
    seen: dict[str, int] = {}
    batch: list[CheckedRecord] = []

    def flush() -> None:
        for checked, outcome in zip(batch, desk.import_batch(batch), strict=True):
            if outcome.startswith("rejected"):
                report.rejected.append((checked.number, outcome.removeprefix("rejected: ")))
            else:
                report.count(outcome)
        batch.clear()
        if progress:
            progress(report)

    for record in records:
        try:
            batch.append(check(record, isbn13=isbn13, default_fee_cents=default_fee_cents,
                               default_currency=default_currency, seen_barcodes=seen))
        except Rejected as exc:
            report.rejected.append((record.number, str(exc)))
        if len(batch) >= batch_size:
            flush()
    flush()
    report.rejected.sort()
    return report
