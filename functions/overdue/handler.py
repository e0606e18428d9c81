"""Scheduled: overdue notices, on the first day a loan is overdue and again OVERDUE_SECOND_NOTICE_AFTER later."""

from typing import Any

from lending import notices
from lending_http import job
from lending_http.operation import Scope


@job("overdue")
def handle(deps: Scope) -> dict[str, Any]:
    written = notices.write_overdue_notices(deps.store, deps.clock,
                                            second_after=deps.settings.overdue_second_notice_after)
    return {"overdue_notices": written}
