"""Reading catalogue files and checking their records, without I/O: lending_marc.read and lending.imports.check."""

from __future__ import annotations

import pytest

from lending import imports
from lending.desk_model import ImportedCopy, ImportRecord
from lending.errors import InvalidRequest, UnsupportedMediaType
from lending_http.desk_fields import isbn13
from lending_marc import read
from lending_marc.reader import cents, clean
from tests.support import marc_files as m


def checked(record: ImportRecord, seen: dict[str, int] | None = None) -> object:
    return imports.check(record, isbn13=isbn13, default_fee_cents=199, default_currency="usd",
                         seen_barcodes={} if seen is None else seen)


def test_a_marc_record_gives_isbn_title_author_language_year_and_its_copies() -> None:
    isbn = m.new_isbn13()
    (record,) = read(m.marc(m.record(m.to_isbn10(isbn), "The Hobbit", barcodes=("B1", "B2"), price="12.99")),
                     "application/marc")
    assert (record.isbn, record.title, record.author, record.publication_year, record.language) == \
        (m.to_isbn10(isbn), "The Hobbit", "Tolkien, J. R. R.", 2019, "eng")
    assert record.copies == (ImportedCopy("B1", 1299), ImportedCopy("B2", 1299))
    assert checked(record).title.isbn == isbn  # type: ignore[attr-defined]


@pytest.mark.parametrize(("raw", "cleaned"), [("The Hobbit /", "The Hobbit"), ("Emma :", "Emma"),
                                              ("Persuasion.", "Persuasion"), ("Middlemarch ;", "Middlemarch")])
def test_isbd_punctuation_at_the_end_of_a_title_is_cleaned(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(("value", "expected"), [("12.99", 1299), ("USD 8,50", 850), ("7", 700), ("", None)])
def test_a_price_is_read_in_cents(value: str, expected: int | None) -> None:
    assert cents(value) == expected


def test_records_the_checks_refuse_say_why() -> None:
    bad_isbn = ImportRecord(1, isbn=m.bad_check_digit(m.new_isbn13()), title="T")
    no_title = ImportRecord(2, isbn=m.new_isbn13())
    no_price = ImportRecord(3, isbn=m.new_isbn13(), title="T", copies=(ImportedCopy("B9"),))
    for record, why in ((bad_isbn, "check digit"), (no_title, "no title"), (no_price, "no price")):
        with pytest.raises(imports.Rejected, match=why):
            checked(record)
    seen: dict[str, int] = {}
    checked(ImportRecord(4, isbn=m.new_isbn13(), title="T", copies=(ImportedCopy("B7", 100),)), seen)
    with pytest.raises(imports.Rejected, match="record 4"):
        checked(ImportRecord(5, isbn=m.new_isbn13(), title="T", copies=(ImportedCopy("B7", 100),)), seen)


@pytest.mark.parametrize(("data", "media_type", "error"), [
    (b"hello", "application/marc", InvalidRequest), (b"<nope", "application/marcxml+xml", InvalidRequest),
    (b"a,b\n1,2\n", "text/csv", InvalidRequest), (b"{}", "application/json", UnsupportedMediaType)])
def test_a_file_that_is_not_what_it_claims_is_refused_whole(data: bytes, media_type: str,
                                                            error: type[Exception]) -> None:
    with pytest.raises(error):
        list(read(data, media_type))
