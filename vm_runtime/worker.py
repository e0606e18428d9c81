"""A gthread worker that stops without dropping a connection it has already been given.

Stock gthread, on SIGTERM, stops accepting but keeps its listening socket open until
in-flight requests finish; connections that arrive meanwhile wait in the kernel's
accept queue and are reset when the socket finally closes, after nginx may already
have written a POST to them (which nginx, rightly, will not retry). Here, when the
whole server is stopping, the worker closes the door first:

1. a socket filter drops new SYNs on the listener (a handshake under way completes);
2. every connection already queued is accepted and served;
3. the listener is closed, so a client's retried SYN is refused and nginx sends it to
   the other instance, request unsent;
4. in-flight requests finish (graceful_timeout), then the worker exits.

It also sends each response's head and first body bytes in one write (`OneWriteResponse`):
stock gunicorn writes the head, then the body. An instance killed between the two leaves
nginx holding a head it has already passed to the client and no body, a truncated answer
that nginx can no longer retry elsewhere; one write is delivered whole or not at all.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import time
from typing import Any

from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.http import wsgi  # type: ignore[import-untyped]
from gunicorn.workers.gthread import ThreadWorker  # type: ignore[import-untyped]

SO_ATTACH_FILTER = 26
# Classic BPF over the TCP header: drop a segment whose flags have SYN without ACK, keep the rest.
_DROP_NEW_CONNECTIONS = [
    (0x30, 0, 0, 13),          # ldb [13]          TCP flags
    (0x54, 0, 0, 0x12),        # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),        # jeq #SYN, drop, keep
    (0x06, 0, 0, 0),           # ret #0            drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1           keep
]
HANDSHAKE_GRACE_SECONDS = 0.05


def refuse_new_connections(listener: socket.socket) -> None:
    """Attach the SYN-dropping filter to a listening TCP socket (Linux)."""
    program = b"".join(struct.pack("HBBI", *insn) for insn in _DROP_NEW_CONNECTIONS)
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(_DROP_NEW_CONNECTIONS), ctypes.addressof(buffer))
    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def parent_holds(listener: socket.socket) -> bool:
    """Whether the arbiter still has this listener open (a worker restart, not a server stop)."""
    inode = os.fstat(listener.fileno()).st_ino
    fd_dir = f"/proc/{os.getppid()}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{fd_dir}/{name}") == f"socket:[{inode}]":
                return True
        except OSError:
            continue
    return False


class OneWriteResponse(wsgi.Response):  # type: ignore[misc]
    """A gunicorn Response whose head goes out with the first body bytes (or at close)."""

    _held = b""
    headers_sent: bool

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        head = self.default_headers() + ["%s: %s\r\n" % (k, v) for k, v in self.headers]  # noqa: UP031
        self._held = util.to_bytestring("%s\r\n" % "".join(head), "latin-1")  # noqa: UP031
        self.headers_sent = True

    def _emit_body(self, data: bytes) -> None:
        if self.chunked:
            data = b"%X\r\n%s\r\n" % (len(data), data)
        self.sock.sendall(self._held + data)
        self._held = b""

    def can_sendfile(self) -> bool:
        return False  # sendfile would bypass _emit_body (and the held head)

    def close(self) -> None:
        if not self.headers_sent:
            self.send_headers()
        tail = b"0\r\n\r\n" if self.chunked else b""
        if self._held or tail:
            self.sock.sendall(self._held + tail)
            self._held = b""


class DrainingThreadWorker(ThreadWorker):  # type: ignore[misc]
    def init_process(self) -> None:
        # gthread's handle_request builds responses with wsgi.create(), which uses this module name.
        wsgi.Response = OneWriteResponse
        super().init_process()

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            self._close_the_door()

    def _close_the_door(self) -> None:
        listeners = [s for s in self.sockets if s.family in (socket.AF_INET, socket.AF_INET6)]
        if not listeners or any(parent_holds(s) for s in listeners):
            return  # the arbiter keeps serving on this socket (a worker restart): leave it open
        for listener in listeners:
            try:
                refuse_new_connections(listener)
            except OSError as exc:
                self.log.warning("could not stop new connections before draining: %s", exc)
        deadline = time.monotonic() + HANDSHAKE_GRACE_SECONDS
        while True:
            accepted = sum(self._accept_queued(listener) for listener in listeners)
            if not accepted and time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        for listener in listeners:
            listener.close()
        self.log.info("stopping: listener closed, draining %d connection(s)", self.nr_conns)

    def _accept_queued(self, listener: Any) -> int:
        """Accept (and hand to the thread pool) every connection waiting in the accept queue."""
        listener.setblocking(False)
        count = 0
        while True:
            before = self.nr_conns
            self.accept(listener)  # swallows EAGAIN: the queue is empty when nothing was counted
            if self.nr_conns == before:
                return count
            count += 1
