"""Demo people for `make run`'s local OIDC provider: one click on its sign-in page signs in as one.

alice and bob are patrons; libby is a librarian (the `groups` claim names the librarians).
"""

from __future__ import annotations

DEMO_USERS: list[dict[str, object]] = [
    {"sub": "alice", "name": "Alice Patron", "preferred_username": "alice", "email": "alice@example.org",
     "groups": ["patrons"]},
    {"sub": "bob", "name": "Bob Patron", "preferred_username": "bob", "email": "bob@example.org", "groups": ["patrons"]},
    {"sub": "libby", "name": "Libby Librarian", "preferred_username": "libby", "email": "libby@example.org",
     "groups": ["librarians"]},
]
