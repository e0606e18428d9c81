"""WSGI in, our Request to the service, our Response out.

The request keeps what API Gateway would give a handler: the raw path (not percent-decoded),
every query value, lower-cased headers and the body's bytes. Errors outside a handler (no
route, wrong method, a failure in the adapter itself) use the same problem+json mapping.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote

from lending_http.messages import Request, Response, request_id_from
from lending_http.problems import internal_error, problem
from lending_http.service import Service

log = logging.getLogger("lending.vm")

StartResponse = Callable[..., Any]
MAX_BODY_BYTES = 1024 * 1024  # nginx's client_max_body_size is the same: larger bodies never reach us
IMPORT_BODY_BYTES = 16 * 1024 * 1024  # POST /imports (nginx's `location = /imports`); the handler applies MAX_IMPORT_BYTES


def body_limit(path: str) -> int:
    return IMPORT_BODY_BYTES if path == "/imports" else MAX_BODY_BYTES


def raw_path(environ: Mapping[str, Any]) -> str:
    """The request target's path as the client sent it: nginx passes it as X-Original-URI
    ($request_uri; granian's PATH_INFO is percent-decoded, as PEP 3333 has it), a server that keeps it
    gives RAW_URI; otherwise PATH_INFO is encoded again (an encoded "/" in a segment is then lost)."""
    raw = str(environ.get("RAW_URI") or environ.get("HTTP_X_ORIGINAL_URI") or "")
    if not raw.startswith("/"):  # no raw target, or an absolute-form one
        raw = quote(str(environ.get("PATH_INFO") or "/"), safe="/:@!$&'()*+,;=-._~")
    path = raw.split("?", 1)[0]
    # API Gateway drops a trailing slash (except on the root); so does chalice local.
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


# granian starts each request's environ from the process environment: a variable named HTTP_* there
# (HTTP_PROXY, say) is not a request header, and a header of that name is dropped (as httpoxy advises).
def not_headers(process_environment: Mapping[str, str]) -> frozenset[str]:
    return frozenset(name for name in process_environment if name.startswith("HTTP_")) | {"HTTP_X_ORIGINAL_URI"}


NOT_HEADERS = not_headers(os.environ)


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {name[5:].replace("_", "-").lower(): str(value)
               for name, value in environ.items() if name.startswith("HTTP_") and name not in NOT_HEADERS}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = str(environ[name])
    return headers


def read_body(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        return bytes(stream.read(min(length, limit + 1)))
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return bytes(stream.read(limit + 1))
    return b""


def request_of(environ: Mapping[str, Any], body: bytes, path: str) -> Request:
    headers = headers_of(environ)
    return Request.build(
        method=str(environ.get("REQUEST_METHOD", "GET")), path=path, headers=headers,
        query=parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True), body=body,
        source_ip=headers.get("x-real-ip") or str(environ.get("REMOTE_ADDR") or ""))


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Status {status}"


class LendingApp:
    """The WSGI application: every route of every function."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response, request_id = self.respond(environ)
        body = response.encoded()
        headers = [(n, v) for n, v in response.all_headers(request_id).items()
                   if n.lower() not in ("content-length", "connection", "transfer-encoding")]
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line(response.status), headers)
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]

    def respond(self, environ: Mapping[str, Any]) -> tuple[Response, str]:
        request_id = request_id_from(str(environ.get("HTTP_X_REQUEST_ID") or ""))
        try:
            path = raw_path(environ)
            limit = body_limit(path)
            body = read_body(environ, limit)
            if len(body) > limit:
                return problem(413, "Content Too Large", f"The body may have at most {limit} bytes.",
                               request_id), request_id
            request = request_of(environ, body, path)
            return self.service.respond(request), request.request_id
        except Exception:  # noqa: BLE001 - last line of defence: never a traceback to the caller
            log.exception("the VM adapter failed", extra={"request_id": request_id})
            return internal_error(request_id), request_id
