"""The service as every host sees it: functions, their routes, their operations, one `Dependencies`.

A host builds our Request from what it receives and calls `respond` (or, when it matched the
route itself, `serve`). No host builds another host's event.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lending_http.bootstrap import Dependencies, Scoped, bootstrap
from lending_http.messages import Request, Response
from lending_http.operation import Job, Operation
from lending_http.problems import problem
from lending_http.routes import Function, Match, NoRoute, RouteTable, functions, read_function


class Service:
    def __init__(self, found: Iterable[Function], deps: Dependencies | None = None) -> None:
        self.functions = {f.name: f for f in found}
        layers = {layer for f in self.functions.values() for layer in f.layers}
        self.deps = deps if deps is not None else bootstrap(layers=layers)
        self.routes = RouteTable.of(tuple(self.functions.values())) if any(f.routes for f in self.functions.values()) \
            else RouteTable([])
        self._handlers: dict[str, Operation | Job] = {}
        self._scopes = {name: self.deps.scoped(f.layers) for name, f in self.functions.items()}

    @classmethod
    def of(cls, functions_dir: Path, deps: Dependencies | None = None, *, only: Iterable[str] | None = None) -> Service:
        if only is None:
            return cls(functions(functions_dir), deps)
        # Only the wanted manifests are read (a Lambda function serves one of 27): ~1 ms of its cold start.
        manifests = (functions_dir / name / "function.json" for name in sorted(set(only)))
        return cls([read_function(m) for m in manifests if m.is_file()], deps)

    def handler(self, function: str) -> Operation | Job:
        if function not in self._handlers:
            found = importlib.import_module(self.functions[function].module).handle
            if not isinstance(found, Operation | Job):
                raise TypeError(f"functions/{function}/handler.py: `handle` is not an operation or a job")
            self._handlers[function] = found
        return self._handlers[function]

    def load(self) -> Service:
        """Import every handler now, so a broken one stops start-up rather than a request."""
        for name in self.functions:
            self.handler(name)
        return self

    def scope(self, function: str) -> Scoped:
        return self._scopes[function]

    def match(self, method: str, path: str) -> Match | NoRoute:
        return self.routes.match(method, path)

    def serve(self, function: str, request: Request) -> Response:
        found = self.handler(function)
        if not isinstance(found, Operation):
            raise TypeError(f"{function} is a job, not an HTTP operation")
        return found.serve(request, self._scopes[function])

    def run_job(self, function: str, **options: Any) -> dict[str, Any]:
        found = self.handler(function)
        if not isinstance(found, Job):
            raise TypeError(f"{function} is not a job")
        return found.run_once(self._scopes[function], **options)

    def respond(self, request: Request) -> Response:
        """Route `request` (its path params are filled in here) and serve it."""
        found = self.match(request.method, request.path)
        if isinstance(found, NoRoute):
            return no_route(request, found.allowed)
        request.path_params = found.path_params
        return self.serve(found.route.function, request)


def no_route(request: Request, allowed: tuple[str, ...]) -> Response:
    if allowed:
        response = problem(405, "Method Not Allowed", f"{request.path} does not accept {request.method}.",
                           request.request_id)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return problem(404, "Not Found", f"No route {request.path}.", request.request_id)
