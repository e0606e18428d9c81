"""The web UI in real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the stack
composed as `make run` composes it: embedded PostgreSQL with the demo books, localstripe with its
Stripe.js stand-in, the local OIDC provider with its demo users, and `chalice local` serving the
API and the built UI on one origin.

Every browser context may reach loopback only (anything else is aborted before it leaves), and
at the end of every test it is checked that the ID token went only to the API's origin, never
into localStorage and never to the console.

What a test cannot do without is checked where it is needed: npm by `ui_stack`, Chromium by
`browser` (the static-file tests need no browser). Missing, each is a skip with its reason under
plain pytest, and a failure under make test (tests/support/skips.py).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from dev.demo_users import DEMO_USERS
from dev.embedded import ROOT, Service, free_port, start_localstripe, start_oidc_provider
from tests.conftest import Client, create_database
from tests.support.skips import unavailable
from tests.support.stack import ChaliceServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("UI_SCREENSHOTS", ROOT / "test-results" / "ui-screenshots"))
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLIENT_ID = "library-ui"
TEST_CARD = "4242424242424242"
DECLINED_AT_CONFIRM = "4000000000000341"


@dataclass
class UiStack:
    url: str
    issuer: str
    stripe_url: str
    stripe: Service
    webhook_secret: str
    log_dir: Path
    database_url: str = ""  # for a test that must move time on (a loan's due date), as the e2e fees tests do

    @contextmanager
    def stripe_stopped(self) -> Iterator[None]:
        """The payment processor is down for a while, then back on the same address (empty, as after a restart)."""
        self.stripe.stop()
        try:
            yield
        finally:
            port = urllib.parse.urlsplit(self.stripe_url).port
            self.stripe = start_localstripe(port=port, log=self.log_dir / "ui-localstripe.log")
            from dev.run import _register_webhook

            _register_webhook(self.stripe_url, f"{self.url}/webhooks/stripe", self.webhook_secret)

    def id_token(self, sub: str) -> str:
        """An ID token for a demo user, by the code flow without a browser (as a confidential client)."""
        redirect = "http://127.0.0.1/callback"
        query = {"client_id": CLIENT_ID, "redirect_uri": redirect, "response_type": "code",
                 "scope": "openid profile email", "nonce": secrets.token_urlsafe(8), "state": "s"}
        answer = requests.post(f"{self.issuer}/oauth2/authorize", params=query, data={"sub": sub},
                               allow_redirects=False, timeout=10)
        code = urllib.parse.parse_qs(urllib.parse.urlparse(answer.headers["location"]).query)["code"][0]
        token = requests.post(f"{self.issuer}/oauth2/token", timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": CLIENT_ID,
            "client_secret": "dev"})
        token.raise_for_status()
        return str(token.json()["id_token"])

    def api_as(self, sub: str) -> Client:
        return Client(self.url, self.id_token(sub))

    def add_book(self, title: str, **overrides: Any) -> dict[str, Any]:
        """One copy of a new title (a fresh ISBN, unless given: copies sharing an ISBN are one title)."""
        body = {"isbn": fresh_isbn(), "title": title, "author": "Ursula Tester", "price_cents": 1500,
                "borrow_fee_cents": 250, "currency": "usd", **overrides}
        answer = self.api_as("libby").post("/books", body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def add_title(self, title: str, copies: int = 1, **overrides: Any) -> dict[str, Any]:
        """A new title with `copies` copies: its GET /titles/{id} plus the copies' ids as `book_ids`."""
        first = self.add_book(title, **overrides)
        others = [self.add_book(title, **{**overrides, "isbn": first["isbn"]}) for _ in range(copies - 1)]
        assert {b["title_id"] for b in others} <= {first["title_id"]}
        detail = self.api_as("alice").get(f"/titles/{first['title_id']}").json()
        return {**detail, "book_ids": [first["book_id"], *(b["book_id"] for b in others)]}


def _build_ui() -> None:
    if shutil.which("npm") is None:
        unavailable("npm is missing, so the web UI cannot be built (make test installs Debian's nodejs and npm)")
    build = subprocess.run(["make", "-s", "ui-build"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if build.returncode != 0:
        pytest.fail(f"make ui-build failed:\n{(build.stdout + build.stderr)[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def ui_stack(postgres_server: str, run_dir: Path) -> Iterator[UiStack]:
    """The services dev/run.py starts, wired the way it wires them, on a fresh database."""
    from dev.run import _register_webhook, prepare_database

    _build_ui()
    database = create_database(postgres_server, f"lending_ui_{uuid.uuid4().hex[:8]}")
    prepare_database(database)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    stripe = start_localstripe(log=run_dir / "ui-localstripe.log")
    oidc = start_oidc_provider(log=run_dir / "ui-oidc.log", users=DEMO_USERS, browser_origins=[origin])
    env = {
        "DATABASE_URL": database, "STRIPE_API_KEY": "sk_test_ui_" + secrets.token_hex(6), "STRIPE_API_BASE": stripe.url,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16), "STRIPE_PUBLISHABLE_KEY": "pk_test_local",
        "STRIPE_JS_URL": f"{stripe.url}/js.stripe.com/v3/", "OIDC_ISSUER": oidc.url, "OIDC_AUDIENCE": CLIENT_ID,
        "APP_VERSION": "ui-test", "LENDING_METRICS": "off",
    }
    server = None
    try:
        server = ChaliceServer(env, run_dir / "ui-chalice.log", port=port)
        _register_webhook(stripe.url, f"{origin}/webhooks/stripe", env["STRIPE_WEBHOOK_SECRET"])
        stack = UiStack(url=origin, issuer=oidc.url, stripe_url=stripe.url, stripe=stripe,
                        webhook_secret=env["STRIPE_WEBHOOK_SECRET"], log_dir=run_dir, database_url=database)
        yield stack
        stripe = stack.stripe
    finally:
        if server is not None:
            server.stop()
        oidc.stop()
        stripe.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable(f"Debian's chromium is not installed at {CHROMIUM} (make test installs it: .ci/apt-packages)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visitor:
    """One person's browser: a fresh context that may reach loopback only, watched for the token's travels."""

    stack: UiStack
    context: Any
    page: Any
    bearer_origins: list[str] = field(default_factory=list)
    bearers: set[str] = field(default_factory=set)
    console: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    api_posts: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Idempotency-Key)

    def sign_in(self, sub: str, *, from_hash: str = "#/") -> None:
        self.page.goto(f"{self.stack.url}/{from_hash}")
        self.page.locator("#nav").get_by_role("button", name="Sign in").click()
        self.pick_user(sub)

    def pick_user(self, sub: str) -> None:
        self.page.wait_for_url(f"{self.stack.issuer}/oauth2/authorize?**")
        self.page.get_by_role("button", name=sub, exact=True).click()
        self.page.wait_for_url(f"{self.stack.url}/#/**")
        self.page.locator("#nav").get_by_text("Signed in as").wait_for()

    def goto(self, hash_route: str) -> None:
        self.page.goto(f"{self.stack.url}/{hash_route}")
        self.page.locator("main h1").first.wait_for()

    def fill_card(self, number: str = TEST_CARD) -> None:
        page = self.page
        page.get_by_label("Card number").fill(number)
        page.get_by_label("Expiry month (MM)").fill("12")
        page.get_by_label("Expiry year (YY)").fill("34")
        page.get_by_label("Security code (CVC)").fill("123")
        page.get_by_label("Postal code").fill("12345")

    def search(self, text: str) -> None:
        self.page.get_by_label("Title, author or ISBN").fill(text)
        self.page.get_by_role("button", name="Search").click()
        self.page.get_by_role("heading", name=re.compile(r"found")).wait_for()


@pytest.fixture
def visitor(browser: Any, ui_stack: UiStack) -> Iterator[Callable[..., Visitor]]:
    """Open browser contexts; afterwards check where the token went, then close them."""
    opened: list[Visitor] = []

    def open_visitor(viewport: dict[str, int] | None = None) -> Visitor:
        context = browser.new_context(locale="en-US", timezone_id="UTC",
                                      viewport=viewport or {"width": 1280, "height": 800})
        context.set_default_timeout(15_000)
        page = context.new_page()
        visit = Visitor(ui_stack, context, page)

        def only_loopback(route: Any) -> None:
            if urllib.parse.urlsplit(route.request.url).hostname in LOOPBACK:
                route.continue_()
            else:  # e.g. the OIDC mock's sign-in page links a stylesheet from a CDN
                visit.blocked.append(route.request.url)
                route.abort("blockedbyclient")

        def watch(request: Any) -> None:
            if request.method == "POST" and request.url.startswith(ui_stack.url + "/"):
                visit.api_posts.append((urllib.parse.urlsplit(request.url).path, request.headers.get("idempotency-key")))
            bearer = request.headers.get("authorization")
            if bearer:
                parts = urllib.parse.urlsplit(request.url)
                visit.bearer_origins.append(f"{parts.scheme}://{parts.netloc}")
                visit.bearers.add(bearer.removeprefix("Bearer "))

        context.route("**/*", only_loopback)
        context.on("request", watch)
        page.on("console", lambda message: visit.console.append(message.text))
        opened.append(visit)
        return visit

    yield open_visitor
    try:
        for visit in opened:
            assert set(visit.bearer_origins) <= {ui_stack.url}, f"a token went elsewhere: {visit.bearer_origins}"
            unkeyed = [path for path, key in visit.api_posts if not key]
            assert not unkeyed, f"state-changing requests without an Idempotency-Key: {unkeyed}"
            for token in visit.bearers:
                assert all(token not in line for line in visit.console), "the token was written to the console"
                if not visit.page.is_closed() and visit.page.url.startswith(ui_stack.url):
                    local = visit.page.evaluate("() => JSON.stringify(window.localStorage)")
                    assert token not in local, "the token was put in localStorage"
    finally:
        for visit in opened:
            visit.context.close()


def accessible(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    detail = "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad)
    assert not bad, f"accessibility problems on the {name} page:\n{detail}"


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def fresh_isbn() -> str:
    """An ISBN-13-shaped number no other test (or demo book) uses."""
    return "979" + "".join(secrets.choice("0123456789") for _ in range(10))


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"
