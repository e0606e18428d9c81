"""What the desk's end-to-end tests share: a title with copies made through the desk's own routes, PATCH."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import Client
from tests.support import marc_files as m

CARD = {"payment_method": "pm_card_visa"}


def patch(client: Client, path: str, body: Any) -> requests.Response:
    return client.session.patch(client.base + path, json=body, headers=client.headers(), timeout=30)


def desk_title(librarian: Client, copies: int = 1, **copy: Any) -> tuple[str, list[dict[str, Any]]]:
    """A new title (a fresh ISBN) with `copies` copies, each with its own barcode: (title_id, copies)."""
    made = librarian.post("/titles", {"isbn": m.new_isbn13(), "title": "The Desk Book", "author": "A. Librarian"})
    assert made.status_code == 201, made.text
    title_id = made.json()["title_id"]
    body = {"copies": [{"barcode": m.new_barcode(), "price_cents": 1299, "borrow_fee_cents": 199, **copy}
                       for _ in range(copies)]}
    added = librarian.post(f"/titles/{title_id}/copies", body)
    assert added.status_code == 201, added.text
    return title_id, added.json()["items"]
