"""`instrument(operation)`: request-scoped logging and per-operation metrics for a proxy handler."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "lending")
logger = Logger(service=SERVICE, level=os.environ.get("LOG_LEVEL", "INFO"))
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LibraryLending")
METRICS_ON = os.environ.get("LENDING_METRICS", "on") != "off"
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# The domain and adapters log through the standard library; give them the same JSON output.
for name in ("lending", "lending_postgres", "lending_stripe", "lending_oidc"):
    std = logging.getLogger(name)
    std.handlers = list(logger.handlers)
    std.setLevel(logger.log_level)
    std.propagate = False
# Vendor libraries stay quiet unless something is wrong (stripe logs every call at INFO).
for name in ("stripe", "urllib3"):
    logging.getLogger(name).setLevel(logging.WARNING)

ProxyHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]

_OUTCOMES = {200: "ok", 201: "won", 402: "declined", 409: "conflict", 503: "unavailable"}


def _outcome(status: int) -> str:
    if status in _OUTCOMES:
        return _OUTCOMES[status]
    return "client_error" if status < 500 else "server_error"


def instrument(operation: str) -> Callable[[ProxyHandler], ProxyHandler]:
    def wrap(handler: ProxyHandler) -> ProxyHandler:
        def handle(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
            started = time.perf_counter()
            response = handler(event, context)
            elapsed_ms = (time.perf_counter() - started) * 1000
            request_id = response.get("headers", {}).get("X-Request-ID")
            status = int(response.get("statusCode", 500))
            logger.info("request", extra={
                "request_id": request_id, "operation": operation, "method": event.get("httpMethod"),
                "path": event.get("path"), "status": status, "duration_ms": round(elapsed_ms, 2),
            })
            if METRICS_ON:
                dims = {"service": SERVICE, "operation": operation}
                with single_metric(name="Requests", unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
                                   default_dimensions={**dims, "outcome": _outcome(status)}):
                    pass
                with single_metric(name="Latency", unit=MetricUnit.Milliseconds, value=elapsed_ms,
                                   namespace=NAMESPACE, default_dimensions=dims):
                    pass
            return response

        handle.__name__ = getattr(handler, "__name__", "handle")
        return handle

    return wrap
