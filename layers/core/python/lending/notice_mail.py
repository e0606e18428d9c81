"""Notices as mails: a subject, plain text and HTML, from one template per kind.

Templates are `string.Template`s: $names only, no logic, no imports, so a template cannot run code
or reach anything but the values given (and the standard library needs nothing installed in the
core layer). Every value is escaped for the HTML part. Dates are shown in the library's time zone.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from lending.notice_model import Mail, Notice, NoticeKind


def _plain_money(amount_cents: int, currency: str) -> str:
    return f"{amount_cents / 100:.2f} {currency.upper()}"


@dataclass(frozen=True)
class Letterhead:
    library_name: str = "The Library"
    timezone: str = "UTC"
    account_url: str = "http://127.0.0.1:8000/#/account"
    sender: str = "library@localhost"
    money: Callable[[int, str], str] = _plain_money  # amount in minor units, currency -> "2.50 USD"


# kind: (subject, paragraph of the body). Both share the values below; the body is the same in text and HTML.
TEMPLATES: dict[NoticeKind, tuple[str, str]] = {
    NoticeKind.DUE_SOON: ("$library: \"$title\" is due on $due",
                          "\"$title\" is due back on $due. You can renew it or return it on your account page."),
    NoticeKind.OVERDUE: ("$library: \"$title\" is overdue",
                         "\"$title\" was due back on $due and is now overdue$late. Please return it as soon as "
                         "you can."),
    NoticeKind.HOLD_READY: ("$library: \"$title\" is waiting for you",
                            "The copy of \"$title\" you asked for is on the hold shelf. Please pick it up by "
                            "$ready_until; after that it goes to the next patron in line."),
    NoticeKind.LOST_CHARGED: ("$library: \"$title\" was declared lost",
                              "\"$title\" has not come back and was declared lost. $amount has been added to your "
                              "account. If you bring the copy back, the charge is reversed."),
    NoticeKind.PAYMENT_RECEIPT: ("$library: receipt for your payment of $amount",
                                 "Thank you: we received your payment of $amount on $paid_on."),
}
TEXT = Template("Dear $name,\n\n$body\n\nYour account: $account_url\n\n$library\n")
HTML = Template("<!DOCTYPE html>\n<html><body>\n<p>Dear $name,</p>\n<p>$body</p>\n"
                "<p><a href=\"$account_url\">Your account</a></p>\n<p>$library</p>\n</body></html>\n")


def when(value: Any, timezone: str) -> str:
    """An ISO 8601 instant as the library's local date and time, e.g. "Wednesday 2 December 2026, 14:05 CET"."""
    if not value:
        return "(unknown date)"
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = instant.astimezone(ZoneInfo(timezone))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {local.tzname()}"


def values(notice: Notice, letterhead: Letterhead, patron_name: str | None) -> dict[str, str]:
    d = notice.details
    amount = d.get("amount_cents")
    stage = int(d.get("stage", 1))
    return {
        "library": letterhead.library_name,
        "name": patron_name or "reader",
        "title": str(d.get("title") or "your book"),
        "due": when(d.get("due_at"), letterhead.timezone),
        "ready_until": when(d.get("ready_until"), letterhead.timezone),
        "paid_on": when(d.get("paid_at") or notice.created_at, letterhead.timezone),
        "amount": letterhead.money(int(amount), str(d.get("currency") or "usd")) if amount is not None else "",
        "late": " by more than a week" if stage > 1 else "",
        "account_url": letterhead.account_url,
    }


def render(notice: Notice, letterhead: Letterhead, patron_name: str | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of a notice."""
    subject, body = TEMPLATES[notice.kind]
    plain = values(notice, letterhead, patron_name)
    escaped = {k: html.escape(v) for k, v in plain.items()}
    text_body = Template(body).substitute(plain)
    html_body = Template(body).substitute(escaped)
    return (Template(subject).substitute(plain), TEXT.substitute(plain, body=text_body),
            HTML.substitute(escaped, body=html_body))


def message_id(notice_id: str, sender: str) -> str:
    """The same Message-ID for every attempt of one notice (the domain is the sender's)."""
    domain = sender.rsplit("@", 1)[-1].strip("<> ") or "localhost"
    return f"<notice-{notice_id}@{domain}>"


def compose(notice: Notice, letterhead: Letterhead, *, to: str, patron_name: str | None = None) -> Mail:
    subject, text, html_part = render(notice, letterhead, patron_name)
    return Mail(message_id(notice.notice_id, letterhead.sender), letterhead.sender, to, subject, text, html_part)
