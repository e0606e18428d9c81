"""A second service instance whose log this package reads: DEBUG logs and EMF metrics on.

It shares the suite's database, processor and issuer; its log file is its own, so a
test can read exactly the lines its requests produced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import ChaliceServer


class TracedService:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._server = ChaliceServer(env, log)
        self.url = self._server.url

    def mark(self) -> int:
        """Where the log ends now; `lines_since(mark)` reads what came after."""
        return self.log.stat().st_size

    def lines_since(self, mark: int) -> list[dict[str, Any]]:
        with open(self.log, "rb") as f:
            f.seek(mark)
            text = f.read().decode("utf-8", "replace")
        found = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # chalice's own access log lines
            if isinstance(record, dict):
                found.append(record)
        return found

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture(scope="session")
def traced(service_env: dict[str, str], run_dir: Path) -> Iterator[TracedService]:
    env = {**service_env, "LOG_LEVEL": "DEBUG", "LENDING_METRICS": "on"}
    service = TracedService(env, run_dir / "chalice-traced.log")
    yield service
    service.stop()
