"""Chalice host for developers (`chalice local`): every route of every function, one way in.

No logic lives here: chalice's request becomes our Request, the function's operation serves it,
and our Response goes back as chalice's. The routes come from the functions' function.json.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for layer in sorted((HERE / "layers").glob("*/python")):
    if str(layer) not in sys.path:
        sys.path.insert(0, str(layer))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from chalice import Chalice, Response  # noqa: E402

from lending_aws import bootstrap  # noqa: E402
from lending_http.messages import Request  # noqa: E402
from lending_http.routes import NoRoute  # noqa: E402
from lending_http.service import Service, no_route  # noqa: E402
from lending_settings import ConfigError  # noqa: E402

try:  # settings held in AWS (secrets, parameters) are read once, before serving; a bad one stops here
    bootstrap()
    service = Service.of(HERE / "functions")
    service.deps.settings  # noqa: B018 - read (and check) the settings now
except ConfigError as exc:
    sys.exit(f"library-lending: configuration error: {exc}")



def _answer_unrouted(handler: Any) -> None:
    """chalice local answers an unknown route with API Gateway's 403 and an unknown method (TRACE) with
    an HTML 501; answer both as the VM does: 404, or 405 with Allow, as problem+json."""
    routed = handler._generic_handle

    def generic(self: Any) -> None:
        path = self.path.split("?", 1)[0]
        path = path[:-1] if len(path) > 1 and path.endswith("/") else path
        found = service.match(self.command, path)
        if not isinstance(found, NoRoute) or (self.command == "OPTIONS" and found.allowed):
            return routed(self)
        request = Request.build(method=self.command, path=path, headers={k.lower(): v for k, v in self.headers.items()})
        response = no_route(request, found.allowed)
        body = response.encoded()
        self.send_response(response.status)
        for name, value in {**response.all_headers(request.request_id), "Content-Length": str(len(body)),
                            "Connection": "close"}.items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True  # a body we did not read must not be taken for the next request
        if self.command != "HEAD":
            self.wfile.write(body)

    handler._generic_handle = generic
    for method in ("GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"):
        setattr(handler, f"do_{method}", generic)
    handler.__getattr__ = lambda self, name: (generic.__get__(self) if name.startswith("do_") else
                                              object.__getattribute__(self, name))


try:  # chalice local's listen backlog is 5; under concurrent clients connections stall.
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer

    ThreadedHTTPServer.request_queue_size = 128
    _answer_unrouted(ChaliceRequestHandler)
except ImportError:  # pragma: no cover - not present when packaged
    pass

app = Chalice(app_name="library-lending")
app.api.binary_types = []
# No media types listed: chalice then checks none (its own 415 is not problem+json), and every request
# reaches the operation, which answers an unsupported body itself, as on a VM and on Lambda.
CONTENT_TYPES: list[str] = []


def _view(function: str, resource: str) -> object:
    def view(**path_params: str) -> Response:
        current = app.current_request
        query = current.query_params
        request = Request.build(
            method=current.method, path=_path(resource, path_params), headers={k.lower(): v for k, v in current.headers.items()},
            query={k: query.getlist(k) for k in query} if query else {}, path_params=path_params,
            body=current.raw_body or b"", host_request_id=current.context.get("requestId"))
        response = service.serve(function, request)
        return Response(body=_text(response.encoded()), status_code=response.status,
                        headers=response.all_headers(request.request_id))

    view.__name__ = f"{function}_{abs(hash(resource))}"
    return view


def _text(body: bytes) -> str | bytes:
    """Chalice sends a str body as it is; bytes only for its binary types (none here)."""
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body


def _path(resource: str, path_params: dict[str, str]) -> str:
    for name, value in path_params.items():
        resource = resource.replace("{" + name + "}", value)
    return resource


for _function in service.functions.values():
    for _method, _resource in _function.routes:
        app.route(_resource, methods=[_method], content_types=CONTENT_TYPES,
                  name=f"{_function.name}_{_method}_{_resource}")(_view(_function.name, _resource))
