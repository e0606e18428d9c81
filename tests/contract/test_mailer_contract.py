"""The Mailer contract, run against a real SMTP server (aiosmtpd) over smtp://, smtp+starttls:// and
smtps:// with AUTH (how Amazon SES's SMTP interface is reached: the SES send path), and the fake."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from lending_mail import SmtpMailer, parse_smtp_url

from lending.notice_model import Mail, MailRefused, MailUnavailable
from tests.support.fake_mailer import FakeMailer
from tests.support.smtp_server import SmtpServer

Received = Callable[[], list[tuple[str, str, str, str]]]  # (message id, to, subject, text)


class Harness:
    def __init__(self, mailer: FakeMailer | SmtpMailer, received: Received, refuse: Callable[[int, int], None]) -> None:
        self.mailer, self.received, self.refuse = mailer, received, refuse


@pytest.fixture(params=["smtp", "starttls", "ses-smtps-auth", "fake"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "fake":
        fake = FakeMailer()
        yield Harness(fake, lambda: [(m.message_id, m.to, m.subject, m.text) for m in fake.accepted], fake.refuse)
        return
    tls = {"smtp": None, "starttls": "starttls", "ses-smtps-auth": "smtps"}[request.param]
    auth = ("AKIASESUSER", "ses/smtp+password=") if request.param == "ses-smtps-auth" else None
    with SmtpServer(tls=tls, auth=auth) as server:
        url = server.url.replace("ses/smtp+password=", "ses%2Fsmtp%2Bpassword%3D")
        mailer = SmtpMailer(url, timeout_seconds=5, ssl_context=server.client_tls())

        def received() -> list[tuple[str, str, str, str]]:
            return [(m["Message-ID"], m["To"], m["Subject"], m.get_body(("plain",)).get_content().replace("\r\n", "\n"))  # type: ignore[union-attr]
                    for m in server.messages]

        yield Harness(mailer, received, server.refuse)


def a_mail(to: str = "alice@example.org") -> Mail:
    nid = uuid.uuid4().hex
    return Mail(f"<notice-{nid}@library.test>", "library@library.test", to, "Emma is due on Friday",
                "Dear Alice,\n\nEmma is due on Friday.\n", "<p>Dear Alice,</p><p>Emma is due on <b>Friday</b>.</p>")


def test_an_accepted_mail_arrives_once_with_its_message_id(harness: Harness) -> None:
    mail = a_mail()
    harness.mailer.send(mail)
    assert harness.received() == [(mail.message_id, mail.to, mail.subject, mail.text)]


def test_a_refusal_for_now_is_temporary_and_nothing_arrives(harness: Harness) -> None:
    harness.refuse(1, 451)
    with pytest.raises(MailRefused) as refused:
        harness.mailer.send(a_mail())
    assert refused.value.temporary and "451" in str(refused.value)
    assert harness.received() == []
    harness.mailer.send(a_mail())  # the next one goes
    assert len(harness.received()) == 1


def test_a_refusal_for_good_is_not_temporary(harness: Harness) -> None:
    harness.refuse(1, 554)
    with pytest.raises(MailRefused) as refused:
        harness.mailer.send(a_mail())
    assert not refused.value.temporary and not isinstance(refused.value, MailUnavailable)


def test_no_server_is_unavailable_and_temporary() -> None:
    from dev.embedded import free_port

    for mailer in (SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout_seconds=2), _down()):
        with pytest.raises(MailUnavailable) as down:
            mailer.send(a_mail())
        assert down.value.temporary


def _down() -> FakeMailer:
    fake = FakeMailer()
    fake.down = True
    return fake


def test_wrong_credentials_are_unavailable_not_a_refusal_of_the_mail() -> None:
    with SmtpServer(tls="smtps", auth=("user", "right")) as server:
        mailer = SmtpMailer(f"smtps://user:wrong@localhost:{server.port}", timeout_seconds=5,
                            ssl_context=server.client_tls())
        with pytest.raises(MailUnavailable):
            mailer.send(a_mail())
        assert server.messages == []


def test_the_url_names_scheme_host_port_and_credentials_but_never_shows_the_password() -> None:
    target = parse_smtp_url("smtps://AKIA%2Fx:p%40ss@email-smtp.eu-west-1.amazonaws.com")
    assert (target.scheme, target.host, target.port, target.user, target.password) == (
        "smtps", "email-smtp.eu-west-1.amazonaws.com", 465, "AKIA/x", "p@ss")
    assert parse_smtp_url("smtp+starttls://relay").port == 587 and parse_smtp_url("smtp://relay").port == 25
    assert "p@ss" not in repr(target)
    with pytest.raises(ValueError):
        parse_smtp_url("http://relay")
