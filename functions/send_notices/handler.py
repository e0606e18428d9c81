"""Scheduled: send the notices outbox by SMTP, each notice at most once; refusals retried with backoff."""

from typing import Any

from lending import notices
from lending_http import job
from lending_http.notices import letterhead, policy
from lending_http.operation import Scope


@job("send_notices")
def handle(deps: Scope) -> dict[str, Any]:
    report = notices.send_notices(deps.store, deps.mailer, deps.clock, letterhead(deps.settings), policy(deps.settings))
    return report.counts()
