"""WSGI in, API Gateway proxy event to the handler, proxy response out.

The event has the shape Lambda (REST API, proxy integration) and `app.py` under
`chalice local` deliver, so a handler cannot tell which host called it: the raw path
and path parameters (not percent-decoded, as API Gateway gives them), last-value and
multi-value query strings, lower-cased headers, a UTF-8 body as text and any other
body base64-encoded. Errors outside a handler (no route, wrong method, a failure in
the adapter itself) use the same problem+json mapping as the handlers.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote

from lending.http import _safe_request_id, problem  # the one rule for accepting a caller's request id
from vm_runtime.routes import Match, RouteTable

log = logging.getLogger("lending.vm")

StartResponse = Callable[..., Any]
MAX_BODY_BYTES = 1024 * 1024  # nginx's client_max_body_size is the same: larger bodies never reach us


def raw_path(environ: Mapping[str, Any]) -> str:
    raw = str(environ.get("RAW_URI") or "")
    if not raw.startswith("/"):  # no raw target (another server) or an absolute-form one
        raw = quote(str(environ.get("PATH_INFO") or "/"), safe="/%:@!$&'()*+,;=-._~")
    path = raw.split("?", 1)[0]
    # API Gateway drops a trailing slash (except on the root); so does chalice local.
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {name[5:].replace("_", "-").lower(): str(value)
               for name, value in environ.items() if name.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = str(environ[name])
    return headers


def read_body(environ: Mapping[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        return bytes(stream.read(min(length, MAX_BODY_BYTES + 1)))
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return bytes(stream.read(MAX_BODY_BYTES + 1))
    return b""


def proxy_event(environ: Mapping[str, Any], found: Match, body: bytes) -> dict[str, Any]:
    """The API Gateway proxy event for this request, as `chalice local` (app.py) and Lambda build it."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = raw_path(environ)
    headers = headers_of(environ)
    query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    request_id = str(uuid.uuid4())
    source_ip = headers.get("x-real-ip") or str(environ.get("REMOTE_ADDR") or "")
    return {
        "resource": found.route.resource, "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": found.path_params or None, "stageVariables": None,
        "requestContext": {"resourcePath": found.route.resource, "httpMethod": method, "path": path,
                           "requestId": request_id, "stage": "vm", "identity": {"sourceIp": source_ip}},
        "body": text or None, "isBase64Encoded": encoded,
    }


def response_parts(result: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, header list and body bytes of a Lambda proxy response."""
    status = int(result.get("statusCode", 200))
    try:
        status_line = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        status_line = f"{status} Status {status}"
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else (raw.encode() if isinstance(raw, str) else raw)
    headers: list[tuple[str, str]] = []
    multi = {name.lower(): (name, values) for name, values in (result.get("multiValueHeaders") or {}).items()}
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in multi:  # API Gateway: multiValueHeaders win over headers of the same name
            headers.append((name, str(value)))
    for name, values in multi.values():
        headers += [(name, str(value)) for value in values]
    headers = [(n, v) for n, v in headers if n.lower() not in ("content-length", "connection", "transfer-encoding")]
    headers.append(("Content-Length", str(len(body))))
    return status_line, headers, body


class LendingApp:
    """The WSGI application: every route of every function, one proxy event per request."""

    def __init__(self, routes: RouteTable) -> None:
        self.routes = routes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        result = self.respond(environ)
        status, headers, body = response_parts(result)
        start_response(status, headers)
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]

    def respond(self, environ: Mapping[str, Any]) -> dict[str, Any]:
        request_id = _request_id(environ)
        try:
            method = str(environ.get("REQUEST_METHOD", "GET")).upper()
            found = self.routes.match(method, raw_path(environ))
            if not isinstance(found, Match):
                return _no_route(method, raw_path(environ), found.allowed, request_id)
            body = read_body(environ)
            if len(body) > MAX_BODY_BYTES:
                return problem(413, "Content Too Large", f"The body may have at most {MAX_BODY_BYTES} bytes.",
                               request_id).to_proxy(request_id)
            return self.routes.handler(found.route.function)(proxy_event(environ, found, body), None)
        except Exception:  # noqa: BLE001 - last line of defence: never a traceback to the caller
            log.exception("the VM adapter failed", extra={"request_id": request_id})
            return problem(500, "Internal Server Error", "Something went wrong on our side.",
                           request_id).to_proxy(request_id)


def _no_route(method: str, path: str, allowed: tuple[str, ...], request_id: str) -> dict[str, Any]:
    if allowed:
        response = problem(405, "Method Not Allowed", f"{path} does not accept {method}.", request_id)
        response.headers["Allow"] = ", ".join(allowed)
    else:
        response = problem(404, "Not Found", f"No route {path}.", request_id)
    return response.to_proxy(request_id)


def _request_id(environ: Mapping[str, Any]) -> str:
    return _safe_request_id(str(environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4()))
