-- Search at 100,000 titles (issue 17), step 1: room for what search would otherwise work out per query.
-- Online-safe: two new tables, nothing rewritten.
--   * title_counts: each title's copies (not withdrawn), available copies and waiting holds, kept by the
--     triggers of 0012_search_2, so neither a page nor the availability filter and facet count copies or
--     holds per title at query time. A table of its own, narrow, so the update every loan and return
--     makes is a cheap in-place (HOT) one, not a new version of the title's row with its two GIN indexes.
--     A title without copies or holds may have no row (read as zeros).
--   * search_words: every word of every title and author, folded, with a trigram index: a typo is
--     forgiven by looking the query's words up here (a few thousand words, not 100,000 titles) and
--     searching for the words they may have meant through the full-text index.
CREATE TABLE title_counts (
    title_id         uuid PRIMARY KEY REFERENCES titles (title_id),
    copies_total     integer NOT NULL DEFAULT 0,
    copies_available integer NOT NULL DEFAULT 0,
    holds_waiting    integer NOT NULL DEFAULT 0,
    CONSTRAINT title_counts_check CHECK (copies_available BETWEEN 0 AND copies_total AND holds_waiting >= 0)
);

CREATE TABLE search_words (word text PRIMARY KEY);
CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops);
