"""The catalogue of titles on PostgreSQL: full-text search with facets, and one title with its copies.

Search ranks by relevance over title, author and ISBN: words match as prefixes (as you type),
accents are folded (lending_fold, an IMMUTABLE wrapper of unaccent, so it is indexed), one typo in
a word is forgiven (pg_trgm similarity against the catalogue's words), and an ISBN matches with or
without hyphens. Equal ranks are ordered by title_id, so pages are stable. Counts come from each
title's counts (title_counts, kept by triggers), and counting stops at 500 matches (search_sql.py).
Reads go to the reader (a replica when set).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pg8000.native

from lending.model import BookStatus
from lending_postgres.connection import ConnectionPool
from lending_postgres.replica import ReplicaPool
from lending_postgres.search_sql import (
    ALTERNATIVES_SQL,
    TITLE,
    TYPO_ALTERNATIVES,
    TYPO_MIN_LENGTH,
    TYPO_SIMILARITY,
    Search,
    tsqueries,
)

if TYPE_CHECKING:  # the catalogue's classes load with the catalogue's first use (lending.catalogue_model)
    from lending.catalogue_model import TitleDetail, TitlePage, TitleQuery, TitleSummary


def _summary(r: list[Any]) -> TitleSummary:
    from lending.catalogue_model import Title, TitleSummary

    return TitleSummary(Title(*r[:7]), int(r[7]), int(r[8]), int(r[9]))


class TitleCatalogue:
    pool: ConnectionPool
    reader: ConnectionPool | ReplicaPool

    def search_titles(self, query: TitleQuery) -> TitlePage:
        s = Search(query)

        def search(c: pg8000.native.Connection) -> Any:
            # One round trip: the transaction (for SET LOCAL: the settings end with this search) and its settings.
            # Statements are prepared: plan each search for its own words, not for any words. A search reads
            # through its index, never the whole table (the planner cannot tell how many titles a prefix
            # matches, and a LIMIT tempts it into a scan that is slow for rare words). JIT compiling a plan
            # that reads a few thousand rows costs more than running it (2.5 s against 0.16 s, here).
            c.execute_simple("BEGIN; SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off; "
                             f"SET LOCAL enable_seqscan = {'off' if s.text else 'on'}; "
                             f"SET LOCAL pg_trgm.similarity_threshold = {float(TYPO_SIMILARITY)}")
            try:
                s.prepare(*tsqueries(self._alternatives(c, s.words)))
                row = c.run(s.sql(), limit=query.limit, offset=query.offset, **s.params)[0]
            except BaseException:
                c.run("ROLLBACK")
                raise
            c.run("COMMIT")
            return row

        from lending.catalogue_model import FacetCount, Facets, TitlePage

        page, total, total_exact, facets_exact, authors, languages, available, unavailable = self.reader.read(search)
        facets = Facets([FacetCount(a, int(n)) for a, n in authors], [FacetCount(lang, int(n)) for lang, n in languages],
                        int(available), int(unavailable))
        return TitlePage([_summary(r) for r in page], int(total), query.limit, query.offset, facets,
                         total_exact=bool(total_exact), facets_exact=bool(facets_exact))

    def _alternatives(self, c: pg8000.native.Connection, words: list[str]) -> list[list[Any]]:
        """Each word folded, with the catalogue's words it may be a typo of: from a cache kept for a minute
        (words are only ever added, so a cached answer lacks at most the words of titles added since)."""
        now = time.monotonic()
        cache: dict[str, tuple[float, list[Any]]] = self.__dict__.setdefault("_typo_cache", {})  # word -> (until, row)
        cached = [cache.get(w) for w in words]
        if all(hit is not None and hit[0] > now for hit in cached):
            return [hit[1] for hit in cached if hit is not None]
        found = c.run(ALTERNATIVES_SQL, words=words, min=TYPO_MIN_LENGTH, n=TYPO_ALTERNATIVES) if words else []
        if len(cache) > 10_000:
            cache.clear()
        for w, row in zip(words, found, strict=True):
            cache[w] = (now + 60.0, row)
        return found

    def get_title(self, title_id: str) -> TitleDetail | None:
        def find(c: pg8000.native.Connection) -> tuple[Any, Any]:
            title = c.run(f"SELECT {TITLE} FROM titles t WHERE t.title_id = CAST(:t AS uuid)", t=title_id)
            copies = c.run(
                "SELECT b.book_id::text, b.status, b.price_cents, b.borrow_fee_cents, b.currency, l.due_at "
                "FROM books b LEFT JOIN loans l ON l.book_id = b.book_id AND l.returned_at IS NULL "
                "WHERE b.title_id = CAST(:t AS uuid) AND b.status <> 'withdrawn' ORDER BY b.created_at, b.book_id",
                t=title_id) if title else []
            return title, copies

        from lending.catalogue_model import Copy, TitleDetail

        title, copies = self.reader.read(find)
        if not title and self.reader is not self.pool:  # added a moment ago and not yet on the replica
            title, copies = self.pool.read(find)
        if not title:
            return None
        return TitleDetail(_summary(title[0]), [Copy(r[0], BookStatus(r[1]), r[2], r[3], r[4].strip(), r[5])
                                                 for r in copies])
