"""The stripe library's transport: libcurl (pycurl), one kept-alive handle per thread.

The library builds every request itself (auth, API version, idempotency key, retries with
backoff) and hands it to `HTTPClient.request()`, its documented extension point, once per
attempt. Sending it through libcurl costs a fraction of the CPU of urllib3 + http.client +
`email` header parsing (docs/benchmarks.md, issue 18). The library's own `PycurlClient` shares
one handle between threads (not safe under the server's threads) and parses headers with `email`.

A handle is not thread-safe, so each thread has its own; each keeps its connections open
between requests. The options every request shares (callbacks into the handle's two buffers,
NOSIGNAL, the CA bundle, HTTP/1.1) are set once, when the handle is made, and a request sets only
its own (method, URL, headers, body, timeouts): `reset()` and setting them all again cost ~20k
instructions a call. HTTP/1.1, as the library's default transport (`requests`) speaks, rather
than the HTTP/2 libcurl would agree over TLS: a handle sends one request at a time, so HTTP/2's
streams gain nothing, and its framing cost ~55k instructions a call (callgrind, TLS on loopback
through nginx).

Timeouts: the whole attempt may take `timeout_seconds`, or what is left of the request's budget
(`lending.correlation.time_left`) if less, so a processor that stops answering cannot hold a
request past its budget. With `success_body`, the library is handed a 2xx answer's body as that
function returns it (lending_stripe.gateway cuts it to what it reads); an error answer's body is
handed over as it came.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any, ClassVar

import pycurl
import stripe

from lending.correlation import time_left


class _Handles(threading.local):
    curl: pycurl.Curl | None = None
    generation = -1
    custom_verb = False  # CUSTOMREQUEST is set (a DELETE): the next request unsets it
    body: BytesIO
    head: BytesIO


def _headers(raw: bytes) -> dict[str, str]:
    """The last response's header fields, names lower-cased (a 100 Continue block comes first)."""
    text = raw.decode("latin-1")
    last = text.rfind("\r\nHTTP/")  # the last block's status line, if a block came before it
    fields: dict[str, str] = {}
    for line in text[last + 2 if last >= 0 else 0:].split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


class CurlHttpClient(stripe.HTTPClient):  # type: ignore[misc]
    name: ClassVar[str] = "pycurl-per-thread"

    def __init__(self, *, timeout_seconds: float, connect_seconds: float = 3.0,
                 success_body: Callable[[bytes], bytes] | None = None) -> None:
        """`success_body`, if given, is what the library is handed of a 2xx answer's body (an error's goes as sent)."""
        super().__init__()
        self._timeout, self._connect, self._success_body = timeout_seconds, connect_seconds, success_body
        self._handles = _Handles()
        self._all: list[pycurl.Curl] = []
        self._lock = threading.Lock()
        self._generation = 0  # close() starts a new one: a thread's older handle is closed, not reused

    def _handle(self) -> tuple[pycurl.Curl, _Handles]:
        """This thread's handle, with the options every request shares set when it was made."""
        mine = self._handles
        if mine.curl is not None and mine.generation == self._generation:
            mine.body.seek(0)
            mine.body.truncate()
            mine.head.seek(0)
            mine.head.truncate()
            return mine.curl, mine
        curl, mine.body, mine.head, mine.custom_verb = pycurl.Curl(), BytesIO(), BytesIO(), False
        curl.setopt(pycurl.WRITEFUNCTION, mine.body.write)
        curl.setopt(pycurl.HEADERFUNCTION, mine.head.write)
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.CAINFO, stripe.ca_bundle_path)
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)  # not HTTP/2: see the docstring
        with self._lock:
            self._all.append(curl)
            mine.curl, mine.generation = curl, self._generation
        return curl, mine

    def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None,
                *, _usage: Any = None) -> tuple[str, int, Mapping[str, str]]:
        budget = time_left(self._timeout)
        if budget <= 0:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                "No time was left in this request's budget.", should_retry=False)
        curl, mine = self._handle()
        verb = method.upper()
        if verb == "POST":
            curl.setopt(pycurl.POSTFIELDS, post_data or "")
        else:
            curl.setopt(pycurl.HTTPGET, 1)  # and no body: the handle's last request may have been a POST
        if verb not in ("GET", "POST"):
            curl.setopt(pycurl.CUSTOMREQUEST, verb)
            mine.custom_verb = True
        elif mine.custom_verb:
            curl.unsetopt(pycurl.CUSTOMREQUEST)
            mine.custom_verb = False
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in (headers or {}).items()])
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(min(self._connect, budget) * 1000)))
        curl.setopt(pycurl.TIMEOUT_MS, max(1, int(budget * 1000)))
        try:
            curl.perform()
        except pycurl.error as exc:  # refused, reset, timed out: the library retries with the same key
            self._drop(curl)
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                f"Could not reach the payment processor: curl error {exc.args[0]}", should_retry=True) from None
        body, status = mine.body.getvalue(), int(curl.getinfo(pycurl.RESPONSE_CODE))
        if self._success_body is not None and 200 <= status < 300:
            body = self._success_body(body)
        return body.decode("utf-8"), status, _headers(mine.head.getvalue())

    def _drop(self, curl: pycurl.Curl) -> None:
        """A handle whose transfer failed starts again with no connection."""
        self._handles.curl = None
        with self._lock:
            if curl in self._all:
                self._all.remove(curl)
        curl.close()

    def close(self) -> None:
        with self._lock:
            handles, self._all = self._all, []
            self._generation += 1
        for curl in handles:
            curl.close()
