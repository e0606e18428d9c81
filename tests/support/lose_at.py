"""Run one borrow or purchase through its real handler and lose the database's reply at a chosen step.

Test-only, like die_at: the production code has no fault hooks. The step really happens (the
loan's COMMIT, or the capture at the processor and then our write of it); then this process's
store raises what pg8000 raises when a reply never comes back, so the handler answers 503 and
releases the Idempotency-Key, exactly as it would when the network drops the reply.

usage: python -m tests.support.lose_at POINT OPERATION BOOK_ID TOKEN KEY    (prints the status)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lending.errors import DatabaseUnavailable
from lending.model import PaymentState
from lending_http.messages import Request
from lending_http.service import Service

ROOT = Path(__file__).resolve().parents[2]


def lose_reply(obj: Any, name: str, when: Any = lambda *a, **k: True) -> None:
    real = getattr(obj, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if when(*args, **kwargs):
            raise DatabaseUnavailable("The database is not reachable.")
        return result

    setattr(obj, name, wrapped)


def main() -> None:
    point, operation, book_id, token, key = sys.argv[1:6]
    service = Service.of(ROOT / "functions", only=[operation])
    store = service.deps.get("store")
    if point == "commit-reply":
        lose_reply(store, "open_loan" if operation == "borrow" else "record_sale")
    elif point == "capture-write":  # captured at the processor; our write of it is lost
        lose_reply(store, "update_payment", lambda _id, state, **kw: state is PaymentState.CAPTURED)
    else:
        raise SystemExit(f"unknown point {point}")
    request = Request.build(
        method="POST", path=f"/books/{book_id}/{operation}", path_params={"book_id": book_id},
        headers={"authorization": f"Bearer {token}", "content-type": "application/json", "idempotency-key": key},
        body=json.dumps({"payment_method": "pm_card_visa"}).encode())
    print(service.serve(operation, request).status)


if __name__ == "__main__":
    main()
