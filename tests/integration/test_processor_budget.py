"""Each processor call's socket timeout is bounded by what is left of the request's budget (issue 19, item 4).

A hung processor (it accepts and never answers) with a per-call timeout far longer than the budget:
whichever call of a borrow it hangs on, the call gives up when the budget runs out, not when its own
timeout would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from lending.correlation import working_for
from lending.errors import PaymentProcessorUnavailable
from lending_stripe import StripeGateway
from tests.support.black_hole import black_hole as hung_processor

CALL_TIMEOUT_SECONDS = 8.0  # each call alone would wait this long
BUDGET_SECONDS = 1.5


@pytest.fixture
def black_hole() -> Iterator[str]:
    with hung_processor() as url:
        yield url


@pytest.mark.parametrize("retries", [0, 3])
def test_a_call_to_a_hung_processor_ends_with_the_request_budget(black_hole: str, retries: int) -> None:
    gateway = StripeGateway("sk_test_suite", api_base=black_hole, timeout_seconds=CALL_TIMEOUT_SECONDS,
                            max_retries=retries)
    started = time.monotonic()
    with working_for("budget-test", BUDGET_SECONDS), pytest.raises(PaymentProcessorUnavailable):
        gateway.create_authorization(amount_cents=250, currency="usd", payment_method="pm_card_visa",
                                     idempotency_key=uuid.uuid4().hex, metadata={})
    assert time.monotonic() - started < BUDGET_SECONDS + 0.5


def test_a_later_call_gets_only_what_is_left(black_hole: str) -> None:
    gateway = StripeGateway("sk_test_suite", api_base=black_hole, timeout_seconds=CALL_TIMEOUT_SECONDS, max_retries=0)
    with working_for("budget-test", BUDGET_SECONDS + 1.0):
        time.sleep(1.0)  # earlier steps of the request used most of its budget
        started = time.monotonic()
        with pytest.raises(PaymentProcessorUnavailable):
            gateway.confirm_authorization("pi_hung", uuid.uuid4().hex)
    assert time.monotonic() - started < BUDGET_SECONDS + 0.3


def test_without_a_budget_the_call_keeps_its_own_timeout(black_hole: str) -> None:
    gateway = StripeGateway("sk_test_suite", api_base=black_hole, timeout_seconds=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(PaymentProcessorUnavailable):
        gateway.retrieve("pi_hung")
    assert 0.4 < time.monotonic() - started < 1.5
