"""My notices and preferences: GET /me/notices, GET /me/preferences, PUT /me/preferences {"reminders": bool}."""

from lending import notices
from lending.errors import InvalidRequest
from lending_http import SIGNED_IN, Call, Response, operation
from lending_http.notices import notice


@operation("notices", caller=SIGNED_IN)
def handle(call: Call) -> Response:
    if call.request.path.endswith("/notices"):
        return Response(200, {"items": [notice(n) for n in notices.notices_of(call.store, call.caller)]})
    if call.request.method == "PUT":
        body = call.json()
        reminders = body.get("reminders")
        if not isinstance(reminders, bool) or set(body) - {"reminders"}:
            raise InvalidRequest("'reminders' is required and must be true or false.", field="reminders")
        notices.set_reminders(call.store, call.caller, reminders)
    patron = call.store.find_patron(call.caller.issuer, call.caller.subject)
    return Response(200, {"reminders": patron.reminders if patron else True})
