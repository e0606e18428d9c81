"""A handful of demo books for `make run` (added only to an empty catalogue)."""

from __future__ import annotations

from lending.model import BookQuery, NewBook
from lending.ports import LendingStore

DEMO_BOOKS = [
    NewBook("9780141439518", "Pride and Prejudice", "Jane Austen", 1299, 199, "usd"),
    NewBook("9780141439518", "Pride and Prejudice", "Jane Austen", 1299, 199, "usd"),
    NewBook("9780451524935", "Nineteen Eighty-Four", "George Orwell", 1499, 249, "usd"),
    NewBook("9780061120084", "To Kill a Mockingbird", "Harper Lee", 1599, 249, "usd"),
    NewBook("9780743273565", "The Great Gatsby", "F. Scott Fitzgerald", 1099, 199, "usd"),
    NewBook("9780547928227", "The Hobbit", "J. R. R. Tolkien", 1899, 299, "usd"),
    NewBook("9780140449136", "Crime and Punishment", "Fyodor Dostoevsky", 1399, 199, "usd"),
    NewBook("9780679783268", "Pride and Prejudice (Modern Library)", "Jane Austen", 1199, 149, "usd"),
]


def seed(store: LendingStore) -> int:
    if store.list_books(BookQuery(limit=1)).total:
        return 0
    for book in DEMO_BOOKS:
        store.add_book(book)
    return len(DEMO_BOOKS)
