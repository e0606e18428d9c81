"""No token, card number or secret ever reaches a log.

The traced service logs at DEBUG; this test sends it everything secret the suite has
(valid and broken tokens, card numbers in bodies and headers, signed webhooks) and
greps its log. At the end of the session the same grep runs over the log of the
suite's main server, which every end-to-end test went through.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from lending_postgres import PostgresStore
from tests.api.conftest import TracedService
from tests.conftest import Client, new_book

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")
# A card number: 15-19 digits, plain or in groups of four (not part of a longer number or a float).
# (Not inside a longer token such as a UUID, a float or an id.)
CARD_NUMBER = re.compile(r"(?<![0-9A-Za-z.-])(?:[0-9]{15,19}|[0-9]{4}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?)"
                         r"(?![0-9A-Za-z.-])")
CARDS = ["4242424242424242", "4000000000000341", "4000002500003155"]


def _luhn(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = [f"secret {s[:8]}…" for s in secrets if s and s in text]
    found += [f"token {m[:12]}…" for m in JWT.findall(text)]
    found += [f"card {m[:6]}…" for m in CARD_NUMBER.findall(text) if _luhn(m)]
    found += ["a bearer header"] if re.search(r"Bearer\s+[A-Za-z0-9_-]{8,}", text) else []
    found += ["a private key"] if "PRIVATE KEY" in text else []
    return found


def _secrets(service_env: dict[str, str], issuer: Any) -> list[str]:
    return [service_env["STRIPE_API_KEY"], service_env["STRIPE_WEBHOOK_SECRET"], issuer.key.pem.splitlines()[1],
            *CARDS]


def test_a_log_full_of_secret_handling_contains_no_secret(
        traced: TracedService, service_env: dict[str, str], issuer: Any, librarian: Client,
        store: PostgresStore) -> None:
    mark = traced.mark()
    book = new_book(librarian)
    token = issuer.token("secretive")
    expired = issuer.token("secretive", exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    url = traced.url

    def post(path: str, body: Any, auth: str | None, **headers: str) -> int:
        h = {"Authorization": auth} if auth else {}
        return requests.post(url + path, json=body, headers={**h, **headers}, timeout=30).status_code

    borrow = f"/books/{book['book_id']}/borrow"
    assert post(borrow, {"payment_method": CARDS[0]}, f"Bearer {token}") == 400
    assert post(borrow, {"payment_method": "pm_card_visa", "card": {"number": CARDS[1], "cvc": "123"}},
                f"Bearer {expired}") == 401
    assert post(borrow, {"payment_method": "pm_card_visa"}, f"Bearer {token[:-4]}AAAA") == 401
    assert post(borrow, {"payment_method": "pm_card_visa"}, f"Basic {token}") == 401
    assert post(borrow, {"payment_method": "pm_card_chargeCustomerFail"}, f"Bearer {token}") == 402
    assert post(borrow, {"payment_method": "pm_card_visa"}, f"Bearer {token}",
                **{"Idempotency-Key": CARDS[2]}) == 201
    assert requests.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    payload = json.dumps({"id": "evt_secret", "type": "payment_intent.succeeded",
                          "data": {"object": {"object": "payment_intent", "id": "pi_unknown"}}})
    stamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{stamp}.{payload}", service_env["STRIPE_WEBHOOK_SECRET"])
    for sig in (f"t={stamp},v1={signature}", f"t={stamp},v1={'0' * 64}"):
        requests.post(f"{url}/webhooks/stripe", data=payload, timeout=10,
                      headers={"Stripe-Signature": sig, "Content-Type": "application/json"})

    deadline = time.monotonic() + 10
    while len([r for r in traced.lines_since(mark) if r.get("message") == "request"]) < 9 \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    text = traced.log.read_bytes()[mark:].decode(errors="replace")
    assert len([r for r in traced.lines_since(mark) if r.get("message") == "request"]) >= 9
    assert leaks(text, _secrets(service_env, issuer)) == []


def test_the_grep_finds_what_it_looks_for(issuer: Any, service_env: dict[str, str]) -> None:
    secrets = _secrets(service_env, issuer)
    for planted in (issuer.token("x"), f"Bearer {issuer.token('x')}", "4242 4242 4242 4242", "4000-0000-0000-0341",
                    service_env["STRIPE_WEBHOOK_SECRET"], issuer.key.pem):
        assert leaks(f'{{"message": "oops", "value": "{planted}"}}', secrets), planted
    assert leaks('{"request_id": "3f2a", "amount_cents": 1299, "duration_ms": 12.5}', secrets) == []
    assert leaks('{"payment_id": "12345678-5675-4123-8123-123456789012", "Latency": [96.06046699991566],'
                 ' "Timestamp": 1795589750776}', secrets) == []


@pytest.fixture(scope="session", autouse=True)
def whole_run_log_has_no_secret(run_dir: Path, service_env: dict[str, str], issuer: Any) -> Iterator[None]:
    """After every test of the session: the main server's log, which all e2e traffic went through."""
    yield
    log = run_dir / "chalice.log"
    if log.exists():
        assert leaks(log.read_text(errors="replace"), _secrets(service_env, issuer)) == [], log
