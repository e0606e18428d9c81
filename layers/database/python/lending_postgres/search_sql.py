"""The SQL of one catalogue search: what matches, how it ranks, the filters, and the bounded candidate sets.

Matching is the full-text index alone. A word of four letters or more may also be a typo: it is looked
up in `search_words` (every folded word of every title and author, trigram-indexed) and the nearest few
words are searched for beside it (`(hobit:* | hobbit)`), so a typo costs a lookup among a few thousand
words, not a trigram comparison with every title. A title that matches the words as typed ranks above
one that matches only a word they might have meant.

Counting is bounded: a search ranks, counts and facets at most CANDIDATES matching titles (the first
found by the index), so a word that matches most of the catalogue costs what 500 titles cost. Past
that, `total` and the facet counts are lower bounds (`total_exact` / `facets_exact` false) and items are
the best-ranked among those candidates. Without `q`, the page itself is exact (by title, from its index).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalogue's classes load with the catalogue's first use (lending.catalogue_model)
    from lending.catalogue_model import TitleQuery

CANDIDATES = 500
_WORD = re.compile(r"[^\W_]+")
_ISBN_LIKE = re.compile(r"^[0-9][0-9 -]{3,20}[0-9X]$", re.IGNORECASE)
TYPO_MIN_LENGTH = 4  # shorter words are matched only as typed (as prefixes)
TYPO_SIMILARITY = 0.3  # pg_trgm similarity: one typo in a word of five letters or more (tolkein ~ tolkien 0.33)
TYPO_ALTERNATIVES = 3

# A title's counts (title_counts, kept by triggers; no row: zeros), looked up by its key for each title that
# needs them, never joined against the whole table.
def _count(column: str) -> str:
    return f"coalesce((SELECT c.{column} FROM title_counts c WHERE c.title_id = t.title_id), 0)"


AVAILABLE = _count("copies_available")
TITLE = ("t.title_id::text, t.isbn, t.title, t.author, t.publication_year, t.language, t.description, "
         f"{_count('copies_total')}, {AVAILABLE}, {_count('holds_waiting')}")

# Per word: its folded form and the nearest other words of the catalogue (none for short words).
ALTERNATIVES_SQL = (
    "SELECT lending_fold(q.w), coalesce((SELECT array_agg(s.word ORDER BY s.sim DESC, s.word) FROM ("
    " SELECT word, similarity(word, lending_fold(q.w)) AS sim FROM search_words"
    " WHERE length(q.w) >= :min AND word % lending_fold(q.w) AND word <> lending_fold(q.w)"
    " ORDER BY 2 DESC, 1 LIMIT :n) s), '{}') "
    "FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS q(w, i) ORDER BY q.i")


def words_of(text: str | None) -> list[str]:
    return _WORD.findall((text or "").strip())[:12]


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsqueries(found: list[list[Any]]) -> tuple[str, str]:
    """(as typed, with typos forgiven) from ALTERNATIVES_SQL's rows, ANDed. Only the last word is a prefix
    (the one being typed): a prefix of a common word ('the:*') makes the index gather every word it begins."""
    words = [(w, alts) for w, alts in found if w]
    typed = [f"{_lexeme(w)}{':*' if i == len(words) - 1 else ''}" for i, (w, _) in enumerate(words)]
    forgiving = [f"({t} | {' | '.join(_lexeme(a) for a in alts)})" if alts else t
                 for t, (_, alts) in zip(typed, words, strict=True)]
    return " & ".join(typed), " & ".join(forgiving)


class Search:
    """One query's SQL. `prepare(exact, forgiving)` once the words' alternatives are known, then `sql()`."""

    def __init__(self, q: TitleQuery) -> None:
        self.query = q
        self.text = (q.text or "").strip()
        self.words = words_of(self.text)
        self.params: dict[str, Any] = {"cap": CANDIDATES}
        self.author, self.language = "TRUE", "TRUE"
        if q.author:
            self.params["author"] = q.author
            self.author = "lending_fold(t.author) = lending_fold(:author)"
        if q.language:
            self.params["language"] = q.language.lower()
            self.language = "t.language = :language"
        self.available = {None: "TRUE", True: f"{AVAILABLE} > 0", False: f"{AVAILABLE} = 0"}[q.available]
        self.filters = " AND ".join(f for f in (self.author, self.language, self.available) if f != "TRUE") or "TRUE"
        self.match, self.rank = "TRUE", ""

    def prepare(self, exact: str, forgiving: str) -> None:
        match, rank = [], []
        if exact:
            self.params["tsq"] = forgiving
            match.append("t.search @@ to_tsquery('simple', :tsq)")
            rank.append("ts_rank(t.search, to_tsquery('simple', :tsq))")
            if forgiving != exact:
                self.params["exact"] = exact
                rank.append("(t.search @@ to_tsquery('simple', :exact))::int")
        if _ISBN_LIKE.match(self.text):
            self.params["isbn"] = re.sub(r"[ -]", "", self.text).upper()
            match.append("t.isbn = :isbn")
            rank.append("(t.isbn = :isbn)::int * 10")
        if self.text:
            self.match = f"({' OR '.join(match)})" if match else "FALSE"
        self.rank = " + ".join(rank) or "0"

    def sql(self) -> str:
        """One statement, one row: the page (JSON), total, whether it is exact, whether the facets are, and
        the facets, each leaving out its own filter. Two bounded index scans at most: what `q` matched (the
        facets' candidates) and, only when a filter is set, what `q` and the filters matched (the page's).
        Browsing without `q` pages through the title index and counts among the candidates."""
        found = (f"SELECT t.title_id, {self.rank} AS rank, t.author, t.language, {AVAILABLE} > 0 AS avail, "
                 f"{self.author} AS a_ok, {self.language} AS l_ok, {self.available} AS v_ok "
                 f"FROM titles t WHERE {self.match} LIMIT :cap + 1")  # one more only to know there were more
        if self.filters == "TRUE":
            hits = "SELECT title_id, rank FROM found"
        else:
            hits = f"SELECT t.title_id, {self.rank} AS rank FROM titles t WHERE {self.match} AND {self.filters} LIMIT :cap + 1"
        if self.text:
            page = ("SELECT title_id, row_number() OVER (ORDER BY rank DESC, title_id) AS n FROM "
                    "(SELECT * FROM hits LIMIT :cap) h ORDER BY rank DESC, title_id LIMIT :limit OFFSET :offset")
            total = "(SELECT least(count(*), :cap) FROM hits), (SELECT count(*) FROM hits) <= :cap"
        else:  # browsing: by title over the whole catalogue, from the (title, title_id) index
            hits = "SELECT NULL::uuid AS title_id LIMIT 0"  # counted among the candidates below instead
            page = (f"SELECT t.title_id, row_number() OVER (ORDER BY t.title, t.title_id) AS n FROM titles t "
                    f"WHERE {self.filters} ORDER BY t.title, t.title_id LIMIT :limit OFFSET :offset")
            total = ("(SELECT count(*) FROM matched WHERE a_ok AND l_ok AND v_ok), "
                     "(SELECT count(*) FROM found) <= :cap")
        return (
            f"WITH found AS MATERIALIZED ({found}), matched AS (SELECT * FROM found LIMIT :cap), "
            f"hits AS MATERIALIZED ({hits}), page AS ({page}) SELECT "
            f"(SELECT coalesce(json_agg(json_build_array({TITLE}) ORDER BY p.n), '[]') "
            " FROM page p JOIN titles t USING (title_id)), "
            f"{total}, (SELECT count(*) FROM found) <= :cap, "
            "(SELECT coalesce(json_agg(json_build_array(author, n)), '[]') FROM (SELECT author, count(*) AS n "
            " FROM matched WHERE l_ok AND v_ok GROUP BY author ORDER BY n DESC, author LIMIT 10) x), "
            "(SELECT coalesce(json_agg(json_build_array(language, n)), '[]') FROM (SELECT language, count(*) AS n "
            " FROM matched WHERE a_ok AND v_ok AND language IS NOT NULL GROUP BY language "
            " ORDER BY n DESC, language LIMIT 20) x), "
            "(SELECT count(*) FILTER (WHERE avail) FROM matched WHERE a_ok AND l_ok), "
            "(SELECT count(*) FILTER (WHERE NOT avail) FROM matched WHERE a_ok AND l_ok)")
