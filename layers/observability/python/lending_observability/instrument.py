"""Request-scoped logging and per-operation metrics, through AWS Lambda Powertools.

One JSON log line per request (`request`, with operation, status, outcome and duration) and EMF
metrics (Requests by outcome, Latency); one line and one EMF record per job run (Runs, Skipped or
Failed, JobDuration and the job's counts, by job). Every log line written while a request or job
runs carries its request id, taken from `lending.correlation` by a logging filter.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from lending.correlation import current_request_id
from lending_http.messages import Request, Response
from lending_http.problems import outcome_of
from lending_settings import Settings

# Our packages log through the standard library; they get the same JSON output.
OUR_LOGGERS = ("lending", "lending_http", "lending_postgres", "lending_stripe", "lending_oidc")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class Observer:
    """What a host's operations report to: one per process, built from the settings."""

    def __init__(self, service: str, level: str, namespace: str, metrics: bool) -> None:
        self.service, self.namespace, self.metrics_on = service, namespace, metrics
        self.logger = Logger(service=service, level=level)
        tag = _RequestIdFilter()
        for handler in self.logger.handlers:
            handler.addFilter(tag)
        for name in OUR_LOGGERS:
            std = logging.getLogger(name)
            std.handlers = list(self.logger.handlers)
            std.setLevel(self.logger.log_level)
            std.propagate = False
        # Vendor libraries stay quiet unless something is wrong (stripe logs every call at INFO).
        for name in ("stripe", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)

    def observe(self, operation: str, request: Request, response: Response, elapsed_ms: float) -> None:
        outcome = outcome_of(operation, response)
        self.logger.info("request", extra={
            "request_id": request.request_id, "operation": operation, "method": request.method, "path": request.path,
            "status": response.status, "outcome": outcome, "duration_ms": round(elapsed_ms, 2),
        })
        if self.metrics_on:
            self._emit({"operation": operation, "outcome": outcome}, request.request_id, requests=1, latency_ms=elapsed_ms)
            self._emit({"operation": operation}, request.request_id, latency_ms=elapsed_ms)

    def job_done(self, job: str, result: dict[str, object]) -> None:
        """One line per run (finished with its counts, skipped and why, or failed) and one EMF record, by job."""
        outcome = result.get("outcome", "finished")
        fields = {"job": job, **result}
        if outcome == "failed":
            self.logger.error(f"{job} failed: {result.get('error')}", extra=fields)
        elif outcome == "skipped":
            self.logger.info(f"{job} skipped: {result.get('reason')}", extra=fields)
        else:
            self.logger.info(f"{job} finished", extra=fields)
        if self.metrics_on:
            self._emit_job(job, str(outcome), result)

    def _emit_job(self, job: str, outcome: str, result: dict[str, object]) -> None:
        record = EphemeralMetrics(namespace=self.namespace, service=self.service)
        record.add_dimension("job", job)
        record.add_metric(name={"failed": "Failed", "skipped": "Skipped"}.get(outcome, "Runs"), unit=MetricUnit.Count,
                          value=1)
        for name, value in result.items():
            if name == "duration_ms" and isinstance(value, int | float):
                record.add_metric(name="JobDuration", unit=MetricUnit.Milliseconds, value=value)
            elif isinstance(value, int) and not isinstance(value, bool):  # the job's counts
                record.add_metric(name=name, unit=MetricUnit.Count, value=value)
        record.flush_metrics()

    def _emit(self, dimensions: dict[str, str], request_id: str, *, latency_ms: float, requests: int = 0) -> None:
        """One EMF record; the request id rides along as a property (searchable, not a dimension)."""
        record = EphemeralMetrics(namespace=self.namespace, service=self.service)
        for name, value in dimensions.items():
            record.add_dimension(name, value)
        if requests:
            record.add_metric(name="Requests", unit=MetricUnit.Count, value=requests)
        record.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
        record.add_metadata(key="request_id", value=request_id)
        record.flush_metrics()


_observers: dict[tuple[str, str, str, bool], Observer] = {}


def observer_from(settings: Settings) -> Observer:
    key = (settings.service_name, settings.log_level, settings.metrics_namespace, settings.metrics)
    if key not in _observers:
        _observers[key] = Observer(*key)
    return _observers[key]
