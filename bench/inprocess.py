"""The plain handler path: C threads call the Lambda handlers directly (no HTTP, no host).

Run as its own process by bench (so its CPU is counted apart and its logs go to a file):
    python -m bench.inprocess CONFIG.json RESULT.json
CONFIG holds the service settings, books, tokens, seconds.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any


def event(method: str, path: str, resource: str, book_id: str, token: str, body: dict[str, Any] | None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": {"book_id": book_id}, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": path,
                           "requestId": str(uuid.uuid4()), "stage": "bench"},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    os.environ.update(config["env"])
    import importlib

    from bench import load

    borrow = importlib.import_module("functions.borrow.handler").handle
    give_back = importlib.import_module("functions.return.handler").handle
    handlers = {"borrow": (borrow, "/books/{book_id}/borrow"), "return": (give_back, "/books/{book_id}/return")}

    def make() -> load.Call:
        def call(path: str, token: str, body: dict[str, Any] | None, _: str = "") -> tuple[int, bytes]:
            book_id, action = path.split("/")[2], path.rsplit("/", 1)[1]
            handler, resource = handlers[action]
            result = handler(event("POST", path, resource, book_id, token, body), None)
            return int(result["statusCode"]), result["body"].encode()

        return call

    samples = load.cycles(make, config["books"], config["tokens"], config["seconds"])
    with open(sys.argv[2], "w") as out:
        json.dump(asdict(samples), out)


if __name__ == "__main__":
    main()
