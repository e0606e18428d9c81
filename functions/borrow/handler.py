"""POST /books/{book_id}/borrow: authorise the borrow fee, move the book, capture."""

from lending import fields, idempotency, services, views
from lending.config import settings
from lending.http import Request, Response, endpoint
from lending_observability import instrument
from lending_oidc import verifier_from
from lending_postgres import store_from
from lending_stripe import gateway_from


@instrument("borrow")
@endpoint
def handle(request: Request) -> Response:
    config = settings()
    store = store_from(config)
    borrower = verifier_from(config).authenticate(request.headers.get("authorization"))

    def borrow() -> Response:
        book_id = fields.book_id(request.path_params)
        payment_method = fields.payment_method(request.json())
        done = services.borrow_book(
            store, gateway_from(config), borrower, book_id, payment_method, loan_days=config.loan_days,
            idempotency_key=idempotency.key_of(request), request_id=request.request_id)
        return Response(201, {**views.loan(done.loan), "payment": views.payment(done.payment)})

    return idempotency.run_once(store, borrower, request, borrow)
