"""A TLS front for a PostgreSQL built without TLS (the embedded one): the server's side of PostgreSQL's
SSLRequest, then every byte relayed to the real server. It lets a test drive the client's TLS path
(SSLRequest, handshake, certificate checks, every read through the TLS socket) against a real PostgreSQL.

Protocol: the client sends SSLRequest (length 8, code 80877103); the server answers b"S" and the TLS
handshake follows on the same socket (PostgreSQL's protocol, "SSL Session Encryption").
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
from pathlib import Path

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class TlsFront:
    def __init__(self, upstream: tuple[str, int], cert: Path, key: Path) -> None:
        self.upstream = upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handshakes = 0  # TLS sessions set up with a client
        self.cut_after: int | None = None  # bytes from the server after which each connection is cut
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            if client.recv(8, socket.MSG_WAITALL) != SSL_REQUEST:
                return  # a client that does not ask for TLS gets nothing here
            client.sendall(b"S")
            tls = self.context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()
            return
        self.handshakes += 1
        with tls, socket.create_connection(self.upstream) as server:
            self._relay(tls, server)

    def _relay(self, tls: ssl.SSLSocket, server: socket.socket) -> None:
        """Both directions in one thread (an SSL socket is not read and written from two threads at once)."""
        sent = 0
        while True:
            ready, _, _ = select.select([tls, server], [], [], 30)
            if not ready:
                return
            if tls in ready:
                while True:  # what the TLS layer has decrypted already is not seen by select
                    data = tls.recv(65536)
                    if not data:
                        return
                    server.sendall(data)
                    if not tls.pending():
                        break
            if server in ready:
                data = server.recv(65536)
                if not data:
                    return
                if self.cut_after is not None and sent + len(data) > self.cut_after:
                    tls.sendall(data[:max(0, self.cut_after - sent)])
                    return  # mid-answer: the client sees the stream end
                sent += len(data)
                tls.sendall(data)

    def close(self) -> None:
        self._stopping = True
        self.listener.close()
