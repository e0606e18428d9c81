"""Every constraint circulation added, straight against PostgreSQL: the impossible is refused with
its SQLSTATE and the constraint's (or guarding trigger's) name, whatever code runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError

from lending import payment_flow
from lending.model import NewBook, PaymentKind, User
from lending_postgres import PostgresStore
from tests.support.fakes import FakeGateway

ALICE, BOB = User("iss", "alice"), User("iss", "bob")
NOW = datetime.now(UTC)


# The guard that a loan's payment pays for that very copy (0002_guards) would refuse these loans first:
# each test here isolates its own guard (the statements roll back, the trigger with them).
NOT_THE_PAYMENT_GUARD = "ALTER TABLE loans DISABLE TRIGGER loans_payment_pays_for_this"


def refusal(store: PostgresStore, *statements: str, **params: Any) -> tuple[str, str]:
    """Run the statements in one transaction; the (SQLSTATE, constraint) that refused them (at once or at commit)."""
    with pytest.raises(DatabaseError) as refused, store.pool.transaction() as c:
        for statement in statements:
            c.run(statement, **{k: v for k, v in params.items() if f":{k}" in statement})
    error = refused.value.args[0]
    return error.get("C"), error.get("n")


@pytest.fixture
def shelf(store: PostgresStore) -> dict[str, Any]:
    """A title with two copies: `lent` on loan to Alice, `held` on the hold shelf for Bob; another title's copy."""
    first, _ = (store.add_book(NewBook("9780261102217", "The Hobbit", "Tolkien", 1500, 200, "usd")) for _ in range(2))
    other = store.add_book(NewBook("9780141439587", "Emma", "Austen", 900, 100, "usd"))
    loans = {}
    for who in (ALICE, BOB):
        p = payment_flow.new_payment(PaymentKind.BORROW_FEE, first, who, idempotency_key=None, request_id=None)
        p = payment_flow.authorize(store, FakeGateway(), p, "pm_card_visa")
        loans[who.subject] = store.lend_copy_of_title(first.title_id or "", who, p.payment_id, NOW + timedelta(days=21))
    hold = store.place_hold(first.title_id or "", User("iss", "carol"), now=NOW, max_holds=10)
    store.close_loan(loans["bob"].book_id, BOB, now=NOW, pickup_period=timedelta(days=7))  # to the shelf, for carol
    alice = loans["alice"]
    return {"title": first.title_id, "lent": alice.book_id, "held": loans["bob"].book_id, "other": other.book_id,
            "hold": hold.hold_id, "loan": alice.loan_id, "payment": alice.payment_id, "x": str(uuid.uuid4())}


def test_a_copy_status_outside_the_list_is_refused(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, "UPDATE books SET status = 'misplaced' WHERE book_id = CAST(:lent AS uuid)",
                   **shelf) == ("23514", "books_status_check")


def test_a_copy_belongs_to_a_title_that_exists(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, "UPDATE books SET title_id = CAST(:x AS uuid) WHERE book_id = CAST(:other AS uuid)",
                   **shelf) == ("23503", "books_title_id_fkey")
    assert refusal(store, "UPDATE books SET title_id = NULL WHERE book_id = CAST(:other AS uuid)",
                   **shelf) == ("23514", "books_have_a_title")


def test_one_title_per_isbn(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, "INSERT INTO titles (isbn, title, author) VALUES ('9780261102217', 'Again', 'Someone')",
                   **shelf) == ("23505", "titles_isbn_key")


@pytest.mark.parametrize("status", ["sold", "lost", "withdrawn"])
def test_a_sold_lost_or_withdrawn_copy_cannot_be_lent(store: PostgresStore, shelf: dict[str, Any], status: str) -> None:
    assert refusal(store, NOT_THE_PAYMENT_GUARD, f"UPDATE books SET status = '{status}' WHERE book_id = CAST(:other AS uuid)",
                   "INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at) VALUES "
                   "(gen_random_uuid(), CAST(:other AS uuid), 'iss', 'dan', CAST(:payment AS uuid), now())",
                   **shelf) == ("23503", "loans_book_id_open_status_fkey")


def test_at_most_one_open_loan_per_copy(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, NOT_THE_PAYMENT_GUARD, "INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at) VALUES "
                   "(gen_random_uuid(), CAST(:lent AS uuid), 'iss', 'dan', CAST(:payment AS uuid), now())",
                   **shelf) == ("23505", "loans_one_open_per_book")


def test_a_copy_on_the_hold_shelf_is_lent_only_to_its_holder(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, NOT_THE_PAYMENT_GUARD, "UPDATE books SET status = 'borrowed' WHERE book_id = CAST(:held AS uuid)",
                   "INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at) VALUES "
                   "(gen_random_uuid(), CAST(:held AS uuid), 'iss', 'dan', CAST(:payment AS uuid), now())",
                   **shelf) == ("23514", "loans_held_copy_for_its_holder")


def test_a_copy_on_the_hold_shelf_has_a_hold_waiting_for_it(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, "UPDATE books SET status = 'on_hold_shelf' WHERE book_id = CAST(:other AS uuid)",
                   **shelf) == ("23514", "books_on_shelf_has_a_hold")


def test_a_ready_hold_points_at_a_copy_on_the_hold_shelf(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, "UPDATE books SET status = 'available' WHERE book_id = CAST(:held AS uuid)",
                   **shelf) == ("23503", "holds_ready_copy_on_shelf")


def test_a_hold_holds_a_copy_of_its_own_title(store: PostgresStore, shelf: dict[str, Any]) -> None:
    assert refusal(store, "UPDATE holds SET book_id = CAST(:other AS uuid) WHERE hold_id = CAST(:hold AS uuid)",
                   **shelf) == ("23503", "holds_copy_of_title")


def test_one_active_hold_per_patron_and_title_and_one_ready_hold_per_copy(store: PostgresStore,
                                                                         shelf: dict[str, Any]) -> None:
    insert = ("INSERT INTO holds (hold_id, title_id, patron_iss, patron_sub, placed_at, status, book_id, ready_at, "
              "ready_until) VALUES (gen_random_uuid(), CAST(:title AS uuid), 'iss', {who}, now(), {status}, {book}, "
              "now(), now() + interval '1 day')")
    assert refusal(store, insert.format(who="'carol'", status="'waiting'", book="NULL"),
                   **shelf) == ("23505", "holds_one_active_per_patron")
    assert refusal(store, insert.format(who="'dan'", status="'ready'", book="CAST(:held AS uuid)"),
                   **shelf) == ("23505", "holds_one_ready_per_copy")


def test_a_hold_keeps_to_its_states(store: PostgresStore, shelf: dict[str, Any]) -> None:
    by_id = "WHERE hold_id = CAST(:hold AS uuid)"
    assert refusal(store, f"UPDATE holds SET status = 'lost' {by_id}", **shelf) == ("23514", "holds_status_check")
    assert refusal(store, f"UPDATE holds SET ready_until = NULL {by_id}",
                   **shelf) == ("23514", "holds_ready_has_copy_and_deadline")
    assert refusal(store, f"UPDATE holds SET status = 'fulfilled' {by_id}",
                   **shelf) == ("23514", "holds_fulfilled_by_a_loan")


def test_payments_kinds_and_what_they_pay_for(store: PostgresStore, shelf: dict[str, Any]) -> None:
    by_id = "WHERE payment_id = CAST(:payment AS uuid)"
    assert refusal(store, f"UPDATE payments SET kind = 'gift' {by_id}", **shelf) == ("23514", "payments_kind_check")
    renewal = ("INSERT INTO renewals (renewal_id, loan_id, number, payment_id, renewed_at, previous_due_at, due_at) "
               "VALUES (CAST(:x AS uuid), CAST(:loan AS uuid), {n}, CAST(:payment AS uuid), now(), now(), {due})")
    assert refusal(store, renewal.format(n=1, due="now() + interval '1 day'"),
                   f"UPDATE payments SET renewal_id = CAST(:x AS uuid) {by_id}",
                   **shelf) == ("23514", "payments_pay_for_one_thing")
    assert refusal(store, renewal.format(n=1, due="now() + interval '1 day'"),
                   f"UPDATE payments SET renewal_id = CAST(:x AS uuid), loan_id = NULL {by_id}",
                   **shelf) == ("23514", "payments_renewal_is_a_renewal_fee")
    assert refusal(store, renewal.format(n=1, due="now() - interval '1 day'"),
                   **shelf) == ("23514", "renewals_extend_the_loan")


def test_renewals_are_numbered_once_each_and_paid_once(store: PostgresStore, shelf: dict[str, Any]) -> None:
    two = ("INSERT INTO renewals (renewal_id, loan_id, number, payment_id, renewed_at, previous_due_at, due_at) "
           "VALUES (gen_random_uuid(), CAST(:loan AS uuid), {n}, CAST(:payment AS uuid), now(), now(), "
           "now() + interval '1 day')")
    assert refusal(store, two.format(n=1), two.format(n=1), **shelf) == ("23505", "renewals_one_per_number")
    assert refusal(store, two.format(n=1), two.format(n=2), **shelf) == ("23505", "renewals_one_per_payment")
    assert refusal(store, "UPDATE loans SET renewals = -1 WHERE loan_id = CAST(:loan AS uuid)",
                   **shelf) == ("23514", "loans_renewals_check")
