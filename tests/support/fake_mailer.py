"""An in-memory Mailer (lending.notice_model.Mailer) that passes the SMTP adapter's contract tests.

`refuse(n, code)` makes the next n sends refused with that SMTP code (4xx: for now, 5xx: for good);
`down = True` is a server nobody can reach. What it accepted is in `accepted`, in order.
"""

from __future__ import annotations

import threading

from lending.notice_model import Mail, MailRefused, MailUnavailable


class FakeMailer:
    def __init__(self) -> None:
        self.accepted: list[Mail] = []
        self.down = False
        self._refusals: list[int] = []
        self._lock = threading.Lock()

    def refuse(self, times: int, code: int = 451) -> None:
        with self._lock:
            self._refusals += [code] * times

    def send(self, mail: Mail) -> None:
        with self._lock:
            if self.down:
                raise MailUnavailable("cannot reach the fake mail server")
            if "@" not in mail.to or "\n" in mail.to:
                raise MailRefused(f"recipient refused: 553 bad address {mail.to!r}", temporary=False)
            if self._refusals:
                code = self._refusals.pop(0)
                raise MailRefused(f"refused: {code} not now", temporary=400 <= code < 500)
            self.accepted.append(mail)

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.accepted if m.to == address]
