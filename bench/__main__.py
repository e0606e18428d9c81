"""`make bench`: how fast is a borrow -> return cycle here, against the database's own limit.

Starts what it needs (embedded PostgreSQL in a fresh data dir, a fresh in-memory
Stripe-compatible server per phase, a token issuer), runs each phase for BENCH_SECONDS,
and prints one report. Settings (environment): BENCH_CLIENTS (16), BENCH_SECONDS (10),
BENCH_DELAY_MS (300), BENCH_DELAY_CLIENTS (256), BENCH_SKIP (comma list of phases to
skip: chalice, plain, vm, vm-before, pgbench, delay, cold, statements, instructions, import, search), BENCH_BEFORE_REF
(default: this branch's merge-base with main; the code the "before" columns are measured on,
checked out beside this tree for the run). The search phase (bench/search.py; alone:
`make bench-search`) seeds 100,000 titles and times GET /titles through one VM.

The VM phase runs `dev.vm_stack.LocalVM` (nginx + two app instances, as
`make vm-local`) when vm_runtime is present; otherwise it says so and goes on.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import cold_start, imports, load
from bench.phases import (
    STEADY_AFTER,
    Row,
    delayed_phase,
    http_phase,
    pgbench_phase,
    plain_phase,
    search_phase,
    vm_rounds,
)
from bench.report import report_cold, report_cpu, report_instructions, report_rows, report_statements
from bench.servers import chalice_server, vm_available, vm_server
from bench.settings import (
    BEFORE_REF,
    CLIENTS,
    DELAY_CLIENTS,
    DELAY_MS,
    DELAY_THREADS,
    SECONDS,
    SKIP,
    TARGET_CPU,
    TARGET_DELAYED,
    TARGET_DELAYED_CPU,
    TARGET_IN_FLIGHT,
    TARGET_RATIO,
    TARGET_TAIL,
    VM_ROUNDS,
    say,
    verdict,
)
from bench.stack import Stack, before_tree, compile_tree
from dev.embedded import ROOT


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
    vm_per_round: dict[str, list[float]] = {}
    try:
        if "pgbench" not in SKIP:
            pg_tps, used = pgbench_phase(stack)
            cpu_lines.append(("pgbench", used, SECONDS, int(pg_tps * SECONDS)))
        if "chalice" not in SKIP:
            rows.append(http_phase(stack, "chalice local (make run's server)",
                                   lambda env: chalice_server(env, work / "chalice.log")))
        if "vm" not in SKIP:
            if vm_available():
                now_name = "one VM (nginx + 2 granian instances)"
                vm_phases = {now_name: lambda spy: http_phase(stack, now_name, lambda env: vm_server(env, work / "vm"), spy)}
                if before is not None and "vm-before" not in SKIP:
                    before_name = f"one VM, before ({BEFORE_REF[:7]}), same run"
                    vm_phases[before_name] = lambda spy: http_phase(
                        stack, before_name, lambda env: vm_server(env, work / "vm-before", before), spy)
                pooled, vm_per_round = vm_rounds(vm_phases, VM_ROUNDS)
                rows += pooled.values()
            else:
                say("one VM: NOT MEASURED — vm_runtime (make vm-local) is not on this branch or nginx is missing;"
                    " bench/servers.py:vm_server is the hook")
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
                a, b = then.service_ms_per_cycle, mine.service_ms_per_cycle
                say(f"  same run, service CPU per cycle through one VM: before ({BEFORE_REF[:7]}) {a:.2f} ms -> now {b:.2f} ms"
                    f" ({b / a:.2f}x; {VM_ROUNDS} alternated rounds of {SECONDS:.0f} s each, pooled)")
                if len(vm_per_round.get(mine.path, [])) > 1:
                    pairs = zip(vm_per_round[then.path], vm_per_round[mine.path], strict=True)
                    say("    round by round, before -> now: " + ", ".join(f"{x:.2f} -> {y:.2f}" for x, y in pairs))
            for row in rows:
                target = TARGET_CPU.get(row.path)
                if target is not None and row.samples.cycles:
                    per = row.service_ms_per_cycle
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
                label, samples, used, at_processor, spied = delayed_phase(stack, server, label, threads)
                steady = [t for t in samples.completed_at if t >= STEADY_AFTER]
                rate = len(steady) / SECONDS
                in_flight = samples.in_flight[len(samples.in_flight) // 5:]
                own = ", the VM's own instance threads" if on_vm else ""
                setting = f", INSTANCE_THREADS={threads}" if threads else own
                say(f"\n{DELAY_MS} ms in front of every Stripe call ({DELAY_CLIENTS} clients borrowing, {label}{setting}):")
                say(f"  {rate:.1f} borrows/s (steady state, after 2 s), p50 {load.percentile(samples.borrows, 50):.0f} ms,"
                    f" p99 {load.percentile(samples.borrows, 99):.0f} ms; in flight: mean "
                    f"{sum(in_flight) / max(1, len(in_flight)):.0f}, max {max(in_flight or [0])}; errors "
                    f"{samples.errors or 'none'}")
                report_cpu("CPU (steady state, after 2 s)", used, SECONDS, len(steady))
                steady_at = at_processor[20:-5] if len(at_processor) > 40 else at_processor
                held = max(at_processor or [0])
                say(f"  held by the service at the processor (the stand-in's calls in progress, every 0.1 s after 2 s):"
                    f" mean {sum(steady_at) / max(1, len(steady_at)):.0f}, max {held}")
                per_borrow = 1000 * used["service"] / max(1, len(steady))
                say(f"  target: >= {TARGET_IN_FLIGHT} in flight: {verdict(held >= TARGET_IN_FLIGHT)} (clients' max "
                    f"{max(in_flight or [0])}, service's max {held}); 0 errors: {verdict(not samples.errors)}; "
                    f"service CPU per borrow {per_borrow:.2f} ms <= {TARGET_DELAYED_CPU}: "
                    f"{verdict(per_borrow <= TARGET_DELAYED_CPU)}; {rate:.1f} borrows/s")
                if spied:
                    say("  where the service's CPU went, all clients waiting on the processor:")
                    say("\n".join(f"  {line}" for line in spied))
            say(f"  target: >= {TARGET_DELAYED:.0f} borrows/s per VM (earlier target, not issue 18's)")
        if "statements" not in SKIP:
            report_statements(stack, before)
        if "instructions" not in SKIP:
            report_instructions(stack, before)
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
