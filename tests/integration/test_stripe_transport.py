"""The stripe library's libcurl transport (lending_stripe.transport) against a real loopback HTTP server:
kept-alive connections per thread, the response's headers, and the failures the library retries."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from lending_stripe.gateway import _authorization, _only_what_we_read
from lending_stripe.transport import CurlHttpClient, _headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.seen: list[tuple[str, str, str, bytes]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.seen.append((self.command, self.path, self.headers.get("Idempotency-Key", ""), body))
        out = b'{"id": "pi_1", "status": "requires_capture"}'
        self.send_response(402 if self.path.endswith("/declined") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", "req_123")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


def _url(server: _Server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_a_post_carries_its_body_and_headers_and_reads_the_answer(server: _Server) -> None:
    client = CurlHttpClient(timeout_seconds=5)
    body, status, headers = client.request("post", _url(server, "/v1/payment_intents"),
                                           {"Idempotency-Key": "k-1", "Content-Type": "application/x-www-form-urlencoded"},
                                           "amount=199&currency=usd")
    assert (status, body) == (200, '{"id": "pi_1", "status": "requires_capture"}')
    assert headers["request-id"] == "req_123" and headers["content-type"] == "application/json"
    assert server.seen == [("POST", "/v1/payment_intents", "k-1", b"amount=199&currency=usd")]
    _, status, _ = client.request("post", _url(server, "/v1/declined"), {}, "")
    assert status == 402  # an HTTP error status is the library's to interpret, not a transport failure
    client.close()


def test_the_headers_are_the_last_blocks_fields_after_a_100_continue() -> None:
    raw = (b"HTTP/1.1 100 Continue\r\nX-First: 1\r\n\r\n"
           b"HTTP/1.1 402 Payment Required\r\nRequest-Id: req_AbC\r\nStripe-Should-Retry:false \r\n\r\n")
    assert _headers(raw) == {"request-id": "req_AbC", "stripe-should-retry": "false"}
    assert _headers(raw[raw.index(b"HTTP/1.1 402"):]) == _headers(raw)
    assert _headers(b"") == {}


def test_a_kept_handle_carries_nothing_of_its_last_request_into_the_next(server: _Server) -> None:
    client = CurlHttpClient(timeout_seconds=5)
    for method, body in (("post", "amount=1"), ("get", None), ("delete", None), ("post", "amount=2"), ("get", None)):
        client.request(method, _url(server, f"/v1/{method}"), {}, body)
    assert [(verb, body) for verb, _, _, body in server.seen] == \
        [("POST", b"amount=1"), ("GET", b""), ("DELETE", b""), ("POST", b"amount=2"), ("GET", b"")]
    assert server.connections == 1
    client.close()


def test_a_thread_keeps_its_connection_and_threads_do_not_share_one(server: _Server) -> None:
    client = CurlHttpClient(timeout_seconds=5)
    for _ in range(5):
        assert client.request("get", _url(server, "/v1/payment_intents/pi_1"), {})[1] == 200
    assert server.connections == 1
    results: list[int] = []
    workers = [threading.Thread(target=lambda: results.extend(
        client.request("get", _url(server, "/x"), {})[1] for _ in range(3))) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == [200] * 12 and server.connections == 5  # one more per thread, none per request
    client.close()
    assert client.request("delete", _url(server, "/after-close"), {})[1] == 200  # a new handle, a new connection
    assert server.connections == 6 and server.seen[-1][0] == "DELETE"


def test_an_unreachable_processor_is_a_connection_error_the_library_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = CurlHttpClient(timeout_seconds=5)
    with pytest.raises(stripe.APIConnectionError) as caught:
        client.request("post", f"http://127.0.0.1:{port}/v1/payment_intents", {}, "amount=1")
    assert caught.value.should_retry is True


def test_a_silent_processor_times_out_within_the_call_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection (backlog) but never answers
        client = CurlHttpClient(timeout_seconds=0.3)
        with pytest.raises(stripe.APIConnectionError, match="curl error 28"):
            client.request("get", f"http://127.0.0.1:{listener.getsockname()[1]}/v1/x", {})


def test_only_a_successful_answer_is_cut_before_the_library_reads_it(server: _Server) -> None:
    client = CurlHttpClient(timeout_seconds=5, success_body=lambda body: b'{"id": "cut"}')
    assert client.request("post", _url(server, "/v1/payment_intents"), {}, "")[0] == '{"id": "cut"}'
    body, status, _ = client.request("post", _url(server, "/v1/declined"), {}, "")
    assert (status, body) == (402, '{"id": "pi_1", "status": "requires_capture"}')  # as sent: the library's error
    client.close()


def test_a_payment_intent_cut_to_what_we_read_is_the_same_authorization(stripe_url: str) -> None:
    """Against localstripe, whole answers: create, confirm, capture, refund, and a retrieve with the charge expanded."""
    client = CurlHttpClient(timeout_seconds=5)
    auth = {"Authorization": "Bearer sk_test_suite", "Idempotency-Key": ""}

    def call(path: str, data: str | None = None) -> bytes:
        body, status, _ = client.request("post" if data is not None else "get", stripe_url + path,
                                         {**auth, "Idempotency-Key": uuid.uuid4().hex}, data)
        assert status == 200, body
        return body.encode()

    created = call("/v1/payment_intents", "amount=250&currency=usd&payment_method=pm_card_visa"
                                          "&capture_method=manual&metadata[book_id]=b1")
    intent = json.loads(created)["id"]
    answers = [created, call(f"/v1/payment_intents/{intent}/confirm", ""),
               call(f"/v1/payment_intents/{intent}/capture", ""), call("/v1/refunds", f"payment_intent={intent}"),
               call(f"/v1/payment_intents/{intent}?expand[]=latest_charge")]
    assert json.loads(answers[-1])["latest_charge"]["refunded"] is True
    for whole in answers:
        cut = json.loads(_only_what_we_read(whole))
        assert len(cut) < len(json.loads(whole)) and _authorization(cut) == _authorization(json.loads(whole))
    client.close()


@pytest.mark.parametrize("body", [b"<html>Bad gateway</html>", b"[1, 2]", b'{"id": "pi_1", "latest_charge": 7}', b""])
def test_an_answer_that_is_not_a_payment_intent_goes_to_the_library_as_it_came(body: bytes) -> None:
    assert _only_what_we_read(body) == body
