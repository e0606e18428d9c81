"""Search quality: a fixed set of queries, each with the title it must put first, among real titles
and 3,000 seeded ones (bench/seed_titles.py) that compete for the same words."""

from __future__ import annotations

import pytest

from bench.seed_titles import seed
from lending.catalogue_model import TitleQuery
from lending.model import NewBook
from lending_postgres import PostgresStore

SHELF = [
    ("9780261102217", "The Hobbit", "J. R. R. Tolkien", "en"),
    ("9780261103252", "The Lord of the Rings", "J. R. R. Tolkien", "en"),
    ("9780140449136", "Crime and Punishment", "Fyodor Dostoévsky", "ru"),
    ("9780141439518", "Pride and Prejudice", "Jane Austen", "en"),
    ("9780141439587", "Emma", "Jane Austen", "en"),
    ("9780141441146", "Jane Eyre", "Charlotte Brontë", "en"),
    ("9780060883287", "One Hundred Years of Solitude", "Gabriel García Márquez", "es"),
    ("9780141182803", "The Trial", "Franz Kafka", "de"),
    ("9782070360024", "L'Étranger", "Albert Camus", "fr"),
]
EXPECTED = [  # query -> the title it must rank first
    ("hobb", "The Hobbit"),                                # a prefix, as you type
    ("the hobbit", "The Hobbit"),
    ("hobit", "The Hobbit"),                               # a typo
    ("crime dostoevsky", "Crime and Punishment"),          # accents folded
    ("crime punish", "Crime and Punishment"),
    ("brontë eyre", "Jane Eyre"),
    ("charlotte bronte", "Jane Eyre"),
    ("garcia marquez", "One Hundred Years of Solitude"),
    ("etranger", "L'Étranger"),
    ("978-0-14-044913-6", "Crime and Punishment"),         # an ISBN with hyphens
    ("9780141439518", "Pride and Prejudice"),              # and without
    ("pride prejudice", "Pride and Prejudice"),
    ("franz kafka", "The Trial"),                          # an author
]
# The seeded titles' authors share these surnames, so a surname alone ties with them: what it must rank
# first is a title by someone of that name (ties go by title_id).
BY_NAME = [("tolkein", "tolkien"), ("dostoevsky", "dostoévsky"), ("bronte", "brontë"), ("kafka", "kafka"),
           ("marquez", "márquez")]


@pytest.fixture
def catalogue(store: PostgresStore) -> PostgresStore:
    for isbn, title, author, language in SHELF:
        store.add_book(NewBook(isbn, title, author, 1500, 200, "usd", language=language))
    seed(store.pool, 3000)
    return store


@pytest.mark.parametrize(("q", "first"), EXPECTED)
def test_each_query_puts_its_title_first(catalogue: PostgresStore, q: str, first: str) -> None:
    found = [s.title.title for s in catalogue.search_titles(TitleQuery(text=q, limit=5)).items]
    assert found[:1] == [first], found


@pytest.mark.parametrize(("q", "surname"), BY_NAME)
def test_a_surname_puts_that_authors_titles_first(catalogue: PostgresStore, q: str, surname: str) -> None:
    page = catalogue.search_titles(TitleQuery(text=q, limit=10))
    assert page.items and all(surname in s.title.author.lower() for s in page.items), [s.title.author for s in page.items]


def test_pages_are_stable_under_equal_ranks(catalogue: PostgresStore) -> None:
    total = catalogue.search_titles(TitleQuery(text="shadow", limit=1)).total
    assert total > 100
    seen: list[str] = []
    for offset in range(0, total, 100):
        seen += [s.title.title_id for s in catalogue.search_titles(TitleQuery(text="shadow", limit=100,
                                                                             offset=offset)).items]
    assert len(seen) == len(set(seen)) == total


def test_facets_count_what_matched(catalogue: PostgresStore) -> None:
    page = catalogue.search_titles(TitleQuery(text="jane austen", limit=5))
    assert {s.title.title for s in page.items[:2]} == {"Emma", "Pride and Prejudice"}
    assert page.facets.available + page.facets.unavailable == page.total
    narrow = catalogue.search_titles(TitleQuery(text="pride prejudice"))
    assert [(f.value, f.count) for f in narrow.facets.author] == [("Jane Austen", 1)]
    assert [(f.value, f.count) for f in narrow.facets.language] == [("en", 1)]
