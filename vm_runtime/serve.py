"""An app instance's HTTP server: granian (a Rust HTTP/1 server) serving `vm_runtime.wsgi:application`.

`python -m vm_runtime.serve` is the container's ENTRYPOINT and the local runner's command
(vm_runtime/command.py). granian was chosen over gunicorn by measurement (docs/benchmarks.md): its
server CPU per request is a fraction of gunicorn gthread's Python HTTP loop. Its workers are
processes; each runs the WSGI app in a pool of Python threads (INSTANCE_THREADS), because pg8000 and
the stripe library use blocking sockets: a request waiting ~300 ms on the payment processor parks
its thread while the others serve.

The instance holds the listening socket itself and hands it to granian's worker, so that on SIGTERM
it can close the door before the worker stops (vm_runtime.door): new SYNs dropped, the accept queue
served, the listener closed, in-flight requests finished within GRACEFUL_SECONDS.

Settings (environment): INSTANCE_BIND (host:port, default 0.0.0.0:8000), INSTANCE_THREADS (160).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

from granian._granian import SocketHolder
from granian.constants import HTTPModes, Interfaces
from granian.server import MPServer

from vm_runtime.door import close_the_door

log = logging.getLogger("lending.vm")

APPLICATION = "vm_runtime.wsgi:application"
DEFAULT_BIND = "0.0.0.0:8000"
# Sized for a 2-core VM facing a slow processor (docs/benchmarks.md): a borrow makes three processor
# calls, so with 300 ms each it holds its thread ~0.9 s while using a few ms of CPU. 160 threads per
# instance, two instances: 320 per VM, so 256 requests can be at the processor at once even when
# nginx's round robin gives one instance more than half. The database side stays small: threads share
# the instance's pool (DB_POOL_SIZE, default 8, the connection budget per instance), and no connection
# is held across a processor call.
DEFAULT_THREADS = 160
# Longer than the slowest request (DB 5 s + processor 10 s, x retries), shorter than
# the container's stop timeout (podman stop -t 35) and systemd's TimeoutStopSec (45).
GRACEFUL_SECONDS = 30
BACKLOG = 256


class SettingError(ValueError):
    """An instance setting that cannot be used."""


def bind_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingError(f"INSTANCE_BIND must be host:port, not {value!r}")
    return host.strip("[]"), int(port)


def thread_count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1024:
        raise SettingError(f"INSTANCE_THREADS must be a whole number from 1 to 1024, not {value!r}")
    return int(value)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
    listener.set_inheritable(True)
    return listener


class InstanceServer(MPServer):
    """granian's process server on a listener we own, closing the door before its worker stops."""

    def __init__(self, listener: socket.socket, **options: Any) -> None:
        host, port = listener.getsockname()[:2]
        super().__init__(APPLICATION, address=host, port=port, backlog=BACKLOG, **options)
        self._listener = listener

    def _init_shared_socket(self) -> None:
        # The worker serves on our socket (inherited), not on one granian binds itself.
        # (granian's stub gives SocketHolder no arguments; the extension takes fd, is-unix-socket, backlog)
        self._ssp = None
        self._sfd = self._listener.fileno()  # type: ignore[assignment]
        self._shd = SocketHolder(self._sfd, False, BACKLOG)  # type: ignore[call-arg, assignment]
        self._sso = self._listener

    def _drop_shared_socket(self) -> None:
        # granian's shutdown calls this before it stops the workers: they still accept meanwhile.
        left = close_the_door(self._listener)
        if left:
            log.warning("stopping: %d queued connection(s) were not accepted in time", left)
        self._listener.close()
        self._sso = None
        log.info("stopping: listener closed, draining in-flight requests")


def server(environ: dict[str, str]) -> InstanceServer:
    host, port = bind_address(environ.get("INSTANCE_BIND", DEFAULT_BIND))
    threads = thread_count(environ.get("INSTANCE_THREADS", str(DEFAULT_THREADS)))
    return InstanceServer(
        listen(host, port), interface=Interfaces.WSGI, http=HTTPModes.http1, websockets=False,
        workers=1, blocking_threads=threads, workers_kill_timeout=GRACEFUL_SECONDS,
        respawn_failed_workers=True, log_access=False,  # each request is logged once, by lending_observability
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        instance = server(dict(os.environ))
    except (SettingError, OSError) as exc:
        print(f"the instance cannot start: {exc}", file=sys.stderr)
        return 2
    instance.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
