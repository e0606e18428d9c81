"""Fees in the browser: My account shows the balance, the charges and why the account is blocked,
and Pay takes the card; a librarian finds the patron and waives a charge with a reason."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from lending_postgres import ConnectionPool
from tests.ui.conftest import accessible, screenshot, unique

CARD = {"payment_method": "pm_card_visa"}


def late_return(ui_stack: Any, sub: str, late: str) -> None:
    """Borrow a copy, move its due date `late` into the past (time moved, not waited for), return it."""
    book = ui_stack.add_book(unique("Overdue Tales"))
    patron = ui_stack.api_as(sub)
    assert patron.post(f"/books/{book['book_id']}/borrow", CARD).status_code == 201
    pool = ConnectionPool(ui_stack.database_url, size=1)
    try:
        with pool.connection() as c:
            c.run("UPDATE loans SET due_at = now() - CAST(:i AS interval) WHERE book_id = CAST(:b AS uuid)",
                  i=late, b=book["book_id"])
    finally:
        pool.close()
    assert patron.post(f"/books/{book['book_id']}/return").status_code == 200


def balance(ui_stack: Any, sub: str) -> int:
    return int(ui_stack.api_as(sub).get("/me/account").json()["balance_cents"])


def test_a_blocked_patron_sees_why_and_pays_the_balance_by_card(visitor, ui_stack) -> None:
    late_return(ui_stack, "bob", "60 days")  # capped at the price: $15.00, over the $10.00 limit
    owed = balance(ui_stack, "bob")
    shown = f"${owed / 100:,.2f}"
    bob = visitor()
    page = bob.page
    bob.sign_in("bob", from_hash="#/account")
    bob.goto("#/account")
    fees = page.get_by_role("region", name="Fees")
    expect(fees.locator(".balance")).to_have_text(f"You owe {shown}")
    expect(fees.get_by_role("alert")).to_contain_text("Your account is blocked, because you owe more than the library allows")
    expect(fees.get_by_role("region", name="Charges")).to_contain_text("Late fee")
    accessible(page, "my account (fees, blocked)")
    screenshot(page, "account-fees-blocked")

    fees.get_by_role("button", name=f"Pay {shown}").click()
    expect(page.get_by_role("heading", name=f"Pay {shown}")).to_be_focused()
    bob.fill_card()
    page.locator("#pay-slot").get_by_role("button", name=f"Pay {shown}").click()
    expect(page.get_by_role("status").filter(has_text=f"you have paid {shown}")).to_be_visible()
    expect(page.get_by_role("region", name="Fees").locator(".balance")).to_have_text("Balance: $0.00")
    assert balance(ui_stack, "bob") == 0


def test_a_librarian_finds_a_patron_and_waives_a_charge_with_a_reason(visitor, ui_stack) -> None:
    late_return(ui_stack, "alice", "2 days 1 hour")
    before = balance(ui_stack, "alice")
    libby = visitor()
    page = libby.page
    libby.sign_in("libby", from_hash="#/librarian")
    libby.goto("#/librarian")
    desk = page.get_by_role("region", name="Patrons")
    desk.get_by_label("Name, email or subject").fill("alice")
    desk.get_by_role("button", name="Find patron").click()
    desk.get_by_role("listitem").first.get_by_role("button").click()
    charges = desk.get_by_role("region", name="Charges")
    expect(charges).to_contain_text("Late fee")
    row = charges.get_by_role("row").filter(has_text="$0.75").first
    row.get_by_role("textbox").fill("first late return")
    accessible(page, "librarian (waive a charge)")
    screenshot(page, "librarian-waive")
    row.get_by_role("button", name="Waive").click()
    expect(desk.get_by_role("status").filter(has_text="Waived the late fee.")).to_be_visible()
    assert balance(ui_stack, "alice") == before - 75
    waivers = [c for c in ui_stack.api_as("alice").get("/me/account").json()["charges"] if c["kind"] == "waiver"]
    assert waivers and waivers[0]["amount_cents"] == -75
