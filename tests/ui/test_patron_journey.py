"""A patron signs in, finds a book, borrows it with a card, sees the loan, returns it and buys another."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.ui.conftest import accessible, screenshot, unique


def due_dates() -> set[str]:
    """The due date as the page shows it (en-US, UTC), allowing for a run across midnight."""
    today = datetime.now(UTC)
    return {f"{d:%b} {d.day}, {d.year}" for d in (today + timedelta(days=21), today + timedelta(days=22))}


def test_a_patron_borrows_returns_and_buys(visitor, ui_stack) -> None:
    to_borrow = ui_stack.add_book(unique("Atlas of Quiet Rivers"), borrow_fee_cents=275)
    to_buy = ui_stack.add_book(unique("Field Guide to Lichens"), price_cents=1850)
    alice = visitor()
    page = alice.page

    page.goto(f"{ui_stack.url}/")
    expect(page.get_by_role("heading", name="Find a book", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"books found"))).to_be_visible()
    accessible(page, "catalogue (signed out)")
    screenshot(page, "catalogue")

    page.locator("#nav").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{ui_stack.issuer}/oauth2/authorize?**")
    screenshot(page, "sign-in-provider")
    alice.pick_user("alice")
    expect(page.locator("#nav")).to_contain_text("Signed in as Alice Patron")

    alice.search(to_borrow["title"])
    expect(page.get_by_role("heading", name="1 book found")).to_be_focused()
    expect(page.locator("#status")).to_have_text("1 book found")
    card = page.locator(".book-card")
    expect(card).to_contain_text("1 of 1 available")
    page.get_by_role("link", name=to_borrow["title"]).click()

    expect(page).to_have_url(re.compile(rf"#/titles/{to_borrow['title_id']}$"))
    expect(page.get_by_role("heading", name=to_borrow["title"], level=1)).to_be_focused()
    facts = page.locator(".facts")
    copies = page.locator(".copy-list")
    expect(facts).to_contain_text("1 of 1 available")
    expect(copies).to_contain_text("Available")
    expect(facts).to_contain_text("$2.75 for 21 days")
    expect(facts).to_contain_text("$15.00")
    alice.fill_card()
    accessible(page, "book")
    screenshot(page, "book")
    page.get_by_role("button", name="Borrow for $2.75").click()

    done = page.get_by_role("status").filter(has_text="Enjoy your book")
    expect(done).to_be_focused()
    shown_due = page.locator(".outcome .due").inner_text()
    assert shown_due in due_dates()
    expect(facts).to_contain_text("0 of 1 available")
    expect(copies).to_contain_text(f"On loan — due back {shown_due}")
    expect(page.get_by_role("button", name=re.compile("^Borrow for"))).to_have_count(0)
    accessible(page, "book (borrowed)")

    page.get_by_role("link", name="See your loans").click()
    loan = page.locator(".loan-list li").filter(has_text=to_borrow["title"])
    expect(loan).to_contain_text(f"Due back by {shown_due}")
    accessible(page, "my account")
    screenshot(page, "account")

    loan.get_by_role("button", name=f"Return “{to_borrow['title']}”").click()
    returned = page.get_by_role("status").filter(has_text=f"you have returned “{to_borrow['title']}”")
    expect(returned).to_be_focused()
    expect(page.locator(".loan-list li").filter(has_text=to_borrow["title"])).to_have_count(0)
    expect(page.locator("section", has=page.get_by_role("heading", name="Loan history"))).to_contain_text(to_borrow["title"])
    assert ui_stack.api_as("alice").get(f"/books/{to_borrow['book_id']}").json()["status"] == "available"

    page.locator("#nav").get_by_role("link", name="Catalogue").click()
    alice.search(to_buy["title"])
    page.get_by_role("link", name=to_buy["title"]).click()
    alice.fill_card()
    page.get_by_role("button", name="Buy for $18.50").click()
    expect(page.get_by_role("status").filter(has_text="the book is yours")).to_be_focused()
    expect(page.locator(".copy-list")).to_contain_text("Sold")
    expect(page.get_by_role("button", name=re.compile("^(Borrow|Buy) for"))).to_have_count(0)

    page.get_by_role("link", name="See your purchases").click()
    expect(page.locator("section", has=page.get_by_role("heading", name="Purchases"))).to_contain_text(to_buy["title"])
    purchases = ui_stack.api_as("alice").get("/me/purchases").json()["items"]
    assert to_buy["book_id"] in {p["book_id"] for p in purchases}


def test_the_token_lives_in_session_storage_and_goes_only_to_the_api(visitor, ui_stack) -> None:
    alice = visitor()
    alice.sign_in("alice")
    page = alice.page
    expect(page.locator("#nav").get_by_role("link", name="My account")).to_be_visible()
    page.locator("#nav").get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    assert alice.bearers, "the account page is read with the ID token"
    token = next(iter(alice.bearers))
    assert page.evaluate("() => window.localStorage.length") == 0
    session = page.evaluate("() => JSON.stringify(window.sessionStorage)")
    assert token in session
    assert alice.blocked == [] or all("cdn" in url for url in alice.blocked)

    page.locator("#nav").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{ui_stack.issuer}/oauth2/end_session?**")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{ui_stack.url}/**")
    expect(page.locator("#nav").get_by_role("button", name="Sign in")).to_be_visible()
    assert token not in page.evaluate("() => JSON.stringify(window.sessionStorage)")


def test_an_ended_session_signs_in_again_and_comes_back(visitor, ui_stack) -> None:
    alice = visitor()
    alice.sign_in("alice", from_hash="#/account")
    page = alice.page
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    # The provider no longer honours this token (as after expiry or a new signing key): the API says 401.
    page.evaluate("""() => {
        for (const key of Object.keys(sessionStorage).filter((k) => k.startsWith('oidc.user:'))) {
            const user = JSON.parse(sessionStorage.getItem(key));
            user.id_token = user.id_token.slice(0, -8) + 'AAAAAAAA';
            sessionStorage.setItem(key, JSON.stringify(user));
        }
    }""")
    page.reload()
    alice.pick_user("alice")
    expect(page).to_have_url(re.compile(r"/#/account$"))
    expect(page.get_by_role("status").filter(has_text="signed you in again")).to_be_visible()
    expect(page.get_by_role("heading", name="On loan now")).to_be_visible()
