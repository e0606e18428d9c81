"""POST /imports: a MARC 21 (application/marc), MARCXML (application/marcxml+xml) or CSV (text/csv) file
into titles and copies, idempotently; answers the report (created, updated, unchanged, rejected)."""

from lending import imports
from lending.errors import PayloadTooLarge
from lending_http import LIBRARIAN, Call, Response, desk_fields, desk_views, operation
from lending_http.desk_scope import desk_store
from lending_marc import read


@operation("imports", caller=LIBRARIAN)
def handle(call: Call) -> Response:
    settings, body = call.settings, call.request.body
    if len(body) > settings.max_import_bytes:
        raise PayloadTooLarge(f"The file is {len(body)} bytes; imports take at most {settings.max_import_bytes} "
                              "(MAX_IMPORT_BYTES). Split it, or use `make import`.")
    records = read(body, call.request.headers.get("content-type") or "")
    report = imports.import_records(
        desk_store(call), records, isbn13=desk_fields.isbn13, default_fee_cents=settings.import_borrow_fee_cents,
        default_currency=settings.default_currency, batch_size=settings.import_batch_size)
    return Response(200, desk_views.import_report(report))
