"""Run localstripe on loopback, in memory, optionally slowed down.

Stock localstripe binds every interface and pickles its whole store to a fixed path
(/tmp/localstripe.pickle) after every write, so two instances collide and each call
slows as the store grows. Here the store lives in memory only and the server binds
127.0.0.1. `--delay-ms` adds latency to every /v1 call, to show that a slow
processor is hidden by concurrency.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]

    if args.delay_ms:
        @web.middleware
        async def delay(request: web.Request, handler):  # type: ignore[no-untyped-def]
            if request.path.startswith("/v1/"):
                await asyncio.sleep(args.delay_ms / 1000)
            return await handler(request)

        server.app.middlewares.insert(0, delay)
    web.run_app(server.app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
