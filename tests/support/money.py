"""Check the money rule against both the database and the Stripe-compatible server.

The rule: every captured payment has exactly one standing loan, renewal or sale, every open
loan, standing renewal or standing sale has a captured payment, and no authorisation is left open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import stripe

from lending_postgres import ConnectionPool


def stripe_client(stripe_url: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_suite", base_addresses={"api": stripe_url})


def _ids(book_id: str | Iterable[str]) -> list[str]:
    return [book_id] if isinstance(book_id, str) else list(book_id)


def intents_for_book(stripe_url: str, book_id: str | Iterable[str]) -> list[Any]:
    wanted = set(_ids(book_id))
    client = stripe_client(stripe_url)
    page = client.v1.payment_intents.list(params={"limit": 100})
    return [pi for pi in page.auto_paging_iter()
            if (pi.metadata.to_dict() if pi.metadata else {}).get("book_id") in wanted]


def processor_states(stripe_url: str, book_id: str | Iterable[str]) -> Counter[str]:
    states: Counter[str] = Counter()
    client = stripe_client(stripe_url)
    for pi in intents_for_book(stripe_url, book_id):
        full = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
        charge = full.latest_charge
        refunded = bool(charge and not isinstance(charge, str) and charge.refunded)
        states["refunded" if refunded else full.status] += 1
    return states


_STANDS = ("EXISTS (SELECT 1 FROM loans l WHERE l.payment_id = p.payment_id AND l.closed_reason IS DISTINCT FROM 'reversed') "
           "OR EXISTS (SELECT 1 FROM purchases s WHERE s.payment_id = p.payment_id AND s.reversed_at IS NULL) "
           "OR EXISTS (SELECT 1 FROM renewals r WHERE r.payment_id = p.payment_id AND r.reversed_at IS NULL)")


def assert_money_rule(pool: ConnectionPool, stripe_url: str, book_id: str | Iterable[str]) -> dict[str, Any]:
    """Assert the rule for one copy (or several, e.g. a title's); return what was seen."""
    books = _ids(book_id)
    with pool.connection() as c:
        ledger = Counter(r[0] for r in c.run("SELECT state FROM payments WHERE book_id::text = ANY(:b)", b=books))
        kinds = Counter(r[0] for r in c.run(
            "SELECT kind FROM payments WHERE book_id::text = ANY(:b) AND state = 'captured'", b=books))
        unowned_captures = c.run(
            f"SELECT payment_id FROM payments p WHERE book_id::text = ANY(:b) AND state = 'captured' AND NOT ({_STANDS})",
            b=books)
        unpaid = c.run(
            "SELECT 'loan', loan_id FROM loans l WHERE book_id::text = ANY(:b) AND closed_reason IS DISTINCT FROM 'reversed' "
            "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id AND p.state = 'captured') "
            "UNION ALL SELECT 'sale', purchase_id FROM purchases s WHERE book_id::text = ANY(:b) AND reversed_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = s.payment_id AND p.state = 'captured') "
            "UNION ALL SELECT 'renewal', r.renewal_id FROM renewals r JOIN loans l USING (loan_id) "
            "WHERE l.book_id::text = ANY(:b) AND r.reversed_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = r.payment_id AND p.state = 'captured')", b=books)
        owners = c.run(
            "SELECT count(*) FROM (SELECT payment_id FROM loans WHERE book_id::text = ANY(:b) "
            "AND closed_reason IS DISTINCT FROM 'reversed' UNION ALL SELECT payment_id FROM purchases "
            "WHERE book_id::text = ANY(:b) AND reversed_at IS NULL UNION ALL SELECT r.payment_id FROM renewals r "
            "JOIN loans l USING (loan_id) WHERE l.book_id::text = ANY(:b) AND r.reversed_at IS NULL) x", b=books)[0][0]
    processor = processor_states(stripe_url, books)
    assert unowned_captures == [], "a captured payment has no loan, renewal or sale"
    assert unpaid == [], "a loan, renewal or sale stands without a captured payment"
    assert ledger["pending"] == 0 and ledger["authorized"] == 0, f"ledger not settled: {ledger}"
    assert processor["requires_capture"] == 0, f"a card is left with a hold: {processor}"
    assert processor["succeeded"] == ledger["captured"] == owners, (processor, ledger, owners)
    return {"ledger": ledger, "processor": processor, "owners": owners, "captured_kinds": kinds}
