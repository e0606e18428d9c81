"""The desk's view of a call's store: the same adapter, through the DeskStore port (lending.desk_ports)."""

from __future__ import annotations

from typing import cast

from lending.desk_ports import DeskStore
from lending_http.operation import Call


def desk_store(call: Call) -> DeskStore:
    """The PostgreSQL store implements LendingStore and DeskStore; a handler of the desk asks for the second."""
    return cast(DeskStore, call.store)
