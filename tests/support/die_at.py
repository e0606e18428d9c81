"""Run one borrow or purchase through its real handler and SIGKILL this process at a chosen step.

Test-only: the production code has no fault hooks. This wraps the real adapters of
the handler's process so that, at the named point, the process really dies
(SIGKILL: no exception, no finally, no cleanup), exactly as a crashed host would.

usage: python -m tests.support.die_at POINT OPERATION BOOK_ID TOKEN   (OPERATION borrow, purchase or pay_fees;
       pay_fees pays the caller's balance and ignores BOOK_ID)
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from lending.model import PaymentState
from lending_http.messages import Request
from lending_http.service import Service

ROOT = Path(__file__).resolve().parents[2]


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def after(obj: Any, name: str, when: Any = lambda *a, **k: True) -> None:
    real = getattr(obj, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if when(*args, **kwargs):
            die()
        return result

    setattr(obj, name, wrapped)


def before(obj: Any, name: str) -> None:
    setattr(obj, name, lambda *args, **kwargs: die())


def main() -> None:
    point, operation, book_id, token = sys.argv[1:5]
    service = Service.of(ROOT / "functions", only=[operation])
    store, gateway = service.deps.get("store"), service.deps.get("gateway")
    move = {"borrow": "open_loan", "pay_fees": "record_fee_payment"}.get(operation, "record_sale")
    if point == "after-authorise":
        after(gateway, "confirm_authorization")
    elif point == "after-ledger-authorized":
        after(store, "update_payment", lambda _id, state, **kw: state is PaymentState.AUTHORIZED)
    elif point == "after-commit":
        after(store, move)
    elif point == "before-capture":
        before(gateway, "capture")
    elif point == "after-capture":
        after(gateway, "capture")
    else:
        raise SystemExit(f"unknown point {point}")
    path, params = (("/me/account/payments", {}) if operation == "pay_fees"  # book_id is unused then
                    else (f"/books/{book_id}/{operation}", {"book_id": book_id}))
    request = Request.build(
        method="POST", path=path, path_params=params,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        body=json.dumps({"payment_method": "pm_card_visa"}).encode(), host_request_id=f"fault-{point}")
    answer = service.serve(operation, request)
    response = {"statusCode": answer.status, "body": answer.encoded().decode()}
    print(json.dumps(response))  # only reached if the point was never hit


if __name__ == "__main__":
    main()
