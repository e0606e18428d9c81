"""Librarian writes and views: POST /books (add a copy), GET /loans (who has what)."""

from lending import services
from lending.model import NewBook
from lending_http import SIGNED_IN, Call, Response, fields, operation, views


@operation("librarian", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    if call.request.method == "GET":
        return Response(200, {"items": [views.loan(loan) for loan in services.books_on_loan(call.store, call.caller)]})
    body = call.json()
    isbn, title, author = fields.isbn(body), fields.text(body, "title"), fields.text(body, "author")
    currency = fields.currency(body, call.settings.default_currency)
    new = NewBook(isbn=isbn, title=title, author=author, price_cents=fields.amount(body, "price_cents", currency),
                  borrow_fee_cents=fields.amount(body, "borrow_fee_cents", currency), currency=currency)
    book = services.add_book(call.store, call.caller, new)
    return Response(201, views.book(book), {"Location": f"/books/{book.book_id}"})
