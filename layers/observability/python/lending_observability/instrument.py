"""`instrument(operation)`: request-scoped logging and per-operation metrics for a proxy handler."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from lending.http import PROBLEM, request_id_of

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

# Outcomes worth telling apart on a dashboard; a problem body's title names the domain error.
_PROBLEM_OUTCOMES = {
    "Book Unavailable": "lost_race", "Payment Declined": "declined",
    "Payment Processor Unavailable": "processor_down", "Database Unavailable": "database_down",
    "Identity Provider Unavailable": "identity_provider_down", "Payment Released": "released",
    "Request In Progress": "in_progress", "Unauthorized": "unauthenticated", "Forbidden": "forbidden",
}


def outcome_of(operation: str, response: Mapping[str, Any]) -> str:
    """won | ok | replayed | lost_race | declined | processor_down | database_down | ... | client_error | server_error."""
    status = int(response.get("statusCode", 500))
    headers = response.get("headers") or {}
    if status < 400:
        if headers.get("Idempotent-Replayed") == "true":
            return "replayed"
        return "won" if status == 201 and operation in ("borrow", "purchase") else "ok"
    if headers.get("Content-Type") == PROBLEM:
        try:
            title = json.loads(response.get("body") or "{}").get("title")
        except ValueError:
            title = None
        if title in _PROBLEM_OUTCOMES:
            return _PROBLEM_OUTCOMES[title]
    return "client_error" if status < 500 else "server_error"


def _emit(dimensions: dict[str, str], request_id: str, *, latency_ms: float, requests: int = 0) -> None:
    """One EMF record; the request id rides along as a property (searchable, not a dimension)."""
    record = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for name, value in dimensions.items():
        record.add_dimension(name, value)
    if requests:
        record.add_metric(name="Requests", unit=MetricUnit.Count, value=requests)
    record.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    record.add_metadata(key="request_id", value=request_id)
    record.flush_metrics()


def instrument(operation: str) -> Callable[[ProxyHandler], ProxyHandler]:
    """One JSON log line and EMF metrics (Requests by outcome, Latency) per request.

    The request id is fixed here, before the handler runs, so that every log line of
    the request carries it (Powertools' thread-local keys, removed afterwards: threads
    of a WSGI server serve many requests). `operation` and `duration_ms` are only on the
    one `request` line, so a reader can take that line as the request's record.
    """

    def wrap(handler: ProxyHandler) -> ProxyHandler:
        def handle(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
            started = time.perf_counter()
            request_id = request_id_of(event)
            if request_id is None:
                request_id = str(uuid.uuid4())
                event = {**event, "requestContext": {**(event.get("requestContext") or {}), "requestId": request_id}}
            logger.thread_safe_append_keys(request_id=request_id)
            try:
                response = handler(event, context)
                elapsed_ms = (time.perf_counter() - started) * 1000
                status = int(response.get("statusCode", 500))
                outcome = outcome_of(operation, response)
                logger.info("request", extra={
                    "operation": operation, "method": event.get("httpMethod"), "path": event.get("path"), "status": status,
                    "outcome": outcome, "duration_ms": round(elapsed_ms, 2),
                })
            finally:
                logger.thread_safe_remove_keys(["request_id"])
            if METRICS_ON:
                _emit({"operation": operation, "outcome": outcome}, request_id, requests=1, latency_ms=elapsed_ms)
                _emit({"operation": operation}, request_id, latency_ms=elapsed_ms)
            return response

        handle.__name__ = getattr(handler, "__name__", "handle")
        return handle

    return wrap
