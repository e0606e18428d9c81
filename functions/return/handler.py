"""POST /books/{book_id}/return: close the open loan (borrower or librarian). No payments."""

from lending import fields, idempotency, services, views
from lending.config import settings
from lending.http import Request, Response, endpoint
from lending_observability import instrument
from lending_oidc import verifier_from
from lending_postgres import store_from


@instrument("return")
@endpoint
def handle(request: Request) -> Response:
    config = settings()
    store = store_from(config)
    caller = verifier_from(config).authenticate(request.headers.get("authorization"))

    def give_back() -> Response:
        loan = services.return_book(store, caller, fields.book_id(request.path_params))
        return Response(200, views.loan(loan))

    return idempotency.run_once(store, caller, request, give_back)
