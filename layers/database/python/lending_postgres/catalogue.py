"""The catalogue of titles on PostgreSQL: full-text search with facets, and one title with its copies.

Search ranks by relevance over title, author and ISBN: words match as prefixes (as you type),
accents are folded (lending_fold, an IMMUTABLE wrapper of unaccent, so it is indexed), one typo in
a name is forgiven (pg_trgm word similarity), and an ISBN matches with or without hyphens. Equal
ranks are ordered by title_id, so pages are stable. Reads go to the reader (a replica when set).
"""

from __future__ import annotations

import re
from typing import Any

import pg8000.native

from lending.circulation_model import Copy, FacetCount, Facets, Title, TitleDetail, TitlePage, TitleQuery, TitleSummary
from lending.model import BookStatus
from lending_postgres.connection import ConnectionPool
from lending_postgres.replica import ReplicaPool

_WORD = re.compile(r"[^\W_]+")
_ISBN_LIKE = re.compile(r"^[0-9][0-9 -]{3,20}[0-9X]$", re.IGNORECASE)
WORD_SIMILARITY = 0.45  # forgives one typo in a name of five letters or more
_TITLE = "t.title_id::text, t.isbn, t.title, t.author, t.publication_year, t.language, t.description"
_COUNTS = ("(SELECT count(*) FROM books b WHERE b.title_id = t.title_id AND b.status <> 'withdrawn'), "
           "(SELECT count(*) FROM books b WHERE b.title_id = t.title_id AND b.status = 'available'), "
           "(SELECT count(*) FROM holds h WHERE h.title_id = t.title_id AND h.status = 'waiting')")
_AVAILABLE = "EXISTS (SELECT 1 FROM books b WHERE b.title_id = t.title_id AND b.status = 'available')"


def _summary(r: list[Any]) -> TitleSummary:
    return TitleSummary(Title(*r[:7]), int(r[7]), int(r[8]), int(r[9]))


class _Search:
    """The SQL of one query: what matches, how it ranks, and the filters each facet leaves out."""

    def __init__(self, q: TitleQuery) -> None:
        self.params: dict[str, Any] = {}
        match, rank = [], []
        text = (q.text or "").strip()
        words = _WORD.findall(text)[:12]
        if words:
            self.params["tsq"] = " & ".join(f"{w}:*" for w in words)
            match.append("t.search @@ to_tsquery('simple', lending_fold(:tsq))")
            rank.append("ts_rank(t.search, to_tsquery('simple', lending_fold(:tsq)))")
        if len(text) >= 4:
            self.params["q"] = text
            match.append("t.names %> lending_fold(:q)")
            rank.append("word_similarity(lending_fold(:q), t.names)")
        if _ISBN_LIKE.match(text):
            self.params["isbn"] = re.sub(r"[ -]", "", text).upper()
            match.append("t.isbn = :isbn")
            rank.append("CASE WHEN t.isbn = :isbn THEN 10 ELSE 0 END")
        self.text = bool(text)
        self.match = f"({' OR '.join(match)})" if match else ("FALSE" if text else "TRUE")
        self.order = f"({' + '.join(rank)}) DESC, t.title_id" if rank else "t.title, t.title_id"
        self.author, self.language = "TRUE", "TRUE"
        if q.author:
            self.params["author"] = q.author
            self.author = "lending_fold(t.author) = lending_fold(:author)"
        if q.language:
            self.params["language"] = q.language.lower()
            self.language = "t.language = :language"
        self.available = {None: "TRUE", True: "avail", False: "NOT avail"}[q.available]


class TitleCatalogue:
    pool: ConnectionPool
    reader: ConnectionPool | ReplicaPool

    def search_titles(self, query: TitleQuery) -> TitlePage:
        s = _Search(query)
        where = f"{s.match} AND {s.author} AND {s.language}"
        if query.available is not None:
            where += f" AND {'' if query.available else 'NOT '}{_AVAILABLE}"
        page_sql = (f"SELECT {_TITLE}, {_COUNTS} FROM titles t WHERE {where} "
                    f"ORDER BY {s.order} LIMIT :limit OFFSET :offset")
        facets_sql = (
            f"WITH matched AS (SELECT t.author, t.language, {_AVAILABLE} AS avail, {s.author} AS a_ok, "
            f"{s.language} AS l_ok FROM titles t WHERE {s.match}) SELECT "
            f"(SELECT count(*) FROM matched WHERE a_ok AND l_ok AND {s.available}), "
            f"(SELECT coalesce(json_agg(json_build_array(author, n)), '[]') FROM (SELECT author, count(*) AS n "
            f" FROM matched WHERE l_ok AND {s.available} GROUP BY author ORDER BY n DESC, author LIMIT 10) x), "
            f"(SELECT coalesce(json_agg(json_build_array(language, n)), '[]') FROM (SELECT language, count(*) AS n "
            f" FROM matched WHERE a_ok AND {s.available} AND language IS NOT NULL GROUP BY language "
            f" ORDER BY n DESC, language LIMIT 20) x), "
            f"(SELECT count(*) FILTER (WHERE avail) FROM matched WHERE a_ok AND l_ok), "
            f"(SELECT count(*) FILTER (WHERE NOT avail) FROM matched WHERE a_ok AND l_ok)")

        def search(c: pg8000.native.Connection) -> tuple[Any, Any]:
            if not s.text:
                return (c.run(page_sql, limit=query.limit, offset=query.offset, **s.params),
                        c.run(facets_sql, **s.params)[0])
            c.run("BEGIN")  # for SET LOCAL: the settings end with this search
            try:
                c.run(f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}")
                # Statements are prepared: plan each search for its own words, not for any words.
                c.run("SET LOCAL plan_cache_mode = force_custom_plan")
                rows = c.run(page_sql, limit=query.limit, offset=query.offset, **s.params)
                found = c.run(facets_sql, **s.params)[0]
            finally:
                c.run("COMMIT")
            return rows, found

        rows, (total, authors, languages, available, unavailable) = self.reader.read(search)
        facets = Facets([FacetCount(a, int(n)) for a, n in authors], [FacetCount(lang, int(n)) for lang, n in languages],
                        int(available), int(unavailable))
        return TitlePage([_summary(r) for r in rows], int(total), query.limit, query.offset, facets)

    def get_title(self, title_id: str) -> TitleDetail | None:
        def find(c: pg8000.native.Connection) -> tuple[Any, Any]:
            title = c.run(f"SELECT {_TITLE}, {_COUNTS} FROM titles t WHERE t.title_id = CAST(:t AS uuid)", t=title_id)
            copies = c.run(
                "SELECT b.book_id::text, b.status, b.price_cents, b.borrow_fee_cents, b.currency, l.due_at "
                "FROM books b LEFT JOIN loans l ON l.book_id = b.book_id AND l.returned_at IS NULL "
                "WHERE b.title_id = CAST(:t AS uuid) AND b.status <> 'withdrawn' ORDER BY b.created_at, b.book_id",
                t=title_id) if title else []
            return title, copies

        title, copies = self.reader.read(find)
        if not title and self.reader is not self.pool:  # added a moment ago and not yet on the replica
            title, copies = self.pool.read(find)
        if not title:
            return None
        return TitleDetail(_summary(title[0]), [Copy(r[0], BookStatus(r[1]), r[2], r[3], r[4].strip(), r[5])
                                                 for r in copies])
