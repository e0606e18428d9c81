"""The adapter's own rules, in process, with handlers that echo the event they get (no I/O)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vm_runtime.adapter import LendingApp
from vm_runtime.routes import Route, RouteTable


def echo(event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


def cookies(_event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
    return {"statusCode": 202, "headers": {"Set-Cookie": "ignored=1", "X-One": "1"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00\x01binary").decode(), "isBase64Encoded": True}


def broken(_event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
    raise RuntimeError("a bug outside the endpoint wrapper")


TABLE = RouteTable([Route.of("GET", "/books/{book_id}", "echo"), Route.of("GET", "/books/new", "cookies"),
                    Route.of("POST", "/books/{book_id}", "echo"), Route.of("GET", "/files/{path+}", "echo"),
                    Route.of("GET", "/broken", "broken")],
                   Path("functions"), handlers={"echo": echo, "cookies": cookies, "broken": broken})


def call(method: str, raw_uri: str, body: bytes = b"", **headers: str) -> tuple[str, list[tuple[str, str]], bytes]:
    path, _, query = raw_uri.partition("?")
    environ = {"REQUEST_METHOD": method, "RAW_URI": raw_uri, "PATH_INFO": path, "QUERY_STRING": query,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)) if body else "",
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    seen: dict[str, Any] = {}

    def start_response(status: str, header_list: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=header_list)

    chunks = LendingApp(TABLE)(environ, start_response)
    return seen["status"], seen["headers"], b"".join(chunks)


def test_the_event_carries_path_parameters_query_values_headers_and_text_body() -> None:
    _, _, body = call("POST", "/books/b%201/?tag=a&tag=b&empty=", b'{"x": 1}', X_Request_ID="r-1", CONTENT_TYPE="x")
    event = json.loads(body)
    assert (event["resource"], event["path"], event["pathParameters"]) == ("/books/{book_id}", "/books/b%201",
                                                                          {"book_id": "b%201"})
    assert event["queryStringParameters"] == {"tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""]}
    assert event["headers"]["x-request-id"] == "r-1" and event["multiValueHeaders"]["x-request-id"] == ["r-1"]
    assert (event["body"], event["isBase64Encoded"], event["httpMethod"]) == ('{"x": 1}', False, "POST")


def test_a_body_that_is_not_utf8_arrives_base64_encoded() -> None:
    event = json.loads(call("POST", "/books/1", b"\xff\x00")[2])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\x00"
    assert json.loads(call("GET", "/books/1")[2])["body"] is None


def test_literal_segments_win_and_greedy_parameters_take_the_rest() -> None:
    assert call("GET", "/books/new")[0] == "202 Accepted"
    event = json.loads(call("GET", "/files/a/b/c.txt")[2])
    assert event["pathParameters"] == {"path": "a/b/c.txt"}


def test_multi_value_and_base64_responses_are_written_back() -> None:
    status, headers, body = call("GET", "/books/new")
    assert status == "202 Accepted" and body == b"\x00\x01binary"
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]  # multiValueHeaders win, one line each
    assert ("X-One", "1") in headers and ("Content-Length", str(len(body))) in headers


def test_no_route_wrong_method_and_a_failing_handler_are_problems() -> None:
    status, headers, body = call("GET", "/nowhere", X_Request_ID="abc")
    assert status == "404 Not Found" and json.loads(body)["request_id"] == "abc"
    assert ("Content-Type", "application/problem+json") in headers
    status, headers, _ = call("DELETE", "/books/1")
    assert status == "405 Method Not Allowed" and ("Allow", "GET, POST") in headers
    status, _, body = call("GET", "/broken")
    assert status == "500 Internal Server Error" and b"Traceback" not in body and json.loads(body)["status"] == 500
