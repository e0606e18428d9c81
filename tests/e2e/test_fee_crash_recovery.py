"""A fee payment's process dies between two of its steps; reconcile repairs; nothing is paid twice or lost.

As tests/e2e/test_crash_recovery.py does for borrowing: the real pay_fees handler runs in a process of
its own (tests/support/die_at.py) that is SIGKILLed at one point, then reconcile settles the ledger row.
"""

from __future__ import annotations

import pytest

from lending_postgres import PostgresStore
from tests.conftest import Client, sql
from tests.e2e.test_crash_recovery import crash, settle
from tests.e2e.test_fees import account, borrowed
from tests.support.money import stripe_client

# point -> is the balance paid after reconcile?
POINTS = {
    "after-authorise": False,  # authorised, not credited: the hold is released
    "after-ledger-authorized": False,
    "after-commit": True,  # credited, not captured: reconcile captures
    "before-capture": True,
    "after-capture": True,  # captured, ledger not told: reconcile records it
}


@pytest.mark.parametrize("point", list(POINTS))
def test_a_crash_between_authorise_and_capture_of_a_fee_payment_is_repaired(
        point: str, issuer, librarian: Client, store: PostgresStore, pool, stripe_url: str,
        service_env: dict[str, str]) -> None:
    crashy = Client(librarian.base, issuer.token("crashy"))
    assert crashy.post(f"/books/{borrowed(crashy, librarian, pool, late='2 days 1 hour')}/return").status_code == 200
    assert account(crashy)["balance_cents"] == 75

    crash(point, "pay_fees", "-", issuer.token("crashy"), service_env)
    left = sql(pool, "SELECT state, intent_id FROM payments WHERE kind = 'fee_payment'")
    assert len(left) == 1 and left[0][0] in ("pending", "authorized"), "the crash left nothing to repair"

    report = settle(store, stripe_url)
    assert report.examined == 1 and report.errors == 0

    paid = POINTS[point]
    state = sql(pool, "SELECT state, processor_synced FROM payments WHERE kind = 'fee_payment'")[0]
    intent = stripe_client(stripe_url).v1.payment_intents.retrieve(left[0][1])
    assert (state, intent.status) == ((["captured", True], "succeeded") if paid else (["canceled", True], "canceled"))
    assert account(crashy)["balance_cents"] == (0 if paid else 75)
    assert settle(store, stripe_url).examined == 0  # reconcile is idempotent
    # Unpaid, the patron simply pays again, once.
    if not paid:
        assert crashy.post("/me/account/payments", {"payment_method": "pm_card_visa"}).status_code == 201
        assert account(crashy)["balance_cents"] == 0
