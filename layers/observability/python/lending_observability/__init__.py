"""Logging and metrics in AWS Lambda Powertools' formats (without its package), created once per process.

JSON logs carry the request id on every line; metrics are EMF (CloudWatch reads them
on Lambda, and through the agent on the VMs). Nothing here ever logs a header value,
a body or a token.
"""

from lending_observability.instrument import Observer, observer_from

__all__ = ["Observer", "observer_from"]
