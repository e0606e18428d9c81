"""Holds: POST /titles/{title_id}/holds (join the queue), GET /me/holds, DELETE /me/holds/{hold_id},
and GET /titles/{title_id}/holds (a title's queue, for librarians)."""

from lending import circulation
from lending_http import SIGNED_IN, Call, Response, fields, operation, views
from lending_http.fees import ensure_not_blocked


@operation("holds", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    request, settings = call.request, call.settings
    if request.method == "DELETE":
        circulation.cancel_hold(call.store, call.caller, fields.hold_id(request.path_params), clock=call.clock,
                                pickup_period=settings.hold_pickup_period)
        return Response(204)
    if request.path == "/me/holds":
        return Response(200, {"items": [views.hold(h) for h in circulation.holds_of(call.store, call.caller)]})
    title_id = fields.title_id(request.path_params)
    if request.method == "GET":
        queue = circulation.title_queue(call.store, call.caller, title_id)
        return Response(200, {"items": [views.hold(h, with_patron=True) for h in queue]})
    ensure_not_blocked(call.store, call.caller, settings, call.clock)
    hold = circulation.place_hold(call.store, call.caller, title_id, clock=call.clock,
                                  max_holds=settings.max_holds_per_patron)
    return Response(201, views.hold(hold), {"Location": "/me/holds"})
