"""The librarian's catalogue: POST /titles, PATCH /titles/{title_id}, POST /titles/{title_id}/copies,
PATCH /books/{book_id} (price, fee, barcode), POST /books/{book_id}/withdraw {"reason"}."""

from lending import circulation, desk
from lending_http import LIBRARIAN, Call, Response, desk_fields, desk_views, fields, operation, views
from lending_http.desk_scope import desk_store


@operation("catalogue_desk", caller=LIBRARIAN, idempotent=True)
def handle(call: Call) -> Response:
    request, store = call.request, desk_store(call)
    if "book_id" in request.path_params:
        book_id = fields.book_id(request.path_params)
        if request.method == "PATCH":
            copy = desk.edit_copy(store, call.caller, book_id, desk_fields.copy_changes(call.json()))
        else:
            copy = desk.withdraw_copy(store, call.caller, book_id, desk_fields.reason(call.json()))
        return Response(200, desk_views.copy(copy))
    if "title_id" in request.path_params:
        title_id = fields.title_id(request.path_params)
        if request.method == "PATCH":
            desk.edit_title(store, call.caller, title_id, desk_fields.title_changes(call.json()))
            return Response(200, views.title_detail(circulation.find_title(call.store, title_id)))
        copies = desk_fields.new_copies(call.json(), call.settings.default_currency)
        added = desk.add_copies(store, call.caller, title_id, copies)
        return Response(201, {"items": [desk_views.copy(c) for c in added]})
    title_id = desk.create_title(store, call.caller, desk_fields.new_title(call.json()))
    return Response(201, views.title_detail(circulation.find_title(call.store, title_id)),
                    {"Location": f"/titles/{title_id}"})
