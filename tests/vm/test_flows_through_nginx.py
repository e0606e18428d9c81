"""The end-to-end tests written for `chalice local`, run unchanged through nginx and two gunicorn instances.

tests/vm/conftest.py points `api` (and so every client fixture) at nginx, and every test of
the e2e modules below that needs nothing but `api` and the shared fixtures is collected here
again. The race for one copy also runs side by side on both hosts, outcome for outcome.
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from dev.vm_stack import LocalVM
from tests.conftest import Client, new_book, sql
from tests.support.issuer import TestIssuer
from tests.support.money import assert_money_rule
from tests.support.stack import ChaliceServer

RACERS = 50
E2E = Path(__file__).resolve().parent.parent / "e2e"
# Every module of tests/e2e is named in one of these two: a renamed or new module fails the check below.
E2E_ON_API_ALONE = ("test_lending_flows", "test_races", "test_bad_input", "test_idempotency", "test_stripe_webhooks",
                    "test_circulation", "test_notices", "test_desk", "test_desk_refunds", "test_desk_reports", "test_desk_import",
                    "test_fees")
E2E_NOT_HERE = {  # why each is not run through nginx
    "test_crash_recovery": "kills its own handler processes between payment steps (tests/support/die_at.py)",
    "test_processor_outage": "runs its own chalice local servers against a payment processor it stops and hangs",
    "test_lost_replies": "its first attempt runs in a process of its own that loses the database's reply",
    "test_hold_expiry_job": "runs its own chalice local with a 2 s pickup period, and the job beside it",
    "test_fee_crash_recovery": "kills its own handler processes between the steps of a fee payment (tests/support/die_at.py)",
    "test_fee_periods": "runs its own chalice local with periods of seconds (LOAN_PERIOD=PT2S), and the overdue job beside it",
    "test_hostile_input": "make run's own host (chalice local's methods and start-up); the VM's are in tests/vm",
}


def _e2e_tests(name: str) -> dict[str, object]:
    if not (E2E / f"{name}.py").exists():
        raise ImportError(f"tests/e2e/{name}.py is named in E2E_ON_API_ALONE but does not exist: rename it there too")
    tests = {k: v for k, v in vars(importlib.import_module(f"tests.e2e.{name}")).items()
             if k.startswith("test_") and callable(v)}
    if not tests:
        raise ImportError(f"tests/e2e/{name}.py has no tests to run through nginx")
    return tests


for _name in E2E_ON_API_ALONE:
    globals().update(_e2e_tests(_name))


def test_every_end_to_end_module_is_run_through_nginx_or_says_why_not() -> None:
    modules = {path.stem for path in E2E.glob("test_*.py")}
    assert modules == set(E2E_ON_API_ALONE) | set(E2E_NOT_HERE)


@pytest.fixture(scope="module")
def chalice_local(service_env: dict[str, str], run_dir: Path) -> Iterator[str]:
    server = ChaliceServer(service_env, run_dir / "chalice-vm-compare.log")
    yield server.url
    server.stop()


def test_requests_are_balanced_over_both_instances(vm: LocalVM, anonymous: Client) -> None:
    before = vm.access_log.read_text().count('"uri":"/books"')
    for _ in range(6):
        assert anonymous.get("/books").status_code == 200
    lines = [line for line in vm.access_log.read_text().splitlines() if '"uri":"/books"' in line][before:]
    used = {line.split('"upstream":"')[1].split('"')[0] for line in lines}
    assert used == {f"127.0.0.1:{i.port}" for i in vm.instances}


@pytest.mark.parametrize("host", ["chalice_local", "nginx"])
def test_fifty_patrons_race_for_one_copy_and_exactly_one_wins(
        host: str, request: pytest.FixtureRequest, vm: LocalVM, librarian: Client, issuer: TestIssuer, pool,
        stripe_url: str) -> None:
    base = request.getfixturevalue("chalice_local") if host == "chalice_local" else vm.url
    book = new_book(librarian)
    tokens = [issuer.token(f"racer-{i}") for i in range(RACERS)]
    start = threading.Barrier(RACERS)

    def borrow(token: str) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=30)
            return session.post(f"{base}/books/{book['book_id']}/borrow", json={"payment_method": "pm_card_visa"},
                                headers={"Authorization": f"Bearer {token}"}, timeout=60)

    with ThreadPoolExecutor(RACERS) as pool_:
        results = list(pool_.map(borrow, tokens))

    assert Counter(r.status_code for r in results) == {201: 1, 409: RACERS - 1}, [r.text for r in results if r.status_code
                                                                                 not in (201, 409)]
    assert all(r.headers["Content-Type"] == "application/problem+json" for r in results if r.status_code == 409)
    assert sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid) AND returned_at IS NULL",
               b=book["book_id"]) == [[1]]
    states = Counter(row[0] for row in sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)",
                                           b=book["book_id"]))
    assert states["captured"] == 1
    assert set(states) <= {"captured", "canceled"}, states  # every loser's hold was released
    seen = assert_money_rule(pool, stripe_url, book["book_id"])  # the processor agrees with the ledger
    assert seen["processor"]["succeeded"] == 1
    assert seen["processor"]["canceled"] == states["canceled"], (seen["processor"], states)
    assert sum(seen["processor"].values()) == sum(states.values()), "an intent the ledger does not know of"
