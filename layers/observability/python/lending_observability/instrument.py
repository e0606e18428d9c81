"""Request-scoped logging and per-operation metrics, in Powertools' formats (without its package).

One JSON log line per request (`request`, with operation, status, outcome and duration) and EMF
metrics (Requests by outcome, Latency); one line and one EMF record per job run (Runs, Skipped or
Failed, JobDuration and the job's counts, by job). Every log line written while a request or job
runs carries its request id, taken from `lending.correlation` by a logging filter.

Request metrics are aggregated in memory and written as one EMF record per dimension set per
batch: every `flush_seconds` on a long-lived host (VM, `chalice local`), and at the end of every
invocation on Lambda (the entry calls `flush()`). A batch record carries the count, up to 100
latency values (EMF's limit; more values, more records) and one of its requests' ids as an
exemplar. Nothing is formatted per request beyond the log line itself.

The lines are those AWS Lambda Powertools writes (lending_observability.lines), and the metrics
are CloudWatch's embedded metric format, as Powertools writes it; the package itself is not loaded,
for ~10 ms of every cold start (docs/benchmarks.md).
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

from lending.correlation import current_request_id
from lending_http.messages import Request, Response
from lending_http.problems import outcome_of
from lending_observability.lines import JsonLines
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

    def __init__(self, service: str, level: str, namespace: str, metrics: bool, *, flush_seconds: float = 5.0,
                 out: TextIO | None = None) -> None:
        self.service, self.namespace, self.metrics_on = service, namespace, metrics
        self._batch = _Batch(namespace, service, flush_seconds, out)
        to_stdout = logging.StreamHandler(sys.stdout)
        to_stdout.setFormatter(JsonLines(service))
        to_stdout.addFilter(_RequestIdFilter())
        self.logger = logging.getLogger(service)
        for name in (service, *OUR_LOGGERS):
            std = logging.getLogger(name)
            std.handlers = [to_stdout]
            std.setLevel(level.upper())
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
            self._batch.add(operation, outcome, request.request_id, elapsed_ms)

    def flush(self) -> None:
        """Write the request metrics gathered so far (Lambda: at the end of each invocation)."""
        self._batch.flush()

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
        """One EMF record for the run, by job: Runs, Failed or Skipped, JobDuration and the job's counts."""
        values: dict[str, tuple[str, float]] = {
            {"failed": "Failed", "skipped": "Skipped"}.get(outcome, "Runs"): ("Count", 1.0)}
        for name, value in result.items():
            if name == "duration_ms" and isinstance(value, int | float):
                values["JobDuration"] = ("Milliseconds", float(value))
            elif isinstance(value, int) and not isinstance(value, bool):  # the job's counts
                values[name] = ("Count", float(value))
        dimensions = {"job": job, "service": self.service}
        record: dict[str, Any] = {**dimensions, **{name: [value] for name, (_, value) in values.items()}}
        record["_aws"] = _envelope(self.namespace, int(time.time() * 1000), dimensions,
                                   [{"Name": name, "Unit": unit} for name, (unit, _) in values.items()])
        self._batch.write([json.dumps(record, separators=(",", ":"))])



MAX_VALUES = 100  # EMF: at most 100 values per metric in one record


class _Series:
    __slots__ = ("count", "latencies", "exemplar")

    def __init__(self, exemplar: str) -> None:
        self.count = 0
        self.latencies: list[float] = []
        self.exemplar = exemplar


class _Batch:
    """Requests and Latency by (operation, outcome), and Latency by operation, until the next flush."""

    def __init__(self, namespace: str, service: str, flush_seconds: float, out: TextIO | None) -> None:
        self._namespace, self._service, self._every, self._out = namespace, service, flush_seconds, out
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str | None], _Series] = {}
        self._timer: threading.Timer | None = None
        atexit.register(self.flush)

    def add(self, operation: str, outcome: str, request_id: str, latency_ms: float) -> None:
        with self._lock:
            for key in ((operation, outcome), (operation, None)):
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = _Series(request_id)
                series.count += 1
                series.latencies.append(latency_ms)
            if self._timer is None and self._every > 0:
                self._timer = threading.Timer(self._every, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            series, self._series = self._series, {}
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if not series:
            return
        now = int(time.time() * 1000)
        lines = []
        for (operation, outcome), s in series.items():
            for start in range(0, len(s.latencies), MAX_VALUES):
                lines.append(json.dumps(self._record(now, operation, outcome, s, start), separators=(",", ":")))
        self.write(lines)

    def write(self, lines: list[str]) -> None:
        out = self._out or sys.stdout
        out.write("\n".join(lines) + "\n")
        out.flush()

    def _record(self, now: int, operation: str, outcome: str | None, s: _Series, start: int) -> dict[str, Any]:
        dimensions = {"operation": operation, **({"outcome": outcome} if outcome is not None else {}),
                      "service": self._service}
        metrics = [{"Name": "Latency", "Unit": "Milliseconds"}]
        record: dict[str, Any] = {**dimensions, "Latency": s.latencies[start:start + MAX_VALUES],
                                  "request_id": s.exemplar}
        if outcome is not None and start == 0:  # the count once per batch, on its first record
            metrics.insert(0, {"Name": "Requests", "Unit": "Count"})
            record["Requests"] = [float(s.count)]
        record["_aws"] = _envelope(self._namespace, now, dimensions, metrics)
        return record


def _envelope(namespace: str, now: int, dimensions: dict[str, str], metrics: list[dict[str, str]]) -> dict[str, Any]:
    """EMF's `_aws` member: the record's metrics, declared under its one dimension set."""
    return {"Timestamp": now, "CloudWatchMetrics": [
        {"Namespace": namespace, "Dimensions": [list(dimensions)], "Metrics": metrics}]}


_observers: dict[tuple[str, str, str, bool], Observer] = {}


def observer_from(settings: Settings) -> Observer:
    key = (settings.service_name, settings.log_level, settings.metrics_namespace, settings.metrics)
    if key not in _observers:
        _observers[key] = Observer(*key)
    return _observers[key]
