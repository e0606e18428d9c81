"""POST /desk/checkin {"barcode"}: close the copy's open loan, whoever has it, and say where it goes."""

from lending import desk
from lending_http import LIBRARIAN, Call, Response, desk_fields, desk_views, operation
from lending_http.desk_scope import desk_store
from lending_http.fees import fee_policy


@operation("desk", caller=LIBRARIAN, idempotent=True)
def handle(call: Call) -> Response:
    done = desk.check_in(call.store, desk_store(call), call.caller, desk_fields.barcode(call.json()),
                         now=call.clock.now(), pickup_period=call.settings.hold_pickup_period,
                         fees=fee_policy(call.settings))
    return Response(200, desk_views.check_in(done))
