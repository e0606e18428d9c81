"""The desk in Chromium: a barcode field that keeps focus scan after scan with the outcome shown and read
out, a catalogue import with its report, a report downloaded as CSV; keyboard only, axe-clean."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.support.marc_files import new_isbn13
from tests.ui.conftest import accessible, unique

CARD = {"payment_method": "pm_card_visa"}


def barcode_of(ui_stack: Any, book_id: str) -> str:
    libby = ui_stack.api_as("libby")
    copy = libby.session.patch(f"{libby.base}/books/{book_id}", json={}, headers=libby.headers(), timeout=30)
    assert copy.status_code == 200, copy.text
    return str(copy.json()["barcode"])


def test_scan_after_scan_at_the_desk_with_the_outcome_read_out(visitor: Any, ui_stack: Any) -> None:
    title = ui_stack.add_title(unique("Desk Scan"), copies=2)
    lent, other = title["book_ids"]
    for who, book in (("alice", lent), ("bob", other)):
        assert ui_stack.api_as(who).post(f"/books/{book}/borrow", CARD).status_code == 201
    assert ui_stack.api_as("carol").post(f"/titles/{title['title_id']}/holds").status_code == 201

    libby = visitor()
    libby.sign_in("libby")
    page = libby.page
    page.locator("#nav").get_by_role("link", name="Desk").click()
    field = page.get_by_label("Barcode")
    expect(field).to_be_focused()

    field.fill(barcode_of(ui_stack, lent))
    field.press("Enter")
    expect(page.locator(".desk-outcome")).to_contain_text("Put it on the hold shelf for")
    expect(field).to_be_focused()
    expect(field).to_have_value("")
    field.fill(barcode_of(ui_stack, other))
    field.press("Enter")
    expect(page.locator(".desk-outcome")).to_contain_text("Put it back on the shelf.")
    field.fill(barcode_of(ui_stack, other))
    field.press("Enter")
    expect(page.locator(".desk-outcome [role=alert]")).to_be_visible()
    expect(field).to_be_focused()
    accessible(page, "desk")


def test_an_import_shows_its_report_and_a_report_downloads_as_csv(visitor: Any, ui_stack: Any) -> None:
    libby = visitor()
    libby.sign_in("libby")
    page = libby.page
    libby.goto("#/desk")
    csv = f"isbn,title,author\n{new_isbn13()},{unique('Imported')},Ann Author\n9780000000000,Bad,Nobody\n"
    page.get_by_label("MARC, MARCXML or CSV file").set_input_files(
        {"name": "catalogue.csv", "mimeType": "text/csv", "buffer": csv.encode()})
    page.get_by_role("button", name="Import").click()
    report = page.get_by_role("status").filter(has_text="records:")
    expect(report).to_contain_text("2 records: 1 created, 0 updated, 0 unchanged, 1 rejected.")
    expect(report).to_contain_text("Record 3:")

    with page.expect_download() as caught:
        page.get_by_role("button", name="Download Overdue loans (CSV)").click()
    download = caught.value
    assert download.suggested_filename == "overdue.csv"
    with open(download.path(), encoding="utf-8") as got:
        assert got.readline().startswith("loan_id,patron_sub,patron_name,title,barcode")
