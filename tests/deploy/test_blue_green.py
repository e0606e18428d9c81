"""Blue/green on the local estate, under real mixed traffic through the load balancer.

Each test starts from whatever colour is live (they run in order on one estate) and asserts
0 failed requests: every answer 2xx, none missing, out of a stated minimum of answers from the
colours the test expects to serve (mixed_traffic fails the test otherwise).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.local import LocalEstate
from tests.deploy.conftest import SWITCH_SECONDS_LIMIT, Repo, lb_version, mixed_traffic, run_deploy, version_note, vm_version
from tests.support.issuer import TestIssuer

HEALTH = "functions/health/handler.py"


def other_than(estate: LocalEstate, color: str) -> str:
    return estate.colors[1] if color == estate.colors[0] else estate.colors[0]


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Shown on the terminal even when pytest captures output: the numbers are the point."""
    with capsys.disabled():
        print(f"\n    {line}")


def test_a_deploy_of_new_code_under_load_drops_nothing(estate: LocalEstate, repo: Repo, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    new = repo.commit("new code: /version carries a note", {HEALTH: version_note("v2")})
    live = estate.live_color()
    old = lb_version(estate)
    assert old["version"] != new
    log = Path(estate.layout["lb_prefix"]) / "logs" / "lb.access.log"
    seen_before = len(log.read_text().splitlines())
    with mixed_traffic(estate, issuer, at_least=200, served_by={live, other_than(estate, live)}) as traffic:
        run = run_deploy(estate.dir, repo, "deploy", "--version", new, "--message", "zero-downtime test")
        assert run.returncode == 0, run.output
    failures = traffic.failures()
    served_by = Counter(json.loads(line)["vm"] for line in log.read_text().splitlines()[seen_before:])
    report(capsys, f"{len(traffic.answers)} requests during the deploy "
          f"({traffic.count('borrow', 'return')} borrows/returns), {len(failures)} failed; "
          f"load balancer switch took {run.switch_seconds():.2f}s; served by {dict(served_by)}")
    assert served_by[live] > 0 and served_by[other_than(estate, live)] > 0
    assert 0 < run.switch_seconds() < SWITCH_SECONDS_LIMIT, run.output
    assert failures == [], failures[:5]
    assert traffic.count("borrow") > 0 and traffic.count("return") > 0
    assert lb_version(estate) == {"version": new, "note": "v2"}  # the new code, not just a new label
    assert estate.live_color() != live
    assert vm_version(estate, live) == old  # the old VM keeps the old version: the failover
    assert "[6/8] health gate" in run.output and "smoke: catalogue read" in run.output
    entry = estate.audit.last(1)[0]
    assert (entry.action, entry.version, entry.from_vm, entry.to_vm, entry.result) == ("deploy", new, live,
                                                                                      estate.live_color(), "deployed")
    assert estate.lock.current() is None


def test_rollback_vm_switches_to_the_other_vm_at_once_under_load(estate: LocalEstate, repo: Repo,
                                                                  issuer: TestIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    live = estate.live_color()
    other = "green" if live == "blue" else "blue"
    assert estate.vm_probe(other, "/ready").status == 200
    other_version = vm_version(estate, other)
    began = datetime.now(UTC).replace(microsecond=0)
    with mixed_traffic(estate, issuer, at_least=100, served_by={live, other}) as traffic:
        run = run_deploy(estate.dir, repo, "rollback")
        ended = datetime.now(UTC)
        time.sleep(0.5)  # answers from after the switch: the last ones must all come from `other`
    assert run.returncode == 0, run.output
    failures = traffic.failures()
    report(capsys, f"{len(traffic.answers)} requests during the rollback, {len(failures)} failed; "
                   f"load balancer switch took {run.switch_seconds():.2f}s")
    # The switch happened, during this run: measured (a switch that does nothing is not 0.0x s: it
    # rewrites live.conf, runs `nginx -t`, reloads and waits for the old workers to exit), audited
    # in this run's time, and the traffic went from one colour to the other.
    assert 0 < run.switch_seconds() < SWITCH_SECONDS_LIMIT, run.output
    assert f"switched {live} -> {other} in " in run.output
    assert failures == [], failures[:5]
    assert estate.live_color() == other and lb_version(estate) == other_version
    entry = estate.audit.last(1)[0]
    assert (entry.action, entry.from_vm, entry.to_vm, entry.result) == ("rollback", live, other, f"rolled back to {other}")
    assert began <= datetime.strptime(entry.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= ended
    assert traffic.answers[0].vm == live and traffic.answers[-1].vm == other, (traffic.answers[0], traffic.answers[-1])


def never_ready(text: str) -> str:
    """A build whose instances start and answer /health but never /ready."""
    return text.replace("if not store.schema_current():", "if True:  # broken build")


def test_a_build_that_never_gets_ready_never_reaches_the_load_balancer(estate: LocalEstate, repo: Repo,
                                                                       issuer: TestIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    broken = repo.commit("broken build: /ready never 200", {HEALTH: never_ready})
    live, serving = estate.live_color(), lb_version(estate)
    with mixed_traffic(estate, issuer, at_least=200, served_by={live}) as traffic:  # never the broken build
        run = run_deploy(estate.dir, repo, "deploy", "--version", broken, "--gate-timeout", "6")
    assert run.returncode == 1, run.output
    assert "DEPLOY FAILED at step 6/8 (health gate)" in run.output
    assert "instance 1 not ready with version " + broken in run.output
    assert "last log lines of that instance" in run.output and "| " in run.output
    assert f"load balancer untouched: still forwarding to {live}" in run.output
    assert "switch the load balancer" not in run.output
    failures = traffic.failures()
    report(capsys, f"{len(traffic.answers)} requests during the failed deploy, {len(failures)} failed")
    assert failures == [], failures[:5]
    assert estate.live_color() == live and lb_version(estate) == serving
    assert estate.lock.current() is None
    assert estate.audit.last(1)[0].result.startswith("failed at health gate")


def test_a_build_that_cannot_start_fails_at_ship_with_its_log(estate: LocalEstate, repo: Repo) -> None:
    crashing = repo.commit("a build that cannot even start", {HEALTH: lambda text: text + "\nthis is not python\n"})
    live, serving = estate.live_color(), lb_version(estate)
    run = run_deploy(estate.dir, repo, "deploy", "--version", crashing)
    assert run.returncode == 1, run.output
    assert "DEPLOY FAILED at step 5/8 (ship to the idle VM)" in run.output and "instance 1 did not start" in run.output
    assert "NameError" in run.output  # from the instance's own log
    assert estate.live_color() == live and lb_version(estate) == serving


def test_a_destructive_migration_is_refused_before_anything_ships(estate: LocalEstate, repo: Repo) -> None:
    migrations = repo.path / "layers/database/python/lending_postgres/migrations"
    (migrations / "0999_drop_history.sql").write_text("-- destructive: drops a column old code reads\n"
                                                       "ALTER TABLE books DROP COLUMN title;\n")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "a destructive migration")
    version = repo.git("rev-parse", "--short=12", "HEAD")
    live, idle_before = estate.live_color(), vm_version(estate, "green" if estate.live_color() == "blue" else "blue")
    run = run_deploy(estate.dir, repo, "deploy", "--version", version)
    assert run.returncode == 1, run.output
    assert "DEPLOY FAILED at step 4/8 (database migrations): refused destructive migration(s) 0999_drop_history.sql" \
        in run.output
    assert "ship to the idle VM" not in run.output  # nothing shipped, the idle VM is as it was
    assert estate.live_color() == live
    assert vm_version(estate, "green" if live == "blue" else "blue") == idle_before


def lb_bug(text: str) -> str:
    """Passes every check on the VM, fails /version behind the load balancer (two X-Forwarded-For hops)."""
    return version_note("lb-bug")(text).replace(
        '    if request.path.endswith("/version"):\n',
        '    if request.path.endswith("/version"):\n'
        '        if "," in request.headers.get("x-forwarded-for", ""):\n'
        '            raise RuntimeError("cannot parse a proxied client address")\n')


def test_a_failed_verification_after_the_switch_rolls_back_by_itself(estate: LocalEstate, repo: Repo,
                                                                     issuer: TestIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    buggy = repo.commit("a bug only behind the load balancer", {HEALTH: lb_bug})
    live, serving = estate.live_color(), lb_version(estate)
    with mixed_traffic(estate, issuer, at_least=200, served_by={live, other_than(estate, live)}) as traffic:
        run = run_deploy(estate.dir, repo, "deploy", "--version", buggy, "--verify-timeout", "4")
    assert run.returncode == 2, run.output
    assert "[7/8] switch the load balancer" in run.output
    assert "VERIFY FAILED after the switch" in run.output and f"ROLLED BACK: live {live}" in run.output
    failures = traffic.failures()
    report(capsys, f"{len(traffic.answers)} requests during deploy + automatic rollback, {len(failures)} failed")
    assert failures == [], failures[:5]
    assert estate.live_color() == live and lb_version(estate) == serving
    assert estate.audit.last(1)[0].result.startswith(f"rolled back to {live}")
    assert estate.lock.current() is None
