"""The local estate's deploy lock and audit log: files in the estate directory.

The lock record is one file, replaced atomically (rename); every read-decide-write on it (take,
renew, release) happens under flock(2) on a guard file beside it, so two deploys on this machine
can never both hold it, and a lease that ran out is taken over by exactly one of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deploy.model import AuditEntry, Clock, LockHeld, LockHolder, utc_now


class FileLock:
    def __init__(self, path: Path, clock: Clock = utc_now) -> None:
        self.path = path
        self.clock = clock

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".guard"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the fd closes, also when the process dies
            yield
        finally:
            os.close(fd)

    def _write(self, holder: LockHolder) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".lock-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(holder.to_json())
            os.replace(tmp, self.path)  # the record is complete before it appears
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock, or raise LockHeld; returns the holder whose lease ran out when taken over."""
        with self._guarded():
            current = self.current()
            if current is not None and not current.expired(self.clock()):
                raise LockHeld(current)
            self._write(holder)
            return current

    def renew(self, holder: LockHolder) -> bool:
        """Store `holder` (its new expiry) if its token still holds the lock; False when it was lost."""
        with self._guarded():
            current = self.current()
            if current is None or current.token != holder.token:
                return False
            self._write(holder)
            return True

    def current(self) -> LockHolder | None:
        try:
            return LockHolder.from_json(self.path.read_text())
        except FileNotFoundError:
            return None

    def release(self, holder: LockHolder) -> None:
        with self._guarded():
            current = self.current()
            if current is not None and current.token == holder.token:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()

    def break_lock(self) -> LockHolder | None:
        with self._guarded():
            current = self.current()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return current


class FileAudit:
    """One JSON line per entry, appended with O_APPEND (whole lines, never interleaved)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: AuditEntry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (entry.to_json() + "\n").encode())
        finally:
            os.close(fd)

    def last(self, count: int) -> list[AuditEntry]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [AuditEntry.from_json(line) for line in lines[-count:] if line.strip()]
