"""GET /books (search, status filter, pagination) and GET /books/{book_id}. No sign-in needed."""

from lending import services
from lending.errors import InvalidRequest
from lending.model import BookQuery, BookStatus
from lending_http import Call, Response, fields, operation, views

MAX_OFFSET = 10_000  # deeper pages are refused: no single request scans the catalogue for long


@operation("catalogue")
def handle(call: Call) -> Response:
    request = call.request
    if "book_id" in request.path_params:
        return Response(200, views.book(services.find_book(call.store, fields.book_id(request.path_params))))
    status = request.query_one("status")
    if status and status not in {s.value for s in BookStatus}:
        statuses = ", ".join(s.value for s in BookStatus)
        raise InvalidRequest(f"'status' must be one of {statuses}.", field="status")
    text = (request.query_one("q") or "").strip()[:200] or None
    query = BookQuery(
        text=text, status=BookStatus(status) if status else None,
        limit=fields.bounded_int(request.query_one("limit"), "limit", default=20, minimum=1, maximum=100),
        offset=fields.bounded_int(request.query_one("offset"), "offset", default=0, minimum=0, maximum=MAX_OFFSET),
    )
    return Response(200, views.page(services.search_books(call.store, query)))
