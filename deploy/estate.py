"""The one interface both drivers implement: what the deploy steps need from an estate.

An estate is a load balancer in front of two VMs (colours), each VM nginx in front of two
app instances. The live colour is always read from the load balancer itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from deploy.model import AuditEntry, LockHolder, Probe

Say = Callable[[str], None]


class LockStore(Protocol):
    def acquire(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock atomically, or raise LockHeld naming the current holder. A holder whose
        lease has run out does not hold it any more: it is replaced, and returned."""

    def renew(self, holder: LockHolder) -> bool:
        """Store `holder`'s new expiry if its token still holds the lock; False when it was lost."""

    def current(self) -> LockHolder | None: ...

    def release(self, holder: LockHolder) -> None:
        """Release it if `holder` (its token) still holds it; never someone else's."""

    def break_lock(self) -> LockHolder | None:
        """Remove whoever holds it (an operator's explicit decision); returns who that was."""


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None: ...

    def last(self, count: int) -> list[AuditEntry]: ...


class Estate(Protocol):
    @property
    def environment(self) -> str: ...

    @property
    def colors(self) -> tuple[str, str]: ...

    @property
    def instances(self) -> int: ...

    @property
    def lock(self) -> LockStore: ...

    @property
    def audit(self) -> AuditLog: ...

    def live_color(self) -> str:
        """The colour the load balancer forwards to, asked of the load balancer."""

    def switch_to(self, color: str) -> None:
        """Point the load balancer at `color`; returns once no old routing can answer any more."""

    def prepare(self, version: str, source: Path) -> str:
        """The artefact of `version` (local: a release directory; AWS: an image URI in ECR)."""

    def migrate(self, color: str, artefact: str) -> list[str]:
        """Apply the artefact's pending migrations from `color`; StepFailed when one is destructive."""

    def ship(self, color: str, artefact: str, version: str, say: Say) -> None:
        """Run `artefact` on `color`'s instances, restarting them one at a time."""

    def vm_probe(self, color: str, path: str) -> Probe:
        """GET `path` through `color`'s nginx."""

    def instance_probe(self, color: str, index: int, path: str) -> Probe:
        """GET `path` from one instance (1-based) of `color`, bypassing nginx."""

    def lb_probe(self, path: str) -> Probe:
        """GET `path` through the load balancer, as a client would."""

    def instance_log(self, color: str, index: int, lines: int = 15) -> str:
        """The last lines of one instance's log."""
