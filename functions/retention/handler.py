"""Scheduled retention: delete finished idempotency keys and seen processor events past their periods."""

from typing import Any

from lending import retention
from lending_http import job
from lending_http.operation import Scope


@job("retention")
def handle(deps: Scope) -> dict[str, Any]:
    config = deps.settings
    report = retention.forget_expired(deps.store, deps.clock, idempotency_retention=config.idempotency_retention,
                                      processor_event_retention=config.processor_event_retention,
                                      batch_size=config.retention_batch_size)
    return {"idempotency_keys": report.idempotency_keys, "processor_events": report.processor_events,
            "batches": report.batches, "more": report.more}
