"""GET /docs: the contract as a page for people, self-contained (nothing fetched from elsewhere)."""

from __future__ import annotations

import re

import requests

from tests.support import contract


def test_the_docs_page_shows_every_operation_and_fetches_nothing(api: str) -> None:
    r = requests.get(f"{api}/docs", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.text
    for path, item in contract.spec()["paths"].items():
        for method, op in item.items():
            assert f"id='{op['operationId']}'" in page, (method, path)
            assert f"<code>{path}</code>" in page
    for status in ("402", "409", "503"):
        assert f"<b>{status}</b>" in page
    assert "Idempotency-Key" in page and "Bearer" in page
    assert "<script" not in page.lower()
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE) == []
    assert "@import" not in page and "url(" not in page
