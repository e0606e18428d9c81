"""Hold HTTP responses to the OpenAPI contract (functions/docs/openapi.json).

`violations(method, path, status, headers, body)` lists every way one response breaks
the contract: an undeclared route, status or content type, a missing declared header,
a body the declared schema (JSON Schema 2020-12, unknown fields refused) rejects.
`check_response` is a `requests` response hook that fails the calling test at once, and also
records the violation (in case a caller swallowed the AssertionError). `since_now()` starts a
per-test record: the responses checked and the violations seen from then on, that test's own,
whatever ran before it.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "functions" / "docs" / "openapi.json"
SPEC_URI = "urn:lending:openapi"
METHODS = ("get", "post", "put", "patch", "delete")

# Every violation any Client saw in this test session (also raised at once in the caller). Do not
# assert on the whole list: what it holds depends on which tests ran before; use `since_now()`.
seen: list[str] = []
checked = {"responses": 0}
_lock = threading.Lock()


@dataclass(frozen=True)
class Record:
    """What every Client received from one moment on (see `since_now`)."""

    seen_before: int
    checked_before: int

    def violations(self) -> list[str]:
        with _lock:
            return seen[self.seen_before:]

    def responses(self) -> int:
        with _lock:
            return checked["responses"] - self.checked_before


def since_now() -> Record:
    """Start a record of the responses checked and the violations seen from now on (a test's own)."""
    with _lock:
        return Record(len(seen), checked["responses"])


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal paths before templated ones (/books/x vs /books).
    return sorted(routes, key=lambda r: r[1].count("{"))


def operation_of(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, template in _routes():
        if pattern.match(path):
            op = spec()["paths"][template].get(method.lower())
            return (template, op) if op else None
    return None


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource(contents=spec(), specification=DRAFT202012))


def schema_errors(pointer: str, instance: Any) -> list[str]:
    """Validate `instance` against the schema at JSON pointer `pointer` inside the document."""
    validator = Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in validator.iter_errors(instance)]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def violations(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> list[str]:
    where = f"{method} {path} -> {status}"
    found = operation_of(method, path)
    if found is None:
        return [] if not any(p.match(path) for p, _ in _routes()) else [f"{where}: method not in the contract"]
    template, op = found
    responses = op["responses"]
    if str(status) not in responses:
        return [f"{where}: status {status} is not declared for {method.upper()} {template}"]
    declared = resolve(responses[str(status)])
    problems = []
    lower = {k.lower(): v for k, v in headers.items()}
    for name, header in (declared.get("headers") or {}).items():
        if resolve(header).get("required") and name.lower() not in lower:
            problems.append(f"{where}: required header {name} is missing")
    content = declared.get("content") or {}
    if not content:  # e.g. 204: nothing may follow
        return problems + ([f"{where}: a body where none is declared"] if body.strip() else [])
    content_type = lower.get("content-type", "").split(";")[0].strip()
    if content_type not in content:
        return [*problems, f"{where}: content type {content_type!r} not declared ({sorted(content)})"]
    if content_type.endswith("json"):
        try:
            instance = json.loads(body)
        except ValueError:
            return [*problems, f"{where}: body is not JSON"]
        ref = responses[str(status)].get("$ref")
        base = ref.removeprefix("#") if ref else \
            f"/paths/{_escape(template)}/{method.lower()}/responses/{status}"
        pointer = f"{base}/content/{_escape(content_type)}/schema"
        problems += [f"{where}: {e}" for e in schema_errors(pointer, instance)]
    return problems


def check_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests hook: fail the calling test if the response breaks the contract."""
    url = urlsplit(response.request.url or "")
    found = violations(response.request.method or "GET", url.path, response.status_code,
                       dict(response.headers), response.content)
    with _lock:
        checked["responses"] += 1
        seen.extend(found)
    if found:
        raise AssertionError("response breaks the OpenAPI contract:\n" + "\n".join(found))
