-- Schema v1 -> v2: the keyword search index rework (src/db/search.rs).
-- The trigram tables of v1 (external content, keyed by message rowid) give
-- way to the contentless `search_trigram` and `search_bigram`, keyed by
-- conversation then message so that a search reads newest first; the list
-- index gains `archived` and `pinned`. This file is frozen: later changes to
-- the search go into a step of their own.

DROP TRIGGER message_fts_insert;
DROP TRIGGER message_fts_delete;
DROP TRIGGER message_fts_update_old;
DROP TRIGGER message_fts_update_new;
DROP TRIGGER conversation_fts_insert;
DROP TRIGGER conversation_fts_delete;
DROP TRIGGER conversation_fts_update;
DROP TABLE message_fts;
DROP TABLE conversation_fts;

DROP INDEX conversation_user_recent;
CREATE INDEX conversation_user_recent
    ON conversation (user_id, updated_at DESC, id DESC, archived, pinned);

CREATE VIRTUAL TABLE search_trigram USING fts5(text, content = '', tokenize = 'trigram');
CREATE VIRTUAL TABLE search_bigram USING fts5(
    grams, content = '', detail = none,
    tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M* P* S* Z* C*' separators ','"
);

CREATE VIEW search_source (kind, source_rowid, doc, text) AS
SELECT 'message', m.rowid, ((2147483647 - c.rowid) << 32) | m.rowid, m.content
  FROM message m JOIN conversation c ON c.id = m.conversation_id
 WHERE m.status <> 'streaming'
UNION ALL
SELECT 'title', c.rowid, (2147483647 - c.rowid) << 32, c.title FROM conversation c;
CREATE VIEW search_grams (kind, source_rowid, doc, grams) AS
SELECT kind, source_rowid, doc,
       (SELECT group_concat(substr(chunk.s, pos.key + 1, 2) || ',' || substr(chunk.s, pos.key + 1, 1), ',')
            FROM (SELECT substr(text, part.key * 64 + 1, 65) AS s
                    FROM json_each('[' || rtrim(replace(hex(zeroblob((length(text) + 63) / 64)), '00', '0,'), ',') || ']') part
                   LIMIT -1) chunk,
                 json_each('[' || rtrim(replace(hex(zeroblob(min(64, length(chunk.s)))), '00', '0,'), ',') || ']') pos)
  FROM search_source;

CREATE TRIGGER message_search_key AFTER INSERT ON message
WHEN new.rowid NOT BETWEEN 1 AND 4294967295 BEGIN
    SELECT RAISE(ABORT, 'message rowid outside the search index key (1 to 2^32 - 1)');
END;
CREATE TRIGGER conversation_search_key AFTER INSERT ON conversation
WHEN new.rowid NOT BETWEEN 1 AND 2147483647 BEGIN
    SELECT RAISE(ABORT, 'conversation rowid outside the search index key (1 to 2^31 - 1)');
END;

CREATE TRIGGER message_search_insert AFTER INSERT ON message
WHEN new.status <> 'streaming' BEGIN
    INSERT INTO search_trigram (rowid, text)
    SELECT doc, text FROM search_source WHERE kind = 'message' AND source_rowid = new.rowid;
    INSERT INTO search_bigram (rowid, grams)
    SELECT doc, grams FROM search_grams WHERE kind = 'message' AND source_rowid = new.rowid;
END;
CREATE TRIGGER message_search_delete BEFORE DELETE ON message
WHEN old.status <> 'streaming' BEGIN
    INSERT INTO search_trigram (search_trigram, rowid, text)
    SELECT 'delete', doc, text FROM search_source WHERE kind = 'message' AND source_rowid = old.rowid;
    INSERT INTO search_bigram (search_bigram, rowid, grams)
    SELECT 'delete', doc, grams FROM search_grams WHERE kind = 'message' AND source_rowid = old.rowid;
END;
CREATE TRIGGER message_search_update_old BEFORE UPDATE OF content, status, conversation_id ON message
WHEN old.status <> 'streaming' BEGIN
    INSERT INTO search_trigram (search_trigram, rowid, text)
    SELECT 'delete', doc, text FROM search_source WHERE kind = 'message' AND source_rowid = old.rowid;
    INSERT INTO search_bigram (search_bigram, rowid, grams)
    SELECT 'delete', doc, grams FROM search_grams WHERE kind = 'message' AND source_rowid = old.rowid;
END;
CREATE TRIGGER message_search_update_new AFTER UPDATE OF content, status, conversation_id ON message
WHEN new.status <> 'streaming' BEGIN
    INSERT INTO search_trigram (rowid, text)
    SELECT doc, text FROM search_source WHERE kind = 'message' AND source_rowid = new.rowid;
    INSERT INTO search_bigram (rowid, grams)
    SELECT doc, grams FROM search_grams WHERE kind = 'message' AND source_rowid = new.rowid;
END;

CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversation BEGIN
    INSERT INTO search_trigram (rowid, text)
    SELECT doc, text FROM search_source WHERE kind = 'title' AND source_rowid = new.rowid;
    INSERT INTO search_bigram (rowid, grams)
    SELECT doc, grams FROM search_grams WHERE kind = 'title' AND source_rowid = new.rowid;
END;
CREATE TRIGGER conversation_search_update_old BEFORE UPDATE OF title ON conversation
WHEN old.title IS NOT new.title BEGIN
    INSERT INTO search_trigram (search_trigram, rowid, text)
    SELECT 'delete', doc, text FROM search_source WHERE kind = 'title' AND source_rowid = old.rowid;
    INSERT INTO search_bigram (search_bigram, rowid, grams)
    SELECT 'delete', doc, grams FROM search_grams WHERE kind = 'title' AND source_rowid = old.rowid;
END;
CREATE TRIGGER conversation_search_update_new AFTER UPDATE OF title ON conversation
WHEN old.title IS NOT new.title BEGIN
    INSERT INTO search_trigram (rowid, text)
    SELECT doc, text FROM search_source WHERE kind = 'title' AND source_rowid = new.rowid;
    INSERT INTO search_bigram (rowid, grams)
    SELECT doc, grams FROM search_grams WHERE kind = 'title' AND source_rowid = new.rowid;
END;
-- The messages go first, while the conversation row (their index key) is
-- still there: the foreign key's cascade would run after it is gone.
CREATE TRIGGER conversation_search_delete BEFORE DELETE ON conversation BEGIN
    DELETE FROM message WHERE conversation_id = old.id;
    INSERT INTO search_trigram (search_trigram, rowid, text)
    SELECT 'delete', doc, text FROM search_source WHERE kind = 'title' AND source_rowid = old.rowid;
    INSERT INTO search_bigram (search_bigram, rowid, grams)
    SELECT 'delete', doc, grams FROM search_grams WHERE kind = 'title' AND source_rowid = old.rowid;
END;

-- The rows written before this step.
INSERT INTO search_trigram (rowid, text) SELECT doc, text FROM search_source;
INSERT INTO search_bigram (rowid, grams) SELECT doc, grams FROM search_grams;
