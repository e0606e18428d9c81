"""Start the service under test as a real HTTP server (chalice local), as `make run` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from dev.embedded import ROOT, free_port, wait_for_http


class ChaliceServer:
    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        chalice = Path(sys.executable).with_name("chalice")
        self._log = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(chalice), "local", "--no-autoreload", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_http(f"{self.url}/health", timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
