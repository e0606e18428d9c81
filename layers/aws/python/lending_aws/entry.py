"""The Lambda entry of every function: `Handler: lending_aws.entry.handle`.

At init (once per container) the settings held in AWS are read, and the function packaged
beside this module (`functions/<op>/`, the zip's only one) is loaded with its declared layers.
Then each invocation's API Gateway proxy event (REST API / HTTP API payload 1.0) becomes our
Request, and our Response becomes the proxy response. A scheduled event runs the function's job.
This is the only code that reads an API Gateway event.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lending import errors
from lending_aws.resolver import bootstrap
from lending_http.messages import Request, Response, request_id_from
from lending_http.problems import error_response
from lending_http.service import Service

ROOT = Path(__file__).resolve().parent.parent  # the function zip's root: functions/<op>/ and this package


def request_of(event: Mapping[str, Any]) -> Request:
    headers: dict[str, str] = {}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if values:
            headers[name.lower()] = ", ".join(values)
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            headers.setdefault(name.lower(), value)
    query: dict[str, list[str]] = {}
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        query[name] = list(values or [])
    for name, value in (event.get("queryStringParameters") or {}).items():
        query.setdefault(name, [value])
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise errors.InvalidRequest("The body is not valid base64.") from exc
    else:
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
    context = event.get("requestContext") or {}
    return Request.build(
        method=event.get("httpMethod") or "GET", path=event.get("path") or "/", headers=headers, query=query,
        path_params=event.get("pathParameters") or {}, body=body, host_request_id=context.get("requestId"),
        source_ip=(context.get("identity") or {}).get("sourceIp") or "")


def proxy_response(response: Response, request_id: str) -> dict[str, Any]:
    body = response.encoded()
    try:
        return {"statusCode": response.status, "headers": response.all_headers(request_id), "body": body.decode(),
                "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"statusCode": response.status, "headers": response.all_headers(request_id),
                "body": base64.b64encode(body).decode(), "isBase64Encoded": True}


class Entry:
    """One function's Lambda handler."""

    def __init__(self, service: Service, function: str) -> None:
        self.service, self.function = service, function

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        try:
            return self._invoke(event)
        finally:
            self.service.deps.flush()  # metrics per invocation: a frozen container would hold them

    def _invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if self.service.functions[self.function].schedule and "httpMethod" not in event:
            return self.service.run_job(self.function)
        try:
            request = request_of(event)
        except errors.InvalidRequest as exc:
            request_id = request_id_from(None, (event.get("requestContext") or {}).get("requestId"))
            return proxy_response(error_response(exc, request_id), request_id)
        return proxy_response(self.service.serve(self.function, request), request.request_id)


def entry_for(root: Path = ROOT, function: str | None = None) -> Entry:
    service = Service.of(root / "functions", only=[function] if function else None)
    if len(service.functions) != 1:
        raise RuntimeError(f"expected one function under {root / 'functions'}, found {sorted(service.functions)}")
    name = next(iter(service.functions))
    service.load()
    service.deps.settings  # noqa: B018 - read (and check) the settings at init, not at the first request
    return Entry(service, name)


if (ROOT / "functions").is_dir() and len(list((ROOT / "functions").glob("*/function.json"))) == 1:
    bootstrap()
    handle = entry_for()
