"""The deploy, step by step, against any Estate (deploy/estate.py).

1 version and artefact   2 lock (a lease, renewed while the deploy runs)   3 idle VM from the load balancer
4 migrations (expand-only)   5 ship to the idle VM, instances one at a time   6 health gate + smoke test through that VM
7 switch the load balancer, verify through it (roll back by itself if that fails)   8 audit, unlock

Before the switch nothing touches the load balancer: a failure there leaves the live VM serving.
Exit status: 0 deployed, 1 failed before the switch, 2 rolled back, 3 refused (lock held).
The gates and probes are in deploy/gates.py; rollback and status in deploy/rollback.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from deploy.estate import Estate
from deploy.gates import find_idle, health_gate, smoke_test, verify_through_lb, vm_version
from deploy.lease import Lease, lease_seconds
from deploy.lease import break_lock as break_lock
from deploy.lease import take_lock as take_lock
from deploy.model import AuditEntry, LockHeld, LockHolder, StepFailed, lease_end, now, who_am_i

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("version and artefact", "deploy lock", "find the idle VM", "database migrations", "ship to the idle VM",
         "health gate", "switch the load balancer", "audit and unlock")
OK, FAILED, ROLLED_BACK, REFUSED = 0, 1, 2, 3


@dataclass
class Options:
    source: Path = ROOT
    version: str | None = None
    message: str = ""
    lock_wait: float = 0.0
    break_lock: bool = False
    gate_timeout: float = 120.0
    verify_timeout: float = 30.0
    who: str = field(default_factory=who_am_i)
    lock_lease: float = field(default_factory=lease_seconds)


class Progress:
    """Timestamped lines on stdout: `[n/8] step: detail` and indented detail lines."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.current = 0

    def step(self, number: int, detail: str = "") -> None:
        self.current = number
        self.line(f"[{number}/{len(STEPS)}] {STEPS[number - 1]}" + (f": {detail}" if detail else ""))

    def say(self, text: str) -> None:
        self.line(f"      {text}")

    def line(self, text: str) -> None:
        print(f"{datetime.now(UTC):%H:%M:%S} {text}", file=self.out, flush=True)


# -- 1 -------------------------------------------------------------------------------------------
def take_version(source: Path, version: str | None = None) -> str:
    """The commit to deploy, as a 12-digit sha (default: the source tree's HEAD)."""
    rev = version or "HEAD"
    result = subprocess.run(["git", "-C", str(source), "rev-parse", "--verify", "--quiet", "--short=12", f"{rev}^{{commit}}"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StepFailed(f"{rev!r} is not a commit in {source}")
    return result.stdout.strip()


def uncommitted_changes(source: Path) -> bool:
    result = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, check=False)
    return bool(result.stdout.strip())


# -- the whole deploy ------------------------------------------------------------------------------
def deploy(estate: Estate, opts: Options, progress: Progress | None = None) -> int:
    p = progress or Progress()
    holder: LockHolder | None = None
    lease: Lease | None = None
    live = idle = old_version = ""
    version = opts.version or "?"
    switched = False

    def record(result: str) -> None:
        estate.audit.append(AuditEntry(now(), opts.who, "deploy", version, live, idle, result))

    try:
        try:
            p.step(1)
            version = take_version(opts.source, opts.version)
            if uncommitted_changes(opts.source):
                p.say("note: uncommitted changes are not deployed; the version is the commit")
            artefact = estate.prepare(version, opts.source)
            p.say(f"version {version}, artefact {artefact}")

            p.step(2, f"environment {estate.environment}")
            if opts.break_lock:
                break_lock(estate, opts.who, p.say)
            candidate = LockHolder(opts.who, version, opts.message or "deploy", expires=lease_end(opts.lock_lease))
            take_lock(estate, candidate, opts.lock_wait, p.say)
            holder = candidate
            lease = Lease(estate.lock, holder, opts.lock_lease).start()
            p.say(f"held by {holder.who} (pid {holder.pid}), lease {opts.lock_lease:.0f}s renewed while the deploy runs")

            p.step(3)
            live, idle = find_idle(estate)
            old_version = vm_version(estate, live)
            p.say(f"load balancer forwards to {live} ({old_version}); deploying to {idle} ({vm_version(estate, idle)})")

            p.step(4, f"from {idle}, expand-only")
            applied = estate.migrate(idle, artefact)
            p.say("applied " + ", ".join(applied) if applied else "schema current, nothing to apply")

            p.step(5, f"{version} to {idle}, one instance at a time")
            estate.ship(idle, artefact, version, p.say)

            p.step(6, f"{idle} within {opts.gate_timeout:.0f}s")
            health_gate(estate, idle, version, opts.gate_timeout, p.say)
            for passed in smoke_test(estate, idle):
                p.say(f"smoke: {passed}")
            if lease is not None and lease.lost.is_set():
                raise StepFailed(f"the deploy lock is no longer ours ({estate.lock.current()}): not switching")
        except LockHeld:
            raise
        except StepFailed as failure:
            return _failed_before_switch(estate, p, failure, live, version, record)
        except Exception as exc:  # noqa: BLE001 - any error before the switch: same report, LB untouched
            return _failed_before_switch(estate, p, StepFailed(f"{exc.__class__.__name__}: {exc}"), live, version, record)

        p.step(7, f"{live} -> {idle}")
        started = time.monotonic()
        try:
            switched = True
            estate.switch_to(idle)
            p.say(f"switched in {time.monotonic() - started:.2f}s")
            verify_through_lb(estate, version, opts.verify_timeout, p.say)
        except Exception as exc:  # noqa: BLE001 - a failed switch or verification: back to the old VM
            why = exc if isinstance(exc, StepFailed) else StepFailed(f"{exc.__class__.__name__}: {exc}")
            return _roll_back(estate, p, why, live, idle, old_version, opts, record)

        p.step(8)
        record("deployed")
        p.line(f"DEPLOYED {version} to {estate.environment}: live {idle}; {live} keeps {old_version} as the failover")
        return OK
    except LockHeld as held:
        p.line(f"DEPLOY REFUSED at step 2/{len(STEPS)} (deploy lock): {held}")
        p.line("      wait for it (LOCK_WAIT=seconds), or break a stale lock with BREAK_LOCK=1")
        return REFUSED
    except BaseException as exc:
        where = "after the switch: the load balancer stays on the health-gated " + idle if switched else \
            "before the switch: the load balancer is untouched"
        p.line(f"DEPLOY INTERRUPTED at step {p.current}/{len(STEPS)} ({exc.__class__.__name__}: {exc}); {where}")
        if holder is not None:
            record(f"interrupted at {STEPS[p.current - 1]}")
        raise
    finally:
        if lease is not None:
            holder = lease.stop()
        if holder is not None:
            estate.lock.release(holder)


def _failed_before_switch(estate: Estate, p: Progress, failure: StepFailed, live: str, version: str,
                          record: Callable[[str], None]) -> int:
    step = STEPS[p.current - 1]
    p.line(f"DEPLOY FAILED at step {p.current}/{len(STEPS)} ({step}): {failure.reason}")
    if failure.logs:
        p.line("      last log lines of that instance:")
        for line in failure.logs.rstrip().splitlines():
            p.line(f"      | {line}")
    try:
        still = estate.live_color()
        p.line(f"      load balancer untouched: still forwarding to {still} ({vm_version(estate, still)})")
    except Exception as exc:  # noqa: BLE001 - reporting only; the failure above is what matters
        p.line(f"      load balancer untouched (its state could not be read: {exc})")
    if p.current > 2:
        record(f"failed at {step}: {failure.reason}")
    return FAILED


def _roll_back(estate: Estate, p: Progress, failure: StepFailed, live: str, idle: str, old_version: str, opts: Options,
               record: Callable[[str], None]) -> int:
    p.line(f"VERIFY FAILED after the switch: {failure.reason}")
    p.line(f"      rolling back to {live} ({old_version})")
    estate.switch_to(live)
    try:
        verify_through_lb(estate, old_version, opts.verify_timeout, p.say)
        outcome = f"rolled back to {live}"
    except StepFailed as again:
        outcome = f"rolled back to {live}, but its verification failed too: {again.reason}"
    record(f"{outcome}: {failure.reason}")
    p.line(f"ROLLED BACK: live {live} ({old_version}); {idle} keeps the failed version for inspection")
    return ROLLED_BACK
