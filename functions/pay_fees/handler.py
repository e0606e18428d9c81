"""POST /me/account/payments: pay the whole balance by card (authorise, credit the account, capture)."""

from lending import fees
from lending_http import SIGNED_IN, Call, Response, fields, operation, views
from lending_http import fees as fee_views


@operation("pay_fees", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    settings = call.settings
    paid = fees.pay_balance(call.store, call.gateway, call.caller, fields.payment_method(call.json()),
                            currency=settings.default_currency, idempotency_key=call.idempotency_key,
                            request_id=call.request.request_id)
    account = fees.account_of(call.store, call.caller, settings.default_currency)
    return Response(201, {"charge": fee_views.charge(paid.charge), "payment": views.payment(paid.payment),
                          "account": fee_views.account(account, call.clock.now(), fee_views.block_policy(settings))})
