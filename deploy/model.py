"""What the deploy steps exchange: the lock holder, an audit entry, a probe answer, the failures."""

from __future__ import annotations

import json
import os
import pwd
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def lease_end(seconds: float, clock: Clock = utc_now) -> str:
    """The expiry of a lease of `seconds` from now, as the lock record keeps it (ISO 8601, UTC)."""
    return (clock() + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def who_am_i() -> str:
    """DEPLOY_WHO, else CI's actor, else user@host."""
    for name in ("DEPLOY_WHO", "GITHUB_ACTOR"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = os.environ.get("USER") or str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class LockHolder:
    """Who holds an environment's deploy lock (stored as JSON wherever the estate keeps its lock)."""

    who: str
    version: str
    message: str
    action: str = "deploy"
    since: str = field(default_factory=now)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    expires: str = ""  # the lease: after this instant anyone may take the lock; "" = until released

    def expired(self, at: datetime) -> bool:
        """True once the lease has run out (a holder that renews never gets here)."""
        if not self.expires:
            return False
        try:
            return datetime.fromisoformat(self.expires) <= at
        except ValueError:
            return True  # an unreadable expiry is no reason to block every later deploy

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockHolder:
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return cls(who="unknown (unreadable lock record)", version="?", message=text[:200], pid=0, host="?")

    def process_gone(self) -> bool:
        """True when the holder ran on this host and its process no longer exists (a stale lock)."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        stale = " - that process is gone: the lock is stale" if self.process_gone() else ""
        lease = f", lease until {self.expires}" if self.expires else ""
        what = f"{self.action} of {self.version}" if self.action == "deploy" else self.action
        return f"{self.who} since {self.since} ({what}, \"{self.message}\", pid {self.pid} on {self.host}{lease}{stale})"


@dataclass(frozen=True)
class AuditEntry:
    time: str
    who: str
    action: str
    version: str
    from_vm: str
    to_vm: str
    result: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AuditEntry:
        data = json.loads(text)
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})

    def line(self) -> str:
        moved = f"{self.from_vm or '-'} -> {self.to_vm or '-'}"
        return f"{self.time}  {self.action:<10} {self.version:<14} {moved}  {self.result}  ({self.who})"


@dataclass(frozen=True)
class Probe:
    """One HTTP answer as seen from wherever the estate probes (0: no answer at all)."""

    status: int
    body: str

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {"value": value}


class LockHeld(Exception):
    def __init__(self, holder: LockHolder) -> None:
        super().__init__(f"the deploy lock is held by {holder.describe()}")
        self.holder = holder


class StepFailed(Exception):
    """A step could not be done; `logs` are the failing instance's last lines when there is one."""

    def __init__(self, reason: str, logs: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.logs = logs
