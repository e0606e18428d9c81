"""Catalogue management and refunds in Chromium, as a librarian with the keyboard: a title found through the
catalogue search is edited, gets a copy, has a copy's price, fee and barcode changed and a copy withdrawn (a
copy on loan is refused, in words); a purchase is refunded on the desk only after "Confirm refund", and
"Cancel" leaves it as it was. Each step is checked on the server, and each page with axe."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.ui.conftest import accessible, screenshot, unique
from tests.ui.test_desk_ui import barcode_of

CARD = {"payment_method": "pm_card_visa"}


def copy_section(page: Any, book_id: str) -> Any:
    return page.locator("section.copy-admin", has=page.locator(f"a[href='#/books/{book_id}']"))


def test_a_librarian_edits_a_title_adds_and_edits_copies_and_withdraws_one(visitor: Any, ui_stack: Any) -> None:
    name = unique("Admin Edit")
    title = ui_stack.add_title(name, copies=2)
    lent, spare = title["book_ids"]
    assert ui_stack.api_as("alice").post(f"/books/{lent}/borrow", CARD).status_code == 201
    patron = ui_stack.api_as("alice")

    libby = visitor()
    libby.sign_in("libby")
    page = libby.page
    libby.search(name)
    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Manage this title and its copies").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Manage “{name}”")
    accessible(page, "manage title")

    # edit the title, with the keyboard: type, then Enter submits the form
    renamed = f"{name} Revised"
    page.get_by_label("Title", exact=True).fill(renamed)
    page.get_by_label("Year published").fill("1987")
    page.get_by_label("Language code").fill("fr")
    page.get_by_label("Language code").press("Enter")
    notice = page.get_by_role("status").filter(has_text="Saved “")
    expect(notice).to_have_text(f"Saved “{renamed}”.")
    expect(notice).to_be_focused()
    got = patron.get(f"/titles/{title['title_id']}").json()
    assert (got["title"], got["publication_year"], got["language"], got["author"]) == (renamed, 1987, "fr", "Ursula Tester")

    # add one copy with a barcode of our own
    barcode = f"ADM-{uuid.uuid4().hex[:8]}"
    page.get_by_label("Price to buy", exact=True).first.fill("20.00")
    page.get_by_label("Borrow fee", exact=True).first.fill("3.10")
    page.get_by_label("Barcode", exact=True).fill(barcode)
    page.get_by_role("button", name="Add copies").click()
    expect(page.get_by_role("status").filter(has_text="Added 1 copy")).to_contain_text(barcode)
    got = patron.get(f"/titles/{title['title_id']}").json()
    assert got["copies_total"] == 3
    added = [c for c in got["copies"] if c["book_id"] not in title["book_ids"]]
    assert [(c["price_cents"], c["borrow_fee_cents"], c["status"]) for c in added] == [(2000, 310, "available")]
    assert barcode_of(ui_stack, added[0]["book_id"]) == barcode

    # a copy's price, fee and barcode
    section = copy_section(page, spare)
    section.get_by_label("Price to buy").fill("18.50")
    section.get_by_label("Borrow fee").fill("2.75")
    new_code = f"RE-{uuid.uuid4().hex[:8]}"
    section.get_by_label("New barcode").fill(new_code)
    section.get_by_label("New barcode").press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved copy")).to_contain_text(new_code)
    book = patron.get(f"/books/{spare}").json()
    assert (book["price_cents"], book["borrow_fee_cents"]) == (1850, 275)
    assert barcode_of(ui_stack, spare) == new_code

    # withdrawing the copy on loan is refused, and says why; nothing changes
    section = copy_section(page, lent)
    section.get_by_label("Reason for withdrawing").fill("Damaged")
    section.get_by_role("button", name="Withdraw copy").click()
    refusal = section.get_by_role("alert")
    expect(refusal).to_contain_text("This copy is on loan, so it cannot be withdrawn.")
    expect(refusal).to_be_focused()
    assert patron.get(f"/books/{lent}").json()["status"] == "borrowed"
    accessible(page, "manage title with a refusal")
    screenshot(page, "manage-title-refused")

    # withdrawing a copy on the shelf works
    section = copy_section(page, spare)
    section.get_by_label("Reason for withdrawing").fill("Water damage")
    section.get_by_role("button", name="Withdraw copy").click()
    expect(page.get_by_role("status").filter(has_text="Withdrew copy")).to_be_visible()
    assert patron.get(f"/books/{spare}").json()["status"] == "withdrawn"
    got = patron.get(f"/titles/{title['title_id']}").json()
    assert got["copies_total"] == 2 and spare not in {c["book_id"] for c in got["copies"]}
    expect(copy_section(page, spare)).to_have_count(0)


def test_a_refund_needs_its_confirmation_and_cancel_changes_nothing(visitor: Any, ui_stack: Any) -> None:
    title = ui_stack.add_title(unique("Refund Me"))
    book_id = title["book_ids"][0]
    bob = ui_stack.api_as("bob")
    bought = bob.post(f"/books/{book_id}/purchase", CARD)
    assert bought.status_code == 201, bought.text
    purchase_id = bought.json()["purchase_id"]

    def purchase() -> dict[str, Any]:
        return next(p for p in bob.get("/me/purchases").json()["items"] if p["purchase_id"] == purchase_id)

    libby = visitor()
    libby.sign_in("libby")
    page = libby.page
    libby.goto("#/desk")
    ask = page.get_by_role("button", name="Refund…")

    # Refund… asks first; Cancel sends nothing
    page.get_by_label("Purchase id").fill(purchase_id)
    page.get_by_label("Reason", exact=True).fill("Damaged on arrival")
    ask.click()
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_focused()
    accessible(page, "desk refund confirmation")
    screenshot(page, "desk-refund-confirm")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_have_text("Cancelled: nothing was refunded.")
    expect(page.get_by_role("button", name="Confirm refund")).to_have_count(0)
    expect(page.get_by_label("Purchase id")).to_be_focused()
    assert purchase()["reversed_at"] is None
    assert bob.get(f"/books/{book_id}").json()["status"] == "sold"
    assert not [p for p, _ in libby.api_posts if p.startswith("/purchases/")]

    # Refund… then Confirm refund (pressed twice): one refund, the copy is back
    ask.click()
    confirm = page.get_by_role("button", name="Confirm refund")
    confirm.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    done = page.get_by_role("status").filter(has_text="Refunded")
    expect(done).to_contain_text("Refunded $15.00. The copy is back in the library.")
    expect(done).to_be_focused()
    refunds = [p for p, _ in libby.api_posts if p == f"/purchases/{purchase_id}/refund"]
    assert len(refunds) == 1, refunds
    assert purchase()["reversed_at"] is not None
    assert bob.get(f"/books/{book_id}").json()["status"] == "available"
    again = ui_stack.api_as("libby").post(f"/purchases/{purchase_id}/refund", {"reason": "again"})
    assert again.status_code == 409 and again.json()["reason"] == "already_refunded"

    # the buyer sees the receipt id (what the desk asks for) and that it was refunded
    buyer = visitor()
    buyer.sign_in("bob")
    buyer.goto("#/account")
    bought_list = buyer.page.locator("section", has=buyer.page.get_by_role("heading", name="Purchases"))
    expect(bought_list.locator("li", has_text=purchase_id)).to_contain_text("(refunded ")

    # refunding it again through the UI says it was refunded already
    page.get_by_label("Purchase id").fill(purchase_id)
    page.get_by_label("Reason", exact=True).fill("Again")
    ask.click()
    page.get_by_role("button", name="Confirm refund").click()
    expect(page.get_by_role("alert").filter(has_text="refunded already")).to_be_focused()
    accessible(page, "desk refund refused")
