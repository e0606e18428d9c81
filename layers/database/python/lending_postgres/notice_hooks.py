"""Where a transaction writes a notice to the outbox (the notices branch fills this in)."""
from __future__ import annotations
from typing import Any

def write_notice(c: Any, *, kind: str, patron_iss: str, patron_sub: str, loan_id: str | None = None,
                 hold_id: str | None = None, charge_id: str | None = None, payment_id: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Write one notice in transaction `c` (a no-op until the notices outbox lands)."""
    return None
