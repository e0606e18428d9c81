"""POST /purchases/{purchase_id}/refund {"reason"}: reverse a sale and refund it through the processor, once."""

from lending import desk
from lending_http import LIBRARIAN, Call, Response, desk_fields, desk_views, operation
from lending_http.desk_scope import desk_store


@operation("refund", caller=LIBRARIAN, idempotent=True)
def handle(call: Call) -> Response:
    purchase_id = desk_fields.purchase_id(call.path_params)
    done = desk.refund_sale(call.store, desk_store(call), call.gateway, call.caller, purchase_id,
                            desk_fields.reason(call.json()), now=call.clock.now(),
                            pickup_period=call.settings.hold_pickup_period)
    return Response(200 if done.settled else 202, desk_views.refund(done))
