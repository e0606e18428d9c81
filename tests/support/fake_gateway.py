"""The in-memory payment gateway (its store is in tests.support.fakes); passes tests/contract."""

from __future__ import annotations

import uuid

from lending.errors import PaymentDeclined, ProcessorRefused
from lending.model import Authorization

DECLINING = {"pm_card_chargeCustomerFail"}


class FakeGateway:
    """Manual-capture intents in memory. `pm_card_chargeCustomerFail` declines at confirm."""

    def __init__(self) -> None:
        self.intents: dict[str, dict] = {}
        self.calls: list[str] = []

    def create_authorization(self, *, amount_cents: int, currency: str, payment_method: str, idempotency_key: str,
                             metadata: dict[str, str]) -> str:
        self.calls.append("create")
        intent_id = f"pi_fake_{uuid.uuid4().hex[:12]}"
        self.intents[intent_id] = {"status": "requires_confirmation", "amount": amount_cents, "pm": payment_method,
                                   "refunded": False, "metadata": dict(metadata)}
        return intent_id

    def _auth(self, intent_id: str) -> Authorization:
        i = self.intents[intent_id]
        return Authorization(intent_id, i["status"], i["amount"], i["refunded"], i["metadata"])

    def confirm_authorization(self, intent_id: str, idempotency_key: str) -> Authorization:
        self.calls.append("confirm")
        i = self.intents[intent_id]
        if i["pm"] in DECLINING:
            i["status"] = "requires_payment_method"
            raise PaymentDeclined("Your card was declined.", decline_code="card_declined")
        i["status"] = "requires_capture"
        return self._auth(intent_id)

    def capture(self, intent_id: str, idempotency_key: str) -> Authorization:
        self.calls.append("capture")
        i = self.intents[intent_id]
        if i["status"] not in ("requires_capture", "succeeded"):
            raise ProcessorRefused(f"cannot capture an intent in {i['status']}")
        i["status"] = "succeeded"
        return self._auth(intent_id)

    def cancel(self, intent_id: str, idempotency_key: str) -> Authorization:
        self.calls.append("cancel")
        i = self.intents[intent_id]
        if i["status"] == "succeeded":
            raise ProcessorRefused("cannot cancel a captured intent")
        i["status"] = "canceled"
        return self._auth(intent_id)

    def refund(self, intent_id: str, idempotency_key: str) -> Authorization:
        self.calls.append("refund")
        self.intents[intent_id]["refunded"] = True
        return self._auth(intent_id)

    def retrieve(self, intent_id: str) -> Authorization:
        return self._auth(intent_id)
