"""GET / (the web UI), /assets/{asset} (its built files) and /config.json (what the browser needs).

The UI is a static directory (web/dist, built by `make run`); any static server can serve
it. This handler serves it on the API's own origin, so the browser needs no CORS and the
ID token never leaves that origin; the Content-Security-Policy names the only other
places the page may talk to: the OIDC provider and Stripe.
"""

import re
from pathlib import Path
from urllib.parse import urlparse

from lending.errors import NotFound
from lending_http import Call, Response, operation
from lending_settings import Settings

WEB_ROOT = Path(__file__).resolve().parents[2] / "web" / "dist"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".map": "application/json"}
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}")
STRIPE_API = "https://api.stripe.com"


def _origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(config: Settings) -> str:
    stripe_js = _origin(config.stripe_js_url)
    stripe_api = _origin(config.stripe_api_base) if config.stripe_api_base else STRIPE_API
    return "; ".join([
        "default-src 'self'", f"script-src 'self' {stripe_js}", "style-src 'self' 'unsafe-inline'",
        f"connect-src 'self' {_origin(config.oidc_issuer)} {stripe_api}",
        f"frame-src {stripe_js} https://hooks.stripe.com", "img-src 'self' data:",
        "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
    ])


def _read(name: str) -> str | None:
    path = WEB_ROOT / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def browser_config(config: Settings) -> dict[str, object]:
    return {
        "oidc": {"authority": config.oidc_issuer, "client_id": config.oidc_audience, "scope": "openid profile email"},
        "stripe": {"publishable_key": config.stripe_publishable_key, "js_url": config.stripe_js_url},
        "currency": config.default_currency,
    }


@operation("web")
def handle(call: Call) -> Response:
    request, config = call.request, call.settings
    if request.path == "/config.json":
        return Response(200, browser_config(config), {"Cache-Control": "no-store"})
    if request.path == "/":
        page = _read("index.html")
        if page is None:
            raise NotFound("The web UI is not built: run `make ui-build`.")
        return Response(200, page, {"Cache-Control": "no-cache", "Content-Security-Policy": content_security_policy(config),
                                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
                        "text/html; charset=utf-8")
    name = request.path_params.get("asset", "")
    kind = TYPES.get(Path(name).suffix)
    body = _read(name) if kind and ASSET_NAME.fullmatch(name) and ".." not in name else None
    if body is None:
        raise NotFound(f"No asset {name!r}.")
    # Built names carry a content hash, so a name never changes meaning.
    return Response(200, body, {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
                    kind)
