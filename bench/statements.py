"""Statements and round trips per borrow and per return, counted on the wire.

A small proxy between the service and PostgreSQL reads what the client sends (the frontend
protocol): every Execute of the extended protocol is a statement, a simple Query counts the
statements in its text; a round trip is a turn: the client sends (one Sync or simple Query, or
several sent together) and then waits for the server's answer before it sends again.
Driver-independent, so the same count works on any tree (the bench counts this tree and, for
"before", another checkout of the service):
    python -m bench.statements TREE CONFIG.json RESULT.json
CONFIG holds the service settings (env), books, tokens, the number of cycles and whether each call
sends an Idempotency-Key (`keyed`, as the web UI does on every POST).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_UNTYPED = {80877103, 80877104, 196608}  # SSLRequest, GSSENCRequest, protocol 3.0 startup


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statements = self.round_trips = self.parses = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"statements": self.statements, "round_trips": self.round_trips, "parses": self.parses}


def _statements_in(sql: bytes) -> int:
    text = sql.rstrip(b"\0").decode(errors="replace")
    parts, quoted = [""], False
    for ch in text:  # split on ; outside quotes
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("")
        else:
            parts[-1] += ch
    return sum(1 for p in parts if p.strip())


def _count_client(data: bytearray, state: dict[str, Any], counts: Counts) -> None:
    while True:
        if not state["started"]:
            if len(data) < 8:
                return
            length, code = struct.unpack("!II", data[:8])
            if len(data) < length:
                return
            del data[:length]
            if code == 196608 or code not in _UNTYPED:
                state["started"] = True
            continue
        if len(data) < 5:
            return
        kind, length = data[0:1], struct.unpack("!I", data[1:5])[0]
        if len(data) < 1 + length:
            return
        body = bytes(data[5:1 + length])
        del data[:1 + length]
        with counts.lock:
            if kind in (b"Q", b"S") and state["answered"]:  # the first of a turn
                counts.round_trips += 1
                state["answered"] = False
            if kind == b"Q":
                counts.statements += _statements_in(body)
            elif kind == b"E":
                counts.statements += 1
            elif kind == b"P":
                counts.parses += 1


def proxy(target: tuple[str, int], counts: Counts) -> int:
    """Listen on a loopback port, forward every connection to `target`, count what clients send."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def pipe(src: socket.socket, dst: socket.socket, count: bool, state: dict[str, Any]) -> None:
        data = bytearray()
        try:
            while chunk := src.recv(65536):
                if count:  # counted before it is forwarded, so the answer cannot come first
                    data += chunk
                    _count_client(data, state, counts)
                else:
                    state["answered"] = True
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            client, _ = listener.accept()
            server = socket.create_connection(target)
            state = {"started": False, "answered": True}
            threading.Thread(target=pipe, args=(client, server, True, state), daemon=True).start()
            threading.Thread(target=pipe, args=(server, client, False, state), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


def use_tree(tree: Path) -> None:
    """The tree under test first: its layers, then its root (its functions/ and lending_* packages)."""
    sys.path[:0] = [str(p) for p in sorted((tree / "layers").glob("*/python"))] + [str(tree)]
    for name in [m for m in sys.modules if m.startswith(("lending", "functions"))]:
        del sys.modules[name]


def main() -> None:
    tree, config = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    use_tree(tree)
    env = dict(config["env"])
    url = urlsplit(env["DATABASE_URL"])
    counts = Counts()
    port = proxy((url.hostname or "127.0.0.1", url.port or 5432), counts)
    env["DATABASE_URL"] = urlunsplit(url._replace(netloc=f"{url.username or 'postgres'}@127.0.0.1:{port}"))
    env["DB_POOL_SIZE"] = "4"  # calls one at a time: the pool (LIFO) hands out the one warmed-up connection
    os.environ.update(env)
    from lending_http.messages import Request
    from lending_http.service import Service

    service = Service.of(tree / "functions", only=["borrow", "return"]).load()

    keyed = bool(config.get("keyed"))

    def call(action: str, book: str, token: str) -> int:
        body = json.dumps({"payment_method": "pm_card_visa"}).encode() if action == "borrow" else b""
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        if keyed:
            headers["idempotency-key"] = os.urandom(12).hex()
        request = Request.build(method="POST", path=f"/books/{book}/{action}", path_params={"book_id": book},
                                headers=headers, body=body)
        return service.serve(action, request).status

    books, token, n = config["books"], config["tokens"][0], int(config["cycles"])
    for _ in range(2):  # warm-up: connection, prepared statements, keys, caches
        assert call("borrow", books[0], token) == 201 and call("return", books[0], token) == 200
    result: dict[str, Any] = {"tree": str(tree), "cycles": n}
    for action, expected in (("borrow", 201), ("return", 200)):
        before = counts.snapshot()
        for book in books[1:n + 1]:
            status = call(action, book, token)
            assert status == expected, f"{action} answered {status}"
        after = counts.snapshot()
        result[action] = {k: (after[k] - before[k]) / n for k in after}
    Path(sys.argv[3]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
