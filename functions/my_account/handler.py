"""GET /me/account: the balance, the charges, and whether (and why) the account is blocked."""

from lending import fees
from lending_http import SIGNED_IN, Call, Response, operation
from lending_http import fees as fee_views


@operation("my_account", caller=SIGNED_IN)
def handle(call: Call) -> Response:
    settings = call.settings
    account = fees.account_of(call.store, call.caller, settings.default_currency)
    return Response(200, fee_views.account(account, call.clock.now(), fee_views.block_policy(settings)))
