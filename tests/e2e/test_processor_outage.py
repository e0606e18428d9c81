"""The payment processor goes away, hangs or fails: 503 with Retry-After, no book changes, self-healing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dev.embedded import free_port, start_localstripe
from tests.conftest import Client, new_book, sql
from tests.support.black_hole import black_hole as hung_processor
from tests.support.money import assert_money_rule, intents_for_book
from tests.support.stack import ChaliceServer


@pytest.fixture
def own_stack(service_env: dict[str, str], run_dir: Path) -> Iterator:
    servers: list[ChaliceServer] = []

    def start(stripe_base: str, **extra: str) -> str:
        server = ChaliceServer({**service_env, "STRIPE_API_BASE": stripe_base, **extra}, run_dir / "outage.log")
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def borrow(api: str, token: str, book_id: str):
    return Client(api, token).post(f"/books/{book_id}/borrow", {"payment_method": "pm_card_visa"})


def test_stripe_stopped_mid_run_gives_503_then_recovers_without_restart(own_stack, issuer, librarian: Client, pool,
                                                                         run_dir: Path) -> None:
    port = free_port()
    stripe = start_localstripe(port=port, log=run_dir / "ls-outage.log")
    api = own_stack(stripe.url)
    first, second = new_book(librarian), new_book(librarian)
    assert borrow(api, issuer.token("alice"), first["book_id"]).status_code == 201
    assert assert_money_rule(pool, stripe.url, first["book_id"])["ledger"] == {"captured": 1}

    stripe.stop()
    down = borrow(api, issuer.token("alice"), second["book_id"])
    assert down.status_code == 503
    assert down.headers["Retry-After"].isdigit()
    assert down.headers["Content-Type"] == "application/problem+json"
    assert "Traceback" not in down.text
    assert Client(api).get(f"/books/{second['book_id']}").json()["status"] == "available"
    assert sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid)", b=second["book_id"])[0][0] == 0
    # The ledger wrote the attempt ahead and closed it: no intent id, nothing held, nothing to reconcile.
    assert sql(pool, "SELECT state, intent_id, failure_reason FROM payments WHERE book_id = CAST(:b AS uuid)",
               b=second["book_id"]) == [["failed", None, "processor unavailable"]]

    stripe = start_localstripe(port=port, log=run_dir / "ls-outage.log")
    try:
        assert intents_for_book(stripe.url, second["book_id"]) == [], "the outage left an intent at the processor"
        again = borrow(api, issuer.token("alice"), second["book_id"])
        assert again.status_code == 201, again.text
        seen = assert_money_rule(pool, stripe.url, second["book_id"])
        assert seen["ledger"] == {"failed": 1, "captured": 1} and seen["processor"] == {"succeeded": 1}
    finally:
        stripe.stop()


@pytest.fixture
def black_hole() -> Iterator[str]:
    with hung_processor() as url:
        yield url


def test_a_processor_that_never_answers_is_cut_off_by_the_timeout(own_stack, black_hole: str, issuer,
                                                                  librarian: Client, pool, stripe_url: str) -> None:
    api = own_stack(black_hole, STRIPE_TIMEOUT_SECONDS="1", STRIPE_MAX_RETRIES="1")
    book = new_book(librarian)
    started = time.monotonic()
    r = borrow(api, issuer.token("alice"), book["book_id"])
    elapsed = time.monotonic() - started
    assert r.status_code == 503
    assert elapsed < 10, f"a hung processor held the request for {elapsed:.1f}s"
    assert Client(api).get(f"/books/{book['book_id']}").json()["status"] == "available"
    # No intent id came back, so nothing can be held: the ledger row is closed as failed, not left pending.
    assert sql(pool, "SELECT state, intent_id FROM payments WHERE book_id = CAST(:b AS uuid)",
               b=book["book_id"]) == [["failed", None]]
    assert sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [[0]]
    assert intents_for_book(stripe_url, book["book_id"]) == []


class FailingProcessor(str):
    """The processor's URL, and the requests it was sent (method and path)."""

    requests: list[str]


@pytest.fixture
def failing_processor() -> Iterator[FailingProcessor]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            seen.append(f"{self.command} {self.path.split('?')[0]}")
            body = b'{"error": {"type": "api_error", "message": "Internal error"}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = FailingProcessor(f"http://127.0.0.1:{server.server_address[1]}")
    url.requests = seen
    yield url
    server.shutdown()
    server.server_close()


def test_a_processor_answering_5xx_gives_503_and_a_failed_ledger_row(own_stack, failing_processor: FailingProcessor,
                                                                     issuer, librarian: Client, pool) -> None:
    api = own_stack(failing_processor, STRIPE_MAX_RETRIES="0")
    book = new_book(librarian)
    r = borrow(api, issuer.token("alice"), book["book_id"])
    assert r.status_code == 503
    assert r.json()["title"] == "Payment Processor Unavailable"
    assert sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [["failed"]]
    assert Client(api).get(f"/books/{book['book_id']}").json()["status"] == "available"
    # The processor was asked to create the intent (and nothing after its refusal): no confirm, no capture.
    assert failing_processor.requests == ["POST /v1/payment_intents"], failing_processor.requests


def test_an_unreachable_database_is_503_not_500(service_env: dict[str, str], run_dir: Path, issuer) -> None:
    env = {**service_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
           "DB_TIMEOUT_SECONDS": "1"}
    server = ChaliceServer(env, run_dir / "db-outage.log")
    try:
        anonymous, alice = Client(server.url), Client(server.url, issuer.token("alice"))
        assert anonymous.get("/health").status_code == 200
        for r in (anonymous.get("/ready"), anonymous.get("/books"),
                  alice.post("/books/00000000-0000-0000-0000-000000000000/borrow", {"payment_method": "pm_card_visa"})):
            assert r.status_code == 503, r.text
            assert r.headers["Content-Type"] == "application/problem+json"
            assert r.headers["Retry-After"]
    finally:
        server.stop()
