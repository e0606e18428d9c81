"""`make run`'s scheduler: every job on its schedule, in the background of make run's process.

The jobs are the functions whose function.json declares a schedule (lending_http.jobs); each gets an
APScheduler interval trigger of its period (`rate(5 minutes)` -> every 5 minutes), or of
JOBS_INTERVAL for all of them (an ISO 8601 duration: PT1S in the tests). A run is the same
`Service.run_job` as on every host: the job's lock, its log line and metric. A run still going
when the next is due is not doubled (max_instances=1); missed runs are not made up one by one
(coalesce). `python -m dev.scheduler` runs it alone, in the foreground, on your settings.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from dev.embedded import ROOT, supervised
from lending_http.bootstrap import bootstrap
from lending_http.jobs import scheduled, scheduled_functions
from lending_http.service import Service
from lending_settings import from_env


def start(env: Mapping[str, str], functions_dir: Path = ROOT / "functions") -> tuple[BackgroundScheduler, dict[str, timedelta]]:
    """Start the scheduler on `env`'s settings (read and checked now); returns it and each job's period."""
    layers = sorted({layer for f in scheduled_functions(functions_dir) for layer in f.layers})
    config = from_env(env, layers=layers)
    jobs = scheduled(functions_dir)
    service = Service.of(functions_dir, bootstrap(config, layers=layers), only=jobs).load()
    periods = {name: config.jobs_interval or every for name, every in jobs.items()}
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                                "misfire_grace_time": None})
    for name, every in periods.items():
        scheduler.add_job(_run, IntervalTrigger(seconds=every.total_seconds()), args=(service, name), id=name,
                          name=name)
    scheduler.start()
    return scheduler, periods


def _run(service: Service, name: str) -> None:
    try:
        service.run_job(name)  # logs its own line (finished, skipped or failed)
    except Exception as exc:  # noqa: BLE001 - the next run tries again
        print(f"job {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def describe(periods: Mapping[str, timedelta]) -> str:
    return ", ".join(f"{name} every {every}" for name, every in periods.items())


def main() -> int:
    with supervised() as stack:
        scheduler, periods = start(dict(os.environ))
        stack.callback(scheduler.shutdown, wait=False)
        print(f"jobs scheduled: {describe(periods)}   (Ctrl-C stops)", flush=True)
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
