"""Scheduled reconcile: settle every payment left between steps (see lending.reconcile)."""

from typing import Any

from lending import reconcile
from lending_http import job
from lending_http.operation import Scope


@job("reconcile")
def handle(deps: Scope, grace_seconds: float | None = None) -> dict[str, Any]:
    grace = deps.settings.reconcile_grace_seconds if grace_seconds is None else grace_seconds
    report = reconcile.reconcile(deps.store, deps.gateway, grace_seconds=grace,
                                 first_retry_seconds=deps.settings.reconcile_retry_first.total_seconds(),
                                 max_retry_seconds=deps.settings.reconcile_retry_max.total_seconds())
    return {"examined": report.examined, "actions": report.actions, "errors": report.errors, "failed": report.failed}
