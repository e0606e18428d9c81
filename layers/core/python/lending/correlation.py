"""The id of the request (or job run) this thread is working for, for adapters that tag their work with it
(PostgreSQL's application_name, the processor's metadata). Set by whoever starts the work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[str | None] = ContextVar("lending_request_id", default=None)


def current_request_id() -> str | None:
    return _CURRENT.get()


@contextmanager
def working_for(request_id: str) -> Iterator[None]:
    token = _CURRENT.set(request_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)
