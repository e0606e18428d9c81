"""The desk's handlers through the composition root on the fake desk store: no I/O, no patching."""

from __future__ import annotations

import json
from pathlib import Path

from lending.model import NewBook, User
from lending_http.bootstrap import bootstrap
from lending_http.messages import Request, Response
from lending_http.service import Service
from lending_settings import Settings
from tests.support import marc_files as m
from tests.support.fake_desk import FakeDeskStore
from tests.support.fake_identity import FakeVerifier, RecordingObserver
from tests.support.fakes import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
ALICE = User("https://issuer.test", "alice", name="Alice")
LIBBY = User("https://issuer.test", "libby", name="Libby", is_librarian=True)


class Desk:
    def __init__(self) -> None:
        self.store = FakeDeskStore()
        deps = bootstrap(Settings(), store=self.store, gateway=FakeGateway(), verifier=FakeVerifier(ALICE, LIBBY),
                         observer=RecordingObserver())
        self.service = Service.of(ROOT / "functions", deps)

    def send(self, method: str, path: str, user: User, body: object = None) -> Response:
        raw = b"" if body is None else json.dumps(body).encode()
        return self.service.respond(Request.build(method=method, path=path, body=raw,
                                                  headers={"authorization": f"Bearer {user.subject}"}))


def test_a_librarian_makes_a_title_adds_a_copy_and_withdraws_it() -> None:
    desk = Desk()
    made = desk.send("POST", "/titles", LIBBY, {"isbn": m.to_isbn10(isbn := m.new_isbn13()), "title": "Emma",
                                                "author": "Jane Austen"})
    assert made.status == 201 and made.json()["isbn"] == isbn
    title_id = made.json()["title_id"]
    added = desk.send("POST", f"/titles/{title_id}/copies", LIBBY, {"price_cents": 999, "borrow_fee_cents": 99})
    assert added.status == 201
    (copy,) = added.json()["items"]
    gone = desk.send("POST", f"/books/{copy['book_id']}/withdraw", LIBBY, {"reason": "damaged"})
    assert (gone.status, gone.json()["status"]) == (200, "withdrawn")
    assert desk.send("GET", f"/titles/{title_id}", LIBBY).json()["copies_total"] == 0


def test_the_desk_refuses_a_patron_and_a_copy_not_on_loan() -> None:
    desk = Desk()
    book = desk.store.add_book(NewBook(m.new_isbn13(), "Emma", "Jane Austen", 999, 99, "usd"))
    barcode = desk.store.copy_of(book.book_id).barcode  # type: ignore[union-attr]
    assert desk.send("POST", "/desk/checkin", ALICE, {"barcode": barcode}).status == 403
    refused = desk.send("POST", "/desk/checkin", LIBBY, {"barcode": barcode})
    assert refused.status == 409 and refused.json()["book_status"] == "available"
