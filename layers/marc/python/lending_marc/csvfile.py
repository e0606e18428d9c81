"""CSV catalogue files: a header row, then one copy (or one title, without a barcode) a line.

Columns (docs/desk.md#csv-columns): isbn and title are required; author, publication_year,
language, barcode, price_cents, borrow_fee_cents, currency are optional. Lines of one ISBN make one
title. UTF-8 (a byte-order mark is allowed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from lending.desk_model import ImportedCopy, ImportRecord
from lending.errors import InvalidRequest

REQUIRED = ("isbn", "title")
COLUMNS = ("isbn", "title", "author", "publication_year", "language", "barcode", "price_cents", "borrow_fee_cents",
           "currency")


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def read_csv(data: bytes) -> Iterator[ImportRecord]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The CSV file is not UTF-8 (byte {exc.start}).") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise InvalidRequest(f"The CSV file's header row cannot be read: {exc}") from exc
    if any(name not in header for name in REQUIRED) or "\x00" in text:
        raise InvalidRequest(f"The CSV file needs a header row with at least {', '.join(REQUIRED)} "
                             f"(columns: {', '.join(COLUMNS)}).")
    reader.fieldnames = header
    return _rows(reader)


def _rows(reader: csv.DictReader[str]) -> Iterator[ImportRecord]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ImportRecord(reader.line_num, error=f"unreadable line: {exc}")
            continue
        line = reader.line_num
        if None in row:
            yield ImportRecord(line, error="more fields than the header has")
            continue
        get = {k: (v or "").strip() for k, v in row.items() if k}
        barcode = get.get("barcode")
        price = get.get("price_cents")
        if price and not price.isdigit():
            yield ImportRecord(line, error=f"price_cents {price!r} is not a whole number of cents")
            continue
        copies = (ImportedCopy(barcode, _int(price), _int(get.get("borrow_fee_cents")), get.get("currency") or None),) \
            if barcode else ()
        yield ImportRecord(line, isbn=get.get("isbn") or None, title=get.get("title") or None,
                           author=get.get("author") or None, publication_year=_int(get.get("publication_year")),
                           language=get.get("language") or None, copies=copies)
