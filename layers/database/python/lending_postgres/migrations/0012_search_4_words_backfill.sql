-- Search, step 4: the words of the titles already there (0012_search_3 keeps those of titles added
-- since). Reads titles and only inserts into search_words: nothing else waits for it.
INSERT INTO search_words (word)
SELECT DISTINCT w FROM titles, unnest(tsvector_to_array(to_tsvector('simple'::regconfig, names))) AS w
 WHERE w ~ '[^0-9]'
ON CONFLICT DO NOTHING;
