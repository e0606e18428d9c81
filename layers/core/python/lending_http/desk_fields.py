"""Strict reading of the desk's request fields: ISBNs by their check digit, barcodes, edits, date ranges."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import ValidationError

from lending.desk_model import CopyChanges, NewCopy, NewTitle, TitleChanges
from lending.errors import InvalidRequest, PurchaseNotFound
from lending_http import fields

BARCODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_REPORT_DAYS = 366
_LANGUAGE = r"^[a-z]{2,3}$"


def isbn13(value: str) -> str | None:
    """The ISBN-13 of an ISBN-10 or ISBN-13 (hyphens and spaces allowed) whose check digit holds; else None."""
    try:
        return str(stdnum_isbn.to_isbn13(stdnum_isbn.validate(value)))
    except (ValidationError, ValueError, TypeError):
        return None


def checked_isbn(body: dict[str, Any]) -> str:
    value = fields.text(body, "isbn", max_length=20)
    found = isbn13(value)
    if found is None:
        raise InvalidRequest("'isbn' must be an ISBN-10 or ISBN-13 with a valid check digit.", field="isbn")
    return found


def barcode(body: dict[str, Any], name: str = "barcode") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not BARCODE.match(value):
        raise InvalidRequest(f"'{name}' must be 1-64 letters, digits, '.', '_' or '-'.", field=name)
    return value


def purchase_id(path_params: dict[str, str]) -> str:
    return fields.path_uuid(path_params, "purchase_id", PurchaseNotFound, "purchase")


def reason(body: dict[str, Any]) -> str:
    return fields.text(body, "reason", max_length=500)


def new_title(body: dict[str, Any]) -> NewTitle:
    return NewTitle(
        isbn=checked_isbn(body), title=fields.text(body, "title"), author=fields.text(body, "author"),
        publication_year=fields.optional_int(body, "publication_year", minimum=1, maximum=2999),
        language=fields.optional_text(body, "language", max_length=3, pattern=_LANGUAGE),
        description=fields.optional_text(body, "description", max_length=5000))


def _some(body: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise InvalidRequest(f"'{unknown[0]}' cannot be changed here (one of: {', '.join(known)}).", field=unknown[0])


def title_changes(body: dict[str, Any]) -> TitleChanges:
    _some(body, ("isbn", "title", "author", "publication_year", "language", "description"))
    return TitleChanges(
        isbn=checked_isbn(body) if "isbn" in body else None,
        title=fields.text(body, "title") if "title" in body else None,
        author=fields.text(body, "author") if "author" in body else None,
        publication_year=fields.optional_int(body, "publication_year", minimum=1, maximum=2999),
        language=fields.optional_text(body, "language", max_length=3, pattern=_LANGUAGE),
        description=fields.optional_text(body, "description", max_length=5000))


def new_copies(body: dict[str, Any], default_currency: str) -> list[NewCopy]:
    """`{"copies": [{barcode?, price_cents, borrow_fee_cents, currency?}, ...]}` (1-100), or one such object."""
    items = body.get("copies", [body])
    if not isinstance(items, list) or not 1 <= len(items) <= 100 or not all(isinstance(i, dict) for i in items):
        raise InvalidRequest("'copies' must be a list of 1 to 100 copies.", field="copies")
    made = []
    for item in items:
        currency = fields.currency(item, default_currency)
        made.append(NewCopy(fields.amount(item, "price_cents", currency), fields.amount(item, "borrow_fee_cents", currency),
                            currency, barcode(item) if item.get("barcode") is not None else None))
    codes = [c.barcode for c in made if c.barcode]
    if len(codes) != len(set(codes)):
        raise InvalidRequest("Two of the copies have the same barcode.", field="barcode")
    return made


def copy_changes(body: dict[str, Any]) -> CopyChanges:
    _some(body, ("price_cents", "borrow_fee_cents", "barcode"))
    return CopyChanges(
        price_cents=fields.cents(body, "price_cents") if "price_cents" in body else None,
        borrow_fee_cents=fields.cents(body, "borrow_fee_cents") if "borrow_fee_cents" in body else None,
        barcode=barcode(body) if "barcode" in body else None)


def day_range(query_one: Any, today: date) -> tuple[date, date]:
    """`from` and `to` (YYYY-MM-DD, both included; default today), at most MAX_REPORT_DAYS apart."""
    found = []
    for name in ("from", "to"):
        value = query_one(name)
        try:
            found.append(date.fromisoformat(value) if value else today)
        except ValueError as exc:
            raise InvalidRequest(f"'{name}' must be a date (YYYY-MM-DD).", field=name) from exc
    start, end = found
    if end < start or end - start > timedelta(days=MAX_REPORT_DAYS - 1):
        raise InvalidRequest(f"'to' must be on or after 'from', at most {MAX_REPORT_DAYS} days on.", field="to")
    return start, end


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()
