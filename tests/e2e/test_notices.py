"""Notices through HTTP (chalice local, or nginx in tests/vm): GET /me/notices and GET/PUT /me/preferences,
with the hold-ready notice written by a return over HTTP and sent by the send_notices job to a real SMTP
server (aiosmtpd on 127.0.0.1), as every host runs the job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import requests

from lending import circulation
from lending_http.bootstrap import bootstrap
from lending_http.service import Service
from lending_postgres import ConnectionPool, PostgresStore
from tests.conftest import Client, new_book
from tests.support.clock import MovedClock
from tests.support.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
CARD = {"payment_method": "pm_card_visa"}


def put(client: Client, path: str, body: Any) -> requests.Response:
    return client.session.put(client.base + path, json=body, headers=client.headers(), timeout=30)


def send_notices(settings: Any, smtp: SmtpServer) -> dict[str, Any]:
    config = msgspec.structs.replace(settings, smtp_url=smtp.url, mail_from="notices@library.test",
                                     library_name="Riverside Library")
    service = Service.of(ROOT / "functions", bootstrap(config, layers=["core", "database", "mail"]),
                         only=["send_notices"])
    return service.run_job("send_notices")


def test_reminders_can_be_turned_off_and_on_again(alice: Client, anonymous: Client) -> None:
    assert alice.get("/me/preferences").json() == {"reminders": True}
    r = put(alice, "/me/preferences", {"reminders": False})
    assert r.status_code == 200 and r.json() == {"reminders": False}
    assert alice.get("/me/preferences").json() == {"reminders": False}
    assert put(alice, "/me/preferences", {"reminders": "off"}).status_code == 400
    assert put(alice, "/me/preferences", {"reminders": True}).json() == {"reminders": True}
    assert anonymous.get("/me/notices").status_code == 401
    assert put(anonymous, "/me/preferences", {"reminders": False}).status_code == 401


def test_a_return_tells_the_next_in_line_by_mail_and_the_notice_shows_sent(
        alice: Client, bob: Client, api: str, issuer: Any, librarian: Client, settings: Any) -> None:
    dora = Client(api, issuer.token("dora", email=None))  # a token with no email claim
    book = new_book(librarian, isbn="9780140449136", title="Crime and Punishment")
    assert alice.post(f"/titles/{book['title_id']}/borrow", CARD).status_code == 201
    assert bob.post(f"/titles/{book['title_id']}/holds").status_code == 201
    assert dora.post(f"/titles/{book['title_id']}/holds").status_code == 201
    assert bob.get("/me/notices").json() == {"items": []}
    assert alice.post(f"/books/{book['book_id']}/return").status_code == 200

    (notice,) = bob.get("/me/notices").json()["items"]
    assert (notice["kind"], notice["state"], notice["details"]["title"]) == ("hold_ready", "pending",
                                                                             "Crime and Punishment")
    with SmtpServer() as smtp:
        assert send_notices(settings, smtp)["sent"] == 1
        assert send_notices(settings, smtp)["sent"] == 0
        (mail,) = smtp.messages
    assert mail["To"] == "bob@example.org" and mail["Message-ID"] == f"<notice-{notice['notice_id']}@library.test>"
    assert "Crime and Punishment" in mail["Subject"] and "Riverside Library" in mail["Subject"]
    (sent,) = bob.get("/me/notices").json()["items"]
    assert sent["state"] == "sent" and sent["sent_at"] is not None and sent["attempts"] == 1

    # Bob's hold runs out unclaimed: the copy goes on to Dora, who has no address: kept, shown, not sent.
    pool = ConnectionPool(settings.database_url, size=2)
    try:
        clock = MovedClock()
        clock.advance(timedelta(days=8))
        assert circulation.expire_ready_holds(PostgresStore(pool), clock).passed_on == 1
    finally:
        pool.close()
    with SmtpServer() as smtp:
        assert send_notices(settings, smtp)["no_address"] == 1
        assert smtp.messages == []
    (kept,) = dora.get("/me/notices").json()["items"]
    assert (kept["kind"], kept["state"]) == ("hold_ready", "no_address")
