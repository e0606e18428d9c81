"""The bench's Stripe-compatible server: dev/localstripe_server.py, plus a store kept small.

Stock localstripe scans its whole store on many calls (a charge's refunds, lists), so
every call gets slower as a run goes on. Here, objects of finished payments older than
--keep-seconds are dropped once a second, so a long bench measures our service, not the
stand-in's growing store. Everything else (in-memory, loopback, --delay-ms) is as in dev/.
    python -m bench.lean_stripe --port N [--delay-ms 300] [--keep-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiohttp import web
from localstripe import resources

PRUNED = ("payment_intent:", "payment_method:", "charge:", "balance_transaction:", "refund:", "event:")


def prune(keep_seconds: float) -> int:
    cutoff = time.time() - keep_seconds
    store = resources.store
    old = [key for key, obj in list(store.items())
           if key.startswith(PRUNED) and getattr(obj, "created", cutoff) < cutoff]
    for key in old:
        dict.__delitem__(store, key)
    return len(old)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep-seconds", type=float, default=10.0)
    args, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    from dev import localstripe_server

    async def pruner(app: web.Application) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(1)
                prune(args.keep_seconds)

        app["pruner"] = asyncio.get_running_loop().create_task(loop())

    from localstripe import server

    server.app.on_startup.append(pruner)
    localstripe_server.main()


if __name__ == "__main__":
    main()
