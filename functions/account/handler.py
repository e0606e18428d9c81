"""My account: GET /me, GET /me/loans, GET /me/purchases (always read from the primary)."""

from lending import services, views
from lending.config import settings
from lending.http import Request, Response, endpoint
from lending_observability import instrument
from lending_oidc import verifier_from
from lending_postgres import store_from


@instrument("account")
@endpoint
def handle(request: Request) -> Response:
    config = settings()
    user = verifier_from(config).authenticate(request.headers.get("authorization"))
    if request.path.endswith("/loans"):
        loans = services.loans_of(store_from(config), user)
        return Response(200, {"items": [views.loan(loan) for loan in loans]})
    if request.path.endswith("/purchases"):
        purchases = services.purchases_of(store_from(config), user)
        return Response(200, {"items": [views.purchase(p) for p in purchases]})
    return Response(200, views.user(user))
