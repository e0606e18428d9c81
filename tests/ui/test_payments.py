"""Card answers in plain words: a decline keeps the book available; of two people borrowing at once, one wins."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.ui.conftest import DECLINED_AT_CONFIRM, accessible, screenshot, unique


def test_a_declined_card_shows_the_reason_and_the_book_stays_available(visitor, ui_stack) -> None:
    book = ui_stack.add_book(unique("Salt and Stone"))
    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/books/{book['book_id']}")
    page = alice.page
    alice.fill_card(DECLINED_AT_CONFIRM)
    page.get_by_role("button", name=re.compile("^Borrow for")).click()

    problem = page.get_by_role("alert").filter(has_text="Your card was declined")
    expect(problem).to_be_focused()
    expect(problem).to_contain_text("your bank declined it")
    expect(problem).to_contain_text("You have not been charged")
    expect(page.locator(".facts")).to_contain_text("Available")
    expect(page.get_by_role("button", name=re.compile("^Borrow for"))).to_be_enabled()
    accessible(page, "book (card declined)")
    screenshot(page, "book-card-declined")
    assert ui_stack.api_as("alice").get(f"/books/{book['book_id']}").json()["status"] == "available"
    loans = ui_stack.api_as("alice").get("/me/loans").json()["items"]
    assert book["book_id"] not in {loan["book_id"] for loan in loans}


def test_two_people_borrowing_the_same_book_at_once_one_gets_it(visitor, ui_stack) -> None:
    book = ui_stack.add_book(unique("The Last Copy"))
    people = []
    for sub in ("alice", "bob"):
        person = visitor()
        person.sign_in(sub, from_hash=f"#/books/{book['book_id']}")
        person.fill_card()
        people.append(person)

    # Hold each browser's borrow request until both are on their way, then let both go together.
    held: list = []
    for person in people:
        person.page.route("**/books/*/borrow", lambda route: held.append(route))
    for person in people:
        person.page.get_by_role("button", name=re.compile("^Borrow for")).click()
    deadline = time.monotonic() + 10
    while len(held) < 2:
        assert time.monotonic() < deadline, "both borrow requests should have been sent"
        people[0].page.wait_for_timeout(20)  # lets Playwright deliver the held requests
    for route in held:
        route.continue_()

    outcomes = []
    for person in people:
        box = person.page.locator(".outcome")
        expect(box).to_be_visible()
        outcomes.append(box.inner_text())
    won = [text for text in outcomes if "Enjoy your book" in text]
    lost = [text for text in outcomes if "someone else has just borrowed this book" in text]
    assert len(won) == 1 and len(lost) == 1, outcomes
    for person in people:
        expect(person.page.locator(".facts")).to_contain_text("On loan")
    loser = people[outcomes.index(lost[0])].page
    expect(loser.get_by_role("alert")).to_be_focused()
    screenshot(loser, "book-conflict")
    assert ui_stack.api_as("alice").get(f"/books/{book['book_id']}").json()["status"] == "borrowed"


def test_a_processor_outage_says_try_again_in_a_moment_and_a_retry_works(visitor, ui_stack) -> None:
    book = ui_stack.add_book(unique("Weather Reports"))
    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/books/{book['book_id']}")
    page = alice.page
    alice.fill_card()

    held: list = []
    page.route("**/books/*/borrow", lambda route: held.append(route))
    page.get_by_role("button", name=re.compile("^Borrow for")).click()
    deadline = time.monotonic() + 10
    while not held:  # the card is with Stripe's stand-in and the borrow request is on its way
        assert time.monotonic() < deadline, "the borrow request should have been sent"
        page.wait_for_timeout(20)
    with ui_stack.stripe_stopped():
        held[0].continue_()
        problem = page.get_by_role("alert").filter(has_text="try again in a moment")
        expect(problem).to_be_focused()
        expect(problem).to_contain_text("nothing was charged")
        expect(page.locator(".facts")).to_contain_text("Available")
    page.unroute("**/books/*/borrow")

    page.get_by_role("button", name=re.compile("^Borrow for")).click()
    expect(page.get_by_role("status").filter(has_text="Enjoy your book")).to_be_focused()


def test_a_double_click_buys_once(visitor, ui_stack) -> None:
    book = ui_stack.add_book(unique("Twice Told Tales"))
    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/books/{book['book_id']}")
    page = alice.page
    alice.fill_card()
    page.get_by_role("button", name=re.compile("^Buy for")).dblclick()
    expect(page.get_by_role("status").filter(has_text="the book is yours")).to_be_focused()
    purchases = [key for path, key in alice.api_posts if path.endswith("/purchase")]
    assert len(purchases) == 1 and re.fullmatch(r"[0-9a-f-]{36}", purchases[0] or "")
    bought = ui_stack.api_as("alice").get("/me/purchases").json()["items"]
    assert [p["book_id"] for p in bought].count(book["book_id"]) == 1
