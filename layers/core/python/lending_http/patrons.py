"""Remembering who signed in, once per process per name and email, not once per request.

A patron is whoever has signed in or borrowed: the store keeps their issuer, subject, name and
email from the ID token. The upsert writes only when something changed, and this process-wide
memory (bounded) spares the round trip when this process has already seen the same claims.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from lending.model import User
from lending.ports import LendingStore

SEEN_MAX = 10_000


class PatronMemory:
    def __init__(self, size: int = SEEN_MAX) -> None:
        self._seen: OrderedDict[tuple[str, str], tuple[str | None, str | None]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def remember(self, store: LendingStore, user: User) -> None:
        identity, claims = (user.issuer, user.subject), (user.name, user.email)
        with self._lock:
            if self._seen.get(identity) == claims:
                self._seen.move_to_end(identity)
                return
        store.remember_patron(user)  # raises StoreUnavailable like any other store call
        with self._lock:
            self._seen[identity] = claims
            self._seen.move_to_end(identity)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
