"""The jobs framework on fakes: one run at a time, due or not, one line and one metric per run,
and the retention job's counts. The same on real PostgreSQL and real processes: tests/integration/test_jobs.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lending.model import User
from lending.ports import StoredResponse
from lending_http.bootstrap import bootstrap
from lending_http.jobs import period, scheduled
from lending_http.operation import LOCKED, NOT_DUE, Job
from lending_http.service import Service
from lending_observability.instrument import Observer
from lending_settings import Settings
from tests.support.fake_identity import RecordingObserver
from tests.support.fakes import FakeGateway, FakeStore

ROOT = Path(__file__).resolve().parents[2]
ALICE = User("https://issuer.test", "alice")


class MovableClock:
    def __init__(self, by: timedelta = timedelta(0)) -> None:
        self.by = by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.by


def service(store: FakeStore, observer: object, clock: MovableClock | None = None, **settings: object) -> Service:
    deps = bootstrap(Settings(**settings), store=store, gateway=FakeGateway(), observer=observer,  # type: ignore[arg-type]
                     clock=clock or MovableClock())
    return Service.of(ROOT / "functions", deps, only=scheduled(ROOT / "functions"))


def finished_key(store: FakeStore, key: str) -> None:
    store.claim_idempotency_key(ALICE, key, "fp", 300)
    store.finish_idempotency_key(ALICE, key, StoredResponse(201, "{}", "application/json"))


def test_the_jobs_are_the_functions_that_declare_a_schedule() -> None:
    jobs = scheduled(ROOT / "functions")
    assert jobs["reconcile"] == timedelta(minutes=5) and jobs["retention"] == timedelta(hours=1)
    for name in jobs:
        handler = Service.of(ROOT / "functions", only=[name]).handler(name)
        assert isinstance(handler, Job) and handler.name == name  # one name for the function, the lock, job_runs


@pytest.mark.parametrize(("schedule", "every"), [("rate(1 minute)", timedelta(minutes=1)),
                                                 ("rate(5 minutes)", timedelta(minutes=5)),
                                                 ("rate(2 hours)", timedelta(hours=2)), ("rate(1 day)", timedelta(days=1))])
def test_a_rate_is_a_period(schedule: str, every: timedelta) -> None:
    assert period(schedule) == every


@pytest.mark.parametrize("schedule", ["rate(5 minute)", "rate(1 hours)", "rate(0 minutes)", "cron(0 * * * ? *)", "5m"])
def test_anything_but_an_eventbridge_rate_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="schedule"):
        period(schedule)


def test_retention_deletes_what_is_older_than_its_period_and_keeps_the_rest() -> None:
    store, observer = FakeStore(), RecordingObserver()
    for key in ("a", "b", "c"):
        finished_key(store, key)
    store.claim_idempotency_key(ALICE, "in-progress", "fp", 300)
    store.remember_event("evt_1")
    # Three days on: past IDEMPOTENCY_RETENTION (P2D), within PROCESSOR_EVENT_RETENTION (P30D).
    jobs = service(store, observer, MovableClock(timedelta(days=3)), retention_batch_size=2)
    result = jobs.run_job("retention")
    assert result == {"idempotency_keys": 3, "processor_events": 0, "batches": 2, "more": False}
    assert list(store.keys) == [(ALICE.issuer, ALICE.subject, "in-progress")] and "evt_1" in store.events
    assert observer.jobs[-1][0] == "retention" and observer.jobs[-1][1]["outcome"] == "finished"
    assert observer.jobs[-1][1]["idempotency_keys"] == 3


def test_a_run_while_another_holds_the_jobs_lock_skips_and_says_so() -> None:
    store, observer = FakeStore(), RecordingObserver()
    finished_key(store, "a")
    jobs = service(store, observer, MovableClock(timedelta(days=3)))
    with store.job_turn("retention"):
        assert jobs.run_job("retention") == {"skipped": LOCKED}
    told = observer.jobs[-1][1]
    assert len(store.keys) == 1 and (told["outcome"], told["reason"]) == ("skipped", LOCKED)
    assert jobs.run_job("retention")["idempotency_keys"] == 1


def test_a_job_runs_when_due_and_a_named_run_runs_regardless() -> None:
    store, clock = FakeStore(), MovableClock()
    jobs = service(store, RecordingObserver(), clock)
    hour = timedelta(hours=1)
    assert "skipped" not in jobs.run_job("retention", due_every=hour)  # never ran: due
    assert jobs.run_job("retention", due_every=hour)["skipped"] == NOT_DUE
    assert "skipped" not in jobs.run_job("retention")  # no period given: runs now
    clock.by = hour
    assert "skipped" not in jobs.run_job("retention", due_every=hour)
    assert json.loads(store.job_runs["retention"][1])["batches"] == 1  # its last summary is kept


def test_a_failing_job_logs_its_failure_releases_its_lock_and_raises() -> None:
    store, observer = FakeStore(), RecordingObserver()
    scope = service(store, observer).scope("retention")

    def broken(*_: object, **__: object) -> dict[str, object]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        Job("retention", broken).run_once(scope)
    assert (observer.jobs[-1][1]["outcome"], observer.jobs[-1][1]["error"]) == ("failed", "RuntimeError")
    assert "retention" not in store.job_runs
    assert not store.job_locks


def test_a_run_logs_one_line_with_its_counts_and_one_emf_record(capsys: pytest.CaptureFixture[str]) -> None:
    observer = Observer("jobs-unit-test", "INFO", "LibraryLending", metrics=True)
    observer.job_done("retention", {"outcome": "finished", "idempotency_keys": 3, "processor_events": 1, "batches": 1, "more": False,
                                    "duration_ms": 4.2})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    logs = [line for line in lines if "message" in line]
    metrics = [line for line in lines if "_aws" in line]
    assert len(logs) == 1 and logs[0]["message"] == "retention finished"
    assert (logs[0]["job"], logs[0]["idempotency_keys"], logs[0]["processor_events"]) == ("retention", 3, 1)
    assert len(metrics) == 1 and metrics[0]["job"] == "retention"
    declared = {m["Name"] for m in metrics[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Runs", "idempotency_keys", "processor_events", "batches", "JobDuration"} <= declared
    assert metrics[0]["idempotency_keys"] in (3, [3], [3.0]) and metrics[0]["Runs"] in (1, [1], [1.0])


def test_a_job_whose_counts_would_pass_for_the_frameworks_own_fields_is_refused() -> None:
    scope = service(FakeStore(), RecordingObserver()).scope("retention")
    with pytest.raises(ValueError, match="reserved"):
        Job("retention", lambda deps: {"outcome": 1}).run_once(scope)
