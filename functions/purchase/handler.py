"""POST /books/{book_id}/purchase: authorise the price, mark the copy sold, capture."""

from lending import services
from lending_http import SIGNED_IN, Call, Response, fields, operation, views


@operation("purchase", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    done = services.buy_book(
        call.store, call.gateway, call.caller, fields.book_id(call.path_params), fields.payment_method(call.json()),
        idempotency_key=call.idempotency_key, request_id=call.request.request_id)
    return Response(201, {**views.purchase(done.purchase), "payment": views.payment(done.payment)})
