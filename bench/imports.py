"""10,000 MARC records imported through one VM (issue 15): the `import` phase of `make bench`.

One MARC 21 file of BENCH_IMPORT_RECORDS (10,000) records, each a title with one copy (952 $p barcode,
$v price), made with pymarc (tests/support/marc_files.py), is sent as POST /imports through nginx and
one app instance's import handler, which works in IMPORT_BATCH_SIZE batches, one transaction each.
Then the same file again: every record unchanged. The target: the first import in under 60 s.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

RECORDS = int(os.environ.get("BENCH_IMPORT_RECORDS", "10000"))
TARGET_SECONDS = 60.0


def marc_file(records: int) -> bytes:
    from tests.support import marc_files as m  # pymarc, as the tests make their files

    return m.marc(*(m.record(m.new_isbn13(), f"Bench Title {i}", f"Author {i % 997}, A.",
                             barcodes=(m.new_barcode(),)) for i in range(records)))


def post(base: str, token: str, data: bytes) -> tuple[int, float, dict[str, object]]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=300)
    began = time.perf_counter()
    try:
        conn.request("POST", "/imports", body=data, headers={"Authorization": f"Bearer {token}",
                                                              "Content-Type": "application/marc"})
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    took = time.perf_counter() - began
    try:
        report = json.loads(body)
    except ValueError:
        report = {"body": body[:200].decode(errors="replace")}
    return answer.status, took, report if isinstance(report, dict) else {"body": report}


def counts(report: dict[str, object]) -> str:
    """The import's report in a line: records, created, updated, unchanged, rejected (or the error)."""
    if "records" not in report:
        return str(report)[:200]
    rejected = report.get("rejected")
    return (f"records {report['records']}, created {report.get('created')}, updated {report.get('updated')}, "
            f"unchanged {report.get('unchanged')}, rejected {len(rejected) if isinstance(rejected, list) else '?'}")


def run(base: str, token: str, say: Callable[[str], None]) -> None:
    data = marc_file(RECORDS)
    say(f"\nimport: {RECORDS} MARC records ({len(data) / 1e6:.1f} MB) as POST /imports through one VM")
    status, took, report = post(base, token, data)
    met = status == 200 and took < TARGET_SECONDS
    say(f"  first import: {status} in {took:.1f} s ({RECORDS / took:.0f} records/s): {counts(report)}")
    say(f"  target: {RECORDS} records in < {TARGET_SECONDS:.0f} s through one VM: {'met' if met else 'MISSED'}")
    status, took, report = post(base, token, data)
    say(f"  the same file again: {status} in {took:.1f} s: {counts(report)}")
