"""The request's log line is Powertools' line: the lean formatter writes what Powertools' own formatter
writes for the same record, key for key and in the same order, and hands it what it does not cover."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter, clear_context_keys, set_context_keys

from lending_observability.instrument import _LeanFormatter

EXTRAS = {"request_id": "r-1", "operation": "borrow", "method": "POST", "path": "/books/b/borrow", "status": 201,
          "outcome": "won", "duration_ms": 12.35, "nothing": None, "when": object()}


def formatters() -> tuple[LambdaPowertoolsFormatter, _LeanFormatter]:
    stock, lean = LambdaPowertoolsFormatter(), _LeanFormatter()
    for f in (stock, lean):
        f.append_keys(service="lending")
    return stock, lean


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


@pytest.fixture(autouse=True)
def no_context_keys() -> Iterator[None]:
    yield
    clear_context_keys()


@pytest.mark.parametrize("made", [
    lambda: record(**EXTRAS),
    lambda: record("payment %s of %d", "p-1", 3, payment_id="p-1"),
    lambda: record("no extras"),
    lambda: record({"a": "structured message"}),
    lambda: record("failed", exc=True, job="reminders"),
], ids=["request line", "arguments", "no extras", "dict message", "exception"])
def test_the_lean_line_is_powertools_line(made) -> None:
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


def test_keys_added_for_a_thread_are_written_as_powertools_writes_them() -> None:
    set_context_keys(tenant="north")
    stock, lean = formatters()
    one = record(**EXTRAS)
    assert json.loads(lean.format(one))["tenant"] == "north"
    assert lean.format(one) == stock.format(one)
