"""Sending one mail over SMTP: smtp:// (plain), smtp+starttls:// (upgraded), smtps:// (TLS from the start).

`SMTP_URL` carries the user and password (percent-encoded) when the server wants AUTH, as Amazon
SES's SMTP interface does (smtps://USER:PASSWORD@email-smtp.REGION.amazonaws.com:465, the URL
held in Secrets Manager on AWS). One connection per mail: a claim is one notice, and a connection
that never outlives its mail cannot carry a half-finished transaction into the next one.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlparse

from lending.notice_model import Mail, MailRefused, MailUnavailable

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password
        return f"SmtpTarget({self.scheme}://{self.host}:{self.port}, user={self.user!r})"


def parse_smtp_url(url: str) -> SmtpTarget:
    parsed = urlparse(url)
    if parsed.scheme not in DEFAULT_PORTS:
        raise ValueError("SMTP_URL must be smtp://, smtp+starttls:// or smtps://")
    if not parsed.hostname:
        raise ValueError("SMTP_URL names no host")
    user = unquote(parsed.username) if parsed.username else None
    password = unquote(parsed.password) if parsed.password else None
    return SmtpTarget(parsed.scheme, parsed.hostname, parsed.port or DEFAULT_PORTS[parsed.scheme], user, password)


def message_of(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = mail.sender, mail.to, mail.subject
    message["Message-ID"], message["Date"] = mail.message_id, formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notice
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class SmtpMailer:
    """The Mailer port on an SMTP server. `send` returns once the server accepted the mail."""

    def __init__(self, url: str, *, timeout_seconds: float = 10.0, ssl_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None) -> None:
        self.target = parse_smtp_url(url)
        self._timeout = timeout_seconds
        self._tls = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        if t.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=self._timeout, context=self._tls,
                                                    local_hostname=self._local_hostname)
        else:
            client = smtplib.SMTP(t.host, t.port, timeout=self._timeout, local_hostname=self._local_hostname)
        try:
            if t.scheme == "smtp+starttls":
                client.starttls(context=self._tls)
            if t.user:
                client.login(t.user, t.password or "")
        except BaseException:
            with contextlib.suppress(Exception):
                client.close()
            raise
        return client

    def send(self, mail: Mail) -> None:
        try:
            client = self._connect()
        except smtplib.SMTPException as exc:
            raise MailUnavailable(f"SMTP server {self.target.host}:{self.target.port}: {_said(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            raise MailUnavailable(f"cannot reach SMTP server {self.target.host}:{self.target.port}: "
                                  f"{type(exc).__name__}: {exc}") from None
        try:
            client.send_message(message_of(mail), from_addr=mail.sender, to_addrs=[mail.to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()))
            raise MailRefused(f"recipient refused: {code} {_text(said)}", temporary=400 <= code < 500) from None
        except smtplib.SMTPResponseException as exc:  # sender or data refused
            raise MailRefused(f"refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                              temporary=400 <= exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:  # disconnected before the server said yes
            raise MailUnavailable(f"SMTP server {self.target.host}: {type(exc).__name__}: {exc}") from None
        finally:
            with contextlib.suppress(Exception):  # accepted is accepted: a failing QUIT changes nothing
                client.quit()


def _text(said: Any) -> str:
    return said.decode(errors="replace") if isinstance(said, bytes) else str(said)


def _said(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def mailer_from(config: Any) -> SmtpMailer:
    """The composition root's builder (lending_http.bootstrap): SMTP_URL, MAIL_FROM and SMTP_TIMEOUT_SECONDS."""
    from lending_settings import ConfigError  # noqa: PLC0415 - only the composition root builds a mailer
    from lending_settings.model import MAIL_REQUIRED  # noqa: PLC0415

    for name in MAIL_REQUIRED:
        if not getattr(config, name):
            raise ConfigError(f"{name.upper()} is required to send notices")
    return SmtpMailer(config.smtp_url, timeout_seconds=config.smtp_timeout_seconds)
