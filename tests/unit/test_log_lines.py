"""The service's log line is Powertools' line: lending_observability.lines writes what Powertools' own
formatter writes for the same record, key for key and in the same order, exceptions included, without
loading Powertools (which stays a test dependency, for this comparison)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from lending_observability.lines import JsonLines

EXTRAS = {"request_id": "r-1", "operation": "borrow", "method": "POST", "path": "/books/b/borrow", "status": 201,
          "outcome": "won", "duration_ms": 12.35, "nothing": None, "when": object()}


def formatters() -> tuple[LambdaPowertoolsFormatter, JsonLines]:
    stock = LambdaPowertoolsFormatter()
    stock.append_keys(service="lending")
    return stock, JsonLines("lending")


def record(msg: object = "request", *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            info = sys.exc_info()
    made = logging.getLogger("lending").makeRecord("lending", logging.INFO, __file__, 7, msg, args, info,
                                                   func="observe", extra=extra)
    return made


@pytest.mark.parametrize("made", [
    lambda: record(**EXTRAS),
    lambda: record("payment %s of %d", "p-1", 3, payment_id="p-1"),
    lambda: record("no extras"),
    lambda: record({"a": "structured message"}),
    lambda: record("failed", exc=True, job="reminders"),
    lambda: record("noted", exc=True, exception_name="Custom", stack_trace="given"),
    lambda: record(ValueError("an object")),
], ids=["request line", "arguments", "no extras", "dict message", "exception", "exception keys given", "object"])
def test_the_line_is_powertools_line(made) -> None:
    stock, lean = formatters()
    one = made()
    assert lean.format(one) == stock.format(one)
    assert list(json.loads(lean.format(one)))[:5] == ["level", "location", "message", "timestamp", "service"]


def test_the_xray_trace_id_of_a_lambda_invocation_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    stock, lean = formatters()
    one = record(**EXTRAS)
    assert json.loads(lean.format(one))["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert lean.format(one) == stock.format(one)


def test_a_message_that_reads_as_json_stays_text() -> None:
    """The one difference from Powertools, on purpose: it would log "42" as the number 42."""
    _, lines = formatters()
    assert json.loads(lines.format(record("42")))["message"] == "42"


def test_a_logged_exception_carries_its_frames() -> None:
    _, lines = formatters()
    trace = json.loads(lines.format(record("failed", exc=True)))["stack_trace"]
    assert (trace["type"], trace["value"], trace["module"]) == ("ValueError", "boom", "builtins")
    assert trace["frames"][-1]["function"] == "record" and trace["frames"][-1]["statement"] == 'raise ValueError("boom")'


def test_a_jobs_metrics_record_is_the_one_powertools_would_write(capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from lending_observability import Observer

    stock = EphemeralMetrics(namespace="LibraryLending", service="lending")
    stock.add_dimension("job", "retention")
    for name, unit, value in (("Runs", MetricUnit.Count, 1), ("batches", MetricUnit.Count, 2),
                              ("JobDuration", MetricUnit.Milliseconds, 4.2)):
        stock.add_metric(name=name, unit=unit, value=value)
    stock.flush_metrics()
    Observer("lending", "WARNING", "LibraryLending", True).job_done(
        "retention", {"outcome": "finished", "batches": 2, "more": False, "duration_ms": 4.2})
    theirs, ours = (json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line)
    for record in (theirs, ours):
        del record["_aws"]["Timestamp"]
        record["_aws"]["CloudWatchMetrics"][0]["Metrics"].sort(key=lambda m: m["Name"])
    assert ours == theirs
