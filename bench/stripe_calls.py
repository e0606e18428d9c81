"""Client CPU of a borrow's three processor calls (create, confirm, capture) through StripeGateway.

The payments adapter alone, against the bench's Stripe-compatible server (bench/lean_stripe.py) on
loopback: one thread, ROUNDS rounds of create (unconfirmed) + confirm + capture per child process,
and only the child's CPU (`time.process_time()`) is counted, not the server's. The merge-base's
adapter (BENCH_BEFORE_REF, as `make bench`'s "before" columns) and this tree's run one after the
other in each of REPEATS rounds, so both see the same load; the machine may be shared, so compare
the medians. With --callgrind, user-space instructions per round instead (valgrind; load-independent).
    python -m bench.stripe_calls [--rounds 300] [--repeats 5] [--callgrind]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from dev.embedded import ROOT

WARM_UP = 30


def child(tree: str, url: str, rounds: int) -> None:
    sys.path[:0] = [tree, *sorted(str(p) for p in Path(tree).glob("layers/*/python"))]
    import lending_stripe

    assert lending_stripe.__file__ and lending_stripe.__file__.startswith(tree), lending_stripe.__file__
    gateway = lending_stripe.StripeGateway("sk_test_bench", api_base=url)

    def borrow_calls() -> None:
        key = uuid.uuid4().hex
        metadata = {"payment_id": key, "book_id": key[:12], "kind": "borrow", "request_id": key[12:]}  # as authorize's
        intent = gateway.create_authorization(amount_cents=250, currency="usd", payment_method="pm_card_visa",
                                              idempotency_key=f"{key}-create", metadata=metadata)
        gateway.confirm_authorization(intent, f"{key}-confirm")
        gateway.capture(intent, f"{key}-capture")

    for _ in range(WARM_UP):
        borrow_calls()
    started = time.process_time()
    for _ in range(rounds):
        borrow_calls()
    print((time.process_time() - started) / rounds * 1000)


def _run(tree: Path, url: str, rounds: int, callgrind: bool) -> float:
    cmd = [sys.executable, "-m", "bench.stripe_calls", "--child", str(tree), url, str(rounds)]
    if not callgrind:
        return float(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)

    def instructions(n: int) -> int:
        args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd[:-1], str(n)]
        err = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stderr
        return int(err.split("Collected : ")[1].split()[0])

    return (instructions(3 * rounds) - instructions(rounds)) / (2 * rounds)  # start-up and warm-up cancel out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("TREE", "URL", "ROUNDS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return

    from bench.settings import BEFORE_REF, say
    from bench.stack import before_tree
    from dev.embedded import free_port, wait_for_port

    port = free_port()
    with tempfile.TemporaryDirectory() as work, before_tree(Path(work)) as before, \
            subprocess.Popen([sys.executable, "-m", "bench.lean_stripe", "--port", str(port)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            wait_for_port(port, proc=server)
            trees = {f"before ({BEFORE_REF})": before, "this tree": ROOT} if before else {"this tree": ROOT}
            unit = "instructions" if args.callgrind else "ms CPU"
            results: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(1 if args.callgrind else args.repeats):
                for name, tree in trees.items():
                    results[name].append(_run(tree, f"http://127.0.0.1:{port}", args.rounds, args.callgrind))
            say(f"client {unit} per create + confirm + capture ({args.rounds} rounds, one thread):")
            for name, values in results.items():
                shown = " ".join(f"{v:.0f}" if args.callgrind else f"{v:.3f}" for v in values)
                say(f"  {name:24s} median {statistics.median(values):.4g}   ({shown})")
        finally:
            server.terminate()


if __name__ == "__main__":
    main()
