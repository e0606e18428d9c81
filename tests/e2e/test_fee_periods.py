"""A whole overdue cycle in seconds with short ISO 8601 periods, the way it runs for real: LOAN_PERIOD=PT2S,
FEE_INTERVAL=PT1S, FEE_GRACE_PERIOD=PT1S, LOST_AFTER=PT3S and the overdue job run as `make jobs` runs it.

The periods are real periods here, so the test waits them out (bounded, as tests/e2e/test_hold_expiry_job.py
does); the exact arithmetic is tests/unit/test_fees.py's and tests/e2e/test_fees.py's, with time moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client
from tests.e2e.test_circulation import CARD, a_title
from tests.e2e.test_fees import account, run_overdue_job
from tests.e2e.test_hold_expiry_job import wait_until_past
from tests.support.stack import ChaliceServer

PERIODS = {"LOAN_PERIOD": "PT2S", "FEE_INTERVAL": "PT1S", "FEE_GRACE_PERIOD": "PT1S", "LOST_AFTER": "PT3S",
           "LATE_FEE_CENTS": "10", "BLOCK_OVERDUE_AFTER": "PT1H"}


@pytest.fixture
def short_periods(service_env: dict[str, str], run_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**service_env, **PERIODS}
    server = ChaliceServer(env, run_dir / "short-fee-periods.log")
    yield server.url, env
    server.stop()


def later(iso: str, seconds: float) -> str:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)).isoformat()


def test_a_late_return_and_a_lost_copy_in_seconds(short_periods: tuple[str, dict[str, str]], issuer: Any,
                                                   librarian: Client) -> None:
    api, env = short_periods
    alice = Client(api, issuer.token("alice"))
    desk = Client(api, librarian.token)
    _, (returned,) = a_title(desk)
    _, (lost,) = a_title(desk)
    first = alice.post(f"/books/{returned}/borrow", CARD).json()
    second = alice.post(f"/books/{lost}/borrow", CARD).json()

    wait_until_past(later(first["due_at"], 1.5))  # past the grace: at least two started seconds
    assert alice.post(f"/books/{returned}/return").status_code == 200
    (late,) = account(alice)["charges"]
    assert late["kind"] == "late_fee" and late["amount_cents"] >= 20

    wait_until_past(later(second["due_at"], 3))
    assert run_overdue_job(env)["declared_lost"] == 1
    kinds = sorted(c["kind"] for c in account(alice)["charges"])
    assert kinds == ["late_fee", "late_fee", "lost_item"], kinds
    assert Client(api).get(f"/books/{lost}").json()["status"] == "lost"
    assert alice.post(f"/books/{lost}/return").status_code == 200
    assert "lost_item_reversed" in {c["kind"] for c in account(alice)["charges"]}
    assert Client(api).get(f"/books/{lost}").json()["status"] == "available"
