"""MARC 21 and MARCXML records to ImportRecords, read with pymarc (and defusedxml for the XML).

An ISO 2709 file is split at each record terminator (0x1D) and every record parsed on its own, so a
truncated record, a wrong leader or a bad character encoding rejects that record only and the
reader finds the next one. The leader's position 9 says the encoding: `a` is UTF-8 (read strictly),
blank is MARC-8 (converted by pymarc).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax import SAXException
from xml.sax.handler import feature_namespaces

import pymarc
from defusedxml import DefusedXmlException
from defusedxml.sax import make_parser
from pymarc.marcxml import XmlHandler

from lending.desk_model import ImportedCopy, ImportRecord
from lending.errors import InvalidRequest, UnsupportedMediaType
from lending_marc.csvfile import read_csv

MARC, MARCXML, CSV = "application/marc", "application/marcxml+xml", "text/csv"
FORMATS = {"marc": MARC, "mrc": MARC, "marcxml": MARCXML, "xml": MARCXML, "csv": CSV}
END_OF_RECORD = b"\x1d"
_YEAR = re.compile(r"\b(1[0-9]{3}|2[0-9]{3})\b")
_TRAILING = " /:;,.=\t"


def read(data: bytes, media_type: str) -> Iterator[ImportRecord]:
    kind = media_type.split(";")[0].strip().lower()
    if kind == MARC:
        return _iso2709(data)
    if kind in (MARCXML, "application/xml", "text/xml"):
        return _marcxml(data)
    if kind == CSV:
        return read_csv(data)
    raise UnsupportedMediaType(f"Imports read {MARC}, {MARCXML} or {CSV}, not {kind or 'an unnamed type'}.")


def _iso2709(data: bytes) -> Iterator[ImportRecord]:
    if not data.strip() or not data[:5].isdigit() or END_OF_RECORD not in data:
        raise InvalidRequest("The file is not MARC 21 (ISO 2709): no record leader or record terminator.")
    chunks = data.split(END_OF_RECORD)
    last = chunks.pop()  # after the final terminator: nothing, or a record cut short
    for number, chunk in enumerate(chunks, start=1):
        yield _from_chunk(number, chunk.lstrip(b"\r\n") + END_OF_RECORD)
    if last.strip():
        yield ImportRecord(len(chunks) + 1, error="truncated record: the file ends before its record terminator")


def _from_chunk(number: int, chunk: bytes) -> ImportRecord:
    leader = chunk[:24]
    if len(chunk) < 25 or not leader[:5].isdigit() or not leader[12:17].isdigit():
        return ImportRecord(number, error="wrong leader: the record length or base address is not a number")
    if int(leader[:5]) != len(chunk):
        return ImportRecord(number, error=f"wrong leader: it says {int(leader[:5])} bytes, the record has {len(chunk)}"
                                          " (truncated or corrupt)")
    if leader[9:10] not in (b" ", b"a"):
        return ImportRecord(number, error=f"wrong leader: character coding {leader[9:10]!r} is neither MARC-8 nor UTF-8")
    try:
        record = pymarc.Record(chunk, to_unicode=True, force_utf8=False, hide_utf8_warnings=True,
                               utf8_handling="strict")
    except UnicodeDecodeError as exc:
        return ImportRecord(number, error=f"bad character encoding: not valid UTF-8 at byte {exc.start}")
    except Exception as exc:  # noqa: BLE001 - pymarc's own errors (directory, base address ...): this record only
        return ImportRecord(number, error=f"unreadable record: {type(exc).__name__}: {exc}".rstrip(": "))
    return from_record(number, record)


def _marcxml(data: bytes) -> Iterator[ImportRecord]:
    handler = XmlHandler(strict=False, normalize_form="NFC")  # type: ignore[no-untyped-call]
    parser = make_parser()
    parser.setContentHandler(handler)
    parser.setFeature(feature_namespaces, 1)
    try:
        parser.parse(io.BytesIO(data))
    except (SAXException, DefusedXmlException, ValueError) as exc:
        raise InvalidRequest(f"The file is not MARCXML: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - pymarc's handler on XML that is well formed but not MARC
        raise InvalidRequest(f"The file is not MARCXML ({type(exc).__name__}).") from exc
    if not handler.records and b"record" not in data[:4096]:
        raise InvalidRequest("The file is not MARCXML: no <record> in it.")
    for number, record in enumerate(handler.records, start=1):
        yield from_record(number, record) if record is not None else ImportRecord(number, error="unreadable record")


def _first(record: pymarc.Record, tag: str, code: str) -> str | None:
    for field in record.get_fields(tag):
        value = field.get(code)
        if value and value.strip():
            return str(value).strip()
    return None


def clean(value: str | None, trailing: str = _TRAILING) -> str | None:
    """ISBD's punctuation at the end of a subfield (' /', ' :', ' ;', ',', '.') goes."""
    return value.strip().rstrip(trailing).strip() or None if value else None


def _language(record: pymarc.Record) -> str | None:
    code = _fixed(record)[35:38]
    return code if re.fullmatch(r"[a-z]{3}", code) else _first(record, "041", "a")


def _fixed(record: pymarc.Record) -> str:
    field = record.get("008")
    return str(getattr(field, "data", None) or "")


def _year(record: pymarc.Record) -> int | None:
    for tag in ("264", "260"):
        found = _YEAR.search(_first(record, tag, "c") or "")
        if found:
            return int(found.group(1))
    date1 = _fixed(record)[7:11]
    return int(date1) if date1.isdigit() else None


def cents(value: Any) -> int | None:
    """A price such as '12.99', 'USD 12.99' or '12,99' in cents; None if there is none."""
    found = re.search(r"[0-9]+(?:[.,][0-9]{1,2})?", str(value or ""))
    if not found:
        return None
    try:
        return int(Decimal(found.group(0).replace(",", ".")) * 100)
    except InvalidOperation:
        return None


def from_record(number: int, record: pymarc.Record) -> ImportRecord:
    isbn = _first(record, "020", "a")
    title = ": ".join(p for p in (clean(_first(record, "245", "a")), clean(_first(record, "245", "b"))) if p)
    author = clean(_first(record, "100", "a") or _first(record, "110", "a"), " ,;:/")
    copies = tuple(ImportedCopy(str(f.get("p")).strip(), cents(f.get("v") or f.get("g")))
                   for f in record.get_fields("952") if f.get("p"))
    return ImportRecord(number, isbn=isbn.split()[0] if isbn else None, title=title or None, author=author,
                        publication_year=_year(record), language=_language(record), copies=copies)
