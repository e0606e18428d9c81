"""POST /books/{book_id}/return: close the open loan (borrower or librarian). No payments."""

from lending import services
from lending_http import SIGNED_IN, Call, Response, fields, operation, views


@operation("return", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    return Response(200, views.loan(services.return_book(call.store, call.caller, fields.book_id(call.path_params))))
