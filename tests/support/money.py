"""Check the money rule against both the database and the Stripe-compatible server.

The rule: every captured payment has exactly one standing loan or sale, every open
loan or standing sale has a captured payment, and no authorisation is left open.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import stripe

from lending_postgres import ConnectionPool


def stripe_client(stripe_url: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_suite", base_addresses={"api": stripe_url})


def intents_for_book(stripe_url: str, book_id: str) -> list[Any]:
    client = stripe_client(stripe_url)
    page = client.v1.payment_intents.list(params={"limit": 100})
    return [pi for pi in page.auto_paging_iter()
            if (pi.metadata.to_dict() if pi.metadata else {}).get("book_id") == book_id]


def processor_states(stripe_url: str, book_id: str) -> Counter[str]:
    states: Counter[str] = Counter()
    client = stripe_client(stripe_url)
    for pi in intents_for_book(stripe_url, book_id):
        full = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
        charge = full.latest_charge
        refunded = bool(charge and not isinstance(charge, str) and charge.refunded)
        states["refunded" if refunded else full.status] += 1
    return states


def assert_money_rule(pool: ConnectionPool, stripe_url: str, book_id: str) -> dict[str, Any]:
    """Assert the rule for one book; return what was seen, for further assertions."""
    with pool.connection() as c:
        ledger = Counter(r[0] for r in c.run(
            "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book_id))
        unowned_captures = c.run(
            "SELECT payment_id FROM payments p WHERE book_id = CAST(:b AS uuid) AND state = 'captured' "
            "AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.payment_id = p.payment_id AND l.closed_reason IS DISTINCT FROM 'reversed') "
            "AND NOT EXISTS (SELECT 1 FROM purchases s WHERE s.payment_id = p.payment_id AND s.reversed_at IS NULL)", b=book_id)
        unpaid = c.run(
            "SELECT 'loan', loan_id FROM loans l WHERE book_id = CAST(:b AS uuid) AND closed_reason IS DISTINCT FROM 'reversed' "
            "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id AND p.state = 'captured') "
            "UNION ALL SELECT 'sale', purchase_id FROM purchases s WHERE book_id = CAST(:b AS uuid) AND reversed_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = s.payment_id AND p.state = 'captured')", b=book_id)
        owners = c.run(
            "SELECT count(*) FROM (SELECT payment_id FROM loans WHERE book_id = CAST(:b AS uuid) "
            "AND closed_reason IS DISTINCT FROM 'reversed' UNION ALL SELECT payment_id FROM purchases "
            "WHERE book_id = CAST(:b AS uuid) AND reversed_at IS NULL) x", b=book_id)[0][0]
    processor = processor_states(stripe_url, book_id)
    assert unowned_captures == [], "a captured payment has no loan or sale"
    assert unpaid == [], "a loan or sale stands without a captured payment"
    assert ledger["pending"] == 0 and ledger["authorized"] == 0, f"ledger not settled: {ledger}"
    assert processor["requires_capture"] == 0, f"a card is left with a hold: {processor}"
    assert processor["succeeded"] == ledger["captured"] == owners, (processor, ledger, owners)
    return {"ledger": ledger, "processor": processor, "owners": owners}
