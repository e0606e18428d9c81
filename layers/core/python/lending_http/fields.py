"""Strict reading of request fields: a wrong type or missing field is a clear 400."""

from __future__ import annotations

import re
import uuid
from typing import Any

from lending.errors import BookNotFound, HoldNotFound, InvalidRequest, LendingError, LoanNotFound, TitleNotFound
from lending_http import currency as currencies

# PaymentIntents take PaymentMethod, Card or Source ids; a token (tok_) is not a payment method.
_PAYMENT_METHOD = re.compile(r"^(pm|card|src)_[A-Za-z0-9_]{1,200}\Z")
_ISBN = re.compile(r"^(97[89])?\d{9}[\dX]$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


def text(body: dict[str, Any], name: str, *, max_length: int = 500) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"'{name}' is required and must be a non-empty string.", field=name)
    if len(value) > max_length:
        raise InvalidRequest(f"'{name}' must be at most {max_length} characters.", field=name)
    if any(ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF or ord(c) == 0x7F for c in value):
        raise InvalidRequest(f"'{name}' may not contain control characters (such as NUL) or unpaired "
                             "surrogates.", field=name)
    return value.strip()


def cents(body: dict[str, Any], name: str, *, minimum: int = 1, maximum: int = 10_000_000) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"'{name}' is required and must be an integer number of cents.", field=name)
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"'{name}' must be between {minimum} and {maximum}.", field=name)
    return value


def isbn(body: dict[str, Any]) -> str:
    value = text(body, "isbn", max_length=20).replace("-", "").replace(" ", "").upper()
    if not _ISBN.match(value):
        raise InvalidRequest("'isbn' must be an ISBN-10 or ISBN-13.", field="isbn")
    return value


def currency(body: dict[str, Any], default: str) -> str:
    value = body.get("currency", default)
    if not isinstance(value, str) or not _CURRENCY.match(value.lower()):
        raise InvalidRequest("'currency' must be a three-letter ISO 4217 code.", field="currency")
    return currencies.check_currency(value.lower())


def amount(body: dict[str, Any], name: str, currency_code: str) -> int:
    """An amount in the currency's minor unit (cents; yen for JPY) that the processor will charge."""
    return currencies.check_amount(name, cents(body, name), currency_code)


def payment_method(body: dict[str, Any]) -> str:
    value = body.get("payment_method")
    if not isinstance(value, str) or not _PAYMENT_METHOD.match(value):
        raise InvalidRequest("'payment_method' is required: a payment method id such as 'pm_…'.",
                             field="payment_method")
    return value


def book_id(path_params: dict[str, str]) -> str:
    """Book ids are UUIDs; anything else cannot name a book."""
    return path_uuid(path_params, "book_id", BookNotFound, "book")


def path_uuid(path_params: dict[str, str], name: str, missing: type[LendingError], what: str) -> str:
    """The UUID named `name` in the path; anything else cannot name a `what` (`missing`, a 404)."""
    value = path_params.get(name, "")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise missing(f"No {what} with id {value[:64]}.") from None


def title_id(path_params: dict[str, str]) -> str:
    return path_uuid(path_params, "title_id", TitleNotFound, "title")


def loan_id(path_params: dict[str, str]) -> str:
    return path_uuid(path_params, "loan_id", LoanNotFound, "loan")


def hold_id(path_params: dict[str, str]) -> str:
    return path_uuid(path_params, "hold_id", HoldNotFound, "hold")


def optional_int(body: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidRequest(f"'{name}' must be an integer between {minimum} and {maximum}.", field=name)
    return value


def optional_text(body: dict[str, Any], name: str, *, max_length: int = 500, pattern: str | None = None) -> str | None:
    if body.get(name) is None:
        return None
    value = text(body, name, max_length=max_length)
    if pattern and not re.match(pattern, value):
        raise InvalidRequest(f"'{name}' is not in the expected form.", field=name)
    return value


def flag(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise InvalidRequest(f"'{name}' must be true or false.", field=name)


def query_text(raw: str | None, name: str, *, max_length: int = 200) -> str | None:
    value = (raw or "").strip()
    if len(value) > max_length:
        raise InvalidRequest(f"'{name}' must be at most {max_length} characters.", field=name)
    return value or None


def bounded_int(raw: str | None, name: str, *, default: int, minimum: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an integer.", field=name) from None
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"'{name}' must be between {minimum} and {maximum}.", field=name)
    return value
