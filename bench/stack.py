"""What every phase runs against: an embedded PostgreSQL, a fresh Stripe stand-in, a token issuer;
and the "before" checkout."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.settings import BEFORE_REF, STRIPE_MODE
from dev.embedded import ROOT, Service, free_port, start_localstripe, wait_for_port
from dev.embedded_postgres import start_postgres


class Stack:
    def __init__(self, work: Path) -> None:
        from tests.support.issuer import TestIssuer

        self.work = work
        self.pg = start_postgres(work / "pg", log=work / "postgres.log")
        self.pgdata = str(work / "pg" / "pgdata")
        self.url = f"{self.pg.url.rsplit('/', 1)[0]}/bench"
        self._admin(["CREATE DATABASE bench"])
        from lending_postgres import ConnectionPool, migrate

        self.pool = ConnectionPool(self.url, size=4)
        migrate(self.pool)
        self.issuer = TestIssuer(audience="bench")
        self.stripe: Service | None = None

    def _admin(self, statements: list[str]) -> None:
        from lending_postgres import ConnectionPool

        admin = ConnectionPool(self.pg.url, size=1)
        with admin.connection() as c:
            for s in statements:
                c.run(s)
        admin.close()

    def sql(self, statement: str, **params: Any) -> Any:
        with self.pool.connection() as c:
            return c.run(statement, **params)

    def fresh_stripe(self, delay_ms: int = 0, keep_seconds: float = 2.0) -> str:
        """A new Stripe-compatible server: its store (and so its per-call cost) starts empty.

        BENCH_STRIPE=lean (default) also drops finished payments' objects as it goes
        (bench/lean_stripe.py); =stock is dev/localstripe_server.py as `make run` uses it.
        """
        if self.stripe:
            self.stripe.stop()
        if STRIPE_MODE == "stock":
            self.stripe = start_localstripe(log=self.work / "localstripe.log", delay_ms=delay_ms)
        else:
            port = free_port()
            cmd = [sys.executable, "-m", "bench.lean_stripe", "--port", str(port), "--keep-seconds", str(keep_seconds)]
            if delay_ms:
                cmd += ["--delay-ms", str(delay_ms)]
            with open(self.work / "localstripe.log", "ab") as log:
                proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            wait_for_port(port, proc=proc)
            self.stripe = Service("localstripe (lean)", f"http://127.0.0.1:{port}", [proc])
        return self.stripe.url

    def env(self, stripe_url: str) -> dict[str, str]:
        return {"DATABASE_URL": self.url, "STRIPE_API_KEY": "sk_test_bench", "STRIPE_API_BASE": stripe_url,
                "STRIPE_WEBHOOK_SECRET": "whsec_bench", "OIDC_ISSUER": self.issuer.url, "OIDC_AUDIENCE": "bench",
                "APP_VERSION": "bench", "DB_POOL_SIZE": "20", "STRIPE_MAX_RETRIES": "0",
                "LENDING_METRICS": "on", "LOG_LEVEL": "INFO"}

    def books(self, n: int, tag: str) -> list[str]:
        rows = self.sql("INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
                        "SELECT gen_random_uuid(), '9780141439518', :t || ' ' || g, 'Bench', 1299, 199, 'usd' "
                        "FROM generate_series(1, :n) g RETURNING book_id::text", t=tag, n=n)
        return [r[0] for r in rows]

    def tokens(self, n: int, tag: str) -> list[str]:
        return [self.issuer.token(f"{tag}-{i}", exp=int(time.time()) + 3600) for i in range(n)]

    def fresh_tables(self) -> None:
        """Each phase on empty tables (autovacuum cannot keep up with a long run's churn)."""
        self.sql("TRUNCATE idempotency_keys, processor_events, book_status_history, holds, renewals, loans, purchases, "
                 "payments, books, titles CASCADE")
        with self.pool.connection() as c:
            c.run("VACUUM ANALYZE")

    def stop(self) -> None:
        if self.stripe:
            self.stripe.stop()
        self.pool.close()
        self.issuer.close()
        self.pg.stop()


def processor_call_ms(stripe_url: str) -> float:
    """One authorise + capture straight against the processor, to see if it slowed down."""
    import stripe

    client = stripe.StripeClient("sk_test_bench", base_addresses={"api": stripe_url})
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        intent = client.v1.payment_intents.create(params={"amount": 100, "currency": "usd", "payment_method":
                                                          "pm_card_visa", "capture_method": "manual", "confirm": True})
        client.v1.payment_intents.capture(intent.id)
        best = min(best, (time.perf_counter() - t) * 1000)
    return best


@contextlib.contextmanager
def before_tree(work: Path) -> Iterator[Path | None]:
    """BENCH_BEFORE_REF checked out (detached, files only) for the "before" columns; None if it cannot be."""
    path = work / "before"
    made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), BEFORE_REF],
                          capture_output=True, text=True)
    try:
        yield path if made.returncode == 0 else None
    finally:
        if made.returncode == 0:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True)


def compile_tree(tree: Path) -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(tree / "layers"), str(tree / "functions")],
                   check=False, capture_output=True)
