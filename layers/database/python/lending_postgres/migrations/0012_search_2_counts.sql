-- Search, step 2: the triggers that keep each title's counts (0012_search_1) and its words, and the
-- backfill. The triggers and the backfill are in one transaction: from the first CREATE TRIGGER to
-- the commit no copy or hold can change, so the backfill's counts and the triggers' deltas meet
-- exactly. Reads (search included) go on meanwhile; borrows, returns and holds wait for the commit
-- (about 2 s for 100,000 titles here). The title is locked first, as live traffic locks it
-- (lending_postgres/circulation.py: title, then hold, loan or copy), so this cannot deadlock with it.
LOCK TABLE titles IN EXCLUSIVE MODE;

-- A copy counts towards its title unless withdrawn; it is available when its status says so. Copies
-- are added and removed a statement at a time (bulk loads add thousands in one), moved one at a time.
CREATE FUNCTION count_copies_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE titles t SET copies_total = copies_total + n.total, copies_available = copies_available + n.available
      FROM (SELECT title_id, count(*) FILTER (WHERE status <> 'withdrawn') AS total,
                   count(*) FILTER (WHERE status = 'available') AS available
              FROM added WHERE title_id IS NOT NULL GROUP BY title_id ORDER BY title_id) n
     WHERE t.title_id = n.title_id AND (n.total, n.available) <> (0, 0);
    RETURN NULL;
END $$;
CREATE TRIGGER books_count_copies_added AFTER INSERT ON books REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_copies_added();

CREATE FUNCTION count_copies_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE titles t SET copies_total = copies_total - n.total, copies_available = copies_available - n.available
      FROM (SELECT title_id, count(*) FILTER (WHERE status <> 'withdrawn') AS total,
                   count(*) FILTER (WHERE status = 'available') AS available
              FROM removed WHERE title_id IS NOT NULL GROUP BY title_id ORDER BY title_id) n
     WHERE t.title_id = n.title_id AND (n.total, n.available) <> (0, 0);
    RETURN NULL;
END $$;
CREATE TRIGGER books_count_copies_removed AFTER DELETE ON books REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION count_copies_removed();

CREATE FUNCTION count_copies_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.title_id IS NOT NULL THEN
        UPDATE titles SET copies_total = copies_total - (OLD.status <> 'withdrawn')::int,
                          copies_available = copies_available - (OLD.status = 'available')::int
         WHERE title_id = OLD.title_id;
    END IF;
    IF NEW.title_id IS NOT NULL THEN
        UPDATE titles SET copies_total = copies_total + (NEW.status <> 'withdrawn')::int,
                          copies_available = copies_available + (NEW.status = 'available')::int
         WHERE title_id = NEW.title_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER books_count_copies_moved AFTER UPDATE OF status, title_id ON books
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.title_id IS DISTINCT FROM NEW.title_id)
    EXECUTE FUNCTION count_copies_moved();

CREATE FUNCTION count_holds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'waiting' THEN
        UPDATE titles SET holds_waiting = holds_waiting - 1 WHERE title_id = OLD.title_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'waiting' THEN
        UPDATE titles SET holds_waiting = holds_waiting + 1 WHERE title_id = NEW.title_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER holds_count_waiting AFTER INSERT OR DELETE ON holds
    FOR EACH ROW EXECUTE FUNCTION count_holds();
CREATE TRIGGER holds_count_waiting_moved AFTER UPDATE OF status, title_id ON holds
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.title_id IS DISTINCT FROM NEW.title_id)
    EXECUTE FUNCTION count_holds();

-- The words a typo may have meant: those of every title and author (not the ISBN's digits). Words
-- are only added: one no title uses any more is harmless (searched for, it finds nothing).
CREATE FUNCTION remember_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_words (word)
    SELECT DISTINCT w FROM named, unnest(tsvector_to_array(to_tsvector('simple'::regconfig, named.names))) AS w
     WHERE w ~ '[^0-9]' ORDER BY w
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER titles_remember_words AFTER INSERT ON titles REFERENCING NEW TABLE AS named
    FOR EACH STATEMENT EXECUTE FUNCTION remember_words();
CREATE FUNCTION remember_new_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_words (word)
    SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, NEW.names))) AS w
     WHERE w ~ '[^0-9]' ORDER BY w
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- Row by row, and only when a name changed: the counts above change a title's row at every loan.
CREATE TRIGGER titles_remember_renamed_words AFTER UPDATE OF title, author ON titles
    FOR EACH ROW WHEN (OLD.names IS DISTINCT FROM NEW.names) EXECUTE FUNCTION remember_new_words();

UPDATE titles t SET copies_total = c.total, copies_available = c.available
  FROM (SELECT title_id, count(*) FILTER (WHERE status <> 'withdrawn') AS total,
               count(*) FILTER (WHERE status = 'available') AS available
          FROM books WHERE title_id IS NOT NULL GROUP BY title_id) c
 WHERE t.title_id = c.title_id AND (t.copies_total, t.copies_available) IS DISTINCT FROM (c.total, c.available);
UPDATE titles t SET holds_waiting = h.waiting
  FROM (SELECT title_id, count(*) AS waiting FROM holds WHERE status = 'waiting' GROUP BY title_id) h
 WHERE t.title_id = h.title_id AND t.holds_waiting IS DISTINCT FROM h.waiting;
INSERT INTO search_words (word)
SELECT DISTINCT w FROM titles, unnest(tsvector_to_array(to_tsvector('simple'::regconfig, names))) AS w
 WHERE w ~ '[^0-9]'
ON CONFLICT DO NOTHING;
