"""Librarians: GET /patrons?q= (by name, email or subject), GET /patrons/{patron_id} (loans, holds,
account), POST /patrons/{patron_id}/charges/{charge_id}/waive {"reason"}."""

from lending import fees
from lending.errors import ChargeNotFound, PatronNotFound
from lending_http import LIBRARIAN, Call, Response, fields, operation
from lending_http import fees as fee_views


@operation("patrons", caller=LIBRARIAN, idempotent=True)
def handle(call: Call) -> Response:
    request, settings = call.request, call.settings
    if "patron_id" not in request.path_params:
        found = fees.find_patrons(call.store, call.caller, fields.query_text(request.query_one("q"), "q"))
        return Response(200, {"items": [fee_views.patron(p) for p in found]})
    patron_id = fields.path_uuid(request.path_params, "patron_id", PatronNotFound, "patron")
    if request.method == "GET":
        file = fees.patron_file(call.store, call.caller, patron_id, currency=settings.default_currency)
        return Response(200, fee_views.patron_file(file, call.clock.now(), settings))
    charge_id = fields.path_uuid(request.path_params, "charge_id", ChargeNotFound, "charge")
    waiver = fees.waive(call.store, call.caller, patron_id, charge_id, fields.text(call.json(), "reason"))
    return Response(201, fee_views.charge(waiver, full=True))
