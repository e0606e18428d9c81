"""The JSON log line: the keys, order and values of AWS Lambda Powertools' Logger, written without it.

Powertools' package costs ~10 ms of every cold start (its `__init__` loads the logger, metrics,
tracer, jmespath and the package's own logging), and the service used only its line format. This
formatter writes that line: `level`, `location`, `message`, `timestamp`, `service`, then the
record's extras in the order given, then `exception`, `exception_name`, `exception_notes`,
`stack_trace` and `xray_trace_id` when they have a value. tests/unit/test_log_lines.py holds it
to Powertools' own formatter, key for key, so log queries written for Powertools' lines keep working.

A message is text: unlike Powertools, a message that happens to be valid JSON ("42") is not decoded.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any

import msgspec

# A LogRecord's own attributes: everything else on a record is an extra the caller passed.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "location",
                                                                   "timestamp", "level"}
_encode = msgspec.json.Encoder(enc_hook=str).encode


class JsonLines(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003 (logging's name)
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.msg if isinstance(record.msg, dict) else record.getMessage(),
            "timestamp": self.formatTime(record),
            "service": self.service,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS:
                line[key] = value
        exc_info = record.exc_info
        if isinstance(exc_info, tuple) and hasattr(exc_info[0], "__name__"):
            kind, error, tb = exc_info
            line.setdefault("exception", self.formatException(exc_info))
            line.setdefault("exception_name", kind.__name__)  # type: ignore[union-attr]
            line.setdefault("exception_notes", getattr(error, "__notes__", None))
            line["stack_trace"] = {"type": kind.__name__, "value": error,  # type: ignore[union-attr]
                                   "module": type(error).__module__,
                                   "frames": [{"file": f.filename, "line": f.lineno, "function": f.name,
                                               "statement": f.line} for f in traceback.extract_tb(tb)]}
        else:
            line["stack_trace"] = None
        line["xray_trace_id"] = _trace_id()
        return _encode({k: v for k, v in line.items() if v is not None}).decode()

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        """Powertools' default: local time, milliseconds and the offset (2021-05-03 10:20:19,650+0000 on Lambda)."""
        return time.strftime(f"%Y-%m-%d %H:%M:%S,{int(record.msecs):03d}%z", time.localtime(record.created))


def _trace_id() -> str | None:
    """The X-Ray trace id of a Lambda invocation (its Root), as Powertools writes it."""
    header = os.environ.get("_X_AMZN_TRACE_ID")
    return header.split(";")[0].replace("Root=", "") if header else None
