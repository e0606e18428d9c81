"""Request metrics are batched: one EMF record per dimension set per flush, on a timer on long-lived
hosts and after every invocation on Lambda; the request's log line is still written at once."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from lending.model import NewBook, User
from lending_aws.entry import Entry
from lending_http.bootstrap import bootstrap
from lending_http.messages import Request, Response
from lending_http.service import Service
from lending_observability import Observer
from lending_settings import Settings
from tests.support.fake_identity import FakeVerifier
from tests.support.fakes import FakeGateway, FakeStore

ROOT = Path(__file__).resolve().parents[2]


def request(n: int) -> Request:
    return Request.build(method="POST", path="/books/b/borrow", headers={"x-request-id": f"req-{n}"})


def records(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_requests_are_counted_in_memory_and_written_once_per_dimension_set() -> None:
    out = io.StringIO()
    observer = Observer("unit", "WARNING", "LibraryLending", True, flush_seconds=0, out=out)
    for n, status in enumerate([201, 201, 409]):
        observer.observe("borrow", request(n), Response(status, {}, outcome="lost_race" if status == 409 else None), 5.0)
    assert out.getvalue() == ""  # nothing formatted yet
    observer.flush()
    by_dims = {(r["operation"], r.get("outcome")): r for r in records(out)}
    assert set(by_dims) == {("borrow", "won"), ("borrow", "lost_race"), ("borrow", None)}
    won = by_dims[("borrow", "won")]
    assert won["Requests"] == [2.0] and won["Latency"] == [5.0, 5.0] and won["request_id"] == "req-0"
    definition = won["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "LibraryLending"
    assert sorted(definition["Dimensions"][0]) == ["operation", "outcome", "service"]
    assert by_dims[("borrow", None)]["Latency"] == [5.0, 5.0, 5.0] and "Requests" not in by_dims[("borrow", None)]
    observer.flush()
    assert len(records(out)) == 3  # a flush with nothing new writes nothing


def test_more_than_100_latencies_take_more_records_and_are_counted_once() -> None:
    out = io.StringIO()
    observer = Observer("unit", "WARNING", "LibraryLending", True, flush_seconds=0, out=out)
    for n in range(150):
        observer.observe("return", request(n), Response(200, {}), 1.0)
    observer.flush()
    returned = [r for r in records(out) if "outcome" in r]
    assert sum(len(r["Latency"]) for r in returned) == 150
    assert sum(r.get("Requests", [0.0])[0] for r in returned) == 150.0


def test_a_long_lived_host_flushes_on_a_timer() -> None:
    out = io.StringIO()
    observer = Observer("unit", "WARNING", "LibraryLending", True, flush_seconds=0.1, out=out)
    observer.observe("borrow", request(1), Response(201, {}), 3.0)
    deadline = time.monotonic() + 5
    while not out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(r.get("Requests") == [1.0] for r in records(out))


def test_lambda_writes_the_metrics_of_every_invocation_before_it_returns() -> None:
    out = io.StringIO()
    store = FakeStore()
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 1000, 100, "usd"))
    observer = Observer("unit", "WARNING", "LibraryLending", True, flush_seconds=3600, out=out)
    deps = bootstrap(Settings(), store=store, gateway=FakeGateway(), verifier=FakeVerifier(User("https://i", "a")),
                     observer=observer)
    entry = Entry(Service.of(ROOT / "functions", deps, only=["catalogue"]), "catalogue")
    answer = entry({"httpMethod": "GET", "path": f"/books/{book.book_id}", "headers": {},
                    "pathParameters": {"book_id": book.book_id}, "requestContext": {"requestId": "apigw-9"}})
    assert answer["statusCode"] in (200, 404)
    assert any("Requests" in r for r in records(out))
