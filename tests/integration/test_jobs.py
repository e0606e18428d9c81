"""The jobs on real PostgreSQL, as real processes: `python -m ops.jobs` / `make jobs` delete what is
past its period and keep the rest, skip (saying so) while another run holds the job's lock, and two
started at once do the work once."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from dev.embedded import ROOT
from lending_postgres import PostgresStore
from tests.conftest import sql

OLD_KEYS = "INSERT INTO idempotency_keys (user_iss, user_sub, key, fingerprint, status_code, response_body, content_type, " \
           "created_at, finished_at) SELECT 'iss', 'sub', :prefix || g, 'fp', {status}, '{{}}', 'application/json', " \
           "now() - CAST(:age AS interval), {finished} FROM generate_series(1, :n) g"


def keys(store: PostgresStore, prefix: str, n: int, age: str, *, finished: bool = True) -> None:
    query = OLD_KEYS.format(status="201" if finished else "NULL",
                            finished="now() - CAST(:age AS interval)" if finished else "NULL")
    sql(store.pool, query, prefix=prefix, n=n, age=age)


def events(store: PostgresStore, prefix: str, n: int, age: str) -> None:
    sql(store.pool, "INSERT INTO processor_events (event_id, received_at) SELECT :prefix || g, now() - CAST(:age AS interval) "
                    "FROM generate_series(1, :n) g", prefix=prefix, n=n, age=age)


def left(store: PostgresStore, table: str, prefix: str) -> int:
    column = "key" if table == "idempotency_keys" else "event_id"
    return int(sql(store.pool, f"SELECT count(*) FROM {table} WHERE {column} LIKE :p", p=f"{prefix}%")[0][0])


def job_env(service_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**os.environ, **service_env, **extra}


def summaries(output: str) -> dict[str, dict[str, Any]]:
    """ops.jobs' own lines (one per job), not the observer's log lines (which carry a `message`)."""
    found = {}
    for line in output.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if "job" in record and "message" not in record and "_aws" not in record:
                found[record.pop("job")] = record
    return found


def ops_jobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops.jobs", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_retention_deletes_rows_older_than_their_periods_and_keeps_newer_and_unfinished_ones(
        store: PostgresStore, service_env: dict[str, str]) -> None:
    keys(store, "old-", 5, "3 days")
    keys(store, "new-", 4, "1 day")
    keys(store, "unfinished-", 3, "3 days", finished=False)
    events(store, "evt_old_", 6, "31 days")
    events(store, "evt_new_", 2, "29 days")
    run = ops_jobs(job_env(service_env, RETENTION_BATCH_SIZE="2"), "retention")
    assert run.returncode == 0, run.stdout + run.stderr
    assert summaries(run.stdout)["retention"] == {"idempotency_keys": 5, "processor_events": 6, "batches": 4,
                                                  "more": False}
    assert [left(store, "idempotency_keys", p) for p in ("old-", "new-", "unfinished-")] == [0, 4, 3]
    assert [left(store, "processor_events", p) for p in ("evt_old_", "evt_new_")] == [0, 2]
    # One log line, with the counts (the observer's, beside ops.jobs' own summary).
    logged = [json.loads(line) for line in run.stdout.splitlines() if '"message"' in line]
    assert [(line["message"], line["idempotency_keys"]) for line in logged if line.get("job") == "retention"] == \
        [("retention finished", 5)]


def test_a_run_while_another_holds_the_lock_skips_and_says_so(store: PostgresStore, service_env: dict[str, str]) -> None:
    keys(store, "old-", 3, "3 days")
    with store.job_turn("retention") as holding:
        assert holding is not None
        run = ops_jobs(job_env(service_env), "retention")
    assert run.returncode == 0, run.stderr
    assert summaries(run.stdout)["retention"] == {"skipped": "another run holds the lock"}
    assert "retention skipped: another run holds the lock" in run.stdout
    assert left(store, "idempotency_keys", "old-") == 3
    assert summaries(ops_jobs(job_env(service_env), "retention").stdout)["retention"]["idempotency_keys"] == 3


def test_two_make_jobs_at_once_do_the_work_once(store: PostgresStore, service_env: dict[str, str]) -> None:
    keys(store, "old-", 3000, "3 days")
    events(store, "evt_old_", 3000, "31 days")
    keys(store, "new-", 10, "1 hour")
    env = job_env(service_env, RETENTION_BATCH_SIZE="100")
    env.pop("MAKEFLAGS", None)
    runs = [subprocess.Popen(["make", "--no-print-directory", "-s", "jobs"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    done = [summaries(output) for output in outputs]
    for job in ("expire_holds", "reconcile", "retention"):
        ran = [d[job] for d in done if "skipped" not in d[job]]
        skipped = [d[job]["skipped"] for d in done if "skipped" in d[job]]
        assert len(ran) == 1, (job, outputs)  # one did it; the other found it locked, or done and not yet due again
        assert skipped[0] in ("another run holds the lock", "not due"), outputs
    retention = next(d["retention"] for d in done if "skipped" not in d["retention"])
    assert (retention["idempotency_keys"], retention["processor_events"]) == (3000, 3000)
    assert left(store, "idempotency_keys", "old-") == 0 and left(store, "processor_events", "evt_old_") == 0
    assert left(store, "idempotency_keys", "new-") == 10
    print("the second retention run:", [d["retention"].get("skipped") for d in done if "skipped" in d["retention"]])


def test_make_runs_scheduler_runs_the_jobs_by_itself(store: PostgresStore, service_env: dict[str, str]) -> None:
    """dev.run's scheduler (dev/scheduler.py), alone in its own process, with JOBS_INTERVAL=PT1S: nobody
    asks it anything, and within a bounded wait the retention job has logged its line and done its work."""
    keys(store, "old-", 7, "3 days")
    keys(store, "new-", 2, "1 hour")
    proc = subprocess.Popen([sys.executable, "-m", "dev.scheduler"], cwd=ROOT, env=job_env(service_env, JOBS_INTERVAL="PT1S"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 30
        finished = None
        while finished is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            if '"retention finished"' in line:
                finished = json.loads(line)
        assert finished is not None, "".join(seen)
        assert finished["idempotency_keys"] == 7 and finished["outcome"] == "finished"
        said = "".join(seen)
        assert all(f"{job} every 0:00:01" in said for job in ("expire_holds", "reconcile", "retention")), said
        assert left(store, "idempotency_keys", "old-") == 0 and left(store, "idempotency_keys", "new-") == 2
        assert sql(store.pool, "SELECT job FROM job_runs WHERE job = 'retention'") == [["retention"]]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0, "".join(seen)
