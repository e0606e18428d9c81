"""GET /titles (search with facets) and GET /titles/{title_id} (its copies and queue). No sign-in needed."""

from lending import circulation
from lending.catalogue_model import TitleQuery
from lending_http import Call, Response, fields, operation, views


@operation("titles")
def handle(call: Call) -> Response:
    request = call.request
    if "title_id" in request.path_params:
        return Response(200, views.title_detail(circulation.find_title(call.store, fields.title_id(request.path_params))))
    query = TitleQuery(
        text=fields.query_text(request.query_one("q"), "q"),
        available=fields.flag(request.query_one("available"), "available"),
        author=fields.query_text(request.query_one("author"), "author"),
        language=fields.query_text(request.query_one("language"), "language", max_length=3),
        limit=fields.bounded_int(request.query_one("limit"), "limit", default=20, minimum=1, maximum=100),
        offset=fields.bounded_int(request.query_one("offset"), "offset", default=0, minimum=0, maximum=10_000),
    )
    return Response(200, views.title_page(circulation.search_titles(call.store, query)))
