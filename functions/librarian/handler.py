"""Librarian writes and views: POST /books (add a copy), GET /loans (who has what)."""

from lending import services
from lending.model import NewBook
from lending_http import LIBRARIAN, Call, Response, fields, operation, views


@operation("librarian", caller=LIBRARIAN, idempotent=True)
def handle(call: Call) -> Response:
    if call.request.method == "GET":
        loans = services.books_on_loan(call.store, call.caller)
        return Response(200, {"items": [views.loan(loan, call.settings.max_renewals) for loan in loans]})
    body = call.json()
    isbn, title, author = fields.isbn(body), fields.text(body, "title"), fields.text(body, "author")
    currency = fields.currency(body, call.settings.default_currency)
    new = NewBook(
        isbn=isbn, title=title, author=author, price_cents=fields.amount(body, "price_cents", currency),
        borrow_fee_cents=fields.amount(body, "borrow_fee_cents", currency), currency=currency,
        publication_year=fields.optional_int(body, "publication_year", minimum=1, maximum=2999),
        language=fields.optional_text(body, "language", max_length=3, pattern=r"^[a-z]{2,3}$"),
        description=fields.optional_text(body, "description", max_length=5000),
    )
    book = services.add_book(call.store, call.caller, new)
    return Response(201, views.book(book), {"Location": f"/books/{book.book_id}"})
