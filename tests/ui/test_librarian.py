"""A librarian adds a book (price and borrow fee) and sees who has what on loan; a patron finds the new book."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.conftest import accessible, fresh_isbn, screenshot, unique


def test_a_librarian_adds_a_book_and_a_patron_finds_it(visitor, ui_stack) -> None:
    lent = ui_stack.add_book(unique("On Loan to Alice"))
    borrowed = ui_stack.api_as("alice").post(f"/books/{lent['book_id']}/borrow", {"payment_method": "pm_card_visa"})
    assert borrowed.status_code == 201, borrowed.text
    title = unique("The Cartographer's Daughter")

    libby = visitor()
    libby.sign_in("libby")
    page = libby.page
    page.locator("#nav").get_by_role("link", name="Librarian").click()
    expect(page.get_by_role("heading", name="Librarian", level=1)).to_be_focused()
    row = page.get_by_role("row").filter(has_text=lent["title"])
    expect(row).to_contain_text("Alice Patron")

    page.get_by_role("button", name="Add book").click()  # empty: every field says what it needs
    expect(page.get_by_label("Title")).to_be_focused()
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#title-error")).to_have_text("Please enter the title.")

    page.get_by_label("Title").fill(title)
    page.get_by_label("Author").fill("Mira Okafor")
    isbn = fresh_isbn()  # a new ISBN makes a new title (an ISBN already held would add a copy to its title)
    page.get_by_label("ISBN").fill(f"{isbn[:3]}-{isbn[3]}-{isbn[4:6]}-{isbn[6:12]}-{isbn[12]}")
    page.get_by_label("Price to buy").fill("21.50")
    page.get_by_label("Borrow fee").fill("3")
    accessible(page, "librarian")
    page.get_by_role("button", name="Add book").click()
    added = page.get_by_role("status").filter(has_text=f"Added “{title}” to the catalogue")
    expect(added).to_be_focused()
    screenshot(page, "librarian")

    alice = visitor()
    alice.goto("#/")
    alice.search("Okafor")
    result = alice.page.locator(".book-card").filter(has_text=title)
    expect(result).to_contain_text("1 of 1 available")
    alice.page.get_by_role("link", name=title).click()
    expect(alice.page.get_by_role("heading", name=title, level=1)).to_be_visible()
    facts = alice.page.locator(".facts")
    expect(facts).to_contain_text("$3.00 for 21 days")
    expect(facts).to_contain_text("$21.50")
    expect(facts).to_contain_text(isbn)
    expect(alice.page.get_by_role("button", name="Sign in to borrow or buy")).to_be_visible()
    accessible(alice.page, "book (signed out)")


def test_a_patron_does_not_get_the_librarian_page(visitor, ui_stack) -> None:
    alice = visitor()
    alice.sign_in("alice")
    expect(alice.page.locator("#nav").get_by_role("link", name="Librarian")).to_have_count(0)
    alice.goto("#/librarian")
    expect(alice.page.get_by_role("alert")).to_have_text(re.compile("This page is for librarians"))
