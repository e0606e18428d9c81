"""`make reconcile`: settle every payment stuck between steps, print what was done.

Uses the same settings as the service (DATABASE_URL, STRIPE_API_KEY, ...). When run
from a developer's machine with `make run` up, it reads nothing else.
"""

import argparse
import json
import sys
from pathlib import Path

from lending_aws import bootstrap
from lending_http.service import Service

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grace-seconds", type=float, default=None,
                        help="only settle payments untouched for this long (default RECONCILE_GRACE_SECONDS)")
    args = parser.parse_args()
    bootstrap()  # settings held in AWS
    service = Service.of(ROOT / "functions", only=["reconcile"])
    print(json.dumps(service.run_job("reconcile", grace_seconds=args.grace_seconds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
