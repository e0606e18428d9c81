"""The composition root: settings, store, gateway, verifier, clock and observer, built once per process.

Each is built lazily, the first time a handler asks for it, so a process that serves `return`
never imports stripe. A handler gets a `Scoped` view that hands out only the adapters of the
layers its function.json declares. Tests call `bootstrap(...)` with fakes: no patching.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from lending.clock import Clock, SystemClock
from lending.model import User
from lending.notice_ports import Mailer
from lending.ports import LendingStore, PaymentGateway
from lending_http.messages import Request, Response
from lending_http.patrons import PatronMemory
from lending_settings import Settings, settings

LAYER_OF = {"store": "database", "gateway": "payments", "verifier": "auth", "observer": "observability",
            "mailer": "mail"}


class NullObserver:
    def observe(self, operation: str, request: Request, response: Response, elapsed_ms: float) -> None:
        return None

    def job_done(self, job: str, result: dict[str, Any]) -> None:
        return None


class Dependencies:
    """What the hosts' handlers share in one process. Pass fakes to replace any part."""

    def __init__(self, config: Settings | Callable[[], Settings] | None = None, *, layers: Iterable[str] | None = None,
                 store: LendingStore | None = None, gateway: PaymentGateway | None = None, verifier: Any = None,
                 clock: Clock | None = None, observer: Any = None, mailer: Any = None) -> None:
        self.layers = frozenset(layers) if layers is not None else frozenset(LAYER_OF.values())
        self._config = config
        self._built: dict[str, Any] = {k: v for k, v in {"store": store, "gateway": gateway, "verifier": verifier,
                                                           "observer": observer, "mailer": mailer}.items()
                                        if v is not None}
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self.patrons = PatronMemory()

    @property
    def settings(self) -> Settings:
        if not isinstance(self._config, Settings):
            self._config = (self._config or (lambda: settings(tuple(sorted(self.layers)))))()
        return self._config

    def get(self, name: str) -> Any:
        if name not in self._built:
            with self._lock:
                if name not in self._built:
                    self._built[name] = self._build(name)
        return self._built[name]

    def _build(self, name: str) -> Any:
        if LAYER_OF[name] not in self.layers:
            if name == "observer":
                return NullObserver()
            raise LookupError(f"this process serves no function with the {LAYER_OF[name]} layer")
        return BUILDERS[name](self.settings)

    def scoped(self, layers: Iterable[str]) -> Scoped:
        return Scoped(self, frozenset(layers))

    def flush(self) -> None:
        """Write what the observer batches (metrics), if one was built: Lambda calls this after each invocation."""
        flush = getattr(self._built.get("observer"), "flush", None)
        if flush is not None:
            flush()


class Scoped:
    """One function's view of the dependencies: only what its declared layers provide."""

    def __init__(self, deps: Dependencies, layers: frozenset[str]) -> None:
        self._deps = deps
        self.layers = layers

    def _get(self, name: str) -> Any:
        if LAYER_OF[name] not in self.layers:
            if name == "observer":
                return NullObserver()
            raise LookupError(f"a function without the {LAYER_OF[name]} layer asked for the {name}")
        return self._deps.get(name)

    @property
    def settings(self) -> Settings:
        return self._deps.settings

    @property
    def store(self) -> LendingStore:
        store: LendingStore = self._get("store")
        return store

    @property
    def gateway(self) -> PaymentGateway:
        gateway: PaymentGateway = self._get("gateway")
        return gateway

    @property
    def clock(self) -> Clock:
        return self._deps.clock

    @property
    def mailer(self) -> Mailer:
        mailer: Mailer = self._get("mailer")
        return mailer

    def authenticate(self, authorization: str | None) -> User:
        """The verified caller; with the database layer, also kept as a patron (see lending_http.patrons)."""
        user: User = self._get("verifier").authenticate(authorization)
        if "database" in self.layers:
            self._deps.patrons.remember(self.store, user)
        return user

    def observe(self, operation: str, request: Request, response: Response, elapsed_ms: float) -> None:
        self._get("observer").observe(operation, request, response, elapsed_ms)

    def job_done(self, job: str, result: dict[str, Any]) -> None:
        self._get("observer").job_done(job, result)


def _adapter(module: str, factory: str) -> Callable[[Settings], Any]:
    def build(config: Settings) -> Any:  # imported by name, only when first needed
        return getattr(importlib.import_module(module), factory)(config)

    return build


BUILDERS: dict[str, Callable[[Settings], Any]] = {
    "store": _adapter("lending_postgres", "store_from"),
    "gateway": _adapter("lending_stripe", "gateway_from"),
    "verifier": _adapter("lending_oidc", "verifier_from"),
    "observer": _adapter("lending_observability", "observer_from"),
    "mailer": _adapter("lending_mail", "mailer_from"),
}


def bootstrap(config: Settings | Callable[[], Settings] | None = None, **parts: Any) -> Dependencies:
    """The process's dependencies (see Dependencies for the parts a test may pass)."""
    return Dependencies(config, **parts)
