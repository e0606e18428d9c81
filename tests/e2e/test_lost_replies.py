"""A reply lost after money may have moved: the client's retry with the same Idempotency-Key gets the truth.

The first attempt runs in its own process with the real adapters and loses the database's reply
at one step (tests/support/lose_at.py): the loan's COMMIT, or our write of a capture that went
through. It answers 503 and releases the key. The retry goes to the running service, as the
patron's client would send it, and must answer 201 with that loan or sale, never 409 "taken".
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import Client, new_book, sql
from tests.support.issuer import TestIssuer
from tests.support.money import assert_money_rule, processor_states


def first_attempt(point: str, operation: str, book_id: str, token: str, key: str, env: dict[str, str]) -> int:
    run = subprocess.run([sys.executable, "-m", "tests.support.lose_at", point, operation, book_id, token, key],
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return int(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("operation", ["borrow", "purchase"])
@pytest.mark.parametrize("point", ["commit-reply", "capture-write"])
def test_the_retry_reports_the_true_outcome(point: str, operation: str, issuer: TestIssuer, api: str, pool: object,
                                            librarian: Client, stripe_url: str, service_env: dict[str, str]) -> None:
    book = new_book(librarian)
    token, key = issuer.token("unlucky"), f"lost-{point}-{operation}"
    assert first_attempt(point, operation, book["book_id"], token, key, service_env) == 503

    retry = Client(api, token).post(f"/books/{book['book_id']}/{operation}", {"payment_method": "pm_card_visa"},
                                    headers={"Idempotency-Key": key})
    assert retry.status_code == 201, retry.text
    assert retry.json()["book_id"] == book["book_id"] and retry.json()["payment"]["status"] == "captured"
    owner = "loans" if operation == "borrow" else "purchases"
    assert sql(pool, f"SELECT count(*) FROM {owner} WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [[1]]  # type: ignore[arg-type]
    seen = assert_money_rule(pool, stripe_url, book["book_id"])  # type: ignore[arg-type]
    assert seen["owners"] == 1
    assert processor_states(stripe_url, book["book_id"])["succeeded"] == 1  # one charge, captured once

    again = Client(api, token).post(f"/books/{book['book_id']}/{operation}", {"payment_method": "pm_card_visa"},
                                    headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == retry.json()  # and it stays the answer
