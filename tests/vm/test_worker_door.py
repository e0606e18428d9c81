"""The drain's kernel step on a real socket: new connections are held off, queued ones still arrive."""

from __future__ import annotations

import socket

import pytest

from vm_runtime.worker import parent_holds, refuse_new_connections


def test_after_the_filter_no_new_connection_is_made_but_a_queued_one_is_still_accepted_and_served() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        queued = socket.create_connection(("127.0.0.1", port), timeout=2)  # in the accept queue already
        refuse_new_connections(listener)
        with socket.socket() as late, pytest.raises(TimeoutError):
            late.settimeout(0.3)
            late.connect(("127.0.0.1", port))  # its SYN is dropped: the client waits, nothing is reset
        accepted, _ = listener.accept()
        queued.sendall(b"borrow")
        assert accepted.recv(6) == b"borrow"
        accepted.close()
        queued.close()
        assert not parent_holds(listener)  # our parent (not a gunicorn arbiter) does not share it
    with socket.socket() as after:
        assert after.connect_ex(("127.0.0.1", port)) != 0  # closed: a retried SYN is refused at once
