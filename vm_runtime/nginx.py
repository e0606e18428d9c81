"""The nginx site for one VM: render it, lay out an unprivileged prefix, check it with `nginx -t`.

    python -m vm_runtime.nginx render [--listen 80] [--upstream 127.0.0.1:8001 ...] [--log-dir DIR]
    python -m vm_runtime.nginx check     # the production site under Debian's nginx.conf, nginx -t
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent / "deploy" / "nginx"
TEMPLATE = DEPLOY / "lending.conf.template"
MAIN = DEPLOY / "nginx.conf"
PRODUCTION_LISTEN = "80"
PRODUCTION_UPSTREAMS = ("127.0.0.1:8001", "127.0.0.1:8002")  # lending@1, lending@2 (systemd unit)
MAX_FAILS, FAIL_TIMEOUT = 2, "5s"


@dataclass(frozen=True)
class RateLimits:
    """nginx limit_req settings: every request per client address; POSTs per bearer token."""

    client_rate: str = "50r/s"
    client_burst: int = 100
    bearer_rate: str = "2r/s"
    bearer_burst: int = 10


PRODUCTION_LIMITS = RateLimits()


def render_site(listen: str, upstreams: list[str] | tuple[str, ...], log_dir: str,
                limits: RateLimits = PRODUCTION_LIMITS, template: Path = TEMPLATE) -> str:
    """The site from `template` (another checkout's, for a same-run "before"; its placeholders are ours or fewer)."""
    servers = "\n".join(f"    server {address} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};" for address in upstreams)
    return (template.read_text().replace("@LISTEN@", listen).replace("@UPSTREAM_SERVERS@", servers)
            .replace("@LOG_DIR@", log_dir).replace("@CLIENT_RATE@", limits.client_rate)
            .replace("@CLIENT_BURST@", str(limits.client_burst)).replace("@BEARER_RATE@", limits.bearer_rate)
            .replace("@BEARER_BURST@", str(limits.bearer_burst)))


def prepare_prefix(prefix: Path, site: str) -> None:
    """An nginx prefix that needs no root: config, pid, logs and temp files all inside it."""
    for sub in ("conf", "run", "logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MAIN, prefix / "conf" / "nginx.conf")
    (prefix / "conf" / "lending.conf").write_text(site)


def nginx_argv(prefix: Path, *extra: str) -> list[str]:
    # Started by root (CI, tests), workers would drop to `nobody`, who cannot reach a prefix under
    # a private temp dir; the master's user keeps them able to buffer bodies in the prefix.
    user = " user root;" if os.geteuid() == 0 else ""
    return ["nginx", "-p", f"{prefix}/", "-c", "conf/nginx.conf", "-e", "stderr", "-g", f"daemon off;{user}", *extra]


def check_production_site() -> subprocess.CompletedProcess[str]:
    """`nginx -t` of the production site included by a copy of Debian's /etc/nginx/nginx.conf."""
    with tempfile.TemporaryDirectory(prefix="lending-nginx-") as tmp:
        etc = Path(tmp) / "etc"
        shutil.copytree("/etc/nginx", etc, symlinks=True)
        for included in ("conf.d", "sites-enabled"):
            shutil.rmtree(etc / included, ignore_errors=True)
            (etc / included).mkdir()
        main = etc / "nginx.conf"
        main.write_text(main.read_text().replace("/etc/nginx/", f"{etc}/"))
        logs = Path(tmp) / "logs"
        logs.mkdir()
        (etc / "conf.d" / "lending.conf").write_text(render_site(PRODUCTION_LISTEN, PRODUCTION_UPSTREAMS, str(logs)))
        return subprocess.run(["nginx", "-t", "-c", str(main), "-e", str(logs / "error.log")],
                              capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vm_runtime.nginx")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render")
    render.add_argument("--listen", default=PRODUCTION_LISTEN)
    render.add_argument("--upstream", action="append")
    render.add_argument("--log-dir", default="/var/log/nginx")
    sub.add_parser("check")
    args = parser.parse_args(argv)
    if args.command == "render":
        sys.stdout.write(render_site(args.listen, args.upstream or list(PRODUCTION_UPSTREAMS), args.log_dir))
        return 0
    result = check_production_site()
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
