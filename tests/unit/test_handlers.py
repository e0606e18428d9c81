"""The handlers themselves, through the composition root on fakes: no I/O, no patching.

Each request goes the way every host sends one: our Request, the function's operation, the
one error mapping and the observer.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lending import payment_flow
from lending.errors import DatabaseUnavailable
from lending.model import BookStatus, NewBook, PaymentKind, PaymentState, User
from lending_http.bootstrap import bootstrap
from lending_http.messages import Request, Response
from lending_http.service import Service
from lending_settings import Settings
from tests.support.fake_identity import FakeVerifier, RecordingObserver
from tests.support.fakes import FakeGateway, FakeStore

ROOT = Path(__file__).resolve().parents[2]
ALICE = User("https://issuer.test", "alice", name="Alice")
BOB = User("https://issuer.test", "bob", name="Bob")


class World:
    def __init__(self, gateway: FakeGateway | None = None) -> None:
        self.store, self.gateway, self.observer = FakeStore(), gateway or FakeGateway(), RecordingObserver()
        deps = bootstrap(Settings(loan_days=14), store=self.store, gateway=self.gateway,
                         verifier=FakeVerifier(ALICE, BOB), observer=self.observer)
        self.service = Service.of(ROOT / "functions", deps)
        self.book = self.store.add_book(NewBook("9780141439518", "Pride and Prejudice", "Jane Austen", 1500, 200, "usd"))

    def post(self, path: str, user: User | None, body: object = None, **headers: str) -> Response:
        sent = {k.replace("_", "-").lower(): v for k, v in headers.items()}
        if user is not None:
            sent["authorization"] = f"Bearer {user.subject}"
        raw = b"" if body is None else json.dumps(body).encode()
        return self.service.respond(Request.build(method="POST", path=path, headers=sent, body=raw))

    def payments(self, state: PaymentState) -> list[str]:
        return [p.payment_id for p in self.store.payments.values() if p.state is state]


@pytest.fixture
def world() -> World:
    return World()


def test_borrow_authorises_lends_and_captures(world: World) -> None:
    response = world.post(f"/books/{world.book.book_id}/borrow", ALICE, {"payment_method": "pm_card_visa"})
    assert response.status == 201, response.json()
    assert response.json()["payment"]["status"] == "captured" and response.json()["borrower"]["sub"] == "alice"
    assert world.store.get_book(world.book.book_id).status is BookStatus.BORROWED
    assert len(world.payments(PaymentState.CAPTURED)) == 1
    assert world.observer.requests == [("borrow", 201, "won")]


def test_return_closes_the_loan_and_touches_no_money(world: World) -> None:
    world.post(f"/books/{world.book.book_id}/borrow", ALICE, {"payment_method": "pm_card_visa"})
    calls = list(world.gateway.calls)
    response = world.post(f"/books/{world.book.book_id}/return", ALICE)
    assert response.status == 200 and response.json()["returned_at"]
    assert world.store.get_book(world.book.book_id).status is BookStatus.AVAILABLE
    assert world.gateway.calls == calls


def test_someone_elses_loan_cannot_be_returned(world: World) -> None:
    world.post(f"/books/{world.book.book_id}/borrow", ALICE, {"payment_method": "pm_card_visa"})
    response = world.post(f"/books/{world.book.book_id}/return", BOB)
    assert response.status == 403 and response.content_type == "application/problem+json"
    assert world.store.get_book(world.book.book_id).status is BookStatus.BORROWED


def test_purchase_sells_the_copy_and_captures_its_price(world: World) -> None:
    response = world.post(f"/books/{world.book.book_id}/purchase", BOB, {"payment_method": "pm_card_visa"})
    assert response.status == 201 and response.json()["payment"]["amount"] == 1500
    assert world.store.get_book(world.book.book_id).status is BookStatus.SOLD
    assert len(world.payments(PaymentState.CAPTURED)) == 1


class SoldWhileAuthorising(FakeGateway):
    """Someone buys the copy while our card is being authorised: we lose the race."""

    store: FakeStore
    book_id: str

    def confirm_authorization(self, intent_id: str, idempotency_key: str):  # type: ignore[no-untyped-def]
        result = super().confirm_authorization(intent_id, idempotency_key)
        self.store.books[self.book_id] = replace(self.store.books[self.book_id], status=BookStatus.SOLD)
        return result


def test_the_lost_race_is_a_409_and_the_losers_hold_is_released() -> None:
    gateway = SoldWhileAuthorising()
    world = World(gateway)
    gateway.store, gateway.book_id = world.store, world.book.book_id
    response = world.post(f"/books/{world.book.book_id}/borrow", ALICE, {"payment_method": "pm_card_visa"})
    assert response.status == 409 and response.json()["title"] == "Book Unavailable"
    assert world.payments(PaymentState.CANCELED) and not world.payments(PaymentState.CAPTURED)
    assert "capture" not in gateway.calls
    assert world.observer.requests == [("borrow", 409, "lost_race")]


def test_the_same_idempotency_key_replays_the_first_answer_and_charges_once(world: World) -> None:
    path, body = f"/books/{world.book.book_id}/borrow", {"payment_method": "pm_card_visa"}
    first = world.post(path, ALICE, body, idempotency_key="k-1")
    again = world.post(path, ALICE, body, idempotency_key="k-1")
    assert first.status == again.status == 201
    assert again.encoded() == first.encoded() and again.headers["Idempotent-Replayed"] == "true"
    assert len(world.payments(PaymentState.CAPTURED)) == 1
    reused = world.post(path, ALICE, {"payment_method": "pm_card_mastercard"}, idempotency_key="k-1")
    assert reused.status == 422
    assert [outcome for _, _, outcome in world.observer.requests] == ["won", "replayed", "client_error"]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"payment_method": 7}', b""])
def test_bad_input_is_a_400_problem_and_changes_nothing(world: World, body: bytes) -> None:
    request = Request.build(method="POST", path=f"/books/{world.book.book_id}/borrow",
                            headers={"authorization": "Bearer alice"}, body=body)
    response = world.service.respond(request)
    assert response.status == 400 and response.content_type == "application/problem+json"
    assert world.store.payments == {} and world.gateway.calls == []


def test_no_token_is_a_401_with_a_bearer_challenge(world: World) -> None:
    response = world.post(f"/books/{world.book.book_id}/borrow", None, {"payment_method": "pm_card_visa"})
    assert response.status == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="library-lending"'


def test_an_unknown_route_and_a_wrong_method_are_problems(world: World) -> None:
    assert world.service.respond(Request.build(method="GET", path="/nowhere", headers={})).status == 404
    wrong = world.service.respond(Request.build(method="DELETE", path="/books", headers={}))
    assert wrong.status == 405 and wrong.headers["Allow"] == "GET, POST"


def test_a_function_gets_only_its_declared_layers(world: World) -> None:
    with pytest.raises(LookupError, match="payments"):
        world.service.scope("return").gateway  # noqa: B018 - return has no business with the processor


class CommitReplyLost(FakeStore):
    """The loan's COMMIT reaches the database, its reply does not: the driver reports the database gone."""

    lose_next = True

    def open_loan(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        loan = super().open_loan(*args, **kwargs)
        if self.lose_next:
            self.lose_next = False
            raise DatabaseUnavailable("The database is not reachable.")
        return loan


def test_a_retry_after_a_lost_commit_reply_gets_the_loan_not_a_false_409() -> None:
    world = World()
    world.store = store = CommitReplyLost()
    world.service = Service.of(ROOT / "functions", bootstrap(Settings(loan_days=14), store=store, gateway=world.gateway,
                                                             verifier=FakeVerifier(ALICE, BOB), observer=world.observer))
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 1500, 200, "usd"))
    path, body = f"/books/{book.book_id}/borrow", {"payment_method": "pm_card_visa"}
    first = world.post(path, ALICE, body, idempotency_key="k-lost")
    assert first.status == 503  # what the patron saw: try again
    again = world.post(path, ALICE, body, idempotency_key="k-lost")
    assert again.status == 201, again.json()
    assert again.json()["loan_id"] == next(iter(store.loans)) and again.json()["payment"]["status"] == "captured"
    assert len(world.payments(PaymentState.CAPTURED)) == 1 and len(store.payments) == 1


def test_a_retry_while_the_first_attempt_is_between_steps_is_told_to_come_back(world: World) -> None:
    path, body = f"/books/{world.book.book_id}/borrow", {"payment_method": "pm_card_visa"}
    # The first attempt authorised the card and its answer was lost before the book moved.
    first = payment_flow.new_payment(PaymentKind.BORROW_FEE, world.book, ALICE, idempotency_key="k-mid", request_id=None)
    payment_flow.authorize(world.store, world.gateway, first, "pm_card_visa")
    response = world.post(path, ALICE, body, idempotency_key="k-mid")
    assert response.status == 409 and response.json()["title"] == "Request In Progress"
    assert world.store.get_book(world.book.book_id).status is BookStatus.AVAILABLE and world.store.loans == {}


def test_a_signed_in_caller_is_kept_as_a_patron_once_per_process(world: World) -> None:
    carol = User("https://issuer.test", "carol", name="Carol", email="carol@example.org")
    deps = bootstrap(Settings(), store=world.store, gateway=world.gateway, verifier=FakeVerifier(carol))
    service = Service.of(ROOT / "functions", deps)
    for _ in range(3):
        got = service.respond(Request.build(method="GET", path="/me/loans", headers={"authorization": "Bearer carol"}))
        assert got.status == 200, got.json()
    patron = world.store.find_patron(carol.issuer, carol.subject)
    assert patron is not None and (patron.name, patron.email) == ("Carol", "carol@example.org")
    assert world.store.patron_writes == 1  # three requests, one write
