"""`make bench`: how fast is a borrow -> return cycle here, against the database's own limit.

Starts what it needs (embedded PostgreSQL in a fresh data dir, a fresh in-memory
Stripe-compatible server per phase, a token issuer), runs each phase for BENCH_SECONDS,
and prints one report. Settings (environment): BENCH_CLIENTS (16), BENCH_SECONDS (10),
BENCH_DELAY_MS (300), BENCH_DELAY_CLIENTS (256), BENCH_SKIP (comma list of phases to
skip: chalice, plain, vm, vm-before, pgbench, delay, cold, statements, import, search), BENCH_BEFORE_REF
(default: this branch's merge-base with main; the code the "before" columns are measured on,
checked out beside this tree for the run). The search phase (bench/search.py; alone:
`make bench-search`) seeds 100,000 titles and times GET /titles through one VM.

The VM phase runs `dev.vm_stack.LocalVM` (nginx + two gunicorn instances, as
`make vm-local`) when vm_runtime is present; otherwise it says so and goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import cold_start, cpu, imports, load, pgbench, profile, search
from dev.embedded import ROOT, Service, free_port, start_localstripe, wait_for_port
from dev.embedded_postgres import postgres_bin, start_postgres

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
DELAY_MS = int(os.environ.get("BENCH_DELAY_MS", "300"))
DELAY_CLIENTS = int(os.environ.get("BENCH_DELAY_CLIENTS", "256"))
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
PROFILE = os.environ.get("BENCH_PROFILE", "1") not in ("", "0")  # py-spy over the VM (non-blocking)
STRIPE_MODE = os.environ.get("BENCH_STRIPE", "lean")
# Threads per gunicorn instance for the delayed phase (0: the VM's own setting, vm_runtime/gunicorn_conf.py).
DELAY_THREADS = [int(t) for t in os.environ.get("BENCH_DELAY_THREADS", "0").split(",") if t]
# "before": where this branch left main (main itself may since have migrations this tree's database lacks).
BEFORE_REF = os.environ.get("BENCH_BEFORE_REF") or subprocess.run(
    ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True).stdout.strip()[:12] or "main"
TARGET_RATIO, TARGET_DELAYED, TARGET_IMPORT = 0.3, 150.0, {"return": 120.0, "borrow": 200.0}
TARGET_CPU = {"one VM (nginx + 2 gunicorn instances)": 3.0, "plain handler path (threads, no HTTP)": 2.0}
TARGET_DELAYED_CPU, TARGET_IN_FLIGHT, TARGET_TAIL = 2.5, 256, 3.0
# Cold start, imports + first request, per handler: what that request is.
FIRST_REQUESTS = {"borrow": ("POST", "/books/{book}/borrow"), "return": ("POST", "/books/{book}/return"),
                  "catalogue": ("GET", "/books"), "health": ("GET", "/health")}


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass
class Row:
    path: str
    samples: load.Samples
    cpu: dict[str, float]
    processor_ms: tuple[float, float]
    profile: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.samples.cycles) / self.samples.elapsed if self.samples.elapsed else 0.0


def say(text: str = "") -> None:
    print(text, flush=True)


# -- the stack ------------------------------------------------------------------------------------
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


# -- servers under test -------------------------------------------------------------------------------
@contextlib.contextmanager
def chalice_server(env: dict[str, str], log: Path) -> Iterator[tuple[str, cpu.Group]]:
    from tests.support.stack import ChaliceServer

    server = ChaliceServer(env, log)
    try:
        yield server.url, lambda: cpu.tree(server.proc.pid)
    finally:
        server.stop()


def vm_available() -> bool:
    try:
        import dev.vm_stack  # noqa: F401
    except ImportError:
        return False
    return shutil.which("nginx") is not None


@contextlib.contextmanager
def vm_server(env: dict[str, str], work: Path, tree: Path = ROOT) -> Iterator[tuple[str, cpu.Group]]:
    """HOOK: one VM as `make vm-local` runs it (dev.vm_stack.LocalVM: nginx + two gunicorn instances).

    With another `tree` (the "before" checkout), its instances run that tree's code: its root and
    layers come first on their path."""
    from dev.vm_stack import LocalVM

    if tree != ROOT:
        env = {**env, "PYTHONPATH": os.pathsep.join([str(tree), *(str(p) for p in sorted(tree.glob("layers/*/python")))])}
    vm = LocalVM(env, work, cwd=tree)
    vm.start()

    def group() -> list[Any]:
        procs = []
        for instance in vm.instances:
            if instance.proc is not None:
                procs += cpu.tree(instance.proc.pid)
        if vm.nginx is not None:
            procs += cpu.tree(vm.nginx.pid)
        return procs

    try:
        yield vm.url, group
    finally:
        vm.stop()


# -- phases -------------------------------------------------------------------------------------------
def http_phase(stack: Stack, name: str, server: Callable[[dict[str, str]], Any]) -> Row:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    before = processor_call_ms(stripe_url)
    books, tokens = stack.books(CLIENTS, name), stack.tokens(CLIENTS, name)
    with server(stack.env(stripe_url)) as (url, service_group):
        spies: list[Any] = []
        meters: list[cpu.Meter] = []

        def measure() -> None:  # once every client has warmed up
            meters.append(cpu.Meter(groups(stack, service_group)))
            if PROFILE:
                pids = {q.pid for q in service_group()}
                for proc in service_group():
                    if proc.name() != "nginx" and proc.ppid() not in pids:
                        spies.append(profile.start(proc.pid, SECONDS, stack.work / f"profile-{name[:12]}-{proc.pid}.txt"))

        samples = load.cycles(load.http_caller(url), books, tokens, SECONDS, on_start=measure)
        used = meters[0].stop()
        for spy in spies:
            if spy:
                spy.wait(timeout=60)
    row = Row(name, samples, used, (before, processor_call_ms(stripe_url)))
    if PROFILE:
        for raw in sorted(stack.work.glob(f"profile-{name[:12]}-*.txt")):
            row.profile += [f"py-spy, {raw.name}:"] + profile.summary(raw)
    return row


def plain_phase(stack: Stack) -> Row:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    before = processor_call_ms(stripe_url)
    config = {"env": {**stack.env(stripe_url), "LOG_LEVEL": "INFO"}, "books": stack.books(CLIENTS, "plain"),
              "tokens": stack.tokens(CLIENTS, "plain"), "seconds": SECONDS}
    cfg, result = stack.work / "plain.json", stack.work / "plain-result.json"
    cfg.write_text(json.dumps(config))
    with open(stack.work / "plain.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bench.inprocess", str(cfg), str(result)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        meter = cpu.Meter(groups(stack, lambda: cpu.tree(proc.pid)))
        # The subprocess warms up then runs SECONDS; sample CPU for its whole life.
        proc.wait(timeout=SECONDS + 120)
        used = meter.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"plain handler path failed, see {stack.work / 'plain.log'}")
    data = json.loads(result.read_text())
    # The process's own CPU while the clients ran (its start-up, imports and warm-up left out).
    used["service"] = data.pop("service_cpu_seconds", used["service"])
    samples = load.Samples(**{k: v for k, v in data.items()})
    return Row("plain handler path (threads, no HTTP)", samples, used, (before, processor_call_ms(stripe_url)))


def groups(stack: Stack, service: cpu.Group) -> dict[str, cpu.Group]:
    assert stack.stripe is not None
    stripe_pid = stack.stripe.procs[0].pid
    return {"client (bench)": lambda: cpu.tree(os.getpid())[:1], "service": service,
            "stripe-compatible": lambda: cpu.tree(stripe_pid), "postgres": cpu.postgres(stack.pgdata)}


def pgbench_phase(stack: Stack) -> tuple[float, dict[str, float]]:
    stack.fresh_tables()
    for statement in pgbench.seed_sql(CLIENTS):
        stack.sql(statement)
    parts = urlsplit(stack.url)
    binary = postgres_bin() / "pgbench"
    client: list[int] = []
    meter = cpu.Meter({"pgbench (client)": lambda: [p for pid in client for p in cpu.tree(pid)],
                       "postgres": cpu.postgres(stack.pgdata)})
    tps = pgbench.run(binary, {"host": parts.hostname or "127.0.0.1", "port": str(parts.port), "user": "postgres",
                               "database": "bench"}, CLIENTS, int(SECONDS), stack.work, started=client.append)
    return tps, meter.stop()


def processor_in_flight(stripe_url: str) -> list[int]:
    """How many calls the (lean) Stripe stand-in was answering at once, sampled every 0.1 s."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{stripe_url}/_bench/in_flight", timeout=5) as answer:
            return list(json.loads(answer.read())["samples"])
    except OSError:
        return []


def delayed_phase(stack: Stack, server: Callable[[dict[str, str]], Any],
                  label: str, threads: int) -> tuple[str, load.Samples, dict[str, float], list[int]]:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe(delay_ms=DELAY_MS, keep_seconds=15)
    books = stack.books(int(DELAY_CLIENTS * SECONDS * 1.5) + 500, "delayed")
    tokens = stack.tokens(DELAY_CLIENTS, "delayed")
    env = stack.env(stripe_url)
    if threads:
        env["GUNICORN_CMD_ARGS"] = f"--threads {threads}"
    with server(env) as (url, service_group):
        meter = cpu.Meter(groups(stack, service_group))
        samples = load.borrows(load.http_caller(url), books, tokens, SECONDS + 2)
        used = meter.stop()
    return label, samples, used, processor_in_flight(stripe_url)


def statements_phase(stack: Stack, tree: Path, tag: str, cycles: int = 20) -> dict[str, Any] | None:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    config = {"env": stack.env(stripe_url), "books": stack.books(cycles + 1, f"stmts-{tag}"),
              "tokens": stack.tokens(1, f"stmts-{tag}"), "cycles": cycles}
    cfg, result = stack.work / f"statements-{tag}.json", stack.work / f"statements-{tag}-result.json"
    cfg.write_text(json.dumps(config))
    with open(stack.work / f"statements-{tag}.log", "wb") as log:
        done = subprocess.run([sys.executable, "-m", "bench.statements", str(tree), str(cfg), str(result)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, timeout=300)
    return json.loads(result.read_text()) if done.returncode == 0 else None


def cold_phase(stack: Stack, tree: Path, tag: str, runs: int) -> dict[str, list[tuple[float, float, float, int]]]:
    """Per handler with a first request: `runs` fresh processes, each importing and serving one request.
    The tree's code is compiled first, as the image and the Lambda zips ship it (bytecode, no compiling at start)."""
    compile_tree(tree)
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    books = stack.books(runs, f"cold-{tag}")
    token = stack.tokens(1, f"cold-{tag}")[0]
    env = {**stack.env(stripe_url), "DB_POOL_SIZE": "2", "LOG_LEVEL": "WARNING"}
    found: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in FIRST_REQUESTS}
    for i in range(runs):
        for name, (method, path) in FIRST_REQUESTS.items():  # borrow before return: each run returns what it borrowed
            spec = {"function": name, "method": method, "path": path.format(book=books[i]), "env": env,
                    "path_params": {"book_id": books[i]} if "{book}" in path else {},
                    "headers": {"authorization": f"Bearer {token}", "content-type": "application/json"},
                    "body": json.dumps({"payment_method": "pm_card_visa"}) if name == "borrow" else ""}
            try:
                found[name].append(cold_start.first_request_ms(tree, spec))
            except (subprocess.SubprocessError, StopIteration, ValueError):
                pass
    return found


def compile_tree(tree: Path) -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(tree / "layers"), str(tree / "functions")],
                   check=False, capture_output=True)


def search_phase(stack: Stack) -> None:
    """GET /titles at BENCH_SEARCH_TITLES titles through one VM (bench/search.py), after the other phases."""
    from bench.seed_titles import seed
    from lending_postgres import ConnectionPool

    stack.fresh_tables()
    began = time.perf_counter()
    long = ConnectionPool(stack.url, size=1, timeout=900, statement_timeout_ms=900_000)  # one long statement
    seed(long, search.TITLES)
    with long.connection() as c:  # every 7th copy lost: availability (filter and facet) differs between titles
        c.run("UPDATE books SET status = 'lost' WHERE status = 'available' AND abs(hashtext(book_id::text)) % 7 = 0")
        c.run("VACUUM ANALYZE")
    long.close()
    say(f"\nsearch: seeded {search.TITLES} titles in {time.perf_counter() - began:.0f} s")
    with vm_server(stack.env(stack.fresh_stripe()), stack.work / "vm-search") as (url, _):
        for clients in search.CLIENTS:
            search.report(search.run(url, SECONDS, clients), search.TITLES, clients, say)
        health = search.floor(url)
    say(f"  for reference, GET /health through the same VM (one client): p50 {load.percentile(health, 50):.1f} ms, "
        f"p95 {load.percentile(health, 95):.1f} ms (load average {os.getloadavg()[0]:.1f})")


# -- report -------------------------------------------------------------------------------------------
def report_rows(rows: list[Row], pg_tps: float | None) -> None:
    say(f"{'path':40} {'cycles/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'borrow p50/p99':>16} {'return p50/p99':>16}"
        f" {'vs pgbench':>10}  errors")
    for row in rows:
        s = row.samples
        ratio = f"{row.rate / pg_tps:.3f}x" if pg_tps else "-"
        say(f"{row.path:40} {row.rate:9.1f} {load.percentile(s.cycles, 50):8.1f} {load.percentile(s.cycles, 99):8.1f}"
            f" {load.percentile(s.borrows, 50):7.1f}/{load.percentile(s.borrows, 99):<8.1f}"
            f" {load.percentile(s.returns, 50):7.1f}/{load.percentile(s.returns, 99):<8.1f} {ratio:>10}  "
            f"{s.errors or 'none'}")
    if pg_tps:
        say(f"{'pgbench, same SQL (-M extended)':40} {pg_tps:9.1f}")


def report_cpu(label: str, used: dict[str, float], seconds: float, done: int = 0) -> None:
    parts = ", ".join(f"{k} {v / seconds:.2f}" for k, v in used.items())
    say(f"  {label:38} {parts}")
    if done:
        ours = {k: v for k, v in used.items() if not k.startswith("(")}
        per = ", ".join(f"{k} {1000 * v / done:.1f}" for k, v in ours.items())
        total = 1000 * sum(ours.values()) / done
        say(f"  {'':38} CPU ms per unit of work: {per}; total {total:.1f} -> at most {2000 / total:.0f}/s "
            f"on two otherwise idle cores")


def report_statements(stack: Stack, before: Path | None) -> None:
    say("\nstatements and round trips per borrow and per return (counted on the wire, 20 of each, one client):")
    say(f"  {'code':28} {'borrow stmts':>12} {'round trips':>12} {'return stmts':>12} {'round trips':>12}")
    for tag, tree in (("before", before), ("after", ROOT)):
        label = f"{tag} ({BEFORE_REF})" if tag == "before" else "after (this tree)"
        got = statements_phase(stack, tree, tag) if tree is not None else None
        if got is None:
            say(f"  {label:28} not measured (see statements-{tag}.log)")
            continue
        b, r = got["borrow"], got["return"]
        say(f"  {label:28} {b['statements']:12.1f} {b['round_trips']:12.1f} {r['statements']:12.1f}"
            f" {r['round_trips']:12.1f}")


def report_cold(stack: Stack, before: Path | None, runs: int = 5) -> None:
    say(f"\ncold start per handler: a fresh python -S with only the handler's layers (compiled, as shipped) imports it"
        f" and serves its first request ({runs} runs each; ms, fastest run; the median in brackets):")
    found = {"after": cold_phase(stack, ROOT, "after", runs)}
    if before is not None:
        found["before"] = cold_phase(stack, before, "before", runs)
    say(f"  {'handler':10} {'request':14} {'before: wall [median]':>22} {'CPU':>6}   {'now: imports':>12}"
        f" {'+ request [median]':>19} {'CPU':>6}")
    for name, (method, path) in FIRST_REQUESTS.items():
        now = found["after"][name]
        was = found.get("before", {}).get(name, [])
        if not now:
            say(f"  {name:10} not measured")
            continue
        fastest = min(now, key=lambda x: x[1])
        med = sorted(x[1] for x in now)[len(now) // 2]
        then = f"{min(x[1] for x in was):10.1f} [{sorted(x[1] for x in was)[len(was) // 2]:7.1f}] {min(x[2] for x in was):6.1f}" \
            if was else f"{'-':>29}"
        target = TARGET_IMPORT.get(name)
        mark = "" if target is None else f"  target <= {target:.0f}: {verdict(fastest[1] <= target)}"
        bad = {x[3] for x in now} - {200, 201}
        note = f" (statuses {sorted(bad)})" if bad else ""
        request = f"{method} {path.rsplit('/', 1)[-1] if '{book}' in path else path}"
        say(f"  {name:10} {request:14} {then}   {fastest[0]:12.1f} {fastest[1]:9.1f} [{med:7.1f}] "
            f"{min(x[2] for x in now):6.1f}{mark}{note}")


def main() -> int:
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / ".run" if (ROOT / ".run").exists() else None))
    say(f"make bench — {started:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}); C={CLIENTS} clients, each on its own book; {SECONDS:.0f} s per phase")
    stack = Stack(work)
    checkout = before_tree(work)
    before = checkout.__enter__()
    rows: list[Row] = []
    cpu_lines: list[tuple[str, dict[str, float], float, int]] = []
    pg_tps = None
    try:
        if "pgbench" not in SKIP:
            pg_tps, used = pgbench_phase(stack)
            cpu_lines.append(("pgbench", used, SECONDS, int(pg_tps * SECONDS)))
        if "chalice" not in SKIP:
            rows.append(http_phase(stack, "chalice local (make run's server)",
                                   lambda env: chalice_server(env, work / "chalice.log")))
        if "vm" not in SKIP:
            if vm_available():
                rows.append(http_phase(stack, "one VM (nginx + 2 gunicorn instances)",
                                       lambda env: vm_server(env, work / "vm")))
                if before is not None and "vm-before" not in SKIP:
                    rows.append(http_phase(stack, f"one VM, before ({BEFORE_REF[:7]}), same run",
                                           lambda env: vm_server(env, work / "vm-before", before)))
            else:
                say("one VM: NOT MEASURED — vm_runtime (make vm-local) is not on this branch or nginx is missing;"
                    " bench/__main__.py:vm_server is the hook")
        if "plain" not in SKIP:
            rows.append(plain_phase(stack))
        for row in rows:
            cpu_lines.append((row.path, row.cpu, row.samples.elapsed, len(row.samples.cycles)))
        if rows or pg_tps:  # not when only the search phase runs (make bench-search)
            say("\nborrow -> return cycles")
            report_rows(rows, pg_tps)
            for row in rows:
                if row.path.startswith("one VM (") and pg_tps:
                    ratio = row.rate / pg_tps
                    say(f"  target: >= {TARGET_RATIO}x pgbench through one VM: {ratio:.3f}x {verdict(ratio >= TARGET_RATIO)}")
                if row.path.startswith("one VM (") and row.samples.borrows:
                    p50, p99 = load.percentile(row.samples.borrows, 50), load.percentile(row.samples.borrows, 99)
                    say(f"  target: borrow p99 <= {TARGET_TAIL:.0f}x p50 through one VM: {p99:.1f} / {p50:.1f} ms = "
                        f"{p99 / p50:.2f}x {verdict(p99 <= TARGET_TAIL * p50)}")
            mine = next((r for r in rows if r.path.startswith("one VM (")), None)
            then = next((r for r in rows if r.path.startswith("one VM, before")), None)
            if mine and then and mine.samples.cycles and then.samples.cycles:
                a = 1000 * then.cpu["service"] / len(then.samples.cycles)
                b = 1000 * mine.cpu["service"] / len(mine.samples.cycles)
                say(f"  same run, service CPU per cycle through one VM: before ({BEFORE_REF[:7]}) {a:.2f} ms -> now {b:.2f} ms"
                    f" ({b / a:.2f}x)")
            for row in rows:
                target = TARGET_CPU.get(row.path)
                if target is not None and row.samples.cycles:
                    per = 1000 * row.cpu["service"] / len(row.samples.cycles)
                    say(f"  target: service CPU per borrow -> return cycle, {row.path}: {per:.2f} ms <= {target}: "
                        f"{verdict(per <= target)}")
            say("\nCPU, in cores busy on average during each phase (2 = both cores; the machine is shared, so"
                " '(whole machine, all users)' includes other sessions' work)")
            for label, used, seconds, done in cpu_lines:
                report_cpu(label, used, seconds, done)
            for row in rows:
                if row.profile:
                    say(f"\nwhere the service's CPU went ({row.path}):")
                    say("\n".join(row.profile))
            say("\nStripe-compatible server: authorise+capture straight against it, fresh -> after the phase (ms)")
            for row in rows:
                say(f"  {row.path:38} {row.processor_ms[0]:.1f} -> {row.processor_ms[1]:.1f}")

        if "delay" not in SKIP:
            on_vm = vm_available() and "vm" not in SKIP
            for threads in DELAY_THREADS if on_vm else [0]:
                server = (lambda env: vm_server(env, work / "vm-delay")) if on_vm \
                    else (lambda env: chalice_server(env, work / "chalice-delay.log"))
                label = "one VM" if on_vm else "chalice local (no VM on this branch)"
                label, samples, used, at_processor = delayed_phase(stack, server, label, threads)
                steady = [t for t in samples.completed_at if t >= 2.0]
                rate = len(steady) / SECONDS
                in_flight = samples.in_flight[len(samples.in_flight) // 5:]
                own = ", the VM's own gunicorn threads" if on_vm else ""
                setting = f", --threads {threads} per instance" if threads else own
                say(f"\n{DELAY_MS} ms in front of every Stripe call ({DELAY_CLIENTS} clients borrowing, {label}{setting}):")
                say(f"  {rate:.1f} borrows/s (steady state, after 2 s), p50 {load.percentile(samples.borrows, 50):.0f} ms,"
                    f" p99 {load.percentile(samples.borrows, 99):.0f} ms; in flight: mean "
                    f"{sum(in_flight) / max(1, len(in_flight)):.0f}, max {max(in_flight or [0])}; errors "
                    f"{samples.errors or 'none'}")
                report_cpu("CPU", used, SECONDS + 2, len(samples.borrows))
                steady_at = at_processor[20:-5] if len(at_processor) > 40 else at_processor
                held = max(at_processor or [0])
                say(f"  held by the service at the processor (the stand-in's calls in progress, every 0.1 s after 2 s):"
                    f" mean {sum(steady_at) / max(1, len(steady_at)):.0f}, max {held}")
                per_borrow = 1000 * used["service"] / max(1, len(samples.borrows))
                say(f"  target: >= {TARGET_IN_FLIGHT} in flight: {verdict(held >= TARGET_IN_FLIGHT)} (clients' max "
                    f"{max(in_flight or [0])}, service's max {held}); 0 errors: {verdict(not samples.errors)}; "
                    f"service CPU per borrow {per_borrow:.2f} ms <= {TARGET_DELAYED_CPU}: "
                    f"{verdict(per_borrow <= TARGET_DELAYED_CPU)}; {rate:.1f} borrows/s")
            say(f"  target: >= {TARGET_DELAYED:.0f} borrows/s per VM (earlier target, not issue 18's)")
        if "statements" not in SKIP:
            report_statements(stack, before)
        if "cold" not in SKIP:
            report_cold(stack, before)
        if "import" not in SKIP:
            if vm_available():
                stack.fresh_tables()
                with vm_server(stack.env(stack.fresh_stripe()), stack.work / "vm-import") as (url, _):
                    imports.run(url, stack.issuer.token("bench-librarian", librarian=True,
                                                        exp=int(time.time()) + 3600), say)
            else:
                say("import through one VM: NOT MEASURED — vm_runtime or nginx is missing")
        if "search" not in SKIP:
            if vm_available():
                search_phase(stack)
            else:
                say("search through one VM: NOT MEASURED — vm_runtime or nginx is missing")
    finally:
        checkout.__exit__(None, None, None)
        stack.stop()
        shutil.rmtree(work / "pg", ignore_errors=True)  # the database was throw-away; logs stay

    if "cold" not in SKIP:
        compile_tree(ROOT)
        say("\ncold import alone of each handler with only its declared layers (compiled; fresh python -S each, 7 runs, ms):")
        say(f"  {'handler':15} {'fastest':>8} {'median':>8} {'CPU':>8}")
        for name, (fastest, median, cpu_ms) in cold_start.all_handlers().items():
            say(f"  {name:15} {fastest:8.1f} {median:8.1f} {cpu_ms:8.1f}")
    say(f"\nwork dir (logs): {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
