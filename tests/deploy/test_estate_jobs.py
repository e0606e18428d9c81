"""On the local estate, the VMs' jobs timer's pass runs on the live VM: the unit's command (`python -m
ops.jobs`) in the release the live VM's instances run, with their settings. The local estate has no
systemd (nor podman for the app): the agent runs that command as the timer would start it, and the
retention job's effect is checked in the database; a pass on both VMs at once runs each job once."""

from __future__ import annotations

from pathlib import Path

from deploy.local import LocalEstate
from lending_postgres import PostgresStore
from tests.conftest import sql
from tests.integration.test_jobs import keys, left


def test_the_jobs_timers_pass_runs_on_the_live_vm_on_its_release(estate: LocalEstate, store: PostgresStore,
                                                                 estate_dir: Path) -> None:
    keys(store, "estate-old-", 12, "3 days")
    keys(store, "estate-new-", 3, "1 hour")
    live = estate.live_color()
    done = estate.run_jobs(live)
    assert done["ok"], done["output"]
    assert Path(done["release"]).parent == estate_dir / "releases"  # the release, not the working tree
    assert done["version"] == estate.instance_probe(live, 1, "/version").json()["version"]
    assert done["jobs"]["retention"]["idempotency_keys"] == 12
    assert "skipped" not in done["jobs"]["reconcile"]
    assert left(store, "idempotency_keys", "estate-old-") == 0 and left(store, "idempotency_keys", "estate-new-") == 3
    assert '"retention finished"' in done["output"]  # its log line, as the journal would get it


def test_a_pass_on_the_idle_vm_right_after_finds_the_jobs_not_due(estate: LocalEstate, store: PostgresStore) -> None:
    keys(store, "estate-old-", 4, "3 days")
    live = estate.live_color()
    idle = next(color for color in estate.colors if color != live)
    first = estate.run_jobs(live)
    second = estate.run_jobs(idle)
    assert first["ok"] and second["ok"], (first["output"], second["output"])
    assert first["jobs"]["retention"]["idempotency_keys"] == 4
    assert second["jobs"]["retention"] == {"skipped": "not due", "last_finished": second["jobs"]["retention"]["last_finished"]}
    # every job ran once, on the live VM only: one row each, and each one skipped on the idle VM
    assert sql(store.pool, "SELECT count(*) FROM job_runs")[0][0] == len(first["jobs"]) >= 3
    assert all(result.get("skipped") == "not due" for result in second["jobs"].values()), second["jobs"]
