"""What this thread is working for: the request (or job run) id, and the time it has left.

Adapters tag their work with the id (PostgreSQL's application_name, the processor's metadata)
and bound every wait by `time_left` (pool waits, processor calls), so that a request's steps
together end within its budget: before nginx's proxy_read_timeout and Lambda's 29 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[str | None] = ContextVar("lending_request_id", default=None)
_DEADLINE: ContextVar[float | None] = ContextVar("lending_deadline", default=None)


def current_request_id() -> str | None:
    return _CURRENT.get()


def time_left(at_most: float) -> float:
    """`at_most` seconds, or what is left of the current budget if that is less (never below 0)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return at_most
    return max(0.0, min(at_most, deadline - time.monotonic()))


@contextmanager
def working_for(request_id: str, budget_seconds: float | None = None) -> Iterator[None]:
    token = _CURRENT.set(request_id)
    deadline = _DEADLINE.set(time.monotonic() + budget_seconds if budget_seconds else None)
    try:
        yield
    finally:
        _DEADLINE.reset(deadline)
        _CURRENT.reset(token)
