"""`make seed-titles N=100000`: seed N titles (one copy each) fast, then time the catalogue search on them.

The rows are made by PostgreSQL itself (generate_series over word lists: no round trip per row), in
one transaction; titles get ISBNs 979-0xxxxxxxx- that no real book has, so a seeded database is easy to
clean (`DELETE ... WHERE isbn LIKE '9790%'`). Uses DATABASE_URL, or a running `make run`'s
(.run/dev.env); migrates first. The timings are for the reader the service would use (the primary here).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from lending.circulation_model import TitleQuery
from lending_postgres import ConnectionPool, PostgresStore, migrate

WORDS = ("shadow river winter garden silent empire lost city night stone glass house ocean crown fire "
         "secret light iron mountain road storm dream letter island forest mirror memory song kingdom war")
FIRST = "Anna Boris Clara David Elena Fyodor Grace Hugo Ines Jonas Karin Leo Maria Nadia Oscar Pia Rafael Sofia"
LAST = "Austen Brontë Čapek Dostoévsky Eliot García Hugo Ibsen Joyce Kafka Lagerlöf Márquez Némirovsky Orwell Proust"
LANGUAGES = "en fr de ru es it sv cs"

SEED_SQL = """
WITH words AS (SELECT string_to_array(:words, ' ') AS w, string_to_array(:first, ' ') AS f,
                      string_to_array(:last, ' ') AS l, string_to_array(:langs, ' ') AS g),
made AS (
    INSERT INTO titles (isbn, title, author, publication_year, language)
    SELECT '9790' || lpad((:start + i)::text, 9, '0'),
           initcap(w[1 + i % 29] || ' of the ' || w[1 + (i / 29) % 29] || ' ' || w[1 + (i / 841) % 29]) || ' '
               || (1 + i / 24389),
           f[1 + i % 18] || ' ' || l[1 + (i / 18) % 15],
           1800 + i % 225, g[1 + i % 8]
    FROM words, generate_series(0, :n - 1) AS i
    ON CONFLICT (isbn) DO NOTHING
    RETURNING title_id, isbn, title, author
)
INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency, title_id)
SELECT gen_random_uuid(), isbn, title, author, 1500, 200, 'usd', title_id FROM made
"""

QUERIES = ("shadow", "dostoevsky", "dostoyevsky", "garcia", "river of the", "kafka", "9790000012345", "winter fire")


def seed(pool: ConnectionPool, n: int, start: int = 0) -> float:
    """Seed n titles (one available copy each); returns the seconds it took."""
    began = time.perf_counter()
    with pool.transaction() as c:
        c.run(SEED_SQL, words=WORDS, first=FIRST, last=LAST, langs=LANGUAGES, start=start, n=n)
    with pool.connection() as c:
        c.run("ANALYZE titles")
        c.run("ANALYZE books")
    return time.perf_counter() - began


def _url() -> str:
    url = os.environ.get("DATABASE_URL")
    env = Path(".run/dev.env")
    if not url and env.exists():
        for line in env.read_text().splitlines():
            if line.startswith("DATABASE_URL="):
                url = line.split("=", 1)[1].strip().strip("'\"")
    if not url:
        sys.exit("seed-titles: set DATABASE_URL (or start `make run`)")
    return url


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    pool = ConnectionPool(_url(), size=2, timeout=900, statement_timeout_ms=900_000)  # one long statement
    migrate(pool)
    if n:
        print(f"seeded {n} titles in {seed(pool, n):.1f} s")
    store = PostgresStore(pool)
    for q in QUERIES:
        times = []
        for _ in range(5):
            began = time.perf_counter()
            page = store.search_titles(TitleQuery(text=q, limit=20))
            times.append((time.perf_counter() - began) * 1000)
        first = page.items[0].title.title if page.items else "-"
        print(f"  q={q!r:18} {page.total:7} hits  median {statistics.median(times):6.1f} ms  first: {first}")
    pool.close()


if __name__ == "__main__":
    main()
