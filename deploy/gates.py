"""The gates and probes of the deploy: what it asks the estate before and after the switch.

Which VM is idle (as the load balancer reports it) and which version a VM runs (step 3); the
health gate and the smoke test through the idle VM (step 6); the verification through the load
balancer after the switch (step 7), which a rollback runs too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from deploy.estate import Estate
from deploy.model import Probe, StepFailed


# -- 3 -------------------------------------------------------------------------------------------
def find_idle(estate: Estate) -> tuple[str, str]:
    """(live, idle), the live colour as the load balancer itself reports it."""
    live = estate.live_color()
    if live not in estate.colors:
        raise StepFailed(f"the load balancer forwards to {live!r}, which is neither of {estate.colors}")
    idle = estate.colors[1] if live == estate.colors[0] else estate.colors[0]
    return live, idle


def vm_version(estate: Estate, color: str) -> str:
    probe = estate.vm_probe(color, "/version")
    return str(probe.json().get("version", f"unknown (/version {probe.status or 'no answer'})"))


# -- 6 -------------------------------------------------------------------------------------------
def brief(probe: Probe) -> str:
    return f"{probe.status or 'no answer'} {probe.body[:160].strip()}".strip()


def health_gate(estate: Estate, color: str, version: str, timeout: float, say: Callable[[str], None]) -> None:
    """Until `timeout`: every instance of `color` answers /ready 200 and /version `version`, and so does its nginx."""
    started = time.monotonic()
    deadline = started + timeout
    last_line, last_said = "", 0.0
    while True:
        ready, new = [], []
        for index in range(1, estate.instances + 1):
            ready.append(estate.instance_probe(color, index, "/ready"))
            new.append(estate.instance_probe(color, index, "/version"))
        front_ready, front_version = estate.vm_probe(color, "/ready"), estate.vm_probe(color, "/version")
        n_ready = sum(p.status == 200 for p in ready)
        n_new = sum(p.json().get("version") == version for p in new)
        elapsed = time.monotonic() - started
        line = (f"{color}: /ready 200 on {n_ready}/{estate.instances} instances, /version {version} on "
                f"{n_new}/{estate.instances}, nginx /ready {front_ready.status or '-'}")
        if line != last_line or time.monotonic() - last_said > 5:
            say(f"{line}  ({elapsed:.0f}s of {timeout:.0f}s)")
            last_line, last_said = line, time.monotonic()
        if (n_ready == n_new == estate.instances and front_ready.status == 200
                and front_version.json().get("version") == version):
            return
        if time.monotonic() >= deadline:
            for index in range(1, estate.instances + 1):
                r, v = ready[index - 1], new[index - 1]
                if r.status != 200 or v.json().get("version") != version:
                    raise StepFailed(f"{color} instance {index} not ready with version {version} within {timeout:.0f}s: "
                                     f"/ready {brief(r)}; /version {brief(v)}", estate.instance_log(color, index))
            raise StepFailed(f"{color} nginx not ready within {timeout:.0f}s: /ready {brief(front_ready)}; "
                             f"/version {brief(front_version)}")
        time.sleep(0.5)


def smoke_test(estate: Estate, color: str) -> list[str]:
    """Through `color`'s nginx: a catalogue read, the payment and identity configuration, sign-in enforced."""
    problems, passed = [], []
    books = estate.vm_probe(color, "/books?limit=1")
    if books.status == 200 and isinstance(books.json().get("items"), list):
        passed.append(f"catalogue read ({books.json().get('total', '?')} books)")
    else:
        problems.append(f"GET /books: {brief(books)}")
    config = estate.vm_probe(color, "/config.json").json()
    oidc, stripe = config.get("oidc") or {}, config.get("stripe") or {}
    if str(oidc.get("authority", "")).startswith(("http://", "https://")) and oidc.get("client_id"):
        passed.append(f"identity configured ({oidc['authority']})")
    else:
        problems.append(f"GET /config.json: no usable OIDC issuer/audience ({oidc})")
    if str(stripe.get("js_url", "")).startswith(("http://", "https://")):
        passed.append("payment configured")
    else:
        problems.append(f"GET /config.json: no usable payment configuration ({stripe})")
    me = estate.vm_probe(color, "/me")
    if me.status == 401:
        passed.append("sign-in enforced (/me 401)")
    else:
        problems.append(f"GET /me without a token: expected 401, got {brief(me)}")
    if problems:
        raise StepFailed("smoke test through " + color + ": " + "; ".join(problems))
    return passed


# -- 7 -------------------------------------------------------------------------------------------
def verify_through_lb(estate: Estate, version: str, timeout: float, say: Callable[[str], None], streak: int = 5) -> None:
    """`streak` answers in a row from the load balancer with /version `version` and /ready 200."""
    deadline = time.monotonic() + timeout
    run, last = 0, Probe(0, "")
    while True:
        last = estate.lb_probe("/version")
        ready = estate.lb_probe("/ready")
        run = run + 1 if last.json().get("version") == version and ready.status == 200 else 0
        if run >= streak:
            say(f"load balancer serves {version} ({streak} answers in a row)")
            return
        if time.monotonic() >= deadline:
            raise StepFailed(f"through the load balancer /version is not {version} after {timeout:.0f}s: "
                             f"/version {brief(last)}; /ready {brief(ready)}")
        time.sleep(0.2)


