"""Rollback and status: switch the load balancer back to the other VM, and show the estate.

`make rollback-vm` and `make deploy-status`; the lock, the gates and the exit statuses are those of
the deploy (deploy/steps.py).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from deploy.estate import Estate
from deploy.gates import brief, find_idle, verify_through_lb, vm_version
from deploy.lease import Lease, break_lock, take_lock
from deploy.model import AuditEntry, LockHeld, LockHolder, StepFailed, lease_end, now
from deploy.steps import FAILED, OK, REFUSED, Options, Progress


def rollback(estate: Estate, opts: Options, progress: Progress | None = None, force: bool = False) -> int:
    """Switch the load balancer to the other VM at once (it must answer /ready unless `force`)."""
    p = progress or Progress()
    holder = LockHolder(opts.who, "-", opts.message or "switch to the other VM", action="rollback",
                        expires=lease_end(opts.lock_lease))
    try:
        if opts.break_lock:
            break_lock(estate, opts.who, p.say)
        take_lock(estate, holder, opts.lock_wait, p.say)
    except LockHeld as held:
        p.line(f"ROLLBACK REFUSED: {held}; BREAK_LOCK=1 to break it")
        return REFUSED
    lease = Lease(estate.lock, holder, opts.lock_lease).start()
    try:
        live, other = find_idle(estate)
        ready, version = estate.vm_probe(other, "/ready"), vm_version(estate, other)
        if ready.status != 200 and not force:
            p.line(f"ROLLBACK REFUSED: {other} is not ready (/ready {brief(ready)}); FORCE=1 switches anyway")
            return FAILED
        started = time.monotonic()
        estate.switch_to(other)
        p.line(f"switched {live} -> {other} in {time.monotonic() - started:.2f}s")
        try:
            verify_through_lb(estate, version, opts.verify_timeout, p.say)
        except StepFailed as failure:
            estate.audit.append(AuditEntry(now(), opts.who, "rollback", version, live, other,
                                           f"switched to {other}, verification failed: {failure.reason}"))
            p.line(f"ROLLBACK VERIFY FAILED: live {other}, but {failure.reason}; `make rollback-vm` again returns to {live}")
            return FAILED
        estate.audit.append(AuditEntry(now(), opts.who, "rollback", version, live, other, f"rolled back to {other}"))
        p.line(f"ROLLED BACK: live {other} ({version}); {live} idle")
        return OK
    finally:
        estate.lock.release(lease.stop())


def status(estate: Estate, out: TextIO = sys.stdout, entries: int = 5) -> int:
    live, idle = find_idle(estate)
    print(f"environment {estate.environment}", file=out)
    for role, color in (("live", live), ("idle", idle)):
        ready = estate.vm_probe(color, "/ready")
        instances = ", ".join(
            f"#{i} {estate.instance_probe(color, i, '/version').json().get('version', '-')}"
            f" /ready {estate.instance_probe(color, i, '/ready').status or '-'}" for i in range(1, estate.instances + 1))
        print(f"  {role:<5} {color:<6} version {vm_version(estate, color):<14} /ready {ready.status or '-'}   "
              f"instances: {instances}", file=out)
    holder = estate.lock.current()
    print(f"  lock  {'free' if holder is None else 'held by ' + holder.describe()}", file=out)
    print("  last audit entries:", file=out)
    for entry in estate.audit.last(entries) or []:
        print(f"    {entry.line()}", file=out)
    return 0
