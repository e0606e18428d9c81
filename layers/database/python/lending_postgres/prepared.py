"""The pool's connections: pg8000 with statements prepared once, ISO timestamps read fast,
statements without parameters sent ahead of the next one (one round trip for both), a pipeline
of several statements in one round trip, and a prepared statement's messages written and read
without pg8000's extra copies."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pg8000.native
from pg8000 import converters
from pg8000.core import EXECUTE_MSG, READY_FOR_QUERY, SYNC_MSG, Context, _flush, _write, ci_unpack
from pg8000.exceptions import DatabaseError, InterfaceError


def _iso_or(fallback: Callable[[str], Any], as_date: bool = False) -> Callable[[str], Any]:
    """pg8000 reads timestamps with `datetime.strptime` (~17 us each, a few percent of a request's CPU
    here); PostgreSQL's ISO output is what `fromisoformat` reads (~0.2 us). Anything else
    (infinity, years past 9999, another DateStyle) goes to pg8000's own converter as before."""
    def read(data: str) -> Any:
        try:
            value = datetime.fromisoformat(data)
        except ValueError:
            return fallback(data)
        return value.date() if as_date else value
    return read


_H, _I = struct.Struct("!H").pack, struct.Struct("!i").pack  # as pg8000 packs a message's fields
_IDLE = b"I"  # ReadyForQuery's transaction status outside a transaction


def _rest(read: Callable[[int], bytes], got: bytes, size: int) -> bytes:
    """The rest of a message a read cut short (pg8000's `_read` loop); an empty read is a closed socket."""
    while len(got) < size:
        more = read(size - len(got))
        if not more:
            raise InterfaceError("network error")
        got += more
    return got


# PostgreSQL type oids: timestamp, timestamptz, date.
_FAST_INPUT = {1114: _iso_or(converters.timestamp_in), 1184: _iso_or(converters.timestamptz_in),
               1082: _iso_or(converters.date_in, as_date=True)}


class PreparingConnection(pg8000.native.Connection):  # type: ignore[misc]
    """A pg8000 connection that prepares each parametrised statement once.

    pg8000's `run()` re-parses the SQL for :names and makes three round trips (parse,
    describe, bind+execute) on every call; a statement prepared on first use is one
    round trip (bind+execute) afterwards, as PostgreSQL's extended protocol intends.
    Same SQL text, same parameter inference by the server, so the results are the same.
    """

    MAX_STATEMENTS = 256
    _STALE_PLAN = "0A000"  # "cached plan must not change result type" after DDL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepared: dict[str, Any] = {}
        self._queued = 0  # statements sent ahead (send_with_next) whose answers are not read yet
        for oid, read in _FAST_INPUT.items():
            self.register_in_adapter(oid, read)

    def send_with_next(self, sql: str) -> None:
        """Send a statement without parameters (BEGIN, SET) ahead of the next one, in the same write:
        one round trip for both, as the protocol allows. Its answer is read first; its error, if any,
        is raised after the next statement's answer has been read, so the connection stays in step."""
        self.send_QUERY(sql)
        self._queued += 1

    def settle(self) -> None:
        """Send and read whatever `send_with_next` left queued (before the connection is reused)."""
        if self._queued:
            _flush(self._sock)
            failed = self._read_queued()
            if failed is not None:
                raise failed

    def handle_messages(self, context: Any) -> None:
        failed = self._read_queued()
        self._messages(context)
        if failed is not None:
            raise failed

    def _messages(self, context: Any) -> None:
        """pg8000's loop over one answer (every message up to ReadyForQuery), each message's head and
        body read straight from the buffered socket: pg8000's `_read` copies every read twice, and a
        cycle reads ~100 messages. As in pg8000, a socket error or an end of stream is InterfaceError."""
        read, handlers, code = self._sock.read, self.message_types, None
        while code != READY_FOR_QUERY:
            try:
                head = read(5)
                if len(head) != 5:
                    head = _rest(read, head, 5)
                code, size = ci_unpack(head)
                body = read(size - 4)
                if len(body) != size - 4:
                    body = _rest(read, body, size - 4)
            except OSError as exc:
                raise InterfaceError("network error") from exc
            handlers[code](body, context)
        if context.error is not None:
            raise context.error

    def _read_queued(self) -> DatabaseError | None:
        failed: DatabaseError | None = None
        while self._queued:
            self._queued -= 1
            try:
                self._messages(Context(None))
            except DatabaseError as exc:
                failed = failed or exc
        return failed

    def run(self, sql: str, stream: Any = None, types: Any = None, **params: Any) -> Any:
        if not params or stream is not None or types is not None:
            return super().run(sql, stream=stream, types=types, **params)
        statement = self._prepared_for(sql)
        if statement is None:
            return super().run(sql, **params)
        (context,) = self._execute([statement], [params])
        self._context = context
        return context.rows

    def pipeline(self, *statements: tuple[str, dict[str, Any]], commit: bool = False) -> list[list[Any]]:
        """Each (sql, params) bound and executed, each with its own Sync, all written at once and their
        answers read in order: one round trip (the extended protocol's pipelining). The server still runs
        them one after the other, each with its own snapshot, so a lock the first takes is held when the
        next reads. In a transaction, after an error the rest fail too ("transaction is aborted"): every
        answer is read, then the first error is raised. Returns each statement's rows. Each statement is
        prepared on its first use, as by run().

        With `commit`, a COMMIT follows them in the same write: the transaction ends in this round trip,
        committed if every statement succeeded; after an error the server answers that COMMIT with a
        ROLLBACK. Only for statements whose own failure is the one reason not to commit (the database
        refuses what must not be committed: constraints, triggers, `refuse()`)."""
        prepared = [self._prepared_for(sql, always=True) for sql, _ in statements]
        contexts = self._execute(prepared, [params for _, params in statements], commit=commit)
        return [context.rows for context in contexts]

    @property
    def in_transaction(self) -> bool:
        """A transaction is open, or a statement sent ahead (the pool's BEGIN) will open one."""
        return bool(self._queued) or self._transaction_status != _IDLE

    def _execute(self, prepared: list[Any], values: list[dict[str, Any]], commit: bool = False) -> list[Any]:
        """The prepared statements bound to their values, sent with one flush and their answers read in order
        (run() sends one, a pipeline several), with a COMMIT after them in the same write if `commit`; every
        answer is read before the first error is raised, and a plan the server calls stale is forgotten.
        Returns each prepared statement's pg8000 Context."""
        for statement, params in zip(prepared, values, strict=True):
            self._send_bound(statement, params)
        if commit:
            self.send_QUERY("COMMIT")
        _flush(self._sock)
        contexts: list[Any] = []
        failed: DatabaseError | None = None
        for statement in prepared:
            context = Context(columns=statement.cols, input_funcs=statement.input_funcs, statement=statement.statement)
            try:
                self.handle_messages(context)
            except DatabaseError as exc:
                failed = failed or exc
            contexts.append(context)
        if commit:
            try:
                self._messages(Context("COMMIT"))
            except DatabaseError as exc:
                failed = failed or exc
            except InterfaceError:  # pg8000's name for any answer but ROLLBACK's in an aborted transaction:
                if failed is None:  # the server's ROLLBACK to this COMMIT, after the error read above
                    raise
        if failed is not None:
            self._forget_stale_plans(failed)
            raise failed
        return contexts

    def _send_bound(self, statement: Any, params: dict[str, Any]) -> None:
        """Bind (text parameters and results, as pg8000 binds), Execute and Sync for a prepared statement,
        in one write. pg8000 writes five pieces, with a Flush after Bind and after Execute; the Sync that
        follows already makes the server answer (PostgreSQL's extended query protocol)."""
        values = converters.make_params(self.py_types, statement.make_vals(params))
        encoding = self._client_encoding
        bind = bytearray(b"\x00" + statement.name_bin + _H(0) + _H(len(values)))
        for value in values:
            if value is None:
                bind += _I(-1)
            else:
                encoded = value.encode(encoding)
                bind += _I(len(encoded))
                bind += encoded
        bind += _H(0)
        if self._sock is None:
            raise InterfaceError("connection is closed")
        try:
            _write(self._sock, b"B" + _I(len(bind) + 4) + bind + EXECUTE_MSG + SYNC_MSG)
        except ValueError as exc:  # pg8000's words for a write to a closed socket
            raise InterfaceError("connection is closed") from exc

    def _prepared_for(self, sql: str, *, always: bool = False) -> Any:
        """The statement prepared for `sql` (prepared now on its first use), or None once MAX_STATEMENTS
        are prepared (run() then sends it unprepared: SQL built per call cannot fill the server's memory).
        A pipeline's statements are prepared `always`: their texts are fixed in the code, so few."""
        statement = self._prepared.get(sql)
        if statement is None and (always or len(self._prepared) < self.MAX_STATEMENTS):
            statement = self._prepared[sql] = self.prepare(sql)
        return statement

    def _forget_stale_plans(self, exc: DatabaseError) -> None:
        if exc.args and isinstance(exc.args[0], dict) and exc.args[0].get("C") == self._STALE_PLAN:
            self._prepared.clear()  # re-prepared by the next transaction
