"""Circulation in the browser: titles with their availability in the catalogue, borrowing by title,
holds (your place in the queue, ready on the hold shelf, cancel), renewals with the card step and
their refusals in words, and the queue a librarian sees."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.ui.conftest import TEST_CARD, accessible, screenshot, unique
from tests.ui.test_accessibility import FOCUSED, tab_to, type_into

CARD = {"payment_method": "pm_card_visa"}


def shown_day(days: int) -> set[str]:
    """A date `days` from now as the page shows it (en-US, UTC), allowing for a run across midnight."""
    today = datetime.now(UTC)
    return {f"{d:%b} {d.day}, {d.year}" for d in (today + timedelta(days=days), today + timedelta(days=days + 1))}


def borrow_title(ui_stack, sub: str, title: dict) -> dict:
    answer = ui_stack.api_as(sub).post(f"/titles/{title['title_id']}/borrow", CARD)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def place_hold(ui_stack, sub: str, title: dict) -> dict:
    answer = ui_stack.api_as(sub).post(f"/titles/{title['title_id']}/holds")
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_search_shows_titles_with_availability_ranked_with_facets(visitor, ui_stack) -> None:
    tag = uuid.uuid4().hex[:6]
    harbour = ui_stack.add_title(f"Harbour Lights {tag}", copies=3, author="Ann Vale", language="en",
                                 publication_year=1999)
    by_name = ui_stack.add_title(f"Quiet Nights {tag}", author="Harbour Grey", language="fr")
    ui_stack.add_title(f"Lanterns {tag}", author="Ann Vale", language="en")
    borrow_title(ui_stack, "bob", harbour)
    borrow_title(ui_stack, "bob", by_name)

    alice = visitor()
    page = alice.page
    alice.goto("#/")
    alice.search(tag)
    expect(page.get_by_role("heading", name="3 books found")).to_be_focused()
    cards = page.locator(".book-card")
    expect(cards).to_have_count(3)
    harbour_card = cards.filter(has=page.get_by_role("link", name=harbour["title"]))
    expect(harbour_card.locator(".availability")).to_have_text("✓ 2 of 3 available")
    expect(harbour_card).to_contain_text("by Ann Vale")
    expect(harbour_card).to_contain_text("1999 · English")
    expect(cards.filter(has_text=by_name["title"]).locator(".availability")).to_have_text("↺ 0 of 1 available")
    accessible(page, "catalogue (titles)")
    screenshot(page, "catalogue-titles")

    # Ranked: "harbour" in a title weighs more than in an author's name.
    alice.search(f"harbour {tag}")
    expect(page.get_by_role("heading", name=re.compile("books found"))).to_be_focused()
    expect(page.get_by_text("Best matches first.")).to_be_visible()
    ranked = page.locator(".book-card h3")
    expect(ranked.nth(0)).to_have_text(harbour["title"])
    expect(ranked.nth(1)).to_have_text(by_name["title"])

    # The facets are filters: an author, then back to any author; a language.
    alice.search(tag)
    authors = page.get_by_role("list", name="Author")
    expect(authors).to_contain_text("Ann Vale (2)")
    expect(authors).to_contain_text("Harbour Grey (1)")
    authors.get_by_role("link", name=re.compile("^Harbour Grey")).click()
    expect(page.get_by_role("heading", name="1 book found")).to_be_focused()
    expect(page.locator(".book-card h3")).to_have_text([by_name["title"]])
    expect(page.get_by_role("link", name=re.compile("Harbour Grey"))).to_have_attribute("aria-current", "true")
    accessible(page, "catalogue (filtered by author)")
    page.get_by_role("link", name="Any author").click()
    expect(page.get_by_role("heading", name="3 books found")).to_be_focused()
    page.get_by_role("list", name="Language").get_by_role("link", name=re.compile("^French")).click()
    expect(page.get_by_role("heading", name="1 book found")).to_be_focused()
    expect(page.locator(".book-card h3")).to_have_text([by_name["title"]])

    # "Available only" with its count, keeping the language filter.
    page.get_by_role("link", name="Any language").click()
    expect(page.get_by_role("checkbox", name="Available only")).to_have_accessible_name("Available only (2)")
    page.get_by_role("checkbox", name="Available only").check()
    expect(page.get_by_role("heading", name="2 books found")).to_be_visible()
    expect(page.get_by_role("link", name=by_name["title"])).to_have_count(0)


def test_borrow_from_a_title_page(visitor, ui_stack) -> None:
    title = ui_stack.add_title(unique("Two Copies of Everything"), copies=2, borrow_fee_cents=325)
    bobs = borrow_title(ui_stack, "bob", title)
    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/titles/{title['title_id']}")
    page = alice.page
    expect(page.get_by_role("heading", name=title["title"], level=1)).to_be_visible()
    facts, copies = page.locator(".facts"), page.locator(".copy-list li")
    expect(facts).to_contain_text("1 of 2 available")
    expect(copies).to_have_count(2)
    lent = copies.filter(has=page.get_by_role("link", name=f"Copy {title['book_ids'].index(bobs['book_id']) + 1}"))
    expect(lent).to_contain_text("On loan — due back")
    expect(page.get_by_role("button", name="Place hold")).to_have_count(0)

    alice.fill_card()
    accessible(page, "title (a copy free)")
    screenshot(page, "title")
    page.get_by_role("button", name="Borrow for $3.25").click()
    done = page.get_by_role("status").filter(has_text="Enjoy your book")
    expect(done).to_be_focused()
    assert page.locator(".outcome .due").inner_text() in shown_day(21)
    expect(facts).to_contain_text("0 of 2 available")
    expect(copies.filter(has_text="On loan — due back")).to_have_count(2)
    expect(page.locator(".panel")).to_contain_text("You have this on loan, due back by")
    expect(page.get_by_role("button", name=re.compile("^Borrow for|^Place hold"))).to_have_count(0)
    loans = ui_stack.api_as("alice").get("/me/loans").json()["items"]
    mine = [loan for loan in loans if loan["book_id"] in title["book_ids"] and not loan["returned_at"]]
    assert len(mine) == 1 and mine[0]["book_id"] != bobs["book_id"]
    assert any(path == f"/titles/{title['title_id']}/borrow" for path, _ in alice.api_posts)


def test_place_a_hold_when_no_copy_is_free_and_see_the_position(visitor, ui_stack) -> None:
    title = ui_stack.add_title(unique("Everybody Wants This"))
    borrow_title(ui_stack, "bob", title)
    place_hold(ui_stack, "libby", title)

    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/titles/{title['title_id']}")
    page = alice.page
    expect(page.locator(".facts")).to_contain_text("0 of 1 available — 1 person waiting")
    expect(page.get_by_role("button", name=re.compile("^Borrow for"))).to_have_count(0)
    expect(page.get_by_label("Card number")).to_have_count(0)
    expect(page.get_by_role("region", name="Place a hold")).to_contain_text("1 person is waiting")
    accessible(page, "title (every copy out)")
    page.get_by_role("button", name="Place hold").click()

    placed = page.get_by_role("status").filter(has_text="Your hold is placed")
    expect(placed).to_be_focused()
    expect(placed).to_contain_text(f"You are number 2 in the queue for “{title['title']}”.")
    expect(page.get_by_role("region", name="Your hold")).to_contain_text("You are number 2 in the queue.")
    expect(page.get_by_role("button", name="Place hold")).to_have_count(0)
    accessible(page, "title (hold placed)")
    screenshot(page, "title-hold-placed")
    holds = ui_stack.api_as("alice").get("/me/holds").json()["items"]
    assert [(h["title_id"], h["position"], h["status"]) for h in holds if h["title_id"] == title["title_id"]] == [
        (title["title_id"], 2, "waiting")]
    assert any(path == f"/titles/{title['title_id']}/holds" and key for path, key in alice.api_posts)


def test_my_account_lists_holds_with_cancel_and_loans_with_renew(visitor, ui_stack) -> None:
    waiting = ui_stack.add_title(unique("Still Waiting"))
    ready = ui_stack.add_title(unique("Ready and Waiting"))
    to_renew = ui_stack.add_title(unique("Keep It Longer"), borrow_fee_cents=175)
    for title in (waiting, ready):
        borrow_title(ui_stack, "bob", title)
        place_hold(ui_stack, "alice", title)
    assert ui_stack.api_as("bob").post(f"/books/{ready['book_ids'][0]}/return").status_code == 200
    loan = borrow_title(ui_stack, "alice", to_renew)

    alice = visitor()
    alice.sign_in("alice", from_hash="#/account")
    page = alice.page
    holds = page.get_by_role("list", name="Holds")
    waiting_hold = holds.get_by_role("listitem").filter(has_text=waiting["title"])
    expect(waiting_hold).to_contain_text("Number 1 in the queue")
    ready_hold = holds.get_by_role("listitem").filter(has_text=ready["title"])
    expect(ready_hold).to_contain_text("Ready for you — a copy waits on the hold shelf until")
    assert re.search(r"until (\w{3} \d{1,2}, \d{4})", ready_hold.inner_text()).group(1) in shown_day(7)
    expect(ready_hold.get_by_role("link", name=f"Borrow “{ready['title']}” now")).to_be_visible()

    on_loan = page.locator(".loan-list li").filter(has_text=to_renew["title"])
    expect(on_loan).to_contain_text("Not renewed yet · you can renew it 2 more times")
    accessible(page, "my account (holds and loans)")
    screenshot(page, "account-holds")

    waiting_hold.get_by_role("button", name=f"Cancel the hold on “{waiting['title']}”").click()
    cancelled = page.get_by_role("status").filter(has_text=f"You have cancelled your hold on “{waiting['title']}”")
    expect(cancelled).to_be_focused()
    expect(holds.get_by_role("listitem").filter(has_text=waiting["title"])).to_have_count(0)
    statuses = {h["title_id"]: h["status"] for h in ui_stack.api_as("alice").get("/me/holds").json()["items"]}
    assert statuses[waiting["title_id"]] == "cancelled" and statuses[ready["title_id"]] == "ready"

    renew = on_loan.get_by_role("button", name=f"Renew “{to_renew['title']}”")
    renew.click()
    expect(renew).to_have_attribute("aria-expanded", "true")
    expect(on_loan.get_by_role("heading", name=f"Renew “{to_renew['title']}”")).to_be_focused()
    alice.fill_card()
    accessible(page, "my account (renewing)")
    screenshot(page, "account-renew")
    on_loan.get_by_role("button", name="Renew for $1.75").click()
    renewed = page.get_by_role("status").filter(has_text=f"You have renewed “{to_renew['title']}” for $1.75")
    expect(renewed).to_be_focused()
    new_due = renewed.locator(".due").inner_text()
    assert new_due in shown_day(42)
    on_loan = page.locator(".loan-list li").filter(has_text=to_renew["title"])
    expect(on_loan).to_contain_text(f"Due back by {new_due}")
    expect(on_loan).to_contain_text("Renewed 1 time · you can renew it 1 more time")
    after = [x for x in ui_stack.api_as("alice").get("/me/loans").json()["items"] if x["loan_id"] == loan["loan_id"]]
    assert after[0]["renewals"] == 1
    assert any(path == f"/me/loans/{loan['loan_id']}/renew" and key for path, key in alice.api_posts)

    # The ready hold: its title page offers the copy on the hold shelf.
    ready_hold.get_by_role("link", name=f"Borrow “{ready['title']}” now").click()
    expect(page.get_by_role("heading", name=ready["title"], level=1)).to_be_focused()
    expect(page.locator("form")).to_contain_text("A copy is waiting for you on the hold shelf until")
    expect(page.locator(".copy-list")).to_contain_text("On the hold shelf — waiting for you")
    alice.fill_card()
    page.get_by_role("button", name=re.compile("^Borrow for")).click()
    expect(page.get_by_role("status").filter(has_text="Enjoy your book")).to_be_focused()


def test_a_refused_renewal_says_why(visitor, ui_stack) -> None:
    wanted = ui_stack.add_title(unique("Someone Else Wants It"))
    renewed = ui_stack.add_title(unique("Renewed Already"))
    wanted_loan = borrow_title(ui_stack, "alice", wanted)
    renewed_loan = borrow_title(ui_stack, "alice", renewed)
    assert ui_stack.api_as("alice").post(f"/me/loans/{renewed_loan['loan_id']}/renew", CARD).status_code == 200
    place_hold(ui_stack, "bob", wanted)

    alice = visitor()
    alice.sign_in("alice", from_hash="#/account")
    page = alice.page

    # on_hold: another patron waits for the title and no other copy is free.
    loan = page.locator(".loan-list li").filter(has_text=wanted["title"])
    loan.get_by_role("button", name=f"Renew “{wanted['title']}”").click()
    alice.fill_card()
    loan.get_by_role("button", name=re.compile("^Renew for")).click()
    refused = page.get_by_role("alert").filter(has_text="Someone is waiting for this title")
    expect(refused).to_be_focused()
    expect(refused).to_contain_text("cannot be renewed")
    accessible(page, "my account (renewal refused)")
    screenshot(page, "account-renew-refused")
    due = [x for x in ui_stack.api_as("alice").get("/me/loans").json()["items"] if x["loan_id"] == wanted_loan["loan_id"]]
    assert due[0]["due_at"] == wanted_loan["due_at"] and due[0]["renewals"] == 0

    # renewal_limit: the last renewal was used elsewhere while this page was open.
    loan = page.locator(".loan-list li").filter(has_text=renewed["title"])
    expect(loan).to_contain_text("Renewed 1 time · you can renew it 1 more time")
    loan.get_by_role("button", name=f"Renew “{renewed['title']}”").click()
    alice.fill_card()
    assert ui_stack.api_as("alice").post(f"/me/loans/{renewed_loan['loan_id']}/renew", CARD).status_code == 200
    loan.get_by_role("button", name=re.compile("^Renew for")).click()
    refused = page.get_by_role("alert").filter(has_text="You have renewed this as many times as allowed")
    expect(refused).to_be_focused()
    loan = page.locator(".loan-list li").filter(has_text=renewed["title"])
    expect(loan).to_contain_text("You have renewed this as many times as allowed.")
    expect(loan.get_by_role("button", name=re.compile("^Renew"))).to_have_count(0)


def test_a_librarian_sees_the_queue_and_a_patron_does_not(visitor, ui_stack) -> None:
    title = ui_stack.add_title(unique("The Long Queue"))
    alices = borrow_title(ui_stack, "alice", title)
    place_hold(ui_stack, "bob", title)
    place_hold(ui_stack, "libby", title)

    libby = visitor()
    libby.sign_in("libby", from_hash=f"#/titles/{title['title_id']}")
    page = libby.page
    queue = page.get_by_role("region", name="Queue (librarians)")
    rows = queue.get_by_role("row")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("1Bob PatronWaiting")
    expect(rows.nth(2)).to_contain_text("2Libby LibrarianWaiting")
    accessible(page, "title (librarian, queue)")
    screenshot(page, "title-queue")

    assert ui_stack.api_as("alice").post(f"/books/{alices['book_id']}/return").status_code == 200
    page.reload()
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("Bob PatronReady on the hold shelf")
    assert re.search(r"(\w{3} \d{1,2}, \d{4})$", rows.nth(1).inner_text().strip()).group(1) in shown_day(7)
    expect(rows.nth(2)).to_contain_text("1Libby LibrarianWaiting")
    expect(page.locator(".copy-list")).to_contain_text("On the hold shelf")

    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/titles/{title['title_id']}")
    expect(alice.page.get_by_role("heading", name=title["title"], level=1)).to_be_visible()
    expect(alice.page.get_by_text("Queue (librarians)")).to_have_count(0)


def test_a_hold_and_a_renewal_with_the_keyboard_alone(visitor, ui_stack) -> None:
    out = ui_stack.add_title(unique("Out on Loan"))
    mine = ui_stack.add_title(unique("Mine to Renew"))
    borrow_title(ui_stack, "bob", out)
    borrow_title(ui_stack, "alice", mine)
    alice = visitor()
    alice.sign_in("alice", from_hash=f"#/titles/{out['title_id']}")
    page = alice.page
    expect(page.get_by_role("heading", name=out["title"], level=1)).to_be_visible()

    tab_to(page, "^Place hold$")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="You are number 1 in the queue")).to_be_focused()

    alice.goto("#/account")
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    expect(page.get_by_role("button", name=f"Renew “{mine['title']}”")).to_be_visible()
    tab_to(page, f"^Renew “{re.escape(mine['title'])}”$")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Renew “{mine['title']}”")).to_be_focused()
    expect(page.get_by_label("Card number")).to_be_attached()
    tab_to(page, "^Card number$", limit=3)
    for label, text in [("Card number", TEST_CARD), ("Expiry month (MM)", "12"), ("Expiry year (YY)", "34"),
                        ("Security code (CVC)", "123"), ("Postal code", "12345")]:
        type_into(page, label, text)
    assert page.evaluate(FOCUSED) == "Renew for $2.50"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text=f"You have renewed “{mine['title']}”")).to_be_focused()
