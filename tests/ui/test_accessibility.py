"""Keyboard alone is enough to borrow; every page fits a phone and passes axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.conftest import TEST_CARD, accessible, screenshot, unique

FOCUSED = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return '';
    const label = e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].innerText)
        || e.innerText || e.value || '';
    return label.trim();
}"""


def tab_to(page, pattern: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if re.search(pattern, page.evaluate(FOCUSED)):
            return
    raise AssertionError(f"Tab never reached {pattern!r}; focus is on {page.evaluate(FOCUSED)!r}")


def type_into(page, label: str, text: str) -> None:
    """Type into the focused field; move on with Tab unless the card form moved focus itself."""
    assert page.evaluate(FOCUSED) == label, f"expected focus on {label!r}, not {page.evaluate(FOCUSED)!r}"
    page.keyboard.type(text)
    if page.evaluate(FOCUSED) == label:
        page.keyboard.press("Tab")


def test_a_patron_borrows_with_the_keyboard_alone(visitor, ui_stack) -> None:
    book = ui_stack.add_book(unique("Keys to the Kingdom"))
    alice = visitor()
    page = alice.page
    alice.goto("#/")

    tab_to(page, "^Sign in$")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{ui_stack.issuer}/oauth2/authorize?**")
    tab_to(page, "^alice$")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{ui_stack.url}/#/**")
    expect(page.locator("#nav")).to_contain_text("Signed in as Alice Patron")

    tab_to(page, "^Title, author or ISBN$")
    page.keyboard.type(book["title"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="1 book found")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == book["title"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=book["title"], level=1)).to_be_focused()
    expect(page.get_by_label("Card number")).to_be_attached()

    tab_to(page, "^Card number$", limit=3)
    for label, text in [("Card number", TEST_CARD), ("Expiry month (MM)", "12"), ("Expiry year (YY)", "34"),
                        ("Security code (CVC)", "123"), ("Postal code", "12345")]:
        type_into(page, label, text)
    assert page.evaluate(FOCUSED) == "Borrow for $2.50"
    page.keyboard.press("Enter")

    expect(page.get_by_role("status").filter(has_text="Enjoy your book")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "See your loans"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_focused()
    expect(page.locator(".loan-list")).to_contain_text(book["title"])


def test_every_page_fits_a_phone_and_passes_axe(visitor, ui_stack) -> None:
    book = ui_stack.add_book(unique("Pocket Atlas"))
    queued = ui_stack.add_title(unique("Pocket Queue"))
    assert ui_stack.api_as("alice").post(f"/titles/{queued['title_id']}/borrow", {"payment_method": "pm_card_visa"}).status_code == 201
    assert ui_stack.api_as("bob").post(f"/titles/{queued['title_id']}/holds").status_code == 201
    phone = {"width": 375, "height": 740}
    libby = visitor(viewport=phone)
    libby.sign_in("libby")
    page = libby.page

    def fits(name: str) -> None:
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the {name} page is {overflow}px wider than a phone"
        accessible(page, f"{name} (phone)")

    libby.goto("#/?available=1")
    expect(page.get_by_role("heading", name=re.compile("found"))).to_be_visible()
    expect(page.get_by_role("checkbox", name="Available only")).to_be_checked()
    fits("catalogue")
    screenshot(page, "catalogue-phone")
    expect(page.get_by_role("navigation", name="Result pages")).to_be_visible()
    page.get_by_role("link", name="Next page →").click()
    expect(page.get_by_role("heading", name=re.compile(r"page 2 of"))).to_be_visible()
    fits("catalogue page 2")

    libby.goto(f"#/books/{book['book_id']}")
    expect(page.get_by_label("Card number")).to_be_attached()
    fits("book")
    screenshot(page, "book-phone")
    libby.goto(f"#/titles/{book['title_id']}")
    expect(page.get_by_label("Card number")).to_be_attached()
    fits("title")
    screenshot(page, "title-phone")
    libby.goto(f"#/titles/{queued['title_id']}")
    expect(page.get_by_role("region", name="Queue (librarians)")).to_contain_text("Bob Patron")
    fits("title with its queue")
    screenshot(page, "title-queue-phone")
    libby.goto("#/account")
    expect(page.get_by_role("heading", name="On loan now")).to_be_visible()
    fits("account")
    libby.goto("#/librarian")
    expect(page.get_by_role("heading", name="Add a book")).to_be_visible()
    fits("librarian")
    screenshot(page, "librarian-phone")
