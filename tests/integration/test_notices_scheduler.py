"""make run's way: the scheduler (dev/scheduler.py) beside the embedded mail server (dev/mail_server.py),
nobody touching anything: a loan due in a few seconds gets a due-soon mail and then an overdue mail, kept
as files the way .run/mail keeps them. A bounded wait for the effect, not a sleep standing in for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dev.embedded import start_mail_server
from dev.mail_server import listing
from dev.run import _short_loans_short_jobs
from lending import payment_flow
from lending.model import NewBook, PaymentKind, User
from lending_postgres import PostgresStore
from tests.support.fakes import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
ALICE = User("https://issuer.test", "alice", name="Alice", email="alice@example.org")


def test_a_short_loan_mails_due_soon_then_overdue_by_itself(store: PostgresStore, service_env: dict[str, str],
                                                              tmp_path: Path) -> None:
    mail = start_mail_server(tmp_path / "mail", log=tmp_path / "smtp.log")
    env = {**os.environ, **service_env, "SMTP_URL": mail.url, "MAIL_FROM": "notices@library.localhost",
           "JOBS_INTERVAL": "PT1S", "LENDING_METRICS": "off"}
    store.remember_patron(ALICE)
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 1500, 200, "usd"))
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, ALICE, idempotency_key=None, request_id=None)
    pid = payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa").payment_id
    store.open_loan(book.book_id, ALICE, pid, datetime.now(UTC) + timedelta(seconds=15))  # time for the process to start
    proc = subprocess.Popen([sys.executable, "-m", "dev.scheduler"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, kept = time.monotonic() + 90, []
        while len(kept) < 2 and time.monotonic() < deadline:
            kept = listing(tmp_path / "mail")
            time.sleep(0.2)  # polling for the effect, bounded by the deadline
        assert len(kept) == 2, kept
        assert '"Emma" is due on' in kept[0] and '"Emma" is overdue' in kept[1]
        assert all("to alice@example.org" in line for line in kept)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        mail.stop()


def test_make_run_with_a_short_loan_runs_the_jobs_often_unless_told() -> None:
    env = {"LOAN_PERIOD": "PT1M"}
    _short_loans_short_jobs(env)
    assert env["JOBS_INTERVAL"] == "PT6S"
    kept = {"LOAN_PERIOD": "PT1M", "JOBS_INTERVAL": "PT30S"}
    _short_loans_short_jobs(kept)
    assert kept["JOBS_INTERVAL"] == "PT30S"
    usual = {"LOAN_PERIOD": "P21D"}
    _short_loans_short_jobs(usual)
    assert "JOBS_INTERVAL" not in usual
