"""POST /books/{book_id}/return: close the open loan (borrower or librarian). No payments: a late return
adds its late fee to the account, and a lost copy coming back reverses its lost charge (docs/fees.md).

A copy of a title someone is waiting for goes to the hold shelf for them, in the same transaction.
"""

from lending import services
from lending_http import SIGNED_IN, Call, Response, fields, operation, views
from lending_http.fees import fee_policy


@operation("return", caller=SIGNED_IN, idempotent=True)
def handle(call: Call) -> Response:
    loan = services.return_book(call.store, call.caller, fields.book_id(call.path_params), now=call.clock.now(),
                                pickup_period=call.settings.hold_pickup_period, fees=fee_policy(call.settings))
    return Response(200, views.loan(loan, call.settings.max_renewals))
