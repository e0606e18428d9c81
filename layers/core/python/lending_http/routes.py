"""Functions and routes, read from each `functions/<op>/function.json` (the one reader of them).

A path matches a route template the way API Gateway matches resources: `{name}` takes one
path segment, `{name+}` the rest of the path, and a literal segment beats a parameter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


@dataclass(frozen=True)
class Function:
    """One operation's deployable unit: its layers, its routes, and its schedule if it is a job."""

    name: str
    layers: tuple[str, ...]
    routes: tuple[tuple[str, str], ...]
    schedule: str | None = None

    @property
    def module(self) -> str:
        return f"functions.{self.name}.handler"


def read_function(manifest: Path) -> Function:
    spec = json.loads(manifest.read_text())
    return Function(manifest.parent.name, tuple(spec["layers"]),
                    tuple((method.upper(), resource) for method, resource in spec.get("routes", [])),
                    spec.get("schedule"))


@cache
def functions(functions_dir: Path) -> tuple[Function, ...]:
    """Every function under `functions_dir`, by name."""
    return tuple(read_function(m) for m in sorted(functions_dir.glob("*/function.json")))


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

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: -r.literal_segments)

    @classmethod
    def of(cls, found: tuple[Function, ...]) -> RouteTable:
        routes = [Route.of(method, resource, f.name) for f in found for method, resource in f.routes]
        if not routes:
            raise RuntimeError("no routes found")
        return cls(routes)

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
