"""The local load balancer: nginx on LB_PORT forwarding to the live VM's nginx.

Its state is nginx's own: `conf/live.conf` names the upstream (the live VM) and the admin
listener answers `GET /live` from the configuration the running workers loaded. Switching writes
live.conf, checks it with `nginx -t`, sends `nginx -s reload` (in-flight requests finish on the old
workers; nothing is dropped: no client keep-alive, see the site) and waits until every old worker
has exited, so that whatever follows sees only the new routing.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from vm_runtime import nginx

LOOPBACK = "127.0.0.1"

SITE = """\
# Local load balancer (deploy/balancer.py). The live VM is in live.conf, rewritten by each switch.
log_format lb_json escape=json
    '{"time":"$time_iso8601","method":"$request_method","uri":"$uri","status":$status,'
    '"vm":"$lending_live_vm","upstream":"$upstream_addr","duration_s":$request_time}';

include live.conf;

server {
    listen @LISTEN@;
    access_log @LOG_DIR@/lb.access.log lb_json;
    error_log  @LOG_DIR@/lb.error.log warn;
    client_max_body_size 16m;  # each VM's nginx applies its own limits (1 MiB; 16 MiB for /imports)
    # One request per client connection. At a reload the old workers close their idle keep-alive
    # connections at once, and a request the client had just sent on one is lost ("closed without
    # response"; 1 GET in ~2,000 in our runs). A fresh connection per request is never cut that way:
    # it waits in the shared listen queue for whichever worker, old or new, accepts it.
    keepalive_timeout 0;

    location / {
        proxy_pass http://lending_live;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        proxy_read_timeout 35s;
        add_header X-Lending-VM $lending_live_vm always;
    }
}

# What the load balancer forwards to, from the configuration its workers run (the deploy asks here).
server {
    listen @ADMIN@;
    access_log off;
    location = /live {
        default_type text/plain;
        return 200 "$lending_live_vm\\n";
    }
}
"""


def live_conf(color: str, port: int) -> str:
    return (f"upstream lending_live {{\n    server {LOOPBACK}:{port};\n}}\n"
            f"geo $lending_live_vm {{\n    default {color};\n}}\n")


def prepare(prefix: Path, listen_port: int, admin_port: int, color: str, port: int) -> None:
    site = (SITE.replace("@LISTEN@", f"{LOOPBACK}:{listen_port}").replace("@ADMIN@", f"{LOOPBACK}:{admin_port}")
            .replace("@LOG_DIR@", str(prefix / "logs")))
    nginx.prepare_prefix(prefix, site)
    (prefix / "conf" / "live.conf").write_text(live_conf(color, port))


def master_pid(prefix: Path) -> int:
    return int((prefix / "run" / "nginx.pid").read_text().strip())


def workers(master: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                found.add(int(entry.name))
    return found


def switch(prefix: Path, color: str, port: int, timeout: float = 30.0) -> None:
    """Point the load balancer at `color` (its nginx on `port`); returns when only new workers run."""
    conf = prefix / "conf" / "live.conf"
    previous = conf.read_text()
    master = master_pid(prefix)
    old = workers(master)
    tmp = conf.with_suffix(".tmp")
    tmp.write_text(live_conf(color, port))
    os.replace(tmp, conf)
    test = subprocess.run(nginx.nginx_argv(prefix, "-t"), capture_output=True, text=True, check=False)
    if test.returncode != 0:
        conf.write_text(previous)
        raise RuntimeError(f"nginx -t refused the new load balancer configuration: {test.stderr.strip()}")
    subprocess.run(nginx.nginx_argv(prefix, "-s", "reload"), capture_output=True, text=True, check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = workers(master)
        if now and not (now & old):
            return
        time.sleep(0.05)
    raise RuntimeError(f"old load balancer workers {sorted(workers(master) & old)} still running after {timeout:.0f}s")


def start(prefix: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(nginx.nginx_argv(prefix), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
