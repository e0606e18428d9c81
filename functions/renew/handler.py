"""POST /me/loans/{loan_id}/renew: charge the borrow fee again and extend the loan."""

from lending import circulation
from lending_http import SIGNED_IN, Call, Response, fields, operation, views
from lending_http.fees import ensure_not_blocked, fee_policy


@operation("renew", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    settings = call.settings
    ensure_not_blocked(call.store, call.caller, settings, call.clock)
    done = circulation.renew_loan(
        call.store, call.gateway, call.caller, fields.loan_id(call.path_params), fields.payment_method(call.json()),
        clock=call.clock, loan_period=settings.loan, max_renewals=settings.max_renewals,
        idempotency_key=call.idempotency_key, request_id=call.request.request_id,
        fees=fee_policy(settings))
    return Response(200, {**views.loan(done.loan, settings.max_renewals), "payment": views.payment(done.payment)})
