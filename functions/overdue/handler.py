"""Scheduled: loans overdue by LOST_AFTER are declared lost (copy lost, lost-item charge, loan closed).

The notices work adds its overdue notices to this job; this part is one call into lending.fees.
"""

from typing import Any

from lending import fees
from lending_http import job
from lending_http.fees import fee_policy
from lending_http.operation import Scope


@job("overdue")
def handle(deps: Scope) -> dict[str, Any]:
    lost = fees.declare_lost(deps.store, deps.clock, lost_after=deps.settings.lost_after,
                             fees=fee_policy(deps.settings))
    return {"declared_lost": len(lost)}
