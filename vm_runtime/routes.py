"""The route table, read from each handler's functions/<op>/function.json (the one list of routes).

A path matches a route template the way API Gateway matches resources: `{name}` takes one
path segment, `{name+}` the rest of the path, and a literal segment beats a parameter.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ProxyHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    function: str
    pattern: re.Pattern[str] = field(compare=False, repr=False)
    literal_segments: int = 0

    @classmethod
    def of(cls, method: str, resource: str, function: str) -> Route:
        regex, last = "", 0
        for m in _PARAM.finditer(resource):
            regex += re.escape(resource[last:m.start()])
            regex += f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
            last = m.end()
        regex += re.escape(resource[last:])
        literal = sum(1 for part in resource.split("/") if part and not _PARAM.fullmatch(part))
        return cls(method.upper(), resource, function, re.compile(regex), literal)


@dataclass(frozen=True)
class Match:
    route: Route
    path_params: dict[str, str]


@dataclass(frozen=True)
class NoRoute:
    allowed: tuple[str, ...]  # methods the path does have; empty when the path is unknown


class RouteTable:
    """Routes of every function; `match` picks the most specific route for a method and path."""

    def __init__(self, routes: list[Route], functions_dir: Path,
                 handlers: Mapping[str, ProxyHandler] | None = None) -> None:
        self.routes = sorted(routes, key=lambda r: -r.literal_segments)
        self._functions_dir = functions_dir
        self._handlers: dict[str, ProxyHandler] = dict(handlers or {})

    @classmethod
    def load(cls, functions_dir: Path = ROOT / "functions") -> RouteTable:
        routes = []
        for manifest in sorted(functions_dir.glob("*/function.json")):
            spec = json.loads(manifest.read_text())
            routes += [Route.of(method, resource, manifest.parent.name) for method, resource in spec.get("routes", [])]
        if not routes:
            raise RuntimeError(f"no routes found under {functions_dir}")
        return cls(routes, functions_dir)

    def match(self, method: str, path: str) -> Match | NoRoute:
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method.upper():
                return Match(route, found.groupdict())
            allowed.append(route.method)
        return NoRoute(tuple(sorted(set(allowed))))

    def handler(self, function: str) -> ProxyHandler:
        if function not in self._handlers:
            module = importlib.import_module(f"{self._functions_dir.name}.{function}.handler")
            self._handlers[function] = module.handle
        return self._handlers[function]

    def load_handlers(self) -> None:
        """Import every handler now, so a broken one stops start-up rather than a request."""
        for route in self.routes:
            self.handler(route.function)
