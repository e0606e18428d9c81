"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a port of its own): what it accepted, refusals on demand.

`SmtpServer(tls=..., auth=(user, password))` is plain SMTP, STARTTLS (`tls="starttls"`) or SMTPS
(`tls="smtps"`, as Amazon SES's SMTP interface on 465); with `auth`, AUTH LOGIN/PLAIN is required.
`refuse(n, code)` answers the next n DATA commands with `code` instead of 250.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import tempfile
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dev.embedded import free_port


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusals: list[int] = []
        self.attempts = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.attempts += 1
            if self.refusals:
                code = self.refusals.pop(0)
                return f"{code} {'try again later' if code < 500 else 'no thank you'}"
            message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    def __init__(self, *, tls: str | None = None, auth: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self._dir = tempfile.TemporaryDirectory()
        self.cafile: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls:
            cert, key = self_signed(Path(self._dir.name))
            self.cafile = cert
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            kwargs["server_hostname"] = "localhost"
            if tls == "smtps":
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"], kwargs["require_starttls"] = context, True
        if auth:
            def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == auth
                return AuthResult(success=ok, handled=False)

            # smtps: the socket is TLS from the start, which aiosmtpd cannot see (hence its warning)
            kwargs.update(authenticator=check, auth_required=True, auth_require_tls=tls == "starttls")
        self.scheme = {"smtps": "smtps", "starttls": "smtp+starttls", None: "smtp"}[tls]
        self._auth = auth
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def url(self) -> str:
        userinfo = f"{self._auth[0]}:{self._auth[1]}@" if self._auth else ""
        return f"{self.scheme}://{userinfo}localhost:{self.port}"

    def client_tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        return context

    def refuse(self, times: int, code: int = 451) -> None:
        with self.handler.lock:
            self.handler.refusals += [code] * times

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
        self._dir.cleanup()
