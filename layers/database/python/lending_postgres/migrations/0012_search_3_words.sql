-- Search, step 3: the words a typo may have meant (search_words, 0012_search_1) are kept from here on:
-- those of every title and author (not the ISBN's digits). Words are only added: one that no title uses
-- any more is harmless (searched for, it finds nothing). The words of titles already there are added by
-- 0012_search_4, once these triggers are committed (so no title added in between is missed).
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
CREATE TRIGGER titles_remember_renamed_words AFTER UPDATE OF title, author ON titles
    FOR EACH ROW WHEN (OLD.names IS DISTINCT FROM NEW.names) EXECUTE FUNCTION remember_new_words();
