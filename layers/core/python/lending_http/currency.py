"""Which currencies we can charge in, and the smallest amount the processor takes in each.

ISO 4217 (the `iso4217` package, read only when a currency is checked: it parses its table at
import) says whether a code is a currency and how many minor units it has (0 for JPY, 3 for BHD).
Amounts are always in the currency's minor unit, as Stripe takes them: cents for USD, yen for JPY.
The minimums are Stripe's published minimum charge amounts (docs.stripe.com/currencies), in minor
units; a currency outside that table is refused rather than left to fail at the processor.
"""

from __future__ import annotations

from lending.errors import InvalidRequest

MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500, "dkk": 250,
    "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300,
    "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}
# Stripe's special cases: two-decimal in the API, but the amount must be whole units.
WHOLE_UNITS_ONLY = {"huf"}


def minor_units(code: str) -> int:
    """ISO 4217's number of minor units for `code`; InvalidRequest if it is not an ISO 4217 currency."""
    from iso4217 import Currency  # noqa: PLC0415 - 46 ms to import: only when a currency is checked

    try:
        exponent = Currency(code.upper()).exponent
    except ValueError:
        raise InvalidRequest(f"'currency' {code!r} is not an ISO 4217 currency code.", field="currency") from None
    if exponent is None:  # funds, metals, testing codes
        raise InvalidRequest(f"'currency' {code!r} is not a currency money can be charged in.", field="currency")
    return int(exponent)


def check_currency(code: str) -> str:
    minor_units(code)
    if code not in MINIMUM_CHARGE:
        raise InvalidRequest(f"'currency' {code.upper()} is a currency, but not one the payment processor takes here; "
                             f"use one of {', '.join(sorted(MINIMUM_CHARGE)).upper()}.", field="currency")
    return code


def check_amount(name: str, amount: int, code: str) -> int:
    """`amount` (in `code`'s minor unit) is one the processor will charge."""
    minimum = MINIMUM_CHARGE[code]
    if amount < minimum:
        raise InvalidRequest(f"'{name}' must be at least {minimum} in {code.upper()}'s smallest unit "
                             f"(the payment processor's minimum charge).", field=name)
    if code in WHOLE_UNITS_ONLY and amount % 100:
        raise InvalidRequest(f"'{name}' must be whole {code.upper()} (a multiple of 100).", field=name)
    if minor_units(code) == 3 and amount % 10:
        raise InvalidRequest(f"'{name}' must end in 0 for {code.upper()} (the processor charges to two places).",
                             field=name)
    return amount
