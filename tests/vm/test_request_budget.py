"""One request budget (REQUEST_BUDGET) that every step keeps to, ending before nginx's 30 s and Lambda's 29 s.

A processor that accepts connections and never answers, with a per-call timeout and retries that
together would hold a borrow for 48 s: through a real nginx in front of real instances, the app
answers its own 503 within the budget, rather than nginx timing out with a 504 while the borrow
may still go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dev.vm_stack import LocalVM
from lending_settings import ConfigError, from_env
from tests.conftest import Client, new_book, sql
from tests.support.black_hole import black_hole as hung_processor
from tests.support.issuer import TestIssuer

BUDGET_SECONDS = 10
STRIPE_TIMEOUT, STRIPE_RETRIES = 8, 5  # unbounded: 6 attempts x 8 s = 48 s > nginx's proxy_read_timeout (30 s)


@pytest.fixture
def black_hole() -> Iterator[str]:
    with hung_processor() as url:
        yield url


def test_a_hung_processor_is_cut_off_by_the_request_budget_before_nginx_gives_up(
        service_env: dict[str, str], black_hole: str, issuer: TestIssuer, librarian: Client, pool: object,
        tmp_path: Path) -> None:
    book = new_book(librarian)
    env = {**service_env, "STRIPE_API_BASE": black_hole, "STRIPE_TIMEOUT_SECONDS": str(STRIPE_TIMEOUT),
           "STRIPE_MAX_RETRIES": str(STRIPE_RETRIES), "REQUEST_BUDGET": f"PT{BUDGET_SECONDS}S"}
    with LocalVM(env, tmp_path / "vm") as vm:
        started = time.monotonic()
        r = requests.post(f"{vm.url}/books/{book['book_id']}/borrow", json={"payment_method": "pm_card_visa"},
                          headers={"Authorization": f"Bearer {issuer.token('patient')}"}, timeout=60)
        elapsed = time.monotonic() - started
    assert r.status_code == 503 and r.json()["title"] == "Payment Processor Unavailable", r.text  # the app's, not nginx's
    assert elapsed < BUDGET_SECONDS + 1, f"the borrow took {elapsed:.1f} s"
    assert sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)",  # type: ignore[arg-type]
               b=book["book_id"]) == [["failed"]]
    assert sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [[0]]  # type: ignore[arg-type]


@pytest.mark.parametrize("budget", ["PT29S", "PT1M", "PT0S"])
def test_a_budget_that_would_outlast_lambda_or_be_empty_stops_start_up(budget: str) -> None:
    with pytest.raises(ConfigError, match="REQUEST_BUDGET"):
        from_env({"REQUEST_BUDGET": budget}, layers=())
