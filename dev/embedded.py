"""Start and stop the embedded stand-ins: a Stripe-compatible server, an OIDC provider (PostgreSQL: dev/embedded_postgres.py).

Each starter returns an object with `stop()`; every process it starts is stopped
there, including the daemonised postmaster (which survives its parent's death).
Used by `make run` (dev/run.py) and by the test suite, so both run the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - loopback only
                if r.status < 500:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout}s")
        time.sleep(0.05)


@dataclass
class Service:
    name: str
    url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_stop: list[list[str]] = field(default_factory=list)

    def stop(self) -> None:
        for cmd in self.extra_stop:
            subprocess.run(cmd, check=False, capture_output=True, timeout=60)
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class Stopped(Exception):
    """SIGTERM or SIGINT reached a supervisor."""


@contextmanager
def supervised() -> Iterator[ExitStack]:
    """Run a supervisor (make run, make vm-local, make estate-local) until SIGTERM or Ctrl-C.

    What the caller registers on the yielded stack is stopped on every exit path, last
    registered first, with further signals ignored so that a second Ctrl-C cannot cut the
    clean-up short (the embedded postgres outlives its parent unless stopped).
    """
    def on_signal(signum: int, _frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with ExitStack() as stack:
        try:
            yield stack
        except Stopped as why:
            print(f"\nStopping ({why}) ...", flush=True)
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        service.stop()


def _spawn(cmd: list[str], log: Path | None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **(env or {})})


# -- Stripe-compatible server ---------------------------------------------------------------------
def start_localstripe(port: int | None = None, log: Path | None = None, delay_ms: int = 0) -> Service:
    port = port or free_port()
    cmd = [sys.executable, str(ROOT / "dev" / "localstripe_server.py"), "--port", str(port)]
    if delay_ms:
        cmd += ["--delay-ms", str(delay_ms)]
    proc = _spawn(cmd, log)
    wait_for_port(port, proc=proc)
    return Service("localstripe", f"http://127.0.0.1:{port}", [proc])


# -- OIDC provider ----------------------------------------------------------------------------------
def start_oidc_provider(port: int | None = None, log: Path | None = None, *, users: Sequence[Mapping[str, object]] = (),
                        browser_origins: Sequence[str] = (), token_max_age: int = 3600) -> Service:
    """oidc-provider-mock; with `users` (claims with "sub") or `browser_origins`, the browser-ready
    wrapper dev/oidc_provider.py: predefined users to pick, CORS for those origins, PKCE public clients."""
    port = port or free_port()
    if users or browser_origins:
        cmd = [sys.executable, str(ROOT / "dev" / "oidc_provider.py"), "-H", "127.0.0.1", "-p", str(port),
               "-e", str(token_max_age)]
        cmd += [arg for user in users for arg in ("--user-claims", json.dumps(dict(user)))]
        cmd += [arg for origin in browser_origins for arg in ("--browser-origin", origin)]
    else:
        exe = shutil.which("oidc-provider-mock") or str(Path(sys.executable).with_name("oidc-provider-mock"))
        cmd = [exe, "-H", "127.0.0.1", "-p", str(port), "-e", str(token_max_age)]
    proc = _spawn(cmd, log)
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port, proc=proc)
    wait_for_http(f"{url}/.well-known/openid-configuration")
    return Service("oidc", url, [proc])


# -- SMTP server ----------------------------------------------------------------------------------
def start_mail_server(directory: Path, port: int | None = None, log: Path | None = None) -> Service:
    """aiosmtpd keeping every mail under `directory` (dev/mail_server.py); its url is an SMTP_URL."""
    port = port or free_port()
    proc = _spawn([sys.executable, "-m", "dev.mail_server", "serve", "--port", str(port), "--dir", str(directory)],
                  log, env={"PYTHONPATH": str(ROOT)})
    wait_for_port(port, proc=proc)
    return Service("smtp", f"smtp://127.0.0.1:{port}", [proc])
