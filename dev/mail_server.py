"""`make run`'s embedded SMTP server: aiosmtpd on 127.0.0.1, every mail kept as a file under .run/mail.

    python -m dev.mail_server serve --port 8025 --dir .run/mail   (make run starts it: dev/embedded.py)
    python -m dev.mail_server list [--dir .run/mail]               (make mail: one line per mail, oldest first)

aiosmtpd is a well-kept asyncio SMTP server (the standard library's smtpd is gone since Python 3.12).
Each accepted mail is written as <received>-<n>.eml, atomically (a temporary name, then renamed), so
`make mail` never reads half a mail. Loopback only: it accepts anything, and needs no password.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".run" / "mail"


class Keeper:
    """aiosmtpd handler: keep every mail under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(len(list(directory.glob("*.eml"))) + 1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._seq):05d}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(envelope.original_content)
        os.replace(partial, self.directory / name)
        print(f"mail kept: {name} to {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 OK: kept"


def listing(directory: Path) -> list[str]:
    lines = []
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        lines.append(f"{path.name}  {message['Date']}  to {message['To']}  {message['Subject']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.mail_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("serve", "list"))
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    if args.command == "list":
        found = listing(args.dir) if args.dir.exists() else []
        print("\n".join(found) if found else f"no mail in {args.dir}")
        return 0
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - a dev dependency, only to serve

    controller = Controller(Keeper(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"SMTP on 127.0.0.1:{args.port}, keeping mail in {args.dir}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
