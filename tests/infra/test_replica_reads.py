"""Catalogue reads come from a real streaming replica; writes and read-your-own-write use the primary;
a replica that is behind or stopped costs no request.

Our own primary + standby (tests/infra/replication.py). Replay on the standby is paused to make a
row exist on one side only, which shows which server answered.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lending.model import BookQuery, NewBook
from lending_postgres import ConnectionPool, PostgresStore
from lending_postgres.replica import ReplicaPool
from tests.infra.replication import Pair, sql, start_pair
from tests.support.issuer import TestIssuer
from tests.support.stack import ChaliceServer


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    # Not under pytest's basetemp: another pytest session starting meanwhile resets that tree to mode 0700,
    # and the postgres user (we run as root) would lose its way into the data directories.
    base = Path(tempfile.mkdtemp(prefix="lending-replication-"))
    try:
        p = start_pair(base)
        yield p
        p.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


def pause_replay(pair: Pair) -> None:
    sql(pair.standby_url, "SELECT pg_wal_replay_pause()")
    eventually(lambda: sql(pair.standby_url, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
               what="replay paused")


def resume_replay(pair: Pair) -> None:
    sql(pair.standby_url, "SELECT pg_wal_replay_resume()")


def received_but_not_replayed(pair: Pair) -> bool:
    return bool(sql(pair.standby_url, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()")[0][0])


def insert_on_primary(pair: Pair, title: str) -> str:
    book_id = str(uuid.uuid4())
    sql(pair.primary_url, "INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
        "VALUES (CAST(:id AS uuid), '9780141439518', :t, 'Test', 1000, 100, 'usd')", id=book_id, t=title)
    return book_id


def on(url: str, book_id: str) -> bool:
    return bool(sql(url, "SELECT 1 FROM books WHERE book_id = CAST(:id AS uuid)", id=book_id))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def replica_log() -> Iterator[Records]:
    handler, logger = Records(), logging.getLogger("lending_postgres.replica")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_store_reads_on_the_replica_and_falls_back_when_it_lags(pair: Pair, replica_log: Records) -> None:
    primary, replica = ConnectionPool(pair.primary_url, size=2), ConnectionPool(pair.standby_url, size=2)
    reader = ReplicaPool(replica, primary, max_lag_seconds=0.5, retry_after_seconds=0.1)
    store = PostgresStore(primary, reader)
    try:
        with reader.connection() as c:
            assert c.run("SELECT pg_is_in_recovery()")[0][0] is True  # the catalogue's connection is the standby's
        written = store.add_book(NewBook("9780141439518", "Lag Probe One", "Test", 1000, 100, "usd"))
        with primary.connection() as c:  # the write went to the primary, which is not in recovery
            assert c.run("SELECT pg_is_in_recovery()")[0][0] is False
        eventually(lambda: on(pair.standby_url, written.book_id), what="replayed")
        pause_replay(pair)
        hidden = insert_on_primary(pair, "Lag Probe Two")
        eventually(lambda: received_but_not_replayed(pair), what="WAL received, not replayed")
        # Once the replica is behind by more than the bound, reads go to the primary and see the new row.
        page = eventually(lambda: (p := store.list_books(BookQuery(text="Lag Probe Two", limit=10, offset=0))).total and p,
                          what="read served by the primary")
        assert [b.book_id for b in page.items] == [hidden]
        assert reader.served["primary"] >= 1
        warnings = [r for r in replica_log.records if r.levelno == logging.WARNING]
        assert warnings and warnings[0].reason == "lagging"
        assert warnings[0].ReplicaFallback == 1 and "_aws" in warnings[0].__dict__
        assert "s behind (bound 0.5s)" in warnings[0].getMessage()
    finally:
        resume_replay(pair)
        primary.close()
        replica.close()


def streaming(pair: Pair) -> bool:
    return bool(sql(pair.standby_url, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")[0][0])


def set_primary_conninfo(pair: Pair, conninfo: str) -> None:
    quoted = conninfo.replace("'", "''")
    sql(pair.standby_url, f"ALTER SYSTEM SET primary_conninfo = '{quoted}'")
    sql(pair.standby_url, "SELECT pg_reload_conf()")


def test_a_replica_whose_wal_receiver_is_down_is_not_read_however_caught_up_it_looks(
        pair: Pair, replica_log: Records) -> None:
    primary, replica = ConnectionPool(pair.primary_url, size=2), ConnectionPool(pair.standby_url, size=2)
    reader = ReplicaPool(replica, primary, max_lag_seconds=30, retry_after_seconds=0)
    store = PostgresStore(primary, reader)
    original = sql(pair.standby_url, "SHOW primary_conninfo")[0][0]
    eventually(lambda: streaming(pair), what="standby streaming")
    try:
        # The standby loses its primary: its WAL receiver cannot connect any more (nothing listens on port 1).
        set_primary_conninfo(pair, "host=127.0.0.1 port=1 user=postgres connect_timeout=1")
        eventually(lambda: not streaming(pair), what="WAL receiver down")
        hidden = insert_on_primary(pair, "Receiver Down Probe")
        # Everything it received is replayed, so by WAL positions it looks caught up; it is not.
        assert not received_but_not_replayed(pair) and not on(pair.standby_url, hidden)

        page = store.list_books(BookQuery(text="Receiver Down Probe", limit=10, offset=0))

        assert [b.book_id for b in page.items] == [hidden]  # answered by the primary
        assert reader.served["primary"] == 1 and reader.served["replica"] == 0
        warnings = [r for r in replica_log.records if r.levelno == logging.WARNING]
        assert [w.reason for w in warnings] == ["lag_unknown"]
        assert "replica_lag_seconds" not in warnings[0].__dict__
    finally:
        set_primary_conninfo(pair, original)
        primary.close()
        replica.close()
    eventually(lambda: streaming(pair), what="standby streaming again")
    eventually(lambda: on(pair.standby_url, hidden), what="standby caught up again")


@pytest.fixture(scope="module")
def api(pair: Pair, issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaliceServer]:
    env = {"DATABASE_URL": pair.primary_url, "DATABASE_READ_URL": pair.standby_url, "STRIPE_API_KEY": "sk_test_unused",
           "OIDC_ISSUER": issuer.url, "OIDC_AUDIENCE": issuer.audience, "LENDING_METRICS": "off",
           "DATABASE_READ_MAX_LAG_SECONDS": "60"}
    server = ChaliceServer(env, tmp_path_factory.mktemp("replica-api") / "chalice.log")
    yield server
    server.stop()


def titles(api: ChaliceServer, q: str) -> list[str]:
    r = requests.get(f"{api.url}/books", params={"q": q, "limit": 100}, timeout=10)
    assert r.status_code == 200, r.text
    return [b["title"] for b in r.json()["items"]]


def test_catalogue_on_the_replica_writes_on_the_primary_and_no_request_fails_without_it(
        pair: Pair, api: ChaliceServer, issuer: TestIssuer) -> None:
    librarian = {"Authorization": f"Bearer {issuer.token('libby', librarian=True)}"}
    body = {"isbn": "9780141439518", "author": "Jane Austen", "price_cents": 1299, "borrow_fee_cents": 199,
            "currency": "usd"}
    first = requests.post(f"{api.url}/books", json={**body, "title": "Replica First"}, headers=librarian, timeout=10)
    assert first.status_code == 201, first.text
    eventually(lambda: on(pair.standby_url, first.json()["book_id"]), what="replayed")
    assert titles(api, "Replica First") == ["Replica First"]

    pause_replay(pair)
    try:
        only_on_primary = insert_on_primary(pair, "Replica Second")
        eventually(lambda: received_but_not_replayed(pair), what="WAL received, not replayed")
        # Catalogue reads come from the replica: the row that only the primary has is not listed.
        assert titles(api, "Replica Second") == []
        assert on(pair.primary_url, only_on_primary) and not on(pair.standby_url, only_on_primary)

        # A write goes to the primary (the standby refuses writes) ...
        third = requests.post(f"{api.url}/books", json={**body, "title": "Replica Third"}, headers=librarian, timeout=10)
        assert third.status_code == 201, third.text
        third_id = third.json()["book_id"]
        assert on(pair.primary_url, third_id) and not on(pair.standby_url, third_id)
        # ... and whoever just added it can read it at once: a replica miss is asked again of the primary.
        got = requests.get(f"{api.url}/books/{third_id}", timeout=10)
        assert got.status_code == 200 and got.json()["title"] == "Replica Third"
    finally:
        resume_replay(pair)
    eventually(lambda: titles(api, "Replica Second") == ["Replica Second"], what="replica caught up")

    pair.standby.stop()  # the replica is gone: reads are answered by the primary
    assert titles(api, "Replica") == ["Replica First", "Replica Second", "Replica Third"]
    assert requests.get(f"{api.url}/books/{only_on_primary}", timeout=10).status_code == 200
    assert requests.get(f"{api.url}/ready", timeout=10).status_code == 200
    log = Path(api._log.name).read_text()
    assert "read replica unavailable" in log and '"ReplicaFallback":1' in log.replace(" ", "")
