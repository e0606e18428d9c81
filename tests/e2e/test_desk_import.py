"""POST /imports through HTTP (chalice local) on PostgreSQL: MARC 21 (UTF-8 and MARC-8), MARCXML and CSV;
the same file twice changes nothing; every bad input gets its clear answer. Files are made by the tests
(tests/support/marc_files.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Client
from tests.support import marc_files as m

MARC, MARCXML, CSV = "application/marc", "application/marcxml+xml", "text/csv"


def upload(client: Client, data: bytes, media_type: str) -> Any:
    return client.post("/imports", data=data, headers={"Content-Type": media_type})


def title_of(client: Client, isbn: str) -> dict[str, Any]:
    found = client.get("/titles", params={"q": isbn}).json()["items"]
    assert found and found[0]["isbn"] == isbn, found
    return dict(client.get(f"/titles/{found[0]['title_id']}").json())


def test_the_same_marc_file_imported_twice_changes_nothing_the_second_time(librarian: Client) -> None:
    isbns = [m.new_isbn13() for _ in range(3)]
    data = m.marc(*(m.record(i, f"Book {n}", barcodes=(m.new_barcode(), m.new_barcode())) for n, i in enumerate(isbns)))

    first = upload(librarian, data, MARC)
    second = upload(librarian, data, MARC)

    assert first.status_code == 200, first.text
    assert first.json() == {"records": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": []}
    assert second.json() == {"records": 3, "created": 0, "updated": 0, "unchanged": 3, "rejected": []}
    title = title_of(librarian, isbns[1])
    assert (title["title"], title["author"], title["publication_year"], title["language"]) == \
        ("Book 1", "Tolkien, J. R. R.", 2019, "eng")
    assert title["copies_total"] == 2 and {c["price_cents"] for c in title["copies"]} == {1299}


def test_an_isbn_10_matches_the_title_its_isbn_13_made_and_a_changed_price_is_an_update(librarian: Client) -> None:
    isbn, code = m.new_isbn13(), m.new_barcode()
    assert upload(librarian, m.marc(m.record(isbn, barcodes=(code,))), MARC).json()["created"] == 1

    again = upload(librarian, m.marc(m.record(m.to_isbn10(isbn), barcodes=(code,), price="15.00")), MARC).json()

    assert (again["created"], again["updated"]) == (0, 1)
    assert [c["price_cents"] for c in title_of(librarian, isbn)["copies"]] == [1500]


def test_marc_8_and_utf_8_records_are_both_read(librarian: Client) -> None:
    marc8, utf8 = m.new_isbn13(), m.new_isbn13()
    data = m.marc8_record(marc8, m.new_barcode()) + m.marc(m.record(utf8, "Dostoévsky’s notes", barcodes=(m.new_barcode(),)))

    report = upload(librarian, data, MARC).json()

    assert report["created"] == 2 and report["rejected"] == []
    assert title_of(librarian, marc8)["title"] == "Émile"
    assert title_of(librarian, utf8)["title"] == "Dostoévsky’s notes"


def test_each_bad_record_is_rejected_with_its_number_and_reason_and_never_stops_the_others(librarian: Client) -> None:
    good = [m.new_isbn13() for _ in range(3)]
    twice = m.new_barcode()
    records = [
        m.record(good[0], barcodes=(twice,)).as_marc(),                                  # 1 good
        m.wrong_leader(m.record(m.new_isbn13()).as_marc()),                             # 2 wrong leader
        m.bad_utf8(m.new_isbn13(), m.new_barcode()),                                    # 3 bad encoding
        m.record(m.bad_check_digit(m.new_isbn13())).as_marc(),                          # 4 bad ISBN check digit
        m.record(good[1], barcodes=(m.new_barcode(),)).as_marc(),                       # 5 good
        m.record(m.new_isbn13(), barcodes=(twice,)).as_marc(),                          # 6 barcode already in record 1
        m.record(good[2]).as_marc(),                                                    # 7 good (a title, no copies)
        m.truncated(m.record(m.new_isbn13()).as_marc()),                                # 8 truncated
    ]

    report = upload(librarian, b"".join(records), MARC).json()

    assert (report["records"], report["created"]) == (8, 3)
    reasons = {r["record"]: r["reason"] for r in report["rejected"]}
    assert sorted(reasons) == [2, 3, 4, 6, 8], reasons
    assert "wrong leader" in reasons[2] and "encoding" in reasons[3] and "check digit" in reasons[4]
    assert "record 1" in reasons[6] and "truncated" in reasons[8]
    for isbn in good:
        title_of(librarian, isbn)


def test_marcxml_is_read_and_csv_with_its_header_row(librarian: Client) -> None:
    xml_isbn, csv_isbn, code = m.new_isbn13(), m.new_isbn13(), m.new_barcode()
    xml = upload(librarian, m.marcxml(m.record(xml_isbn, "Émile", barcodes=(m.new_barcode(),))), MARCXML)
    csv = ("isbn,title,author,publication_year,language,barcode,price_cents,borrow_fee_cents,currency\r\n"
           f"{csv_isbn},Middlemarch,George Eliot,1871,eng,{code},1099,150,usd\r\n"
           f"{csv_isbn},Middlemarch,George Eliot,1871,eng,{m.new_barcode()},1099,,\r\n"
           f"{m.bad_check_digit(m.new_isbn13())},Bad,Nobody,,,,,,\r\n").encode()

    first, again = upload(librarian, csv, CSV).json(), upload(librarian, csv, CSV).json()

    assert xml.json()["created"] == 1 and title_of(librarian, xml_isbn)["title"] == "Émile"
    assert (first["created"], first["updated"], [r["record"] for r in first["rejected"]]) == (1, 1, [4])
    assert (again["unchanged"], again["created"], again["updated"]) == (2, 0, 0)
    copies = title_of(librarian, csv_isbn)["copies"]
    assert sorted(c["borrow_fee_cents"] for c in copies) == [150, 199]  # the second line: IMPORT_BORROW_FEE_CENTS


@pytest.mark.parametrize(("data", "media_type", "status"), [
    (b'{"not": "marc"}', MARC, 400),
    (b"isbn;title\n1;2\n", MARC, 400),
    (b"<collection><record>", MARCXML, 400),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><collection>&b;</collection>',
     MARCXML, 400),
    (b"title,author\nEmma,Austen\n", CSV, 400),
    (b"\xff\xfe not utf-8", CSV, 400),
    (b'{"isbn": "9780141439518"}', "application/json", 415),
    (b"anything", "application/octet-stream", 415),
    (b"anything", "text/plain", 415),
], ids=["json-as-marc", "csv-as-marc", "broken-xml", "xml-entities", "csv-without-isbn", "csv-not-utf8",
        "json", "octet-stream", "plain-text"])
def test_a_file_that_is_not_what_it_claims_is_a_clear_400_or_415(librarian: Client, data: bytes, media_type: str,
                                                                   status: int) -> None:
    r = upload(librarian, data, media_type)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json" and r.json()["detail"]


def test_a_file_above_max_import_bytes_is_413(librarian: Client, settings: Any) -> None:
    r = upload(librarian, b"0" * (settings.max_import_bytes + 1), MARC)
    assert r.status_code == 413 and "MAX_IMPORT_BYTES" in r.json()["detail"]


def test_a_patron_may_not_import(alice: Client) -> None:
    assert upload(alice, m.marc(m.record(m.new_isbn13())), MARC).status_code == 403


def test_an_import_of_a_media_type_chalice_never_heard_of_is_our_415(librarian: Client) -> None:
    r = librarian.session.post(f"{librarian.base}/imports", data=b"anything",
                               headers={**librarian.headers(), "Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 415 and r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 415
