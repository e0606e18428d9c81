"""One id follows a request everywhere: the response, every log line, the processor, the database."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from lending_postgres import PostgresStore
from tests.api.conftest import TracedService
from tests.conftest import Client, new_book, sql
from tests.support.money import stripe_client


def _wait_for_lines(traced: TracedService, mark: int, request_id: str) -> list[dict[str, Any]]:
    import time

    deadline = time.monotonic() + 10
    while True:
        lines = traced.lines_since(mark)
        if any(line.get("message") == "request" and line.get("request_id") == request_id for line in lines) \
                or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_one_borrow_is_found_by_its_request_id_in_the_response_logs_processor_and_database(
        traced: TracedService, issuer: Any, librarian: Client, store: PostgresStore, pool: Any,
        stripe_url: str) -> None:
    book = new_book(librarian)
    request_id = f"trace-{uuid.uuid4().hex}"
    mark = traced.mark()
    r = requests.post(f"{traced.url}/books/{book['book_id']}/borrow", json={"payment_method": "pm_card_visa"},
                      headers={"Authorization": f"Bearer {issuer.token('tracy')}", "X-Request-ID": request_id},
                      timeout=30)

    # the response
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-ID"] == request_id
    payment_id = r.json()["payment"]["id"]

    # every log line of the request (this server served nothing else meanwhile), EMF included
    lines = _wait_for_lines(traced, mark, request_id)
    logs = [line for line in lines if "_aws" not in line]
    assert {line.get("message") for line in logs} >= {"payment authorised", "payment captured", "request"}
    assert [line for line in lines if line.get("request_id") != request_id] == []
    request_line = next(line for line in logs if line["message"] == "request")
    assert (request_line["operation"], request_line["status"], request_line["outcome"]) == ("borrow", 201, "won")
    assert all(line.get("payment_id") == payment_id for line in logs if line["message"].startswith("payment"))

    # the processor's object, read back through the official stripe library
    intents = [pi for pi in stripe_client(stripe_url).v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
               if (pi.metadata.to_dict() if pi.metadata else {}).get("request_id") == request_id]
    assert [(pi.status, pi.metadata["payment_id"]) for pi in intents] == [("succeeded", payment_id)]

    # the database: the ledger row, and the session that did the work is named after the request
    assert sql(pool, "SELECT payment_id::text, state FROM payments WHERE request_id = :r", r=request_id) == \
        [[payment_id, "captured"]]
    sessions = sql(pool, "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
                         "AND application_name LIKE :n", n=f"% {request_id}")
    assert sessions == [[f"lending {request_id}"]] * len(sessions) and sessions


def test_without_an_id_the_service_makes_one_and_uses_it_in_the_problem_body_and_the_log(
        traced: TracedService) -> None:
    mark = traced.mark()
    r = requests.get(f"{traced.url}/books/{uuid.uuid4()}", timeout=10)
    assert r.status_code == 404
    request_id = r.headers["X-Request-ID"]
    uuid.UUID(request_id)
    assert r.json()["request_id"] == request_id
    lines = _wait_for_lines(traced, mark, request_id)
    assert [(line["operation"], line["status"]) for line in lines if line.get("message") == "request"] == \
        [("catalogue", 404)]


def test_a_request_id_that_is_not_plain_is_replaced(traced: TracedService) -> None:
    r = requests.get(f"{traced.url}/health", headers={"X-Request-ID": "x" * 200}, timeout=10)
    assert r.status_code == 200 and r.headers["X-Request-ID"] != "x" * 200
    uuid.UUID(r.headers["X-Request-ID"])
