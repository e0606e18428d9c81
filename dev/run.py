"""`make run`: the service on embedded defaults, one command, nothing left behind.

Every default steps aside when its setting is given: DATABASE_URL, STRIPE_API_KEY
(+ STRIPE_API_BASE), OIDC_ISSUER + OIDC_AUDIENCE. The scheduled jobs run in the background
(dev/scheduler.py; JOBS_INTERVAL overrides every period). Ctrl-C or SIGTERM stops
everything this started, the daemonised PostgreSQL included.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from dev.embedded import (
    ROOT,
    Service,
    start_localstripe,
    start_mail_server,
    start_oidc_provider,
    stop_all,
    supervised,
    wait_for_http,
)
from dev.embedded_postgres import start_postgres
from dev.scheduler import describe
from dev.scheduler import start as scheduler_start

RUN_DIR = ROOT / ".run"
STATE = RUN_DIR / "dev.env"


def prepare_database(url: str) -> int:
    from dev.demo_books import seed
    from lending_postgres import ConnectionPool, PostgresStore, migrate

    pool = ConnectionPool(url, size=2)
    try:
        migrate(pool)
        return seed(PostgresStore(pool))
    finally:
        pool.close()


def main() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    host, port = env.get("HOST", "127.0.0.1"), int(env.get("PORT", "8000"))
    services: list[Service] = []
    with supervised() as stack:
        stack.callback(STATE.unlink, missing_ok=True)
        stack.callback(stop_all, services)
        lines, local_oidc = start_defaults(
            env, services, browser_origins=(f"http://{host}:{port}", f"http://localhost:{port}"))
        seeded = prepare_database(env["DATABASE_URL"])
        write_state(env, local_oidc, f"http://{host}:{port}")
        env.setdefault("APP_VERSION", _git_sha())
        chalice = Path(sys.executable).with_name("chalice")
        server = subprocess.Popen([str(chalice), "local", "--no-autoreload", "--host", host, "--port", str(port)],
                                  cwd=ROOT, env=env, start_new_session=True)
        stack.callback(Service("chalice", f"http://{host}:{port}", [server]).stop)
        wait_for_http(f"http://{host}:{port}/health", timeout=60)
        if "STRIPE_API_BASE" in env and env.get("STRIPE_WEBHOOK_SECRET", "").startswith("whsec_"):
            _register_webhook(env["STRIPE_API_BASE"], f"http://{host}:{port}/webhooks/stripe",
                              env["STRIPE_WEBHOOK_SECRET"])
        scheduler, periods = scheduler_start(env)  # the jobs, in the background of this process
        stack.callback(scheduler.shutdown, wait=False)
        print("\nLibrary lending service is up.\n", flush=True)
        print(f"  Web UI                  http://{host}:{port}/   (test card 4242 4242 4242 4242)")
        print(f"  API                     http://{host}:{port}   (try GET /books)")
        print(*lines, sep="\n")
        print(f"  demo books added        {seeded}")
        print(f"  jobs (docs/jobs.md)     {describe(periods)}   (make jobs: every due one now)")
        if local_oidc:
            print("\n  Sign in on the web UI as alice or bob (patrons) or libby (librarian).")
            print("  Get a token:   make token USER=alice      (librarian: make token USER=libby LIBRARIAN=1)")
        print("  Stop:          Ctrl-C\n", flush=True)
        return server.wait()
    return 0


def start_defaults(env: dict[str, str], services: list[Service],
                   browser_origins: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    """An embedded stand-in (dev/embedded.py) for each dependency whose setting `env` lacks, filled into
    `env`; what it starts is appended to `services` for the caller to stop. Shared by `make run` and
    `make vm-local`. Returns lines describing each dependency, and whether the OIDC provider is the mock."""
    lines: list[str] = []
    if not env.get("DATABASE_URL"):
        pg = start_postgres(RUN_DIR / "postgres", log=RUN_DIR / "postgres.log")
        services.append(pg)
        env["DATABASE_URL"] = pg.url
        lines.append(f"  PostgreSQL (embedded)   {pg.url}   data in .run/postgres")
    else:
        lines.append("  PostgreSQL              DATABASE_URL from your environment")
    if not env.get("STRIPE_API_KEY"):
        stripe = start_localstripe(log=RUN_DIR / "localstripe.log")
        services.append(stripe)
        env["STRIPE_API_KEY"] = "sk_test_local_" + secrets.token_hex(8)
        env["STRIPE_API_BASE"] = stripe.url
        env.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_" + secrets.token_hex(16))
        env.setdefault("STRIPE_PUBLISHABLE_KEY", "pk_test_local")
        env.setdefault("STRIPE_JS_URL", f"{stripe.url}/js.stripe.com/v3/")  # its Stripe.js stand-in
        lines.append(f"  Stripe (localstripe)    {stripe.url}   test card pm_card_visa; declines: pm_card_chargeCustomerFail")
    else:
        lines.append("  Stripe                  STRIPE_API_KEY from your environment")
    if not env.get("SMTP_URL"):
        smtp = start_mail_server(RUN_DIR / "mail", log=RUN_DIR / "smtp.log")
        services.append(smtp)
        env["SMTP_URL"] = smtp.url
        lines.append(f"  SMTP (aiosmtpd)         {smtp.url}   mail kept in .run/mail (make mail lists it)")
    else:
        lines.append("  SMTP                    SMTP_URL from your environment")
    env.setdefault("MAIL_FROM", "notices@library.localhost")
    _short_loans_short_jobs(env)
    local_oidc = not env.get("OIDC_ISSUER")
    if local_oidc:
        from dev.demo_users import DEMO_USERS

        oidc = start_oidc_provider(log=RUN_DIR / "oidc.log", users=DEMO_USERS, browser_origins=list(browser_origins))
        services.append(oidc)
        env["OIDC_ISSUER"], env["OIDC_AUDIENCE"] = oidc.url, env.get("OIDC_AUDIENCE") or "library-ui"
        lines.append(f"  OIDC provider (mock)    {oidc.url}   dev sign-in, loopback only")
    elif not env.get("OIDC_AUDIENCE"):
        raise SystemExit("OIDC_AUDIENCE is required with OIDC_ISSUER")
    else:
        lines.append(f"  OIDC provider           {env['OIDC_ISSUER']}")
    return lines, local_oidc


def _short_loans_short_jobs(env: dict[str, str]) -> None:
    """`make run LOAN_PERIOD=PT1M`: the jobs run every tenth of the loan (at least every second), unless
    JOBS_INTERVAL says otherwise, so a due-soon and then an overdue mail arrive with nobody touching anything."""
    from datetime import timedelta

    import msgspec

    if env.get("JOBS_INTERVAL") or not env.get("LOAN_PERIOD"):
        return
    loan = msgspec.convert(env["LOAN_PERIOD"], timedelta, strict=False)
    if loan < timedelta(hours=1):
        env["JOBS_INTERVAL"] = f"PT{max(1, int(loan.total_seconds() // 10))}S"


def write_state(env: dict[str, str], local_oidc: bool, api: str) -> None:
    """Settings of this run for `make token` and `make reconcile` (owner-only: it holds dev keys)."""
    keys = ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET", "OIDC_ISSUER", "OIDC_AUDIENCE",
            "SMTP_URL", "MAIL_FROM")
    lines = [f"{k}={env[k]}" for k in keys if env.get(k)]
    lines += [f"LOCAL_OIDC={'1' if local_oidc else '0'}", f"API={api}"]
    STATE.touch(mode=0o600)
    STATE.chmod(0o600)
    STATE.write_text("\n".join(lines) + "\n")


def _register_webhook(stripe_base: str, url: str, secret: str) -> None:
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    req = urllib.request.Request(f"{stripe_base}/_config/webhooks/lending", data=data)
    req.add_header("Authorization", "Bearer sk_test_local")
    try:
        urllib.request.urlopen(req, timeout=5).close()  # noqa: S310 - local stand-in
    except OSError as exc:
        print(f"  (webhooks not registered with localstripe: {exc})")


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "dev"


if __name__ == "__main__":
    sys.exit(main())
