"""The report's tables, each target as met/MISSED."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench import instructions, load
from bench.phases import Row, cold_phase, statements_phase
from bench.settings import BEFORE_REF, FIRST_REQUESTS, TARGET_IMPORT, say, verdict
from bench.stack import Stack
from dev.embedded import ROOT


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
    say("  (the web UI sends an Idempotency-Key with every POST: the keyed rows are a patron's own path)")
    say(f"  {'code':44} {'borrow stmts':>12} {'round trips':>12} {'return stmts':>12} {'round trips':>12}")
    for tag, tree, keyed in (("before", before, False), ("after", ROOT, False),
                             ("before-keyed", before, True), ("after-keyed", ROOT, True)):
        label = f"before ({BEFORE_REF})" if tag.startswith("before") else "after (this tree)"
        label += ", Idempotency-Key" if keyed else ""
        got = statements_phase(stack, tree, tag, keyed=keyed) if tree is not None else None
        if got is None:
            say(f"  {label:44} not measured (see statements-{tag}.log)")
            continue
        b, r = got["borrow"], got["return"]
        say(f"  {label:44} {b['statements']:12.1f} {b['round_trips']:12.1f} {r['statements']:12.1f}"
            f" {r['round_trips']:12.1f}")


def report_cold(stack: Stack, before: Path | None, runs: int = 7) -> None:
    say(f"\ncold start per handler: a fresh python -S with only the handler's layers (compiled, as shipped) imports it"
        f" and serves its first request ({runs} runs each, this tree's and the before tree's taking turns; ms, fastest run;"
        " the median in brackets):")
    found = cold_phase(stack, {"after": ROOT, **({"before": before} if before is not None else {})}, runs)
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


def report_instructions(stack: Stack, before: Path | None) -> None:
    """callgrind's instructions per cycle for both trees (bench/instructions.py): the change, free of the machine's noise."""
    say("\ninstructions per borrow -> return cycle (callgrind, one client in process, cycles 20 -> 60; the service's"
        " own process only, not the kernel's share of a round trip):")
    if not instructions.available():
        say("  NOT MEASURED: valgrind (callgrind_control) is not installed")
        return
    found: dict[str, float] = {}
    for tag, tree in (("before", before), ("after", ROOT)):
        label = f"before ({BEFORE_REF})" if tag == "before" else "after (this tree)"
        if tree is None:
            continue
        stack.fresh_tables()
        env = {**stack.env(stack.fresh_stripe()), "DB_POOL_SIZE": "2"}
        try:
            found[tag] = instructions.per_cycle(tree, env, stack.books(1, f"instr-{tag}")[0],
                                                stack.tokens(1, f"instr-{tag}")[0], stack.work, tag)
        except (OSError, RuntimeError, ValueError, IndexError, subprocess.SubprocessError) as exc:
            say(f"  {label:28} not measured ({exc}; see instructions-{tag}.log)")
            continue
        say(f"  {label:28} {found[tag] / 1e6:8.3f}M")
    if len(found) == 2:
        say(f"  same run: {found['after'] / found['before']:.3f}x")
