"""Each measured phase: cycles through a server or the plain path, pgbench, the delayed processor,
statements on the wire, cold starts, search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import cold_start, cpu, load, pgbench, profile, search
from bench.servers import vm_server
from bench.settings import (
    CLIENTS,
    DELAY_CLIENTS,
    DELAY_MS,
    FIRST_REQUESTS,
    PROFILE,
    SECONDS,
    say,
)
from bench.stack import Stack, compile_tree, processor_call_ms
from dev.embedded import ROOT
from dev.embedded_postgres import postgres_bin


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

    @property
    def service_ms_per_cycle(self) -> float:
        return 1000 * self.cpu["service"] / len(self.samples.cycles) if self.samples.cycles else float("nan")


def http_phase(stack: Stack, name: str, server: Callable[[dict[str, str]], Any], spy: bool = True) -> Row:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    before = processor_call_ms(stripe_url)
    books, tokens = stack.books(CLIENTS, name), stack.tokens(CLIENTS, name)
    with server(stack.env(stripe_url)) as (url, service_group):
        spies: list[Any] = []
        meters: list[cpu.Meter] = []

        def measure() -> None:  # once every client has warmed up
            meters.append(cpu.Meter(groups(stack, service_group)))
            if spy:
                spies.extend(spy_on(stack, service_group, name))

        samples = load.cycles(load.http_caller(url), books, tokens, SECONDS, on_start=measure)
        used = meters[0].stop()
        for running in spies:
            if running:
                running.wait(timeout=60)
    return Row(name, samples, used, (before, processor_call_ms(stripe_url)), profiled(stack, name))


def vm_rounds(phases: dict[str, Callable[[bool], Row]], rounds: int) -> tuple[dict[str, Row], dict[str, list[float]]]:
    """Each phase `rounds` times, the phases taking turns (the order swapped every round), so that a
    before/after pair shares the machine's moments: on this shared machine two runs of the same code a
    few minutes apart read up to 30 % apart. Returns each phase's rounds pooled into one row (its
    cycles, latencies, errors and CPU summed) and its service CPU per cycle round by round. Only the
    first round is profiled (py-spy takes CPU from the same two cores), alike for every phase."""
    pooled: dict[str, Row] = {}
    per_round: dict[str, list[float]] = {tag: [] for tag in phases}
    for i in range(rounds):
        for tag in (list(phases) if i % 2 == 0 else list(reversed(phases))):
            row = phases[tag](i == 0)
            per_round[tag].append(row.service_ms_per_cycle)
            if tag not in pooled:
                pooled[tag] = row
                continue
            into = pooled[tag]
            into.samples.merge(row.samples)
            into.samples.elapsed += row.samples.elapsed
            into.cpu = {k: v + row.cpu.get(k, 0.0) for k, v in into.cpu.items()}
            into.processor_ms = (into.processor_ms[0], row.processor_ms[1])
    return pooled, per_round


def spy_on(stack: Stack, service_group: cpu.Group, name: str) -> list[Any]:
    """py-spy over each of the service's Python processes (nginx and a server's own children left out)."""
    if not PROFILE:
        return []
    pids = {q.pid for q in service_group()}
    return [profile.start(proc.pid, SECONDS, stack.work / f"profile-{name[:12]}-{proc.pid}.txt")
            for proc in service_group() if proc.name() != "nginx" and proc.ppid() not in pids]


def profiled(stack: Stack, name: str, note: str = "") -> list[str]:
    lines: list[str] = []
    for raw in sorted(stack.work.glob(f"profile-{name[:12]}-*.txt")):
        lines += [f"py-spy, {raw.name}{note}:"] + profile.summary(raw)
    return lines


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
        # The whole life of the process: its start-up and warm-up are a small part of SECONDS.
        spy = profile.start(proc.pid, SECONDS + 5, stack.work / f"profile-plain-{proc.pid}.txt") if PROFILE else None
        # The subprocess warms up then runs SECONDS; sample CPU for its whole life.
        proc.wait(timeout=SECONDS + 120)
        used = meter.stop()
        if spy:
            spy.wait(timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"plain handler path failed, see {stack.work / 'plain.log'}")
    data = json.loads(result.read_text())
    # The process's own CPU while the clients ran (its start-up, imports and warm-up left out).
    used["service"] = data.pop("service_cpu_seconds", used["service"])
    samples = load.Samples(**{k: v for k, v in data.items()})
    return Row("plain handler path (threads, no HTTP)", samples, used, (before, processor_call_ms(stripe_url)),
               profiled(stack, "plain", " (the clients' threads are in this process too)"))


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


STEADY_AFTER = 2.0  # seconds of the delayed phase's warm-up (each thread's first request, connections, handles)


def delayed_phase(stack: Stack, server: Callable[[dict[str, str]], Any],
                  label: str, threads: int) -> tuple[str, load.Samples, dict[str, float], list[int], list[str]]:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe(delay_ms=DELAY_MS, keep_seconds=15)
    books = stack.books(int(DELAY_CLIENTS * SECONDS * 1.5) + 500, "delayed")
    tokens = stack.tokens(DELAY_CLIENTS, "delayed")
    env = stack.env(stripe_url)
    if threads:
        env["INSTANCE_THREADS"] = str(threads)
    with server(env) as (url, service_group):
        meters: list[cpu.Meter] = []
        used: dict[str, float] = {}
        spies: list[Any] = []

        def steady() -> None:  # the window borrows/s is counted in: after the warm-up, until it closes
            meters.append(cpu.Meter(groups(stack, service_group)))
            spies.extend(spy_on(stack, service_group, f"delayed-{threads}"))

        samples = load.borrows(load.http_caller(url), books, tokens, SECONDS + STEADY_AFTER,
                               steady_after=STEADY_AFTER, on_steady=steady, on_end=lambda: used.update(meters[0].stop()))
        for spy in spies:
            if spy:
                spy.wait(timeout=60)
    return label, samples, used, processor_in_flight(stripe_url), profiled(stack, f"delayed-{threads}")


def statements_phase(stack: Stack, tree: Path, tag: str, cycles: int = 20, keyed: bool = False) -> dict[str, Any] | None:
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    config = {"env": stack.env(stripe_url), "books": stack.books(cycles + 1, f"stmts-{tag}"),
              "tokens": stack.tokens(1, f"stmts-{tag}"), "cycles": cycles, "keyed": keyed}
    cfg, result = stack.work / f"statements-{tag}.json", stack.work / f"statements-{tag}-result.json"
    cfg.write_text(json.dumps(config))
    with open(stack.work / f"statements-{tag}.log", "wb") as log:
        done = subprocess.run([sys.executable, "-m", "bench.statements", str(tree), str(cfg), str(result)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, timeout=300)
    return json.loads(result.read_text()) if done.returncode == 0 else None


def cold_phase(stack: Stack, trees: dict[str, Path], runs: int) -> dict[str, dict[str, list[tuple[float, float, float, int]]]]:
    """Per tree and handler with a first request: `runs` fresh processes, each importing and serving one request.
    The trees take turns run by run (the order swapped every run), so that a before/after pair shares the
    machine's moments: on a shared machine a block of runs after another block can read 20 % apart.
    Each tree's code is compiled first, as the image and the Lambda zips ship it (bytecode, no compiling at start)."""
    for tree in trees.values():
        compile_tree(tree)
    stack.fresh_tables()
    stripe_url = stack.fresh_stripe()
    books = {tag: stack.books(runs, f"cold-{tag}") for tag in trees}
    token = stack.tokens(1, "cold")[0]
    env = {**stack.env(stripe_url), "DB_POOL_SIZE": "2", "LOG_LEVEL": "WARNING"}
    found: dict[str, dict[str, list[tuple[float, float, float, int]]]] = \
        {tag: {name: [] for name in FIRST_REQUESTS} for tag in trees}
    for i in range(runs):
        for tag in (list(trees) if i % 2 == 0 else list(reversed(trees))):
            book = books[tag][i]
            for name, (method, path) in FIRST_REQUESTS.items():  # borrow before return: each run returns what it borrowed
                spec = {"function": name, "method": method, "path": path.format(book=book), "env": env,
                        "path_params": {"book_id": book} if "{book}" in path else {},
                        "headers": {"authorization": f"Bearer {token}", "content-type": "application/json"},
                        "body": json.dumps({"payment_method": "pm_card_visa"}) if name == "borrow" else ""}
                try:
                    found[tag][name].append(cold_start.first_request_ms(trees[tag], spec))
                except (subprocess.SubprocessError, StopIteration, ValueError):
                    pass
    return found


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
