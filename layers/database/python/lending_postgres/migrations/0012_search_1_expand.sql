-- Search at 100,000 titles (issue 17), step 1: room for what search would otherwise work out per query.
-- Online-safe: columns with constant defaults (no rewrite), a check added NOT VALID (validated in
-- 0012_search_3), and a new table.
--   * titles.copies_total / copies_available / holds_waiting: each title's counts, kept by the
--     triggers of 0012_search_2, so neither a page nor the availability filter and facet count copies
--     or holds per title at query time;
--   * search_words: every word of every title and author, folded, with a trigram index: a typo is
--     forgiven by looking a query's word up here (a few thousand words, not 100,000 titles) and
--     searching for the words it may have meant through the full-text index.
ALTER TABLE titles ADD COLUMN copies_total integer NOT NULL DEFAULT 0,
                   ADD COLUMN copies_available integer NOT NULL DEFAULT 0,
                   ADD COLUMN holds_waiting integer NOT NULL DEFAULT 0;
ALTER TABLE titles ADD CONSTRAINT titles_counts_check
    CHECK (copies_available BETWEEN 0 AND copies_total AND holds_waiting >= 0) NOT VALID;

CREATE TABLE search_words (word text PRIMARY KEY);
CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops);
