"""The local estate's processes: VM blue and VM green, the load balancer, the VMs' agent.

Each VM is a vm_runtime LocalVM (nginx + two instances) on a release of the source tree's HEAD;
the load balancer (deploy/balancer.py) forwards to blue at first. The layout is written to
estate.json in the estate's directory for the deploy (deploy/local.py's LocalEstate).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from deploy import balancer
from deploy.local_agent import Agent
from deploy.local_layout import COLORS, LOOPBACK, Ports
from deploy.release import make_release, release_env
from deploy.steps import ROOT, take_version
from dev.embedded import wait_for_http, wait_for_port
from dev.vm_stack import LocalVM


# -- the estate (make estate-local) ---------------------------------------------------------------------
class LocalEstateRunner:
    """Both VMs, the load balancer and the agent; `stop()` ends every process it started."""

    def __init__(self, env: dict[str, str], directory: Path, ports: Ports, source: Path = ROOT,
                 environment: str = "local") -> None:
        self.env, self.dir, self.ports, self.source, self.environment = env, directory, ports, source, environment
        self.vms: dict[str, LocalVM] = {}
        self.lb: subprocess.Popen[bytes] | None = None
        self.agent: Agent | None = None
        self.version = ""

    def start(self) -> LocalEstateRunner:
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.version = take_version(self.source)
            release = make_release(self.source, self.version, self.dir / "releases")
            for color in COLORS:
                nginx_port, *apps = self.ports.vms[color]
                vm = LocalVM({**self.env, **release_env(release, self.version)}, self.dir / f"vm-{color}",
                             listen_port=nginx_port, app_ports=tuple(apps), cwd=release)
                self.vms[color] = vm
                vm.start()
            prefix = self.dir / "lb"
            balancer.prepare(prefix, self.ports.lb, self.ports.admin, COLORS[0], self.ports.vms[COLORS[0]][0])
            self.lb = balancer.start(prefix, self.dir / "lb.log")
            wait_for_port(self.ports.lb, timeout=20, proc=self.lb)
            wait_for_http(f"http://{LOOPBACK}:{self.ports.lb}/health", timeout=20)
            self.agent = Agent(self.vms, self.env, self.ports.agent)
            self.agent.start()
            self.write_layout()
        except BaseException:
            self.stop()
            raise
        return self

    def write_layout(self) -> None:
        layout = {
            "environment": self.environment, "lb_url": f"http://{LOOPBACK}:{self.ports.lb}",
            "admin_url": f"http://{LOOPBACK}:{self.ports.admin}", "agent_url": f"http://{LOOPBACK}:{self.ports.agent}",
            "lb_prefix": str(self.dir / "lb"), "releases": str(self.dir / "releases"),
            "vms": {color: {"nginx_port": ports[0], "instance_ports": list(ports[1:]),
                            "logs": [str(self.dir / f"vm-{color}" / f"app{i}.log") for i in (1, 2)]}
                    for color, ports in self.ports.vms.items()},
        }
        (self.dir / "estate.json").write_text(json.dumps(layout, indent=2) + "\n")

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        if self.lb is not None and self.lb.poll() is None:
            self.lb.send_signal(signal.SIGQUIT)
            try:
                self.lb.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.lb.pid, signal.SIGKILL)
                self.lb.wait()
        for vm in self.vms.values():
            vm.stop()
        (self.dir / "estate.json").unlink(missing_ok=True)

    def __enter__(self) -> LocalEstateRunner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

