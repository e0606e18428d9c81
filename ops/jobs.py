"""`make jobs` / `python -m ops.jobs [JOB ...]`: run the scheduled jobs once, here, and print what each did.

The jobs are the functions whose function.json declares a schedule (lending_http.jobs). With no
names, every job that is due runs: its period has passed since its last finish on any host (the
table job_runs). Named jobs (or --all) run now. Each run holds the job's lock for the whole
estate: a run of the same job at the same moment, here or on another host, skips and says so.
This is what the VMs' systemd timer (lending-jobs.timer) runs, in the image, with the instance's
settings. One JSON line per job on stdout; exit 1 if a job failed, 2 for a bad name or setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lending_aws import bootstrap
from lending_http.jobs import scheduled
from lending_http.service import Service
from lending_settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.jobs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jobs", nargs="*", metavar="JOB", help="run these now (default: every job that is due)")
    parser.add_argument("--all", action="store_true", help="run every job now, due or not")
    parser.add_argument("--list", action="store_true", help="list the jobs and their periods")
    args = parser.parse_args(argv)
    known = scheduled(ROOT / "functions")
    if args.list:
        for name, every in known.items():
            print(f"{name}\tevery {every}")
        return 0
    unknown = [name for name in args.jobs if name not in known]
    if unknown:
        print(f"no such job: {', '.join(unknown)} (jobs: {', '.join(known)})", file=sys.stderr)
        return 2
    names = args.jobs or list(known)
    try:
        bootstrap()  # settings held in AWS
        service = Service.of(ROOT / "functions", only=names)
        service.deps.settings  # noqa: B018 - a bad setting stops here, naming it
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        due_every = None if args.jobs or args.all else known[name]
        try:
            result = service.run_job(name, due_every=due_every)
        except Exception as exc:  # noqa: BLE001 - one job's failure does not stop the others
            failed += 1
            print(json.dumps({"job": name, "failed": f"{type(exc).__name__}: {exc}"}), flush=True)
            continue
        print(json.dumps({"job": name, **result}, default=str), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
