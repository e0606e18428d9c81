"""An instance dies (SIGKILL) or is stopped (SIGTERM) under traffic; the database goes away and comes back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dev.embedded import ROOT, start_localstripe
from dev.embedded_postgres import start_postgres
from dev.vm_stack import LocalVM
from lending_postgres import ConnectionPool, migrate
from tests.conftest import Client, create_database, new_book, sql
from tests.support.issuer import TestIssuer
from tests.vm.conftest import wait_until
from tests.vm.traffic import PAYMENT, Traffic

PROBLEM = "application/problem+json"


def reconcile_now(env: dict[str, str]) -> None:
    """What the scheduled reconcile does, now: settle any payment a killed request left between steps."""
    subprocess.run([sys.executable, "-m", "ops.reconcile", "--grace-seconds", "0"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=60)


def assert_consistent(pool: ConnectionPool, book_id: str) -> None:
    open_loans = sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid) AND returned_at IS NULL",
                     b=book_id)[0][0]
    status = sql(pool, "SELECT status FROM books WHERE book_id = CAST(:b AS uuid)", b=book_id)[0][0]
    assert (open_loans, status) in ((0, "available"), (1, "borrowed"))
    states = {row[0] for row in sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book_id)}
    assert states <= {"captured", "canceled", "failed"}, states  # nothing held, nothing half-done
    unpaid = sql(pool, "SELECT count(*) FROM loans l JOIN payments p USING (payment_id) "
                       "WHERE l.book_id = CAST(:b AS uuid) AND p.state <> 'captured'", b=book_id)[0][0]
    assert unpaid == 0


def test_sigkill_of_one_instance_fails_no_get_leaves_no_inconsistent_state_and_it_rejoins(
        own_vm: LocalVM, issuer: TestIssuer, service_env: dict[str, str], pool: ConnectionPool, store) -> None:
    librarian = Client(own_vm.url, issuer.token("libby", librarian=True))
    book = new_book(librarian)
    traffic = Traffic(own_vm.url, deadline_seconds=30)
    traffic.start(traffic.reader, "/books?limit=5")
    traffic.start(traffic.reader, f"/books/{book['book_id']}")
    traffic.start(traffic.patron, issuer.token("alice"), book["book_id"])
    try:
        assert wait_until(lambda: traffic.count("borrow") >= 3, timeout=15)
        own_vm.instances[0].kill()
        killed_at = time.monotonic()
        assert wait_until(lambda: traffic.count("borrow", "return", since=killed_at) >= 6
                          and traffic.count("GET", since=killed_at) >= 30, timeout=20)
        # systemd's Restart=on-failure brings it back; nginx tries it again after fail_timeout (5 s).
        own_vm.instances[0].start()
        back = f'"upstream":"127.0.0.1:{own_vm.instances[0].port}","upstream_status":"200"'
        seen_before = own_vm.access_log.read_text().count(back)
        assert wait_until(lambda: own_vm.access_log.read_text().count(back) > seen_before, timeout=15)
    finally:
        traffic.finish()

    gets = [a for a in traffic.answers if a.kind == "GET"]
    assert gets and all(a.status == 200 for a in gets), [a for a in gets if a.status != 200][:3]
    posts = [a for a in traffic.answers if a.kind in ("borrow", "return")]
    assert {a.status for a in posts} <= {200, 201, 409, 502}, [a for a in posts if a.status not in (200, 201)][:3]
    assert all(a.content_type == PROBLEM for a in posts if a.status >= 400)  # clean: a problem, never an HTML page
    reconcile_now(service_env)
    assert_consistent(pool, book["book_id"])


@pytest.fixture(scope="module")
def slow_stripe(run_dir: Path) -> Iterator[str]:
    """A payment processor that answers every call after 300 ms."""
    service = start_localstripe(log=run_dir / "localstripe-slow.log", delay_ms=300)
    yield service.url
    service.stop()


@pytest.fixture
def slow_env(service_env: dict[str, str], slow_stripe: str) -> dict[str, str]:
    return {**service_env, "STRIPE_API_BASE": slow_stripe}


def test_sigterm_under_load_drains_in_flight_requests_and_fails_none(
        slow_env: dict[str, str], tmp_path: Path, issuer: TestIssuer, pool: ConnectionPool, store) -> None:
    with LocalVM(slow_env, tmp_path / "vm") as vm:
        librarian = Client(vm.url, issuer.token("libby", librarian=True))
        books = [new_book(librarian) for _ in range(5)]
        traffic = Traffic(vm.url, deadline_seconds=40)
        for i, book in enumerate(books[1:]):
            traffic.start(traffic.patron, issuer.token(f"patron-{i}"), book["book_id"])
        traffic.start(traffic.reader, "/books?limit=5")
        stopping = vm.instances[0]
        try:
            assert wait_until(lambda: traffic.count("borrow") >= 4, timeout=20)
            # A borrow of our own, sent straight to the instance, is known to be in flight (its ledger
            # row exists, its processor calls take 3 x 300 ms) when the instance gets SIGTERM.
            direct = Traffic(stopping.url)
            direct.start(lambda: direct.record("borrow", requests.post(
                f"{stopping.url}/books/{books[0]['book_id']}/borrow", json=PAYMENT, timeout=30,
                headers={"Authorization": f"Bearer {issuer.token('early-bird')}"})))
            assert wait_until(lambda: sql(pool, "SELECT count(*) FROM payments WHERE book_id = CAST(:b AS uuid)",
                                          b=books[0]["book_id"])[0][0] == 1, timeout=10)
            stopping.terminate()
            stopped_at = time.monotonic()
            assert stopping.wait(timeout=35) == 0
            direct.finish()
            assert wait_until(lambda: traffic.count("borrow", "return", since=stopped_at) >= 6, timeout=25)
        finally:
            traffic.finish()
        assert [(a.status, a.kind) for a in direct.answers] == [(201, "borrow")]  # drained, not cut off
        assert traffic.failures() == []
        assert len(traffic.answers) > 20
        assert "listener closed, draining" in stopping.log.read_text()


def test_ready_needs_current_migrations_and_a_database_outage_is_503_until_it_recovers_by_itself(
        service_env: dict[str, str], tmp_path: Path) -> None:
    database = start_postgres(tmp_path / "pg")
    try:
        url = create_database(database.url, "outage")
        with LocalVM({**service_env, "DATABASE_URL": url, "DB_TIMEOUT_SECONDS": "1"}, tmp_path / "vm") as vm:
            unmigrated = requests.get(f"{vm.url}/ready", timeout=10)
            assert unmigrated.status_code == 503 and "migrations" in unmigrated.json()["detail"]
            migrate_pool = ConnectionPool(url, size=1)
            migrate(migrate_pool)
            migrate_pool.close()
            assert requests.get(f"{vm.url}/ready", timeout=10).status_code == 200
            database.stop()

            ready = requests.get(f"{vm.url}/ready", timeout=10)
            assert ready.status_code == 503 and ready.headers["Content-Type"] == PROBLEM
            books = requests.get(f"{vm.url}/books", timeout=10)
            assert books.status_code == 503 and books.headers["Content-Type"] == PROBLEM
            assert books.headers["Retry-After"] and books.json()["title"] == "Database Unavailable"
            assert requests.get(f"{vm.url}/health", timeout=10).status_code == 200  # alive, just not ready

            port = int(url.rsplit(":", 1)[1].split("/")[0])
            database = start_postgres(tmp_path / "pg", port=port)
            assert wait_until(lambda: all(requests.get(f"{i.url}/ready", timeout=10).status_code == 200
                                          for i in vm.instances), timeout=20)
            assert requests.get(f"{vm.url}/books", timeout=10).status_code == 200
    finally:
        database.stop()
