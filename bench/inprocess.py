"""The plain handler path: C threads call the operations directly through the Service (no HTTP, no host).

Run as its own process by bench (so its CPU is counted apart and its logs go to a file):
    python -m bench.inprocess CONFIG.json RESULT.json
CONFIG holds the service settings, books, tokens, seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    os.environ.update(config["env"])
    from bench import load
    from lending_http.messages import Request
    from lending_http.service import Service

    service = Service.of(Path(__file__).resolve().parent.parent / "functions", only=["borrow", "return"]).load()

    def make() -> load.Call:
        def call(path: str, token: str, body: dict[str, Any] | None, _: str = "") -> tuple[int, bytes]:
            book_id, action = path.split("/")[2], path.rsplit("/", 1)[1]
            request = Request.build(method="POST", path=path, path_params={"book_id": book_id},
                                    headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
                                    body=json.dumps(body).encode() if body is not None else b"")
            response = service.serve(action, request)
            return response.status, response.encoded()

        return call

    started: list[float] = []
    samples = load.cycles(make, config["books"], config["tokens"], config["seconds"],
                          on_start=lambda: started.append(time.process_time()))
    with open(sys.argv[2], "w") as out:
        json.dump({**asdict(samples), "service_cpu_seconds": time.process_time() - started[0]}, out)


if __name__ == "__main__":
    main()
