"""Scheduled: overdue loans. Those overdue by LOST_AFTER are declared lost (copy lost, lost-item charge,
loan closed, a lost-copy notice); then overdue notices, on the first day a loan is overdue and again
OVERDUE_SECOND_NOTICE_AFTER later (a loan just declared lost is closed and gets none).
"""

from typing import Any

from lending import fees, notices
from lending_http import job
from lending_http.fees import fee_policy
from lending_http.operation import Scope


@job("overdue")
def handle(deps: Scope) -> dict[str, Any]:
    lost = fees.declare_lost(deps.store, deps.clock, lost_after=deps.settings.lost_after,
                             fees=fee_policy(deps.settings))
    written = notices.write_overdue_notices(deps.store, deps.clock,
                                            second_after=deps.settings.overdue_second_notice_after)
    return {"declared_lost": len(lost), "overdue_notices": written}
