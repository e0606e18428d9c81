"""Idempotency-Key rules (lending_http.idempotency) at their edges: which keys are accepted, what
is stored and replayed, when a key is freed, and how a duplicate waits for the first request.
Killers of surviving mutants (tests/mutation/)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from lending import errors
from lending.model import User
from lending.ports import StoredResponse
from lending_http import idempotency
from lending_http.messages import Request, Response
from tests.support.fakes import FakeStore

USER = User("i", "s")


def request(key: str | None = "k1", body: dict | None = None, method: str = "POST",
            path: str = "/books/1/borrow") -> Request:
    headers = {} if key is None else {"idempotency-key": key}
    return Request(method, path, headers, {}, {}, json.dumps(body or {"a": 1}).encode(), "r")


@pytest.mark.parametrize(("sent", "key"), [("a", "a"), ("x" * 255, "x" * 255), ('  "abc"  ', "abc")])
def test_a_key_of_1_to_255_printable_characters_is_taken_without_quotes_or_spaces(sent: str, key: str) -> None:
    assert idempotency.key_of(request(sent)) == key


@pytest.mark.parametrize("sent", ["", '""', "x" * 256, "a\nb", "a\x00b"])
def test_an_empty_overlong_or_unprintable_key_is_refused(sent: str) -> None:
    with pytest.raises(errors.InvalidRequest):
        idempotency.key_of(request(sent))


def test_without_a_key_the_request_runs_every_time_and_nothing_is_stored() -> None:
    store, runs = FakeStore(), []
    for _ in range(2):
        idempotency.run_once(store, USER, request(None), lambda: Response(201, {"n": runs.append(1) or len(runs)}))
    assert runs == [1, 1] and store.keys == {}


def test_the_fingerprint_tells_method_path_and_body_apart() -> None:
    prints = {idempotency.fingerprint(r) for r in [request(), request(method="PUT"), request(path="/books/2/borrow"),
                                                   request(body={"a": 2})]}
    assert len(prints) == 4 and idempotency.fingerprint(request()) == idempotency.fingerprint(request())


def test_a_refusal_is_stored_and_replayed_as_sent_without_running_again() -> None:
    store, runs = FakeStore(), []

    def taken() -> Response:
        runs.append(1)
        raise errors.BookUnavailable("The book is borrowed.", book_status="borrowed")

    first = idempotency.run_once(store, USER, request(), taken)
    again = idempotency.run_once(store, USER, request(), taken)
    assert first.status == 409 and runs == [1]
    assert (again.status, again.body, again.content_type) == (409, first.encoded().decode(), first.content_type)
    assert again.headers == {"Idempotent-Replayed": "true"} and "Idempotent-Replayed" not in first.headers


def test_an_unexpected_failure_frees_the_key_and_is_not_stored() -> None:
    store = FakeStore()

    def broken() -> Response:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        idempotency.run_once(store, USER, request(), broken)
    assert store.keys == {}
    assert idempotency.run_once(store, USER, request(), lambda: Response(201, {})).status == 201


class FinishesWhileWaiting(FakeStore):
    """The first request's answer arrives while the duplicate waits, before its second look."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def claim_idempotency_key(self, user, key, fingerprint, stale_after_seconds):  # type: ignore[no-untyped-def]
        self.looks += 1
        self.stale_after = stale_after_seconds
        if self.looks == 3:  # 1: the first request's claim; 2: the duplicate's first look
            self.finish_idempotency_key(user, key, StoredResponse(201, '{"first": true}', "application/json"))
        return super().claim_idempotency_key(user, key, fingerprint, stale_after_seconds)


def test_a_duplicate_waits_for_the_first_requests_answer_and_replays_it() -> None:
    store = FinishesWhileWaiting()
    store.claim_idempotency_key(USER, "k1", idempotency.fingerprint(request()), 300)  # the first, still running
    replayed = idempotency.run_once(store, USER, request(), lambda: pytest.fail("ran twice"))
    assert (replayed.status, replayed.body) == (201, '{"first": true}') and store.looks == 3
    assert store.stale_after == idempotency.STALE_AFTER_SECONDS == 300.0


def test_a_duplicate_waits_as_long_as_the_api_documents() -> None:
    spec = (Path(__file__).resolve().parents[2] / "functions" / "docs" / "openapi.json").read_text()
    (documented,) = set(re.findall(r"409 after (\d+) s", spec))
    assert float(documented) == idempotency.WAIT_SECONDS
    assert inspect.signature(idempotency.run_once).parameters["wait_seconds"].default == idempotency.WAIT_SECONDS
