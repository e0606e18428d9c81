"""Connections: URL parsing, a thread-safe pool, and translation of driver errors.

Every connection carries server-side `statement_timeout` and `lock_timeout` (startup
parameters, so no extra round trip): a query the client gives up on is also stopped on
the server, and a lock wait cannot hold a request for longer than the bound.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import socket
import ssl
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from lending.correlation import current_request_id, time_left
from lending.errors import DatabaseUnavailable
from lending_postgres.prepared import PreparingConnection

T = TypeVar("T")

# SQLSTATE classes that mean "the server is not there or went away", not a bad query.
_UNAVAILABLE_CLASSES = ("08", "57", "53")
# Cut by our own bounds: the statement is gone on the server, the connection is still good.
_QUERY_CANCELED, _LOCK_NOT_AVAILABLE = "57014", "55P03"
_TIMED_OUT = (_QUERY_CANCELED, _LOCK_NOT_AVAILABLE)
# The socket waits this much longer than the server's own bound, so the server's error
# (which leaves the connection usable) arrives before the client's timeout (which does not).
_SOCKET_MARGIN_SECONDS = 1.0


class DatabaseTimedOut(DatabaseUnavailable):
    """The server stopped a statement at statement_timeout or lock_timeout (SQLSTATE 57014/55P03)."""


def connect_params(url: str, *, timeout: float = 5.0, application_name: str = "lending",
                   statement_timeout_ms: int = 5000, lock_timeout_ms: int = 2000) -> dict[str, Any]:
    """Turn a postgresql:// URL (libpq style, incl. ?host=/socket/dir and sslmode) into pg8000 kwargs.

    `statement_timeout_ms` / `lock_timeout_ms` (0 = no bound) are sent as startup parameters.
    The socket timeout is at least the statement bound plus a margin.
    """
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    params: dict[str, Any] = {
        "user": unquote(parsed.username or "postgres"),
        "database": unquote(parsed.path.lstrip("/")) or "postgres",
        "timeout": socket_timeout(timeout, statement_timeout_ms),
        "application_name": application_name,
        "startup_params": {"statement_timeout": str(int(statement_timeout_ms)),
                           "lock_timeout": str(int(lock_timeout_ms))},
    }
    if parsed.password:
        params["password"] = unquote(parsed.password)
    host = query.get("host") or parsed.hostname or "127.0.0.1"
    port = int(query.get("port") or parsed.port or 5432)
    if host.startswith("/"):
        params["unix_sock"] = f"{host}/.s.PGSQL.{port}"
    else:
        params["host"], params["port"] = host, port
    local = host.startswith("/") or host in ("127.0.0.1", "localhost", "::1")
    sslmode = query.get("sslmode", "disable" if local else "require")
    if sslmode == "disable":
        # Not even an SSLRequest: pg8000's default would build a default SSL context (loading
        # the CA bundle, ~10 ms of CPU) for every new connection just to be told "no".
        params["ssl_context"] = False
    if sslmode in ("require", "verify-ca", "verify-full"):
        context = ssl.create_default_context(cafile=query.get("sslrootcert"))
        if sslmode == "require":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif sslmode == "verify-ca":
            context.check_hostname = False
        params["ssl_context"] = context
    return params


def socket_timeout(timeout: float, statement_timeout_ms: int) -> float:
    if statement_timeout_ms <= 0:
        return timeout
    return max(timeout, statement_timeout_ms / 1000 + _SOCKET_MARGIN_SECONDS)


def sqlstate(exc: BaseException) -> str:
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return str(exc.args[0].get("C", ""))
    return ""


def is_timed_out(exc: BaseException) -> bool:
    return sqlstate(exc) in _TIMED_OUT


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (InterfaceError, OSError, socket.timeout)):
        return True
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        code = str(exc.args[0].get("C", ""))
        return code[:2] in _UNAVAILABLE_CLASSES
    return False


class ConnectionPool:
    """At most `size` open connections, handed out one per thread at a time.

    A connection that fails with a connection-level error is thrown away, so the
    pool heals by itself when the database comes back.

    The slots are a `queue.SimpleQueue` of tokens and the idle connections a deque (the last
    returned is the next given): both are C, so a thread waiting for a slot blocks without the
    Python-level Condition that BoundedSemaphore and LifoQueue wait on. With 160 threads sharing 8
    connections that cost ~35-45 us of CPU per checkout (docs/benchmarks.md).
    """

    def __init__(self, url: str, *, size: int = 8, timeout: float = 5.0, application_name: str = "lending",
                 statement_timeout_ms: int = 5000, lock_timeout_ms: int = 2000) -> None:
        self._url = url
        self._params = connect_params(url, timeout=timeout, application_name=application_name,
                                      statement_timeout_ms=statement_timeout_ms, lock_timeout_ms=lock_timeout_ms)
        self._name = application_name
        self._idle: collections.deque[pg8000.native.Connection] = collections.deque()
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(size):
            self._slots.put(None)
        self._timeout = timeout
        self._tags: weakref.WeakKeyDictionary[pg8000.native.Connection, str] = weakref.WeakKeyDictionary()

    @contextmanager
    def connection(self) -> Iterator[pg8000.native.Connection]:
        with self._checked_out() as (conn, retag):
            if retag:
                conn.send_with_next(retag)
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[pg8000.native.Connection]:
        with self._checked_out() as (conn, retag):
            conn.send_with_next(f"{retag}BEGIN")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # a broken connection is discarded by _checked_out()
                    if conn.in_transaction:
                        conn.run("ROLLBACK")
                raise
            if conn.in_transaction:  # not when the body's last pipeline committed (pipeline(commit=True))
                conn.run("COMMIT")

    def _retag(self, conn: pg8000.native.Connection) -> str:
        """SQL that names the session after the request it serves (pg_stat_activity.application_name).

        Request ids are plain ([A-Za-z0-9_.:-], see lending_http.messages), so they can be quoted
        as they are. Sent ahead of the request's first statement (PreparingConnection.send_with_next),
        so it costs no round trip of its own.
        """
        request_id = current_request_id()
        name = f"{self._name} {request_id}"[:63] if request_id else self._name
        if self._tags.get(conn, self._name) == name:
            return ""
        self._tags[conn] = name
        return f"SET application_name = '{name}'; "

    @contextmanager
    def _checked_out(self) -> Iterator[tuple[pg8000.native.Connection, str]]:
        try:
            self._slots.get(timeout=max(0.0, time_left(self._timeout * 2)))  # within the request's budget
        except queue.Empty:
            raise DatabaseUnavailable("All database connections are busy; try again.") from None
        conn = None
        try:
            try:
                conn = self._idle.pop()
            except IndexError:
                conn = self._open()
            try:
                yield conn, self._retag(conn)
            except BaseException as exc:
                self._tags.pop(conn, None)
                timed_out = is_timed_out(exc)
                if (is_unavailable(exc) and not timed_out) or not _idle_in_transaction_safe(conn):
                    _close_quietly(conn)
                else:
                    self._idle.append(conn)  # e.g. a lost race or a cut statement: the connection itself is fine
                if timed_out:
                    raise DatabaseTimedOut("The database did not answer in time; try again.") from exc
                if is_unavailable(exc):
                    raise DatabaseUnavailable("The database is not reachable.") from exc
                raise
            try:
                conn.settle()  # a statement sent ahead with nothing after it (none here ran)
            except Exception:  # noqa: BLE001 - the request's work is done; only this connection is suspect
                self._tags.pop(conn, None)
                _close_quietly(conn)
            else:
                self._idle.append(conn)
        finally:
            self._slots.put(None)

    def read(self, query: Callable[[pg8000.native.Connection], T]) -> T:
        """Run a read-only `query` on one connection (the same call as ReplicaPool.read)."""
        with self.connection() as conn:
            return query(conn)

    def _open(self) -> pg8000.native.Connection:
        try:
            return PreparingConnection(**self._params)
        except Exception as exc:
            if is_unavailable(exc) or isinstance(exc, DatabaseError):
                raise DatabaseUnavailable("The database is not reachable.") from exc
            raise

    @contextmanager
    def dedicated(self, *, statement_timeout_ms: int, lock_timeout_ms: int,
                  purpose: str = "migrate") -> Iterator[pg8000.native.Connection]:
        """One connection of its own (not from the pool) with other bounds, e.g. for migrations; closed after."""
        params = connect_params(self._url, timeout=self._timeout, application_name=f"{self._name} {purpose}"[:63],
                                statement_timeout_ms=statement_timeout_ms, lock_timeout_ms=lock_timeout_ms)
        try:
            conn = pg8000.native.Connection(**params)
        except Exception as exc:
            if is_unavailable(exc) or isinstance(exc, DatabaseError):
                raise DatabaseUnavailable("The database is not reachable.") from exc
            raise
        try:
            yield conn
        except BaseException as exc:
            if is_timed_out(exc):
                raise DatabaseTimedOut("The database did not answer in time.") from exc
            if is_unavailable(exc):
                raise DatabaseUnavailable("The database is not reachable.") from exc
            raise
        finally:
            _close_quietly(conn)

    def close(self) -> None:
        while True:
            try:
                _close_quietly(self._idle.pop())
            except IndexError:
                return


def _idle_in_transaction_safe(conn: pg8000.native.Connection) -> bool:
    try:
        conn.run("ROLLBACK")
        return True
    except Exception:  # noqa: BLE001
        return False


def _close_quietly(conn: pg8000.native.Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()
