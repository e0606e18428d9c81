"""The scheduled jobs: every function whose function.json declares a `schedule` (read by lending_http.routes).

A schedule is EventBridge's `rate(N minute|minutes|hour|hours|day|days)`: the Lambda template uses it
as it is, `make run`'s scheduler and `python -m ops.jobs` (the VMs' timer) read it as a period.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from lending_http.routes import Function, functions

_RATE = re.compile(r"rate\((\d+) (minute|hour|day)(s?)\)")


def period(schedule: str) -> timedelta:
    """`rate(5 minutes)` -> 5 minutes. Only rates: a cron() schedule would need a calendar on every host."""
    found = _RATE.fullmatch(schedule.strip())
    if found is None:
        raise ValueError(f"schedule {schedule!r}: only rate(N minute[s]|hour[s]|day[s]) is supported")
    value, unit, plural = int(found.group(1)), found.group(2), found.group(3)
    if value < 1 or (value == 1) == bool(plural):  # EventBridge: rate(1 hour), rate(2 hours)
        raise ValueError(f"schedule {schedule!r}: use rate(1 {unit}) or rate(N {unit}s) with N > 1")
    return timedelta(**{f"{unit}s": value})


def scheduled(functions_dir: Path) -> dict[str, timedelta]:
    """Each job's name and period, from the functions that declare a schedule."""
    return {f.name: period(f.schedule) for f in functions(functions_dir) if f.schedule}


def scheduled_functions(functions_dir: Path) -> tuple[Function, ...]:
    return tuple(f for f in functions(functions_dir) if f.schedule)
