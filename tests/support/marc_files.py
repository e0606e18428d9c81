"""Catalogue files the desk's tests make for themselves: MARC 21 (UTF-8 and MARC-8), MARCXML and CSV,
good records and each kind of bad one. Written with pymarc, so nothing is downloaded or kept in the repo."""

from __future__ import annotations

import itertools
import uuid

from pymarc import Field, Record, Subfield, record_to_xml
from stdnum import ean
from stdnum import isbn as stdnum_isbn

_serial = itertools.count(int(uuid.uuid4().int % 10**7))


def new_isbn13() -> str:
    """A fresh, valid ISBN-13 (978 + 9 digits + its check digit)."""
    body = f"978{next(_serial) % 10**9:09d}"
    return body + ean.calc_check_digit(body)


def to_isbn10(isbn13: str) -> str:
    return str(stdnum_isbn.to_isbn10(isbn13))


def bad_check_digit(isbn13: str) -> str:
    return isbn13[:-1] + str((int(isbn13[-1]) + 1) % 10)


def new_barcode() -> str:
    return f"T{uuid.uuid4().hex[:14].upper()}"


def record(isbn: str, title: str = "The Hobbit", author: str = "Tolkien, J. R. R.,", *, barcodes: tuple[str, ...] = (),
           price: str = "12.99", year: str = "2019", language: str = "eng", marc8: bool = False) -> Record:
    r = Record(force_utf8=not marc8)
    r.add_field(Field(tag="008", data=f"200101s{year}    enk           000 1 {language} d"))
    r.add_field(Field(tag="020", indicators=[" ", " "], subfields=[Subfield("a", f"{isbn} (pbk.)")]))
    r.add_field(Field(tag="100", indicators=["1", " "], subfields=[Subfield("a", author)]))
    r.add_field(Field(tag="245", indicators=["1", "4"], subfields=[Subfield("a", f"{title} /"),
                                                                   Subfield("c", "by someone.")]))
    r.add_field(Field(tag="264", indicators=[" ", "1"], subfields=[Subfield("a", "London :"), Subfield("c", f"[{year}]")]))
    for code in barcodes:
        r.add_field(Field(tag="952", indicators=[" ", " "], subfields=[Subfield("a", "MAIN"), Subfield("p", code),
                                                                       Subfield("v", price)]))
    return r


def marc(*records: Record) -> bytes:
    return b"".join(r.as_marc() for r in records)


def marc8_record(isbn: str, barcode: str) -> bytes:
    """A MARC-8 record (leader/09 blank) whose title has MARC-8's combining acute (0xE2) before the E:
    'Émile' once read."""
    raw = record(isbn, "XEmile", barcodes=(barcode,), marc8=True).as_marc()
    # leader/09 blank says MARC-8 (pymarc's writer leaves 'a'); the same number of bytes, so lengths hold
    return raw[:9] + b" " + raw[10:].replace(b"XEmile", b"\xe2Emile")


def marcxml(*records: Record) -> bytes:
    inner = b"".join(record_to_xml(r, namespace=False) for r in records)
    return (b'<?xml version="1.0" encoding="UTF-8"?><collection xmlns="http://www.loc.gov/MARC21/slim">' + inner +
            b"</collection>")


def truncated(raw: bytes) -> bytes:
    return raw[:-20]


def wrong_leader(raw: bytes) -> bytes:
    return b"ABCDE" + raw[5:]


def bad_utf8(isbn: str, barcode: str) -> bytes:
    raw = record(isbn, "Caf\u00e9 society", barcodes=(barcode,)).as_marc()
    return raw.replace("Caf\u00e9".encode(), b"Caf\xff\xfe")  # same length, not UTF-8
