"""The HTTP edge of notices: the mail's letterhead and the send policy from the settings, and the views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lending.notice_mail import Letterhead
from lending.notice_model import Notice
from lending.notices import SendPolicy
from lending_http.currency import minor_units
from lending_settings import Settings


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def money(amount_cents: int, currency: str) -> str:
    """2.50 USD, ¥250 as 250 JPY: as many decimals as ISO 4217 gives the currency."""
    try:
        units = minor_units(currency)
    except Exception:  # noqa: BLE001 - a receipt still goes out with an odd currency code
        units = 2
    return f"{amount_cents / 10 ** units:.{units}f} {currency.upper()}"


def letterhead(s: Settings) -> Letterhead:
    return Letterhead(library_name=s.library_name, timezone=s.library_timezone,
                      account_url=f"{s.public_base_url.rstrip('/')}/#/account", sender=s.mail_from, money=money)


def policy(s: Settings) -> SendPolicy:
    return SendPolicy(max_attempts=s.notice_max_attempts, retry_first=s.notice_retry_first,
                      retry_max=s.notice_retry_max, batch=s.notice_batch_size)


def notice(n: Notice) -> dict[str, Any]:
    shown = {k: v for k, v in n.details.items() if k in ("title", "due_at", "ready_until", "stage", "amount_cents",
                                                        "currency")}
    return {"notice_id": n.notice_id, "kind": n.kind.value, "state": n.state.value, "created_at": _time(n.created_at),
            "sent_at": _time(n.sent_at), "attempts": n.attempts, "loan_id": n.loan_id, "hold_id": n.hold_id,
            "details": shown}
