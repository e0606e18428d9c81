"""Where the local estate lives and listens: its directory, its colours, its ports.

Ports: the load balancer on LB_PORT (8088), its admin LB_PORT+1, the VMs' agent LB_PORT+2;
blue nginx LB_PORT+10, instances +11 and +12; green LB_PORT+20, +21, +22.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deploy.steps import ROOT

ESTATE_DIR = Path(os.environ.get("ESTATE_DIR") or ROOT / ".run" / "estate")
COLORS = ("blue", "green")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    lb: int
    admin: int
    agent: int
    vms: dict[str, tuple[int, int, int]]  # colour -> (nginx, instance 1, instance 2)

    @classmethod
    def from_lb_port(cls, lb: int) -> Ports:
        return cls(lb, lb + 1, lb + 2, {"blue": (lb + 10, lb + 11, lb + 12), "green": (lb + 20, lb + 21, lb + 22)})

