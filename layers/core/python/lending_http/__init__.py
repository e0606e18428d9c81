"""The HTTP edge: our Request/Response, the one error mapping, field parsing, views, idempotency,
the route table, operations and the composition root. The business (`lending`) never imports it."""

from lending_http.messages import Request, Response
from lending_http.operation import ANYONE, LIBRARIAN, SIGNED_IN, Call, Job, Operation, job, operation

__all__ = ["ANYONE", "LIBRARIAN", "SIGNED_IN", "Call", "Job", "Operation", "Request", "Response", "job", "operation"]
