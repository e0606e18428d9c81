"""GET a JSON object over http(s): the discovery document and the JWKS, on one connection per origin.

A refresh reads the discovery document and then the keys, which most providers serve from the same
origin: `JsonOverHttp` keeps each origin's connection (and one TLS context, whose CA bundle is loaded
once) for the fetches of one refresh, and `close()` ends them. That is one TCP and TLS handshake per
refresh instead of two, and no `urllib.request` (~3 ms) on a cold start.

Redirects are followed only as `redirect_allowed` says: never from https to http, nor to another
origin unless it is https. With a proxy in the environment (`https_proxy`, `http_proxy`,
`all_proxy`), fetches go through `urllib.request`, which honours it (and `no_proxy`), with the same
redirect rule.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from typing import Any
from urllib.parse import urljoin, urlparse

MAX_BYTES = 1_000_000  # a discovery document or a JWKS is a few KB
MAX_REDIRECTS = 10  # as urllib's
_REDIRECTS = {301, 302, 303, 307, 308}
_PROXY_VARIABLES = {"https_proxy", "http_proxy", "all_proxy"}
_HEADERS = {"Accept": "application/json", "User-Agent": "library-lending (OIDC keys)"}


class RedirectRefused(OSError):
    """A redirect the key fetch does not follow (https to http, or http to another http origin)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlparse(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def redirect_allowed(source: str, target: str) -> bool:
    """To https anywhere; to http only from http on the same origin. Never from https to http."""
    scheme = urlparse(target).scheme
    if scheme == "https":
        return True
    return scheme == "http" and _origin(source) == _origin(target)


def _json_object(url: str, data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return value


class JsonOverHttp:
    """fetch(url) -> the JSON object at url. Not for concurrent use: a KeySet fetches under its lock."""

    def __init__(self, timeout: float = 5.0, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._timeout = timeout
        self._context = ssl_context
        self._open: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}

    def __call__(self, url: str) -> dict[str, Any]:
        if urlparse(url).scheme not in ("http", "https"):
            raise ValueError("only http(s) URLs are fetched")
        if any(name.lower() in _PROXY_VARIABLES for name in os.environ):
            return _through_urllib(url, self._timeout, self._tls())
        for _ in range(MAX_REDIRECTS + 1):
            status, location, data = self._get(url)
            if status not in _REDIRECTS or not location:
                if status != 200:
                    raise OSError(f"{url} answered {status}")
                return _json_object(url, data)
            target = urljoin(url, location)
            if not redirect_allowed(url, target):
                raise RedirectRefused(f"refused a redirect from {url} to {target}")
            url = target
        raise OSError(f"more than {MAX_REDIRECTS} redirects from {url}")

    def close(self) -> None:
        for connection in self._open.values():
            connection.close()
        self._open.clear()

    def _get(self, url: str) -> tuple[int, str | None, bytes]:
        parts = urlparse(url)
        origin = _origin(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        reused = origin in self._open
        connection = self._open.get(origin) or self._connect(origin)
        try:
            connection.request("GET", target, headers=_HEADERS)
            response = connection.getresponse()
            data = response.read(MAX_BYTES)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self._drop(origin)
            if not reused:
                raise
            return self._get(url)  # the kept connection had been closed by the server: once more, anew
        except BaseException:
            self._drop(origin)  # in no state for another request
            raise
        if not response.isclosed():  # more than MAX_BYTES: what is left would be read as the next answer
            self._drop(origin)
        return response.status, response.getheader("Location"), data

    def _drop(self, origin: tuple[str, str, int | None]) -> None:
        self._open.pop(origin).close()

    def _connect(self, origin: tuple[str, str, int | None]) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "https":
            made: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=self._timeout,
                                                                           context=self._tls())
        else:
            made = http.client.HTTPConnection(host, port, timeout=self._timeout)
        self._open[origin] = made
        return made

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context


def _through_urllib(url: str, timeout: float, context: ssl.SSLContext) -> dict[str, Any]:
    import urllib.request  # only with a proxy to go through

    class CheckedRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                             newurl: str) -> urllib.request.Request | None:
            target = urljoin(req.full_url, newurl)
            if not redirect_allowed(req.full_url, target):
                raise RedirectRefused(f"refused a redirect from {req.full_url} to {target}")
            return super().redirect_request(req, fp, code, msg, headers, target)

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), CheckedRedirects())
    request = urllib.request.Request(url, headers=_HEADERS)  # noqa: S310 - the scheme is checked by the caller
    with opener.open(request, timeout=timeout) as response:
        if response.status != 200:
            raise OSError(f"{url} answered {response.status}")
        return _json_object(url, response.read(MAX_BYTES))
