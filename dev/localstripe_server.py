"""Run localstripe on loopback, in memory, optionally slowed down.

Stock localstripe binds every interface and pickles its whole store to a fixed path
(/tmp/localstripe.pickle) after every write, so two instances collide and each call
slows as the store grows. Here the store lives in memory only and the server binds
127.0.0.1. `--delay-ms` adds latency to every /v1 call, to show that a slow
processor is hidden by concurrency.

Stock localstripe also lists one kind of object by scanning its whole store, and a charge's
export lists its refunds that way, so listing payment intents (as the tests' money checks do)
grew with the square of what a test session had made. Here the store also keeps its keys by
kind, in the order they came, and a list reads only its own kind: the same answers.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiohttp import web
from localstripe import resources, server


def index_the_store_by_kind() -> None:
    by_kind: dict[str, dict[str, Any]] = {}

    def setitem(self: dict[str, Any], key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        if ":" in key:  # "payment_intent:pi_..."; the balance is kept as "balance" and never listed
            by_kind.setdefault(key.split(":", 1)[0], {})[key] = value

    def delitem(self: dict[str, Any], key: str) -> None:
        dict.__delitem__(self, key)
        by_kind.get(key.split(":", 1)[0], {}).pop(key, None)

    def list_all(cls: Any, url: str, limit: Any = None, starting_after: Any = None, **kwargs: Any) -> Any:
        if kwargs:  # as stock localstripe: a kind's own _api_list_all takes its filters before calling this
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        found = resources.List(url, limit=limit, starting_after=starting_after)
        found._list = list(by_kind.get(cls.object, {}).values())
        return found

    resources.Store.__setitem__ = setitem  # type: ignore[assignment]
    resources.Store.__delitem__ = delitem  # type: ignore[assignment]
    resources.StripeObject._api_list_all = classmethod(list_all)  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]
    index_the_store_by_kind()

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
