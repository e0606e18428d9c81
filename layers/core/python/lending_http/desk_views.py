"""JSON shapes of the desk's objects: copies with barcodes, check-ins, refunds, import reports."""

from __future__ import annotations

from typing import Any

from lending.desk_model import CheckIn, CopyRecord, ImportReport, Refund
from lending_http.views import _time


def copy(c: CopyRecord) -> dict[str, Any]:
    return {"book_id": c.book_id, "title_id": c.title_id, "barcode": c.barcode, "price_cents": c.price_cents,
            "borrow_fee_cents": c.borrow_fee_cents, "currency": c.currency, "status": c.status.value,
            "withdrawn_reason": c.withdrawn_reason, "withdrawn_at": _time(c.withdrawn_at)}


def check_in(done: CheckIn) -> dict[str, Any]:
    shown: dict[str, Any] = {"action": done.action, "loan_id": done.loan_id, "book_id": done.book_id,
                             "barcode": done.barcode,
                             "borrower": {"sub": done.borrower.subject, "name": done.borrower.name}}
    if done.patron is not None:
        shown["hold_for"] = {"sub": done.patron.subject, "name": done.patron.name}
        shown["ready_until"] = _time(done.ready_until)
    return shown


def refund(r: Refund) -> dict[str, Any]:
    return {"purchase_id": r.purchase_id, "book_id": r.book_id, "reason": r.reason,
            "payment": {"id": r.payment_id, "status": r.state, "amount": r.amount_cents, "currency": r.currency},
            "processor_refunded": r.settled}


def import_report(report: ImportReport) -> dict[str, Any]:
    return {"records": report.records, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": [{"record": number, "reason": why} for number, why in report.rejected]}
