"""Scheduled: ready holds not picked up by their ready_until expire; each copy goes to the next in line or the shelf."""

from typing import Any

from lending import circulation
from lending_http import job
from lending_http.operation import Scope


@job("expire_holds")
def handle(deps: Scope) -> dict[str, Any]:
    report = circulation.expire_ready_holds(deps.store, deps.clock, pickup_period=deps.settings.hold_pickup_period)
    return {"expired": report.expired, "passed_on": report.passed_on, "back_on_shelf": report.back_on_shelf}
