"""The deploy lock: atomic, one holder, refusals that name the holder, waiting, stale locks that a
deploy killed mid-way leaves, reported and broken on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from deploy import steps
from deploy.files import FileLock
from deploy.local import LocalEstate
from deploy.model import LockHeld, LockHolder
from dev.embedded import ROOT
from tests.deploy.conftest import Repo, deploy_argv, lb_version, mixed_traffic, run_deploy, version_note
from tests.deploy.lease_cases import MovedClock, a_renewed_lease_holds_and_an_expired_one_goes_to_exactly_one_taker
from tests.support.issuer import TestIssuer

HEALTH = "functions/health/handler.py"


def test_of_many_takers_at_once_exactly_one_holds_the_lock(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "deploy.lock")
    start, won, refused = threading.Barrier(16), [], []

    def take(n: int) -> None:
        holder = LockHolder(f"taker-{n}", "v1", "race")
        start.wait()
        try:
            lock.acquire(holder)
            won.append(holder)
        except LockHeld as held:
            refused.append(held.holder)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 15
    assert {h.who for h in refused} == {won[0].who}  # every refusal names the one holder
    lock.release(LockHolder("someone-else", "v1", "not mine"))
    assert lock.current() == won[0]  # only the holder's own token releases it
    lock.release(won[0])
    assert lock.current() is None


def test_a_file_lock_lease_renewed_holds_and_once_expired_goes_to_exactly_one_taker(tmp_path: Path) -> None:
    clock = MovedClock()
    a_renewed_lease_holds_and_an_expired_one_goes_to_exactly_one_taker(FileLock(tmp_path / "deploy.lock", clock), clock)


class _LockOnly:
    def __init__(self, lock: FileLock) -> None:
        self.lock = lock


def test_a_second_deploy_waits_for_the_lock_up_to_its_timeout(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "deploy.lock")
    first = LockHolder("first", "v1", "slow deploy")
    lock.acquire(first)
    threading.Timer(0.5, lock.release, args=(first,)).start()
    second = LockHolder("second", "v2", "waits")
    said: list[str] = []
    steps.take_lock(_LockOnly(lock), second, wait=10, say=said.append)  # type: ignore[arg-type]
    assert lock.current() == second and said and "first" in said[0]
    with pytest.raises(LockHeld, match="second since .* v2"):
        steps.take_lock(_LockOnly(lock), LockHolder("third", "v3", "gives up"), wait=0.3, say=said.append)  # type: ignore[arg-type]


def test_two_deploys_started_at_once_exactly_one_proceeds(estate: LocalEstate, repo: Repo) -> None:
    version = repo.commit("new code for the lock race", {HEALTH: version_note("race")})
    procs = {who: subprocess.Popen(deploy_argv(estate.dir, repo, "deploy", "--version", version, "--message", f"by {who}"),
                                   cwd=ROOT, env={**os.environ, "DEPLOY_WHO": who}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
             for who in ("alice-ci", "bob-laptop")}
    outputs = {who: proc.communicate(timeout=240)[0] for who, proc in procs.items()}
    codes = {who: procs[who].returncode for who in procs}
    print(outputs)
    assert sorted(codes.values()) == [0, 3], codes
    winner = next(who for who, code in codes.items() if code == 0)
    loser = next(who for who, code in codes.items() if code == 3)
    refusal = outputs[loser]
    assert "DEPLOY REFUSED at step 2/8 (deploy lock)" in refusal
    assert f"held by {winner} since " in refusal and f'"by {winner}"' in refusal and version in refusal
    assert "[3/8]" not in refusal  # it touched nothing
    assert lb_version(estate) == {"version": version, "note": "race"}
    assert estate.lock.current() is None


@pytest.mark.parametrize("kill_at", ["[5/8]", "switched in"], ids=["before-ship", "after-switch-before-verify"])
def test_a_deploy_killed_between_steps_leaves_a_healthy_live_vm_and_a_lock_to_break(
        estate: LocalEstate, repo: Repo, issuer: TestIssuer, kill_at: str) -> None:
    version = repo.commit(f"new code, deploy to be killed at {kill_at}", {HEALTH: version_note(f"killed {kill_at}")})
    live, serving = estate.live_color(), lb_version(estate)
    # Killed before the ship, only the live VM ever serves; killed after the switch, both do.
    other = "green" if live == "blue" else "blue"
    served_by = {live} if kill_at == "[5/8]" else {live, other}
    with mixed_traffic(estate, issuer, at_least=50, served_by=served_by) as traffic:
        proc = subprocess.Popen(deploy_argv(estate.dir, repo, "deploy", "--version", version, "--message", "to be killed"),
                                cwd=ROOT, env={**os.environ, "DEPLOY_WHO": "carol"}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if kill_at in line:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=30)
        killed_at = time.monotonic()
        assert proc.returncode == -signal.SIGKILL, "".join(seen)

        # The load balancer is on a healthy VM: where it was, or (killed after the switch) the gated new one.
        lb = estate.layout["lb_url"]
        assert requests.get(lb + "/ready", timeout=5).status_code == 200
        if kill_at == "[5/8]":
            assert estate.live_color() == live and lb_version(estate) == serving
        else:
            assert estate.live_color() != live and lb_version(estate)["version"] == version
        # ...and the traffic goes on there: answers from the colour now live, after the deploy died.
        now_live = estate.live_color()
        deadline = time.monotonic() + 10
        while traffic.served_by(since=killed_at)[now_live] < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert traffic.served_by(since=killed_at)[now_live] >= 20, traffic.served_by(since=killed_at)
    assert traffic.failures() == [], traffic.failures()[:5]

    # The lock is still held by the dead deploy: status and the next deploy report it.
    status = run_deploy(estate.dir, repo, "status")
    assert status.returncode == 0
    assert "lock  held by carol since" in status.output and "that process is gone: the lock is stale" in status.output
    refused = run_deploy(estate.dir, repo, "deploy", "--version", version)
    assert refused.returncode == 3
    assert "held by carol since" in refused.output and '"to be killed"' in refused.output and "stale" in refused.output
    assert "BREAK_LOCK=1" in refused.output

    # Broken on purpose, the next deploy goes through.
    done = run_deploy(estate.dir, repo, "deploy", "--version", version, "--break-lock")
    assert done.returncode == 0, done.output
    assert "broke the deploy lock held by carol" in done.output
    assert lb_version(estate) == {"version": version, "note": f"killed {kill_at}"}
    actions = [e.action for e in estate.audit.last(2)]
    assert actions == ["break-lock", "deploy"]


def test_a_deploy_stopped_with_sigterm_releases_its_lock_and_says_where_it_stopped(estate: LocalEstate,
                                                                                    repo: Repo) -> None:
    version = repo.commit("new code, deploy to be stopped", {HEALTH: version_note("stopped")})
    live, serving = estate.live_color(), lb_version(estate)
    proc = subprocess.Popen(deploy_argv(estate.dir, repo, "deploy", "--version", version), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "[4/8]" in line:
            proc.send_signal(signal.SIGTERM)
            break
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert "DEPLOY INTERRUPTED at step " in output and "before the switch: the load balancer is untouched" in output
    assert estate.lock.current() is None
    assert estate.audit.last(1)[0].result.startswith("interrupted at ")  # migrations (or ship, if it was quick)
    assert estate.live_color() == live and lb_version(estate) == serving


def test_a_deploy_killed_while_holding_the_lock_frees_it_once_its_lease_runs_out(estate: LocalEstate, repo: Repo) -> None:
    version = repo.commit("new code, deploy to be killed with a short lease", {HEALTH: version_note("lease")})
    lease = 15  # renewed every 5 s while it lives: the refusal below comes well inside it
    proc = subprocess.Popen(deploy_argv(estate.dir, repo, "deploy", "--version", version, "--message", "killed",
                                        "--lock-lease", str(lease)),
                            cwd=ROOT, env={**os.environ, "DEPLOY_WHO": "frank"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "[5/8]" in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    assert "lease 15s renewed while the deploy runs" in "".join(seen)

    refused = run_deploy(estate.dir, repo, "deploy", "--version", version)
    assert refused.returncode == 3, refused.output  # its lease is still running: no one may take it yet
    assert "held by frank since" in refused.output and "lease until" in refused.output

    # Waiting is enough: no one breaks the lock; the next deploy takes it once the lease has run out.
    done = run_deploy(estate.dir, repo, "deploy", "--version", version, "--lock-wait", str(4 * lease))
    assert done.returncode == 0, done.output
    assert "took over the lock of frank since" in done.output and "its lease ran out" in done.output
    assert lb_version(estate) == {"version": version, "note": "lease"}
    assert [(e.action, e.version) for e in estate.audit.last(2)] == [("take-over", version), ("deploy", version)]
    assert estate.lock.current() is None


def test_a_live_deploy_renews_its_lease_and_a_waiting_one_does_not_take_it_over(estate: LocalEstate, repo: Repo) -> None:
    # The new code starts slowly (3 s per instance, two instances shipped one after the other), so the
    # deploy outlives its 2 s lease several times over: only renewing keeps the waiting deploy out.
    def slow_start(text: str) -> str:
        return version_note("renewed")(text).replace("\n\nfrom lending.errors", "\n\nimport time\n\ntime.sleep(3)"
                                                                                   "\nfrom lending.errors", 1)

    first = repo.commit("new code, a deploy much longer than its lease", {HEALTH: slow_start})
    second = repo.commit("new code, the deploy that waits", {HEALTH: version_note("waited")})
    lease = 2.0
    started = time.monotonic()
    long_one = subprocess.Popen(deploy_argv(estate.dir, repo, "deploy", "--version", first, "--lock-lease", str(lease)),
                                cwd=ROOT, env={**os.environ, "DEPLOY_WHO": "gina"}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    assert long_one.stdout is not None
    head = []
    for line in long_one.stdout:
        head.append(line)
        if "[3/8]" in line:  # it holds the lock now
            break
    waiting = subprocess.Popen(deploy_argv(estate.dir, repo, "deploy", "--version", second, "--lock-wait", "240",
                                           "--lock-lease", str(lease)),
                               cwd=ROOT, env={**os.environ, "DEPLOY_WHO": "hank"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = "".join(head) + long_one.communicate(timeout=240)[0]
    took = time.monotonic() - started
    waited = waiting.communicate(timeout=240)[0]
    assert long_one.returncode == 0, output
    assert took > 3 * lease, f"the deploy took {took:.1f}s: too short to show that renewing kept the lock"
    assert waiting.returncode == 0, waited
    assert "took over" not in waited and "waiting up to 240s: the deploy lock is held by gina" in waited
    assert [(e.action, e.version, e.result) for e in estate.audit.last(2)] == [
        ("deploy", first, "deployed"), ("deploy", second, "deployed")]
    assert lb_version(estate) == {"version": second, "note": "waited"}
