"""Per-operation EMF metrics: a count and a latency for each outcome a dashboard needs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from dev.embedded import start_localstripe
from lending_postgres import PostgresStore
from tests.api.conftest import TracedService
from tests.conftest import Client, new_book


def _emf(service: TracedService, mark: int, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        records = [r for r in service.lines_since(mark) if "_aws" in r and "Requests" in r]
        if len(records) >= expected or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_borrow_outcomes_won_lost_race_declined_and_processor_down_are_counted_with_latency(
        service_env: dict[str, str], run_dir: Path, issuer: Any, librarian: Client, store: PostgresStore) -> None:
    processor = start_localstripe(log=run_dir / "localstripe-metrics.log")
    service = TracedService({**service_env, "STRIPE_API_BASE": processor.url, "LENDING_METRICS": "on"},
                            run_dir / "chalice-metrics.log")
    try:
        book, other = new_book(librarian), new_book(librarian)
        mark = service.mark()

        def borrow(user: str, book_id: str, card: str = "pm_card_visa") -> int:
            return requests.post(f"{service.url}/books/{book_id}/borrow", json={"payment_method": card},
                                 headers={"Authorization": f"Bearer {issuer.token(user)}"}, timeout=30).status_code

        assert borrow("ann", book["book_id"]) == 201
        assert borrow("ben", book["book_id"]) == 409
        assert borrow("cat", other["book_id"], "pm_card_chargeCustomerFail") == 402
        processor.stop()
        assert borrow("dan", other["book_id"]) == 503
        records = _emf(service, mark, 4)
    finally:
        service.stop()
        processor.stop()

    borrows = [r for r in records if r["operation"] == "borrow"]
    assert [r["outcome"] for r in borrows] == ["won", "lost_race", "declined", "processor_down"]
    for record in borrows:
        definition = record["_aws"]["CloudWatchMetrics"][0]
        assert definition["Namespace"] == "LibraryLending"
        assert sorted(definition["Dimensions"][0]) == ["operation", "outcome", "service"]
        assert {m["Name"]: m["Unit"] for m in definition["Metrics"]} == {"Requests": "Count", "Latency": "Milliseconds"}
        assert record["Requests"] == [1.0] and record["Latency"][0] > 0
        assert record["request_id"]
