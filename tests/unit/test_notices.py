"""Notices on fakes (no I/O): the jobs write and send them, the clock moves by hand, the mails read well.

Through the composition root and Service as every host runs them: send_notices, reminders and
overdue as jobs (with their counts as metrics), /me/notices and /me/preferences as requests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lending import notices, payment_flow
from lending.model import NewBook, PaymentKind, User
from lending.notice_mail import Letterhead, render, when
from lending.notice_model import Notice, NoticeKind, NoticeState
from lending.notices import SendPolicy
from lending_http.bootstrap import bootstrap
from lending_http.messages import Request, Response
from lending_http.notices import money
from lending_http.service import Service
from lending_settings import Settings
from tests.support.clock import MovedClock
from tests.support.fake_identity import FakeVerifier, RecordingObserver
from tests.support.fake_mailer import FakeMailer
from tests.support.fakes import FakeGateway, FakeStore

ROOT = Path(__file__).resolve().parents[2]
ALICE = User("https://issuer.test", "alice", name="Alice", email="alice@example.org")
BOB = User("https://issuer.test", "bob", name="Bob")  # no email claim
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class World:
    def __init__(self, **settings: object) -> None:
        self.store, self.mailer, self.clock, self.observer = FakeStore(), FakeMailer(), MovedClock(START), \
            RecordingObserver()
        config = Settings(smtp_url="smtp://127.0.0.1:1", mail_from="notices@library.test", library_name="Riverside",
                          notice_retry_first=timedelta(minutes=1), notice_max_attempts=3, **settings)  # type: ignore[arg-type]
        deps = bootstrap(config, store=self.store, gateway=FakeGateway(), verifier=FakeVerifier(ALICE, BOB),
                         observer=self.observer, clock=self.clock, mailer=self.mailer)
        self.service = Service.of(ROOT / "functions", deps)

    def lend(self, who: User, due: datetime) -> str:
        book = self.store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 1500, 200, "usd"))
        payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, who, idempotency_key=None, request_id=None)
        pid = payment_flow.authorize(self.store, FakeGateway(), payment, "pm_card_visa").payment_id
        return self.store.open_loan(book.book_id, who, pid, due).loan_id

    def request(self, method: str, path: str, user: User, body: object = None) -> Response:
        raw = b"" if body is None else json.dumps(body).encode()
        return self.service.respond(Request.build(method=method, path=path, body=raw,
                                                  headers={"authorization": f"Bearer {user.subject}"}))

    def job(self, name: str) -> dict[str, object]:
        return self.service.run_job(name)


@pytest.fixture
def world() -> World:
    return World()


def test_a_loan_is_reminded_then_overdue_then_overdue_again_each_mail_once(world: World) -> None:
    world.store.remember_patron(ALICE)
    world.lend(ALICE, START + timedelta(days=3))
    assert world.job("reminders")["due_soon"] == 0  # three days ahead: not yet
    world.clock.advance(timedelta(days=1, minutes=1))
    assert world.job("reminders")["due_soon"] == 1
    assert world.job("reminders")["due_soon"] == 0
    assert world.job("send_notices")["sent"] == 1
    world.clock.advance(timedelta(days=2))
    assert world.job("overdue")["overdue_notices"] == 1
    world.clock.advance(timedelta(days=7))
    assert world.job("overdue")["overdue_notices"] == 1
    assert world.job("overdue")["overdue_notices"] == 0
    assert world.job("send_notices")["sent"] == 2
    subjects = [m.subject for m in world.mailer.accepted]
    assert subjects == ['Riverside: "Emma" is due on Friday 4 December 2026, 09:00 UTC',
                        'Riverside: "Emma" is overdue', 'Riverside: "Emma" is overdue']
    assert "more than a week" in world.mailer.accepted[-1].text
    assert len({m.message_id for m in world.mailer.accepted}) == 3


def test_turning_reminders_off_stops_due_soon_but_not_overdue(world: World) -> None:
    assert world.request("GET", "/me/preferences", ALICE).json() == {"reminders": True}
    response = world.request("PUT", "/me/preferences", ALICE, {"reminders": False})
    assert response.status == 200 and response.json() == {"reminders": False}
    world.lend(ALICE, START + timedelta(hours=1))
    assert world.job("reminders")["due_soon"] == 0
    world.clock.advance(timedelta(hours=2))
    assert world.job("overdue")["overdue_notices"] == 1
    assert world.request("PUT", "/me/preferences", ALICE, {"reminders": "no"}).status == 400
    assert world.request("PUT", "/me/preferences", ALICE, {"reminders": True, "x": 1}).status == 400


def test_a_patron_without_email_sees_the_notice_but_no_mail_leaves(world: World) -> None:
    world.request("GET", "/me/notices", BOB)  # signed in: remembered as a patron, without an address
    world.lend(BOB, START - timedelta(hours=1))
    world.job("overdue")
    assert world.job("send_notices")["no_address"] == 1
    items = world.request("GET", "/me/notices", BOB).json()["items"]
    assert [(n["kind"], n["state"]) for n in items] == [("overdue", "no_address")]
    assert items[0]["details"]["title"] == "Emma" and world.mailer.accepted == []


def test_refusals_back_off_then_fail_with_a_metric(world: World) -> None:
    world.store.remember_patron(ALICE)
    world.lend(ALICE, START - timedelta(hours=1))
    world.job("overdue")
    world.mailer.refuse(10, 451)
    assert world.job("send_notices")["retried"] == 1
    assert world.job("send_notices")["retried"] == 0  # waits one minute
    world.clock.advance(timedelta(minutes=1))
    assert world.job("send_notices")["retried"] == 1
    world.clock.advance(timedelta(minutes=2))
    assert world.job("send_notices")["failed"] == 1
    assert world.observer.jobs[-1] == ("send_notices", {**world.observer.jobs[-1][1], "failed": 1})
    [notice] = world.request("GET", "/me/notices", ALICE).json()["items"]
    assert (notice["state"], notice["attempts"]) == ("failed", 3)


def test_a_permanent_refusal_fails_at_once_and_an_unreachable_server_stops_the_run(world: World) -> None:
    world.store.remember_patron(ALICE)
    world.lend(ALICE, START - timedelta(hours=1))
    world.lend(ALICE, START - timedelta(hours=2))
    world.job("overdue")
    world.mailer.down = True
    assert world.job("send_notices")["retried"] == 1  # the second is not even tried
    world.mailer.down = False
    world.mailer.refuse(1, 550)
    world.clock.advance(timedelta(minutes=5))
    report = world.job("send_notices")
    assert (report["failed"], report["sent"]) == (1, 1)


def test_the_send_policy_doubles_its_wait_up_to_the_max() -> None:
    policy = SendPolicy(retry_first=timedelta(minutes=5), retry_max=timedelta(minutes=30))
    assert [policy.retry_delay(n) for n in (1, 2, 3, 4, 5)] == [timedelta(minutes=m) for m in (5, 10, 20, 30, 30)]


def _notice(kind: NoticeKind, **details: object) -> Notice:
    return Notice("n-1", kind, ALICE, NoticeState.PENDING, START, dict(details))


@pytest.mark.parametrize(("kind", "details", "subject", "said"), [
    (NoticeKind.DUE_SOON, {"title": "Emma", "due_at": "2026-12-04T09:00:00+00:00"}, "is due on Friday 4 December",
     "10:00 CET"),
    (NoticeKind.OVERDUE, {"title": "Emma", "due_at": "2026-12-04T09:00:00+00:00", "stage": 1}, "is overdue",
     "Please return it"),
    (NoticeKind.HOLD_READY, {"title": "Emma", "ready_until": "2026-12-08T17:00:00+00:00"}, "is waiting for you",
     "by Tuesday 8 December 2026, 18:00 CET"),
    (NoticeKind.LOST_CHARGED, {"title": "Emma", "amount_cents": 1500, "currency": "usd"}, "was declared lost",
     "15.00 USD has been added"),
    (NoticeKind.PAYMENT_RECEIPT, {"amount_cents": 1725, "currency": "eur"}, "receipt for your payment of 17.25 EUR",
     "received your payment of 17.25 EUR on Tuesday 1 December 2026, 10:00 CET"),
])
def test_every_kind_renders_text_and_html_with_the_library_and_the_account_link(
        kind: NoticeKind, details: dict[str, object], subject: str, said: str) -> None:
    head = Letterhead("Riverside <Library>", "Europe/Paris", "https://library.test/#/account", "n@library.test",
                      money)
    got_subject, text, html = render(_notice(kind, **details), head, "Alice & Co")
    assert got_subject.startswith("Riverside <Library>: ") and subject in got_subject
    assert said in text and "Dear Alice & Co" in text and "https://library.test/#/account" in text
    assert "Riverside &lt;Library&gt;" in html and "Alice &amp; Co" in html and "<Library>" not in html


def test_dates_are_in_the_library_time_zone_and_amounts_in_the_currency_minor_units() -> None:
    assert when("2026-07-01T12:00:00+00:00", "America/New_York") == "Wednesday 1 July 2026, 08:00 EDT"
    assert money(250, "jpy") == "250 JPY" and money(250, "usd") == "2.50 USD"


def test_the_send_use_case_needs_only_its_ports() -> None:
    store, mailer, clock = FakeStore(), FakeMailer(), MovedClock(START)
    store.remember_patron(ALICE)
    store.write_notice(kind="payment_receipt", patron_iss=ALICE.issuer, patron_sub=ALICE.subject, payment_id="p-1",
                       details={"amount_cents": 100, "currency": "usd"})
    clock.advance(timedelta(days=365 * 10))  # the fake's rows are written at real time
    report = notices.send_notices(store, mailer, clock, Letterhead(sender="n@library.test"))
    assert report.sent == 1 and mailer.accepted[0].message_id.startswith("<notice-")
