"""The UI's files on the API's origin: cache rules, a strict Content-Security-Policy, nothing outside web/dist.

Plain HTTP against the stack: no browser is needed, so these run where Chromium is missing too.
"""

from __future__ import annotations

import re

import requests

from tests.ui.conftest import UiStack


def test_the_page_names_its_hashed_assets_and_only_the_places_it_may_talk_to(ui_stack: UiStack) -> None:
    page = requests.get(f"{ui_stack.url}/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-cache"
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["connect-src"].split() == ["'self'", ui_stack.issuer, ui_stack.stripe_url]
    assert policy["script-src"].split() == ["'self'", ui_stack.stripe_url]
    assert policy["frame-ancestors"] == "'none'"

    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
    assert {a.rsplit(".", 1)[1] for a in assets} == {"js", "css"}
    for asset in assets:
        answer = requests.get(ui_stack.url + asset, timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert answer.headers["Content-Type"].startswith(("text/javascript", "text/css"))


def test_the_browser_config_has_the_provider_the_client_and_the_publishable_key_only(ui_stack: UiStack) -> None:
    config = requests.get(f"{ui_stack.url}/config.json", timeout=10)
    assert config.headers["Cache-Control"] == "no-store"
    assert config.json() == {
        "oidc": {"authority": ui_stack.issuer, "client_id": "library-ui", "scope": "openid profile email"},
        "stripe": {"publishable_key": "pk_test_local", "js_url": f"{ui_stack.stripe_url}/js.stripe.com/v3/"},
        "currency": "usd",
    }
    assert "sk_" not in config.text and "whsec_" not in config.text


def test_nothing_outside_the_built_directory_is_served(ui_stack: UiStack) -> None:
    for name in ["..%2Fbuild.mjs", "..%2F..%2Fapp.py", "index.html", "missing.js", ".hidden.js", "package.json"]:
        answer = requests.get(f"{ui_stack.url}/assets/{name}", timeout=10)
        assert answer.status_code == 404, name
        assert answer.headers["Content-Type"] == "application/problem+json", name
