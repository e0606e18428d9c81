"""Chalice host for developers (`chalice local`): routes each endpoint to its handler.

No logic lives here. Each request is turned into the full API Gateway proxy event
that Lambda delivers, the handler under functions/ runs, and its proxy response is
returned as it is. The routes come from each handler's function.json.
"""

from __future__ import annotations

import base64
import importlib
import json
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

from lending.config import ConfigError  # noqa: E402
from lending_aws import bootstrap  # noqa: E402

try:  # settings held in AWS (secrets, parameters) are read once, before serving; a bad one stops here
    bootstrap()
except ConfigError as exc:
    sys.exit(f"library-lending: configuration error: {exc}")

try:  # chalice local's listen backlog is 5; under concurrent clients connections stall.
    from chalice.local import ThreadedHTTPServer

    ThreadedHTTPServer.request_queue_size = 128
except ImportError:  # pragma: no cover - not present when packaged
    pass

app = Chalice(app_name="library-lending")
app.api.binary_types = []
CONTENT_TYPES = ["application/json", "application/problem+json", "text/plain", "application/octet-stream",
                 "application/x-www-form-urlencoded"]


def proxy_event(resource: str) -> dict[str, Any]:
    request = app.current_request
    path_params = dict(request.uri_params or {})
    path = resource
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", value)
    query = request.query_params
    raw = request.raw_body or b""
    try:
        body, encoded = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode(), True
    headers = dict(request.headers)
    return {
        "resource": resource, "path": path, "httpMethod": request.method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: query.getlist(k)[-1] for k in query} if query else None,
        "multiValueQueryStringParameters": {k: query.getlist(k) for k in query} if query else None,
        "pathParameters": path_params or None, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": request.method, "path": path,
                           "requestId": request.context.get("requestId"), "stage": "local"},
        "body": body or None, "isBase64Encoded": encoded,
    }


def _view(handler: Any, resource: str) -> Any:
    def view(**_: str) -> Response:
        result = handler(proxy_event(resource), None)
        return Response(body=result.get("body") or "", status_code=result["statusCode"],
                        headers=result.get("headers") or {})

    view.__name__ = f"{handler.__module__.replace('.', '_')}_{abs(hash(resource))}"
    return view


def _register() -> None:
    for manifest in sorted((HERE / "functions").glob("*/function.json")):
        spec = json.loads(manifest.read_text())
        module = importlib.import_module(f"functions.{manifest.parent.name}.handler")
        for method, resource in spec["routes"]:
            app.route(resource, methods=[method], content_types=CONTENT_TYPES,
                      name=f"{manifest.parent.name}_{method}_{resource}")(_view(module.handle, resource))


_register()
