"""Writing a notice into the outbox, inside the transaction of the event that causes it.

Any store transaction that causes a notice (a return that puts a copy on the hold shelf, a
lost-copy charge, a payment of fees) calls `write_notice(c, ...)` with its own connection `c`, so
the notice commits with the event or not at all. A notice of one kind for one event is written
once: the (kind, event_key) pair is unique, and a second write of it does nothing.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["write_notice"]


def write_notice(c: Any, *, kind: str, patron_iss: str, patron_sub: str, loan_id: str | None = None,
                 hold_id: str | None = None, charge_id: str | None = None, payment_id: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """One notice row in transaction `c` (nothing if this event's notice of this kind exists)."""
    from lending.notice_model import event_key  # the notices' data load with the first notice written

    key = event_key(kind, loan_id=loan_id, hold_id=hold_id, charge_id=charge_id, payment_id=payment_id,
                    details=details)
    c.run("INSERT INTO notices (kind, patron_iss, patron_sub, event_key, loan_id, hold_id, charge_id, payment_id, "
          "details) VALUES (:kind, :iss, :sub, :key, CAST(:loan AS uuid), CAST(:hold AS uuid), "
          "CAST(:charge AS uuid), CAST(:payment AS uuid), CAST(:details AS jsonb)) "
          "ON CONFLICT (kind, event_key) DO NOTHING",
          kind=kind, iss=patron_iss, sub=patron_sub, key=key, loan=loan_id, hold=hold_id, charge=charge_id,
          payment=payment_id, details=json.dumps(details or {}, default=str))
