"""PostgresStore when the database, not the store's own check, refuses a move: the refusal is the
domain error a lost race means, never a database error.

A lost race is made certain, not waited for: the store runs on its real pool, whose connections
skip the one check that would have refused first (the statement rewritten, as
tests/integration/variants.py does), so the constraint behind it is what refuses. That the moves
take turns on a title's lock is shown with the lock held elsewhere: a mover that waits gives up at
its lock_timeout, one that did not wait would go ahead.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from lending.errors import BookUnavailable, HoldRefused, RenewalRefused
from lending.model import Loan, PaymentKind, User
from lending_postgres import ConnectionPool, PostgresStore
from lending_postgres.connection import DatabaseTimedOut
from tests.contract.test_circulation_contract import ALICE, NOW, copies, lend, paid
from tests.integration.variants import STATUS_CHECK, RewritingPool, without_status_check

BOB = User("https://issuer.test", "bob")
PERIOD = timedelta(days=21)


def skipping(pool: ConnectionPool, check: str, instead: str) -> PostgresStore:
    """The store on `pool`'s database, its statements with `check` replaced by `instead`."""
    return PostgresStore(RewritingPool(pool, lambda sql: sql.replace(check, instead)))  # type: ignore[arg-type]


def test_postgres_a_second_hold_on_a_title_lost_to_the_unique_index_is_a_duplicate_hold(
        store: PostgresStore, pool: ConnectionPool) -> None:
    (a,) = copies(store)
    lend(store, a.title_id, ALICE, a)
    store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    blind = skipping(pool, "SELECT 1 FROM holds h WHERE", "SELECT 1 FROM holds h WHERE false AND")
    with pytest.raises(HoldRefused) as refused:
        blind.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    assert refused.value.extra["reason"] == "duplicate_hold"
    assert len(store.holds_of(BOB)) == 1


def renewal_of(store: PostgresStore, loan: Loan) -> str:
    return paid(store, store.get_book(loan.book_id), ALICE, PaymentKind.RENEWAL)


def test_postgres_a_renewal_that_loses_the_loans_next_number_to_another_is_refused(
        store: PostgresStore, pool: ConnectionPool) -> None:
    (a,) = copies(store)
    loan = lend(store, a.title_id, ALICE, a)
    store.renew_loan(loan.loan_id, ALICE, renewal_of(store, loan), now=NOW, loan_period=PERIOD, max_renewals=3)
    stale = skipping(pool, "VALUES (:id, CAST(:l AS uuid), :n,", "VALUES (:id, CAST(:l AS uuid), :n - 1,")
    with pytest.raises(RenewalRefused) as refused:  # as if it had read the count before the first committed
        stale.renew_loan(loan.loan_id, ALICE, renewal_of(store, loan), now=NOW, loan_period=PERIOD, max_renewals=3)
    assert refused.value.extra["reason"] == "renewal_limit"
    assert [x.renewals for x in store.loans_of(ALICE)] == [1]


def test_postgres_a_renewal_waits_for_its_titles_lock(store: PostgresStore, pool: ConnectionPool,
                                                      database_url: str) -> None:
    (a,) = copies(store)
    loan = lend(store, a.title_id, ALICE, a)
    payment_id = renewal_of(store, loan)
    impatient = ConnectionPool(database_url, size=1, lock_timeout_ms=200)
    try:
        with pool.transaction() as c:  # e.g. a hold being placed on the title
            c.run("SELECT 1 FROM titles WHERE title_id = CAST(:t AS uuid) FOR NO KEY UPDATE", t=a.title_id)
            with pytest.raises(DatabaseTimedOut):
                PostgresStore(impatient).renew_loan(loan.loan_id, ALICE, payment_id, now=NOW, loan_period=PERIOD,
                                                    max_renewals=3)
    finally:
        impatient.close()
    assert [x.renewals for x in store.loans_of(ALICE)] == [0]


def test_postgres_a_sale_lost_to_the_one_sale_per_copy_index_is_book_unavailable(pool: ConnectionPool,
                                                                                  store: PostgresStore) -> None:
    (a,) = copies(store)
    store.record_sale(a.book_id, ALICE, paid(store, a, ALICE, PaymentKind.PURCHASE))
    blind = skipping(pool, STATUS_CHECK, "")  # the copy's status no longer refuses the second sale first
    # translated by the index's name (lending_postgres.refusals), as every lost race is
    with pytest.raises(BookUnavailable, match="^Someone else has just borrowed or bought this book.$"):
        blind.record_sale(a.book_id, BOB, paid(store, a, BOB, PaymentKind.PURCHASE))
    assert [p.book_id for p in store.purchases_of(BOB)] == []


def test_postgres_a_loan_of_a_copy_held_for_another_lost_to_the_hold_shelf_trigger_is_book_unavailable(
        store: PostgresStore, pool: ConnectionPool) -> None:
    (a,) = copies(store)
    lend(store, a.title_id, ALICE, a)
    store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    store.close_loan(a.book_id, ALICE, now=NOW)  # on the hold shelf for Bob
    carol = User("https://issuer.test", "carol")
    blind = skipping(pool, "AND status = 'ready' FOR UPDATE", "AND false FOR UPDATE")  # the store's own look
    blind = PostgresStore(RewritingPool(blind.pool, without_status_check))  # type: ignore[arg-type]
    with pytest.raises(BookUnavailable, match="^Someone else has just borrowed or bought this book.$"):
        blind.open_loan(a.book_id, carol, paid(store, a, carol), NOW + PERIOD)
    assert store.holder_of(a.book_id) == User("https://issuer.test", "bob")
