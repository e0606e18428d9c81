"""A lost race is a 409, never a 500: with the conditional update alone, the constraints alone, or both.

Thirty-two real threads borrow (or buy) one copy through the real use case and the real
PostgresStore on a scratch database, with the fake gateway holding them all at the card's
confirmation so that every one of them has passed the courtesy check and meets the others in
the store. Exactly one wins; every other gets BookUnavailable, which the one error table
answers with 409; nothing else goes wrong; one loan or sale stands, one payment is captured.
With both guards removed the same race lends the copy many times: the harness can fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lending import services
from lending.errors import BookUnavailable
from lending.model import NewBook, User
from lending_http.problems import error_response
from lending_postgres import ConnectionPool, PostgresStore
from tests.integration.variants import (
    UNIQUE_COPY_INDEXES,
    GatedGateway,
    RewritingPool,
    drop_database,
    scratch_database,
    without_status_check,
)

RACERS = 32
MIXES = {"borrow": ["borrow"] * RACERS, "purchase": ["purchase"] * RACERS,
         "borrow-vs-purchase": ["borrow", "purchase"] * (RACERS // 2)}


@pytest.fixture(scope="module")
def databases(postgres_server: str) -> Iterator[dict[str, str]]:
    made = {"full": scratch_database(postgres_server),
            "no unique copy indexes": scratch_database(postgres_server, without=UNIQUE_COPY_INDEXES),
            "repeatable read": scratch_database(postgres_server, isolation="repeatable read")}
    yield made
    for url in made.values():
        drop_database(postgres_server, url)


@pytest.fixture
def store_on(databases: dict[str, str]) -> Iterator[Any]:
    pools: list[ConnectionPool] = []

    def make(database: str, *, status_check: bool = True) -> PostgresStore:
        # 32 racers queue on one title's lock: on a loaded machine the last waits longer than the
        # service's 2 s lock_timeout, which would count as a lost race the harness did not cause.
        pool = ConnectionPool(databases[database], size=RACERS + 2, timeout=30, lock_timeout_ms=30_000,
                              statement_timeout_ms=30_000)
        pools.append(pool)
        return PostgresStore(pool if status_check else RewritingPool(pool, without_status_check))

    yield make
    for pool in pools:
        pool.close()


def race(store: PostgresStore, actions: list[str]) -> dict[str, Any]:
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 999, 99, "usd"))
    gateway = GatedGateway(len(actions))

    def go(i: int) -> tuple[str, object]:
        user = User("https://issuer.test", f"racer-{i}")
        try:
            if actions[i] == "borrow":
                services.borrow_book(store, gateway, user, book.book_id, "pm_card_visa", loan_days=21)
            else:
                services.buy_book(store, gateway, user, book.book_id, "pm_card_visa")
            return actions[i], "won"
        except Exception as exc:  # every kind of failure is counted, not just the expected one
            return actions[i], exc

    with ThreadPoolExecutor(len(actions)) as executor:
        results = list(executor.map(go, range(len(actions))))
    with store.pool.connection() as c:
        def count(sql: str) -> Any:
            return c.run(sql, b=book.book_id)[0][0]
        open_loans = count("SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid) AND returned_at IS NULL")
        sales = count("SELECT count(*) FROM purchases WHERE book_id = CAST(:b AS uuid) AND reversed_at IS NULL")
        ledger = Counter(r[0] for r in c.run("SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book.book_id))
    return {"results": results, "open_loans": open_loans, "sales": sales, "ledger": ledger,
            "processor": Counter(i["status"] for i in gateway.fake.intents.values())}


def assert_one_winner_and_409s(seen: dict[str, Any]) -> None:
    won = [action for action, outcome in seen["results"] if outcome == "won"]
    lost = [outcome for _, outcome in seen["results"] if isinstance(outcome, BookUnavailable)]
    other = [repr(outcome) for _, outcome in seen["results"] if outcome != "won" and not isinstance(outcome, BookUnavailable)]
    assert other == [], other
    assert (len(won), len(lost)) == (1, RACERS - 1)
    assert {error_response(exc, "race").status for exc in lost} == {409}
    assert (seen["open_loans"], seen["sales"]) == ((1, 0) if won == ["borrow"] else (0, 1))
    assert seen["ledger"] == {"captured": 1, "canceled": RACERS - 1}, seen["ledger"]
    assert seen["processor"] == {"succeeded": 1, "canceled": RACERS - 1}, seen["processor"]


def refused_by(seen: dict[str, Any]) -> Counter[str]:
    """Which guard turned each loser away: the conditional update, or a named constraint."""
    def guard(exc: BaseException) -> str:
        cause = exc.__cause__.args[0] if exc.__cause__ is not None and exc.__cause__.args else {}
        return "status check" if not cause else str(cause.get("n") or cause.get("C"))
    return Counter(guard(outcome) for _, outcome in seen["results"] if isinstance(outcome, BookUnavailable))


@pytest.mark.parametrize("mix", MIXES)
def test_with_both_guards_one_racer_wins_and_the_rest_get_409(mix: str, store_on) -> None:
    assert_one_winner_and_409s(race(store_on("full"), MIXES[mix]))


@pytest.mark.parametrize("mix", MIXES)
def test_the_conditional_update_alone_settles_the_race_without_the_unique_indexes(mix: str, store_on) -> None:
    seen = race(store_on("no unique copy indexes"), MIXES[mix])
    assert_one_winner_and_409s(seen)
    assert set(refused_by(seen)) == {"status check"}


@pytest.mark.parametrize("mix", MIXES)
def test_the_constraints_alone_settle_the_race_without_the_status_check(mix: str, store_on) -> None:
    seen = race(store_on("full", status_check=False), MIXES[mix])
    assert_one_winner_and_409s(seen)
    guards = {"loans_one_open_per_book", "purchases_one_sale_per_book", "loans_book_id_open_status_fkey",
              "purchases_book_id_sold_status_fkey"}
    assert set(refused_by(seen)) <= guards, refused_by(seen)  # the status check is really gone


@pytest.mark.parametrize("mix", MIXES)
def test_serialization_failures_under_repeatable_read_are_409s_too(mix: str, store_on) -> None:
    seen = race(store_on("repeatable read"), MIXES[mix])
    assert_one_winner_and_409s(seen)
    assert refused_by(seen)["40001"] >= 1, refused_by(seen)  # some losers met serialization failures


def test_without_either_guard_the_copy_is_lent_to_every_racer(store_on) -> None:
    """The harness can fail: take both guards away and nothing stops a second loan."""
    seen = race(store_on("no unique copy indexes", status_check=False), MIXES["borrow"])
    assert Counter(outcome for _, outcome in seen["results"]) == {"won": RACERS}
    assert seen["open_loans"] == RACERS
