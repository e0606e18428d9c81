"""Import the `stripe` library without the HTTP clients it would pick by itself.

At import, stripe chooses its default transports by importing `requests` (sync) and `httpx` +
`anyio` or `aiohttp` (async) when they are installed: ~100-300 ms of a cold start here, for
clients this adapter never uses (it passes its own libcurl transport, lending_stripe.transport). While stripe is
first imported those names are made unimportable, so it settles on its standard-library
defaults; they are restored at once, and anything else may import them as usual afterwards.
The package imports this module before anything of its own that imports stripe.
"""

from __future__ import annotations

import sys

_NOT_FOR_STRIPE = ("requests", "httpx", "anyio", "aiohttp", "pycurl")


def import_stripe() -> None:
    if "stripe" in sys.modules:
        return
    blocked = [name for name in _NOT_FOR_STRIPE if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" raises ImportError
    try:
        import stripe  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name) is None:
                del sys.modules[name]


import_stripe()
