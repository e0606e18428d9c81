"""Scheduled reconcile: settle every payment left between steps (see lending.reconcile)."""

from typing import Any

from lending import reconcile
from lending.config import settings
from lending_observability import logger
from lending_postgres import store_from
from lending_stripe import gateway_from


def handle(event: Any = None, context: Any = None, *, grace_seconds: float | None = None) -> dict[str, Any]:
    config = settings()
    grace = config.reconcile_grace_seconds if grace_seconds is None else grace_seconds
    report = reconcile.reconcile(store_from(config), gateway_from(config), grace_seconds=grace)
    result = {"examined": report.examined, "actions": report.actions, "errors": report.errors}
    logger.info("reconcile finished", extra=result)
    return result
