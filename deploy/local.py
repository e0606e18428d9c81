"""The local estate: a load balancer and two VMs on this machine, and the driver that deploys to it.

`make estate-local` (main below) starts, on make run's defaults (dev/embedded.py, the same
start_defaults as make vm-local) or your DATABASE_URL/STRIPE_API_KEY/OIDC_ISSUER:
- VM blue and VM green, each a vm_runtime LocalVM (nginx + two instances), both running the
  release of the source tree's HEAD;
- the load balancer (deploy/balancer.py) on LB_PORT (8088), forwarding to blue;
- the VMs' agent on LB_PORT+2: the stand-in for SSM Run Command. The deploy asks it to run
  migrations and to restart a VM's instances on a release, and it does so even when the deploy
  that asked is killed meanwhile, as SSM would.
Ports: admin LB_PORT+1; blue nginx LB_PORT+10, instances +11 and +12; green LB_PORT+20, +21, +22.
The layout is written to .run/estate/estate.json for the deploy; the live colour is never
read from there, only from the load balancer.
Here: the driver (LocalEstate) and main; the processes are deploy/local_vms.py, the agent and its
timer deploy/local_agent.py, the directory and ports deploy/local_layout.py.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from deploy import balancer, migration
from deploy.estate import Say
from deploy.files import FileAudit, FileLock
from deploy.local_agent import timer_seconds
from deploy.local_layout import COLORS, ESTATE_DIR, LOOPBACK, Ports
from deploy.local_vms import LocalEstateRunner
from deploy.model import Probe, StepFailed
from deploy.release import make_release


def _http(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 3.0) -> Probe:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return Probe(response.status, response.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Probe(error.code, error.read().decode(errors="replace"))
    except OSError as error:
        return Probe(0, f"no answer: {error}")


# -- the driver ---------------------------------------------------------------------------------------
class LocalEstate:
    """The deploy's view of a running local estate (deploy/estate.py's interface)."""

    instances = 2
    colors: tuple[str, str] = COLORS

    def __init__(self, directory: Path = ESTATE_DIR) -> None:
        layout_file = directory / "estate.json"
        if not layout_file.exists():
            raise SystemExit(f"no local estate in {directory}: start one with `make estate-local`")
        self.dir = directory
        self.layout: dict[str, Any] = json.loads(layout_file.read_text())
        self.environment = str(self.layout["environment"])
        self.lock = FileLock(directory / "deploy.lock")
        self.audit = FileAudit(directory / "audit.log")

    def _vm(self, color: str) -> dict[str, Any]:
        return dict(self.layout["vms"][color])

    def live_color(self) -> str:
        answer = _http("GET", f"{self.layout['admin_url']}/live")
        if answer.status != 200:
            raise StepFailed(f"the load balancer did not say where it forwards: {answer.body[:200]}")
        return answer.body.strip()

    def switch_to(self, color: str) -> None:
        balancer.switch(Path(self.layout["lb_prefix"]), color, int(self._vm(color)["nginx_port"]))

    def prepare(self, version: str, source: Path) -> str:
        return str(make_release(source, version, Path(self.layout["releases"])))

    def _agent(self, color: str, command: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        answer = _http("POST", f"{self.layout['agent_url']}/vms/{color}/{command}", body, timeout=timeout)
        if answer.status != 200:
            raise StepFailed(f"the VM agent did not run {command} on {color}: {answer.status} {answer.body[:300]}")
        return answer.json()

    def run_jobs(self, color: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """One pass of the VM's jobs timer now (see Agent.run_jobs); `env` adds settings for this pass."""
        return self._agent(color, "jobs", {"env": env or {}}, timeout=930)

    def migrate(self, color: str, artefact: str) -> list[str]:
        result = self._agent(color, "migrate", {"release": artefact}, timeout=330)
        if result.get("refused"):
            raise StepFailed(migration.explain_refusal(list(result["refused"])))
        if not result.get("ok"):
            raise StepFailed(f"migrations failed (exit {result.get('exit')})", str(result.get("output", "")))
        return list(result.get("applied", []))

    def ship(self, color: str, artefact: str, version: str, say: Say) -> None:
        say(f"{color}: restarting instance 1 then 2 on {version}")
        result = self._agent(color, "ship", {"release": artefact, "version": version}, timeout=300)
        if not result.get("ok"):
            index = int(result.get("instance", 1))
            raise StepFailed(f"{color} instance {index} did not start: {result.get('error')}", self.instance_log(color, index))

    def vm_probe(self, color: str, path: str) -> Probe:
        return _http("GET", f"http://{LOOPBACK}:{self._vm(color)['nginx_port']}{path}")

    def instance_probe(self, color: str, index: int, path: str) -> Probe:
        return _http("GET", f"http://{LOOPBACK}:{self._vm(color)['instance_ports'][index - 1]}{path}")

    def lb_probe(self, path: str) -> Probe:
        return _http("GET", f"{self.layout['lb_url']}{path}")

    def instance_log(self, color: str, index: int, lines: int = 15) -> str:
        try:
            text = Path(self._vm(color)["logs"][index - 1]).read_text(errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(line[:300] for line in text.splitlines()[-lines:])


# -- make estate-local ----------------------------------------------------------------------------------
def main() -> int:
    from dev.embedded import Service, stop_all, supervised
    from dev.run import RUN_DIR, prepare_database, start_defaults

    RUN_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    for name in ("PYTHONPATH", "APP_VERSION"):  # each release brings its own
        env.pop(name, None)
    ports = Ports.from_lb_port(int(env.get("LB_PORT") or 8088))
    services: list[Service] = []
    with supervised() as stack:
        stack.callback(stop_all, services)
        lines, _ = start_defaults(env, services)
        seeded = prepare_database(env["DATABASE_URL"])
        estate = LocalEstateRunner(env, ESTATE_DIR, ports)
        stack.callback(estate.stop)
        estate.start()
        stop_timer = threading.Event()
        stack.callback(stop_timer.set)
        every = timer_seconds()
        if estate.agent is not None:
            threading.Thread(target=estate.agent.timer, args=(every, stop_timer, lambda line: print(line, flush=True)),
                             daemon=True).start()
        print(f"\nLocal estate up: release {estate.version} on both VMs.\n", flush=True)
        print(f"  load balancer           http://{LOOPBACK}:{ports.lb}   -> blue (GET /version, /books)")
        for color, (vm_port, one, two) in ports.vms.items():
            print(f"  VM {color:<6}               http://{LOOPBACK}:{vm_port}   instances :{one} :{two}"
                  f"   logs .run/estate/vm-{color}/")
        print(*lines, sep="\n")
        print(f"  demo books added        {seeded}")
        print(f"  jobs                    each VM every {every:.0f}s as lending-jobs.timer would (no systemd here:"
              " python -m ops.jobs in its release)")
        print("\n  Deploy the working tree's commit:   make deploy-vm DEPLOY_TARGET=local")
        print("  See it:   make deploy-status DEPLOY_TARGET=local      Back:   make rollback-vm DEPLOY_TARGET=local")
        print("  Stop:     Ctrl-C\n", flush=True)
        while True:
            time.sleep(1)
            for color in estate.vms:
                restarted = estate.agent.restart_crashed(color) if estate.agent else []
                for name in restarted:
                    print(f"  VM {color}: {name} had exited; restarted it (as Restart=on-failure would)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
