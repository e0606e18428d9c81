"""The local estate's deploy lock and audit log: files in the estate directory.

The lock is taken with link(2), which is atomic and fails when the name exists, so two
deploys on this machine can never both hold it; the record is complete before it appears.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from deploy.model import AuditEntry, LockHeld, LockHolder


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def acquire(self, holder: LockHolder) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".lock-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(holder.to_json())
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                current = self.current()
                raise LockHeld(current or holder) from None
        finally:
            os.unlink(tmp)

    def current(self) -> LockHolder | None:
        try:
            return LockHolder.from_json(self.path.read_text())
        except FileNotFoundError:
            return None

    def release(self, holder: LockHolder) -> None:
        current = self.current()
        if current is not None and current.token == holder.token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def break_lock(self) -> LockHolder | None:
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
