"""The drain's kernel steps on a real socket: new connections are held off, queued ones still arrive."""

from __future__ import annotations

import socket
import threading

import pytest

from vm_runtime.door import close_the_door, queued, refuse_new_connections


def test_after_the_filter_no_new_connection_is_made_but_a_queued_one_is_still_accepted_and_served() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        waiting = socket.create_connection(("127.0.0.1", port), timeout=2)  # in the accept queue already
        refuse_new_connections(listener)
        with socket.socket() as late, pytest.raises(TimeoutError):
            late.settimeout(0.3)
            late.connect(("127.0.0.1", port))  # its SYN is dropped: the client waits, nothing is reset
        accepted, _ = listener.accept()
        waiting.sendall(b"borrow")
        assert accepted.recv(6) == b"borrow"
        accepted.close()
        waiting.close()
    with socket.socket() as after:
        assert after.connect_ex(("127.0.0.1", port)) != 0  # closed: a retried SYN is refused at once


def test_the_queue_is_counted_by_the_kernel() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(3)]
        assert queued(listener) == 3
        listener.accept()[0].close()
        assert queued(listener) == 2
        for client in clients:
            client.close()


def test_closing_the_door_waits_until_every_queued_connection_is_accepted() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(4)]
        accepted: list[socket.socket] = []
        go = threading.Event()

        def worker() -> None:  # the server's worker, still accepting while the door closes
            go.wait(2)
            while len(accepted) < 4:
                accepted.append(listener.accept()[0])

        thread = threading.Thread(target=worker)
        thread.start()
        go.set()
        assert close_the_door(listener, patience_seconds=5) == 0
        thread.join(2)
        assert len(accepted) == 4 and queued(listener) == 0
        for sock in accepted + clients:
            sock.close()


def test_closing_the_door_gives_up_after_its_patience_and_says_how_many_are_left() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(2)]
        assert close_the_door(listener, patience_seconds=0.1) == 2  # nobody accepts them
        for client in clients:
            client.close()
