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

from lending.errors import HoldRefused, RenewalRefused
from lending.model import Loan, PaymentKind, User
from lending_postgres import ConnectionPool, PostgresStore
from lending_postgres.connection import DatabaseTimedOut
from tests.contract.test_circulation_contract import ALICE, NOW, copies, lend, paid
from tests.integration.variants import RewritingPool

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
