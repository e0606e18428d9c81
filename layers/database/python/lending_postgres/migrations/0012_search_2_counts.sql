-- Search, step 2: the triggers that keep title_counts (0012_search_1), and the backfill, in one
-- transaction: from the first CREATE TRIGGER to the commit no copy or hold can change, so the backfill's
-- counts and the triggers' deltas meet exactly. Reads (search included) go on meanwhile; borrows,
-- returns and holds wait for the commit (5 s for 100,000 titles on this loaded machine: one pass over books
-- and holds; longer than a request's 2 s lock timeout, so on a large catalogue run it in a quiet moment).
-- The titles are locked first, as live traffic locks a title (lending_postgres/circulation.py: the title,
-- then its hold, loan or copy), so taking the copies' and holds' locks cannot deadlock with it.
LOCK TABLE titles IN EXCLUSIVE MODE;
LOCK TABLE books, holds IN SHARE ROW EXCLUSIVE MODE;

-- Adds (copies, available, waiting) to a title's counts; its row is made on its first count. (Not an
-- INSERT ... ON CONFLICT alone: the check would refuse the negative deltas of the inserted row.)
CREATE FUNCTION count_title(title uuid, total integer, available integer, waiting integer) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF title IS NULL OR (total, available, waiting) = (0, 0, 0) THEN
        RETURN;
    END IF;
    UPDATE title_counts SET copies_total = copies_total + total, copies_available = copies_available + available,
                            holds_waiting = holds_waiting + waiting
     WHERE title_id = title;
    IF NOT FOUND THEN
        INSERT INTO title_counts AS c (title_id, copies_total, copies_available, holds_waiting)
        VALUES (title, total, available, waiting)
        ON CONFLICT (title_id) DO UPDATE SET copies_total = c.copies_total + excluded.copies_total,
                                             copies_available = c.copies_available + excluded.copies_available,
                                             holds_waiting = c.holds_waiting + excluded.holds_waiting;
    END IF;
END $$;

-- A copy counts towards its title unless withdrawn; it is available when its status says so. Copies
-- are added and removed a statement at a time (a bulk load adds thousands in one), moved one at a time.
CREATE FUNCTION count_copies_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO title_counts AS c (title_id, copies_total, copies_available)
    SELECT title_id, count(*) FILTER (WHERE status <> 'withdrawn'), count(*) FILTER (WHERE status = 'available')
      FROM added WHERE title_id IS NOT NULL GROUP BY title_id
     ORDER BY title_id  -- one order for every writer: two bulk loads cannot deadlock
    ON CONFLICT (title_id) DO UPDATE SET copies_total = c.copies_total + excluded.copies_total,
                                         copies_available = c.copies_available + excluded.copies_available;
    RETURN NULL;
END $$;
CREATE TRIGGER books_count_copies_added AFTER INSERT ON books REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_copies_added();

CREATE FUNCTION count_copies_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE title_counts c SET copies_total = c.copies_total - r.total, copies_available = c.copies_available - r.available
      FROM (SELECT title_id, count(*) FILTER (WHERE status <> 'withdrawn') AS total,
                   count(*) FILTER (WHERE status = 'available') AS available
              FROM removed WHERE title_id IS NOT NULL GROUP BY title_id) r
     WHERE c.title_id = r.title_id;
    RETURN NULL;
END $$;
CREATE TRIGGER books_count_copies_removed AFTER DELETE ON books REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION count_copies_removed();

CREATE FUNCTION count_copies_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count_title(OLD.title_id, -(OLD.status <> 'withdrawn')::int, -(OLD.status = 'available')::int, 0);
    PERFORM count_title(NEW.title_id, (NEW.status <> 'withdrawn')::int, (NEW.status = 'available')::int, 0);
    RETURN NULL;
END $$;
CREATE TRIGGER books_count_copies_moved AFTER UPDATE OF status, title_id ON books
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.title_id IS DISTINCT FROM NEW.title_id)
    EXECUTE FUNCTION count_copies_moved();

-- A hold counts while it waits (a ready hold has its copy on the shelf: it no longer waits).
CREATE FUNCTION count_holds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'waiting' THEN
        PERFORM count_title(OLD.title_id, 0, 0, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'waiting' THEN
        PERFORM count_title(NEW.title_id, 0, 0, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER holds_count_waiting AFTER INSERT OR DELETE ON holds
    FOR EACH ROW EXECUTE FUNCTION count_holds();
CREATE TRIGGER holds_count_waiting_moved AFTER UPDATE OF status, title_id ON holds
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.title_id IS DISTINCT FROM NEW.title_id)
    EXECUTE FUNCTION count_holds();

INSERT INTO title_counts (title_id, copies_total, copies_available, holds_waiting)
SELECT title_id, sum(total), sum(available), sum(waiting) FROM (
    SELECT title_id, count(*) FILTER (WHERE status <> 'withdrawn') AS total,
           count(*) FILTER (WHERE status = 'available') AS available, 0 AS waiting
      FROM books WHERE title_id IS NOT NULL GROUP BY title_id
    UNION ALL
    SELECT title_id, 0, 0, count(*) FROM holds WHERE status = 'waiting' GROUP BY title_id) x
GROUP BY title_id;
