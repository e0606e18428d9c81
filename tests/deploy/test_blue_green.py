"""Blue/green on the local estate, under real mixed traffic through the load balancer.

Each test starts from whatever colour is live (they run in order on one estate) and asserts
0 failed requests: every answer 2xx, none missing.
"""

from __future__ import annotations

from deploy.local import LocalEstate
from tests.deploy.conftest import Repo, lb_version, mixed_traffic, run_deploy, version_note, vm_version
from tests.support.issuer import TestIssuer

HEALTH = "functions/health/handler.py"


def test_a_deploy_of_new_code_under_load_drops_nothing(estate: LocalEstate, repo: Repo, issuer: TestIssuer) -> None:
    new = repo.commit("new code: /version carries a note", {HEALTH: version_note("v2")})
    live = estate.live_color()
    old = lb_version(estate)
    assert old["version"] != new
    with mixed_traffic(estate, issuer) as traffic:
        run = run_deploy(estate.dir, repo, "deploy", "--version", new, "--message", "zero-downtime test")
        assert run.returncode == 0, run.output
    failures = traffic.failures()
    print(f"\n{len(traffic.answers)} requests during the deploy "
          f"({traffic.count('borrow', 'return')} borrows/returns), {len(failures)} failed; "
          f"load balancer switch took {run.switch_seconds():.2f}s")
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
