"""The store's write methods at their edges (the survivors of `make mutate MODULES=pg_store`), on PostgreSQL
and on the fake: a sale whose payment does not exist, a stale idempotency key taken over, a backoff for a
payment that is gone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from lending.errors import PaymentReleased
from lending.model import BookStatus, NewBook, User
from lending.ports import LendingStore, StoredResponse
from tests.support.fakes import FakeStore

ALICE = User("https://issuer.test", "alice")


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeStore()


def test_a_sale_with_a_payment_that_does_not_exist_is_payment_released_and_writes_nothing(
        any_store: LendingStore) -> None:
    book = any_store.add_book(NewBook("9780141439518", "Pride and Prejudice", "Jane Austen", 1299, 199, "usd"))
    with pytest.raises(PaymentReleased):
        any_store.record_sale(book.book_id, ALICE, str(uuid.uuid4()))
    assert any_store.get_book(book.book_id).status is BookStatus.AVAILABLE  # the move was rolled back
    assert any_store.purchases_of(ALICE) == []


def test_an_unfinished_key_older_than_the_stale_age_is_taken_over_by_the_same_request_only(
        any_store: LendingStore) -> None:
    first = any_store.claim_idempotency_key(ALICE, "crashed", "fp", 300)
    assert first.owned
    assert not any_store.claim_idempotency_key(ALICE, "crashed", "fp", 300).owned  # still in progress
    assert not any_store.claim_idempotency_key(ALICE, "crashed", "other fp", 0).owned  # not the same request
    taken = any_store.claim_idempotency_key(ALICE, "crashed", "fp", 0)
    assert (taken.owned, taken.fingerprint) == (True, "fp")
    any_store.finish_idempotency_key(ALICE, "crashed", StoredResponse(201, '{}', "application/json"))
    done = any_store.claim_idempotency_key(ALICE, "crashed", "fp", 0)
    assert not done.owned and done.response == StoredResponse(201, '{}', "application/json")  # finished: never taken


def test_deferring_a_payment_that_is_not_in_the_ledger_counts_no_attempt(any_store: LendingStore) -> None:
    assert any_store.defer_settling(str(uuid.uuid4()), "gone", first_delay_seconds=300, max_delay_seconds=3600) == 0
