"""POST /books/{book_id}/borrow (this copy) and POST /titles/{title_id}/borrow (any free copy):
authorise the borrow fee, move the copy, capture."""

from lending import circulation, services
from lending_http import SIGNED_IN, Call, Response, fields, operation, views
from lending_http.fees import ensure_not_blocked


@operation("borrow", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    method = fields.payment_method(call.json())
    if "title_id" in call.path_params:
        ensure_not_blocked(call.store, call.caller, call.settings, call.clock)
        done = circulation.borrow_title(
            call.store, call.gateway, call.caller, fields.title_id(call.path_params), method, clock=call.clock,
            loan_period=call.settings.loan, idempotency_key=call.idempotency_key, request_id=call.request.request_id)
    else:
        book_id = fields.book_id(call.path_params)
        copy = ensure_not_blocked(call.store, call.caller, call.settings, call.clock, book_id=book_id)
        done = services.borrow_book(
            call.store, call.gateway, call.caller, book_id, method, loan_period=call.settings.loan,
            now=call.clock.now(), idempotency_key=call.idempotency_key, request_id=call.request.request_id, copy=copy)
    return Response(201, {**views.loan(done.loan, call.settings.max_renewals), "payment": views.payment(done.payment)})
