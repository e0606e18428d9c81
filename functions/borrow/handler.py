"""POST /books/{book_id}/borrow: authorise the borrow fee, move the book, capture."""

from lending import services
from lending_http import SIGNED_IN, Call, Response, fields, operation, views


@operation("borrow", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    done = services.borrow_book(
        call.store, call.gateway, call.caller, fields.book_id(call.path_params), fields.payment_method(call.json()),
        loan_days=call.settings.loan_days, idempotency_key=call.idempotency_key, request_id=call.request.request_id)
    return Response(201, {**views.loan(done.loan), "payment": views.payment(done.payment)})
