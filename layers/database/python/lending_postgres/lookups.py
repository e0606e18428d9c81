"""Ledger lookups beside the store's moves (kept apart so store.py stays a screenful of moves)."""

from __future__ import annotations

from typing import Any

from lending.model import Payment, PaymentKind, User
from lending_postgres.rows import PAYMENT, payment_row


class LedgerLookups:
    pool: Any

    def payment_for_key(self, payer: User, key: str, kind: PaymentKind) -> Payment | None:
        """The newest payment this payer made with this Idempotency-Key for this kind of thing."""
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {PAYMENT} FROM payments WHERE payer_iss = :iss AND payer_sub = :sub "
                         "AND idempotency_key = :key AND kind = :kind ORDER BY created_at DESC LIMIT 1",
                         iss=payer.issuer, sub=payer.subject, key=key, kind=kind.value)
        return payment_row(rows[0]) if rows else None
