"""The Lambda entry (lending_aws.entry): API Gateway proxy events in, proxy responses out, on fakes.

The only tests that build an API Gateway event: the entry is the only code that reads one.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from lending.model import BookStatus, NewBook, User
from lending_aws.entry import Entry
from lending_http.bootstrap import bootstrap
from lending_http.service import Service
from lending_settings import Settings
from tests.support.fake_identity import FakeVerifier, RecordingObserver
from tests.support.fakes import FakeGateway, FakeStore

ROOT = Path(__file__).resolve().parents[2]
ALICE = User("https://issuer.test", "alice")


def entry(function: str, store: FakeStore, observer: RecordingObserver | None = None) -> Entry:
    deps = bootstrap(Settings(), store=store, gateway=FakeGateway(), verifier=FakeVerifier(ALICE),
                     observer=observer or RecordingObserver())
    return Entry(Service.of(ROOT / "functions", deps, only=[function]), function)


def event(method: str, path: str, *, body: bytes = b"", encoded: bool = False, **extra: object) -> dict:
    return {"resource": path, "path": path, "httpMethod": method, "headers": {"Authorization": "Bearer alice"},
            "multiValueHeaders": {"Content-Type": ["application/json"]}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None,
            "requestContext": {"requestId": "apigw-1"},
            "body": base64.b64encode(body).decode() if encoded else body.decode(), "isBase64Encoded": encoded, **extra}


def test_a_proxy_event_borrows_and_the_answer_is_a_proxy_response() -> None:
    store = FakeStore()
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 1000, 100, "usd"))
    path = f"/books/{book.book_id}/borrow"
    answer = entry("borrow", store)(event("POST", path, body=b'{"payment_method": "pm_card_visa"}',
                                          pathParameters={"book_id": book.book_id}))
    assert answer["statusCode"] == 201 and answer["isBase64Encoded"] is False
    assert answer["headers"]["X-Request-ID"] == "apigw-1"  # API Gateway's id, when the caller sent none
    assert json.loads(answer["body"])["book_id"] == book.book_id
    assert store.get_book(book.book_id).status is BookStatus.BORROWED


def test_a_base64_body_is_decoded_and_a_bad_one_is_a_400() -> None:
    store = FakeStore()
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 1000, 100, "usd"))
    path, params = f"/books/{book.book_id}/purchase", {"book_id": book.book_id}
    ok = entry("purchase", store)(event("POST", path, body=b'{"payment_method": "pm_card_visa"}', encoded=True,
                                        pathParameters=params))
    assert ok["statusCode"] == 201
    bad = entry("purchase", store)({**event("POST", path, pathParameters=params), "body": "%%%", "isBase64Encoded": True})
    assert bad["statusCode"] == 400 and json.loads(bad["body"])["detail"] == "The body is not valid base64."


def test_a_scheduled_event_runs_the_functions_job_and_reports_it() -> None:
    observer = RecordingObserver()
    result = entry("reconcile", FakeStore(), observer)({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert result["examined"] == 0 and result["errors"] == 0
    assert [job for job, _ in observer.jobs] == ["reconcile"]


def test_a_scheduled_event_runs_retention_under_its_lock_and_reports_it() -> None:
    observer, store = RecordingObserver(), FakeStore()
    result = entry("retention", store, observer)({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert result == {"idempotency_keys": 0, "processor_events": 0, "batches": 1, "more": False}
    assert [(job, told["outcome"]) for job, told in observer.jobs] == [("retention", "finished")]
    with store.job_turn("retention"):
        skipped = entry("retention", store, observer)({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert skipped == {"skipped": "another run holds the lock"}
