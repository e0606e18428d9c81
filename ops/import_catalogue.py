"""`make import FILE=… [FORMAT=marc|marcxml|csv]`: import a catalogue file, as POST /imports does.

Same settings as the service (DATABASE_URL, or a running `make run`'s). No MAX_IMPORT_BYTES here: the
file is read from disk. Progress goes to stderr after each batch; the report (JSON) to stdout.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import cast

from lending import imports
from lending.desk_model import ImportReport
from lending.desk_ports import DeskStore
from lending_aws import bootstrap
from lending_http import desk_fields, desk_views
from lending_http.service import Service
from lending_marc import FORMATS, read

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--format", choices=sorted(FORMATS), help="default: from the file's extension")
    args = parser.parse_args()
    kind = args.format or args.file.suffix.lstrip(".").lower()
    if kind not in FORMATS:
        print(f"unknown format {kind!r}: say FORMAT= one of {', '.join(sorted(FORMATS))}", file=sys.stderr)
        return 2
    bootstrap()  # settings held in AWS
    scope = Service.of(ROOT / "functions", only=["imports"]).scope("imports")
    settings, started = scope.settings, time.monotonic()

    def progress(report: ImportReport) -> None:
        print(f"{report.records} records in {time.monotonic() - started:.1f} s: {report.created} created, "
              f"{report.updated} updated, {report.unchanged} unchanged, {len(report.rejected)} rejected",
              file=sys.stderr, flush=True)

    report = imports.import_records(
        cast(DeskStore, scope.store), read(args.file.read_bytes(), FORMATS[kind]), isbn13=desk_fields.isbn13,
        default_fee_cents=settings.import_borrow_fee_cents, default_currency=settings.default_currency,
        batch_size=settings.import_batch_size, progress=progress)
    print(json.dumps({**desk_views.import_report(report), "seconds": round(time.monotonic() - started, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
