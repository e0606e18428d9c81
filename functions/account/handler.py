"""My account: GET /me, GET /me/loans, GET /me/purchases (always read from the primary)."""

from lending import services
from lending_http import SIGNED_IN, Call, Response, operation, views


@operation("account", caller=SIGNED_IN)
def handle(call: Call) -> Response:
    if call.request.path.endswith("/loans"):
        loans = services.loans_of(call.store, call.caller)
        return Response(200, {"items": [views.loan(loan, call.settings.max_renewals) for loan in loans]})
    if call.request.path.endswith("/purchases"):
        return Response(200, {"items": [views.purchase(p) for p in services.purchases_of(call.store, call.caller)]})
    return Response(200, views.user(call.caller))
