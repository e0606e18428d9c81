"""The WSGI adapter's own rules, in process, with a service that echoes the Request it gets (no I/O)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from lending_http.messages import Request, Response
from lending_http.routes import Match, Route, RouteTable
from lending_http.service import no_route
from vm_runtime.adapter import LendingApp

TABLE = RouteTable([Route.of("GET", "/books/{book_id}", "echo"), Route.of("GET", "/books/new", "binary"),
                    Route.of("POST", "/books/{book_id}", "echo"), Route.of("GET", "/files/{path+}", "echo"),
                    Route.of("GET", "/broken", "broken")])


class EchoService:
    """Routes like the real Service; its functions echo the request, answer bytes, or fail."""

    def respond(self, request: Request) -> Response:
        found = TABLE.match(request.method, request.path)
        if not isinstance(found, Match):
            return no_route(request, found.allowed)
        request.path_params = found.path_params
        if found.route.function == "broken":
            raise RuntimeError("a bug outside any operation")
        if found.route.function == "binary":
            return Response(202, b"\x00\x01binary", {"X-One": "1"}, "application/octet-stream")
        return Response(200, {"method": request.method, "path": request.path, "path_params": request.path_params,
                              "query": request.query, "headers": request.headers, "request_id": request.request_id,
                              "body": base64.b64encode(request.body).decode()})


def call(method: str, raw_uri: str, body: bytes = b"", **headers: str) -> tuple[str, list[tuple[str, str]], bytes]:
    path, _, query = raw_uri.partition("?")
    environ = {"REQUEST_METHOD": method, "RAW_URI": raw_uri, "PATH_INFO": path, "QUERY_STRING": query,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)) if body else "",
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    seen: dict[str, Any] = {}

    def start_response(status: str, header_list: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=header_list)

    chunks = LendingApp(EchoService())(environ, start_response)  # type: ignore[arg-type]
    return seen["status"], seen["headers"], b"".join(chunks)


def test_the_request_carries_raw_path_parameters_query_values_headers_and_the_body() -> None:
    _, headers, body = call("POST", "/books/b%201/?tag=a&tag=b&empty=", b'{"x": 1}', X_Request_ID="r-1", CONTENT_TYPE="x")
    seen = json.loads(body)
    assert (seen["path"], seen["path_params"]) == ("/books/b%201", {"book_id": "b%201"})  # not decoded, as API Gateway
    assert seen["query"] == {"tag": ["a", "b"], "empty": [""]}
    assert seen["headers"]["x-request-id"] == "r-1" and seen["headers"]["content-type"] == "x"
    assert (base64.b64decode(seen["body"]), seen["method"], seen["request_id"]) == (b'{"x": 1}', "POST", "r-1")
    assert ("X-Request-ID", "r-1") in headers


def test_a_body_that_is_not_utf8_arrives_as_its_bytes() -> None:
    assert base64.b64decode(json.loads(call("POST", "/books/1", b"\xff\x00")[2])["body"]) == b"\xff\x00"
    assert json.loads(call("GET", "/books/1")[2])["body"] == ""


def test_literal_segments_win_and_greedy_parameters_take_the_rest() -> None:
    assert call("GET", "/books/new")[0] == "202 Accepted"
    assert json.loads(call("GET", "/files/a/b/c.txt")[2])["path_params"] == {"path": "a/b/c.txt"}


def test_a_bytes_response_is_written_back_with_its_length() -> None:
    status, headers, body = call("GET", "/books/new")
    assert status == "202 Accepted" and body == b"\x00\x01binary"
    assert ("X-One", "1") in headers and ("Content-Length", str(len(body))) in headers
    assert ("Content-Type", "application/octet-stream") in headers


def test_no_route_wrong_method_and_a_failing_handler_are_problems() -> None:
    status, headers, body = call("GET", "/nowhere", X_Request_ID="abc")
    assert status == "404 Not Found" and json.loads(body)["request_id"] == "abc"
    assert ("Content-Type", "application/problem+json") in headers
    status, headers, _ = call("DELETE", "/books/1")
    assert status == "405 Method Not Allowed" and ("Allow", "GET, POST") in headers
    status, _, body = call("GET", "/broken")
    assert status == "500 Internal Server Error" and b"Traceback" not in body and json.loads(body)["status"] == 500


def granian_call(path_info: str, **headers: str) -> dict[str, Any]:
    """An environ as granian builds it: no RAW_URI, PATH_INFO percent-decoded (PEP 3333)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path_info, "QUERY_STRING": "", "wsgi.input": io.BytesIO(b""),
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    seen: dict[str, Any] = {}
    body = b"".join(LendingApp(EchoService())(environ, lambda status, headers: seen.update(status=status)))  # type: ignore[arg-type]
    return {"status": seen["status"], **(json.loads(body) if seen["status"].startswith("200") else {})}


def test_behind_nginx_the_path_is_the_one_the_client_sent_not_the_decoded_one() -> None:
    seen = granian_call("/books/a/b", X_Original_URI="/books/a%2Fb?x=1")
    assert seen["path_params"] == {"book_id": "a%2Fb"}
    assert "x-original-uri" not in seen["headers"]  # nginx's, not the client's


def test_without_nginx_a_decoded_path_is_encoded_again_and_never_decoded_twice() -> None:
    seen = granian_call("/books/100%")  # the client sent /books/100%25
    assert seen["path_params"] == {"book_id": "100%25"}


def test_an_http_variable_in_the_process_environment_is_not_taken_for_a_header(monkeypatch: Any) -> None:
    import vm_runtime.adapter as adapter
    assert adapter.not_headers({"HTTP_PROXY": "http://proxy:3128", "PATH": "/bin"}) == {"HTTP_PROXY", "HTTP_X_ORIGINAL_URI"}
    monkeypatch.setattr(adapter, "NOT_HEADERS", adapter.not_headers({"HTTP_PROXY": "http://proxy:3128"}))
    seen = granian_call("/books/1", Proxy="http://evil.example", X_Kept="yes")
    assert "proxy" not in seen["headers"] and seen["headers"]["x-kept"] == "yes"
