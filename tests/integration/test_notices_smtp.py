"""Notices against a real SMTP server started by the test (aiosmtpd on 127.0.0.1) and real PostgreSQL.

Each kind arrives once; a server that refuses for a while gets the mail later, exactly once; many
senders at once send each notice once; a notice is written only when its event commits. No sleeps:
the clock is moved by hand, and the jobs are run when the test says.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from lending_mail import SmtpMailer

from lending import notices, payment_flow
from lending.model import NewBook, PaymentKind, User
from lending.notice_mail import Letterhead
from lending.notice_model import NoticeKind, NoticeState
from lending.notices import SendPolicy
from lending_postgres import PostgresStore
from lending_postgres.notice_hooks import write_notice
from tests.conftest import sql
from tests.support.clock import MovedClock
from tests.support.fakes import FakeGateway
from tests.support.smtp_server import SmtpServer

ALICE = User("https://issuer.test", "alice", name="Alice", email="alice@example.org")
BOB = User("https://issuer.test", "bob", name="Bob", email="bob@example.org")
HEAD = Letterhead(library_name="Riverside Library", timezone="Europe/Paris",
                  account_url="http://library.test/#/account", sender="notices@library.test")
POLICY = SendPolicy(max_attempts=4, retry_first=timedelta(minutes=1), retry_max=timedelta(minutes=10))


@pytest.fixture
def smtp() -> Any:
    with SmtpServer() as server:
        yield server


def a_loan(store: PostgresStore, who: User, due: datetime, isbn: str = "9780261102217") -> tuple[str, str]:
    book = store.add_book(NewBook(isbn, "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, who, idempotency_key=None, request_id=None)
    pid = payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa").payment_id
    return book.book_id, store.open_loan(book.book_id, who, pid, due).loan_id


def send(store: PostgresStore, smtp: SmtpServer, clock: MovedClock, policy: SendPolicy = POLICY) -> dict[str, int]:
    return notices.send_notices(store, SmtpMailer(smtp.url, timeout_seconds=5), clock, HEAD, policy).counts()


def ids_received(smtp: SmtpServer) -> Counter[str]:
    return Counter(m["Message-ID"] for m in smtp.messages)


def test_each_kind_of_notice_arrives_once(store: PostgresStore, smtp: SmtpServer) -> None:
    clock = MovedClock()
    store.remember_patron(ALICE)
    store.remember_patron(BOB)
    a_loan(store, ALICE, clock.now() + timedelta(days=1))  # due soon
    _, late = a_loan(store, ALICE, clock.now() - timedelta(hours=2))  # overdue
    held, _ = a_loan(store, ALICE, clock.now() + timedelta(days=20), isbn="9780141439518")
    title_id = store.get_book(held).title_id
    store.place_hold(title_id, BOB, now=clock.now(), max_holds=5)
    store.close_loan(held, ALICE, now=clock.now(), pickup_period=timedelta(days=7))  # hold ready, in the return
    charge, payment = str(uuid.uuid4()), str(uuid.uuid4())
    with store.pool.transaction() as c:  # as the fees branch writes them, in its own transactions
        write_notice(c, kind="lost_charged", patron_iss=ALICE.issuer, patron_sub=ALICE.subject, loan_id=late,
                     charge_id=charge, details={"title": "The Hobbit", "amount_cents": 1500, "currency": "usd"})
        write_notice(c, kind="payment_receipt", patron_iss=ALICE.issuer, patron_sub=ALICE.subject,
                     payment_id=payment, details={"amount_cents": 1725, "currency": "usd"})
    notices.write_reminders(store, clock, before_due=timedelta(days=2))
    notices.write_overdue_notices(store, clock)
    notices.write_reminders(store, clock, before_due=timedelta(days=2))  # again: nothing new
    notices.write_overdue_notices(store, clock)
    clock.advance(timedelta(seconds=1))
    assert send(store, smtp, clock)["sent"] == 5
    assert send(store, smtp, clock)["sent"] == 0
    written = {n.notice_id: n.kind for who in (ALICE, BOB) for n in store.notices_of(who)}
    assert sorted(k.value for k in written.values()) == sorted(k.value for k in NoticeKind)
    assert ids_received(smtp) == Counter({f"<notice-{nid}@library.test>": 1 for nid in written})
    by_subject = {m["Subject"]: m for m in smtp.messages}
    ready = next(m for s, m in by_subject.items() if "waiting for you" in s)
    assert ready["To"] == BOB.email and "Riverside Library" in ready["Subject"]
    text = ready.get_body(("plain",)).get_content()
    assert "Dear Bob" in text and "http://library.test/#/account" in text and "CET" in text
    assert "<a href=\"http://library.test/#/account\">" in ready.get_body(("html",)).get_content()
    receipt = next(m for s, m in by_subject.items() if "receipt" in s)
    assert "17.25 USD" in receipt["Subject"]
    lost = next(m for s, m in by_subject.items() if "lost" in s)
    assert "15.00 USD" in lost.get_body(("plain",)).get_content()
    assert all(n.state is NoticeState.SENT for who in (ALICE, BOB) for n in store.notices_of(who))


def test_a_server_refusing_for_a_while_gets_the_mail_later_exactly_once(store: PostgresStore, smtp: SmtpServer) -> None:
    clock = MovedClock()
    store.remember_patron(ALICE)
    a_loan(store, ALICE, clock.now() - timedelta(hours=1))
    notices.write_overdue_notices(store, clock)
    clock.advance(timedelta(seconds=1))
    smtp.refuse(2, 451)
    assert send(store, smtp, clock) == {"sent": 0, "retried": 1, "failed": 0, "no_address": 0, "interrupted": 0}
    assert send(store, smtp, clock)["sent"] == 0  # not due yet: the backoff holds
    clock.advance(timedelta(minutes=1))
    assert send(store, smtp, clock)["retried"] == 1
    clock.advance(timedelta(minutes=1))
    assert send(store, smtp, clock)["sent"] == 0  # second wait is 2 minutes
    clock.advance(timedelta(minutes=1))
    assert send(store, smtp, clock)["sent"] == 1
    clock.advance(timedelta(hours=1))
    assert send(store, smtp, clock)["sent"] == 0
    assert smtp.handler.attempts == 3 and len(smtp.messages) == 1
    [notice] = store.notices_of(ALICE)
    assert (notice.state, notice.attempts) == (NoticeState.SENT, 3)


def test_after_the_last_attempt_the_notice_is_failed_and_counted(store: PostgresStore, smtp: SmtpServer) -> None:
    clock = MovedClock()
    store.remember_patron(ALICE)
    a_loan(store, ALICE, clock.now() - timedelta(hours=1))
    notices.write_overdue_notices(store, clock)
    smtp.refuse(100, 451)
    reports = []
    for _ in range(6):
        clock.advance(timedelta(minutes=15))
        reports.append(send(store, smtp, clock))
    assert [r["retried"] for r in reports] == [1, 1, 1, 0, 0, 0]
    assert [r["failed"] for r in reports] == [0, 0, 0, 1, 0, 0]
    [notice] = store.notices_of(ALICE)
    assert (notice.state, notice.attempts) == (NoticeState.FAILED, 4) and "451" in (notice.last_error or "")
    assert smtp.messages == []


def test_many_senders_at_once_send_each_notice_once(store: PostgresStore, smtp: SmtpServer) -> None:
    clock = MovedClock()
    for i in range(40):
        who = User("https://issuer.test", f"reader-{i}", name=f"Reader {i}", email=f"reader{i}@example.org")
        store.remember_patron(who)
        a_loan(store, who, clock.now() - timedelta(hours=1))
    assert notices.write_overdue_notices(store, clock) == 40
    clock.advance(timedelta(seconds=1))
    start, results, errors = threading.Barrier(8), [], []

    def sender() -> None:
        start.wait()
        try:
            results.append(send(store, smtp, clock))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 8, (errors, results)
    assert sum(r["sent"] for r in results) == 40
    received = ids_received(smtp)
    assert len(received) == 40 and set(received.values()) == {1}
    assert sql(store.pool, "SELECT count(*) FROM notices WHERE state = 'sent'")[0][0] == 40


class _FailingAfterShelving:
    """A pool whose transactions fail just before they commit (after the return put the copy on the
    hold shelf and wrote its notice), as a crash or a lost connection at that moment would."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    @contextmanager
    def transaction(self) -> Any:
        with self._pool.transaction() as c:
            yield c
            assert c.run("SELECT count(*) FROM notices")[0][0] == 1  # written, inside the transaction
            raise RuntimeError("crashed before COMMIT")


def test_a_return_that_rolls_back_writes_no_notice(store: PostgresStore) -> None:
    clock = MovedClock()
    book_id, _ = a_loan(store, ALICE, clock.now() + timedelta(days=3))
    store.place_hold(store.get_book(book_id).title_id, BOB, now=clock.now(), max_holds=5)
    failing = PostgresStore(_FailingAfterShelving(store.pool))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        failing.close_loan(book_id, ALICE, now=clock.now())
    assert sql(store.pool, "SELECT count(*) FROM notices")[0][0] == 0
    assert store.get_book(book_id).status.value == "borrowed"
    store.close_loan(book_id, ALICE, now=clock.now())  # the return that commits writes it
    assert [n.kind for n in store.notices_of(BOB)] == [NoticeKind.HOLD_READY]
