"""10,000 MARC records through `make import`'s command (ops.import_catalogue) into PostgreSQL, timed
(target: under 60 s), then the same file again: all unchanged. The times are printed (pytest -s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import marc_files as m

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 10_000


def run_import(path: Path, service_env: dict[str, str]) -> tuple[dict[str, object], float, str]:
    env = {**os.environ, **service_env}  # the service's settings, as `make import` takes them
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ops.import_catalogue", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), time.monotonic() - started, done.stderr


def test_ten_thousand_marc_records_import_in_under_a_minute_and_again_change_nothing(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    path = tmp_path / "ten-thousand.mrc"
    path.write_bytes(m.marc(*(m.record(m.new_isbn13(), f"Title {n}", barcodes=(m.new_barcode(),))
                              for n in range(RECORDS))))

    first, seconds, progress = run_import(path, service_env)
    second, again, _ = run_import(path, service_env)

    print(f"\n{RECORDS} MARC records ({path.stat().st_size // 1024} KiB): first import {seconds:.1f} s, "
          f"second (all unchanged) {again:.1f} s")
    assert (first["created"], first["rejected"]) == (RECORDS, [])
    assert (second["unchanged"], second["created"], second["updated"]) == (RECORDS, 0, 0)
    assert progress.count("records in") >= RECORDS // 500  # a line per batch
    assert seconds < 60, f"{RECORDS} records took {seconds:.1f} s"
