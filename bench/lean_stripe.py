"""The bench's Stripe-compatible server: dev/localstripe_server.py, plus a store kept small.

Stock localstripe scans its whole store on many calls (a charge's refunds, lists), so
every call gets slower as a run goes on. Here, objects of finished payments older than
--keep-seconds are dropped once a second, so a long bench measures our service, not the
stand-in's growing store. Everything else (in-memory, loopback, --delay-ms) is as in dev/.
It also counts the calls it is answering at once (sampled every 0.1 s, `GET /_bench/in_flight`):
a borrow makes its processor calls one after another, so that is how many borrows the service
holds in flight at the processor, whatever the clients see.
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

    counts = {"now": 0, "max": 0}
    samples: list[int] = []

    async def pruner(app: web.Application) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(1)
                prune(args.keep_seconds)

        async def sample() -> None:
            while True:
                await asyncio.sleep(0.1)
                samples.append(counts["now"])

        app["pruner"] = asyncio.get_running_loop().create_task(loop())
        app["sampler"] = asyncio.get_running_loop().create_task(sample())

    @web.middleware
    async def counted(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path == "/_bench/in_flight":
            return web.json_response({"max": counts["max"], "samples": samples})
        counts["now"] += 1
        counts["max"] = max(counts["max"], counts["now"])
        try:
            return await handler(request)
        finally:
            counts["now"] -= 1

    from localstripe import server

    run_app = web.run_app

    def run_counted(app: web.Application, **kwargs: object) -> None:
        app.middlewares.insert(0, counted)  # outermost, outside --delay-ms: the wait counts as in flight
        run_app(app, **kwargs)  # type: ignore[arg-type]

    localstripe_server.web.run_app = run_counted  # type: ignore[assignment]
    server.app.on_startup.append(pruner)
    localstripe_server.main()


if __name__ == "__main__":
    main()
