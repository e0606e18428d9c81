"""GET /openapi.json (the API contract) and GET /docs (the same, as a page for people).

`openapi.json` beside this file is the one source of truth for the API's shape;
tests/api holds every handler to it.
"""

from functools import cache
from pathlib import Path

from lending_http import Call, Response, apidocs, operation

SPEC = Path(__file__).with_name("openapi.json")


@cache
def _spec_text() -> str:
    return SPEC.read_text(encoding="utf-8")


@cache
def _page() -> str:
    return apidocs.render(_spec_text())


@operation("docs")
def handle(call: Call) -> Response:
    if call.request.path.endswith("/openapi.json"):
        return Response(200, _spec_text())
    return Response(200, _page(), {"Content-Security-Policy": apidocs.CONTENT_SECURITY_POLICY},
                    content_type="text/html; charset=utf-8")
