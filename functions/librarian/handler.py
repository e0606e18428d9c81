"""Librarian writes and views: POST /books (add a copy), GET /loans (who has what)."""

from lending import fields, idempotency, services, views
from lending.config import settings
from lending.http import Request, Response, endpoint
from lending.model import NewBook
from lending_observability import instrument
from lending_oidc import verifier_from
from lending_postgres import store_from


@instrument("librarian")
@endpoint
def handle(request: Request) -> Response:
    config = settings()
    store = store_from(config)
    librarian = verifier_from(config).authenticate(request.headers.get("authorization"))
    if request.method == "GET":
        return Response(200, {"items": [views.loan(loan) for loan in services.books_on_loan(store, librarian)]})

    def add() -> Response:
        body = request.json()
        new = NewBook(
            isbn=fields.isbn(body), title=fields.text(body, "title"), author=fields.text(body, "author"),
            price_cents=fields.cents(body, "price_cents"), borrow_fee_cents=fields.cents(body, "borrow_fee_cents"),
            currency=fields.currency(body, config.default_currency),
        )
        book = services.add_book(store, librarian, new)
        return Response(201, views.book(book), {"Location": f"/books/{book.book_id}"})

    return idempotency.run_once(store, librarian, request, add)
