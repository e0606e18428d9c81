"""POST /books/{book_id}/purchase: authorise the price, mark the copy sold, capture."""

from lending import fields, idempotency, services, views
from lending.config import settings
from lending.http import Request, Response, endpoint
from lending_observability import instrument
from lending_oidc import verifier_from
from lending_postgres import store_from
from lending_stripe import gateway_from


@instrument("purchase")
@endpoint
def handle(request: Request) -> Response:
    config = settings()
    store = store_from(config)
    buyer = verifier_from(config).authenticate(request.headers.get("authorization"))

    def buy() -> Response:
        book_id = fields.book_id(request.path_params)
        payment_method = fields.payment_method(request.json())
        done = services.buy_book(store, gateway_from(config), buyer, book_id, payment_method,
                                 idempotency_key=idempotency.key_of(request), request_id=request.request_id)
        return Response(201, {**views.purchase(done.purchase), "payment": views.payment(done.payment)})

    return idempotency.run_once(store, buyer, request, buy)
