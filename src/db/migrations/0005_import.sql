-- ==== v5: conversations written in several transactions; provider error details ====
-- (issue 16; this block is also the migration src/db/migrations/0005_import.sql)

-- A big import (or a clone of a big share or sample) is written in short
-- transactions so that other users' writes get the lock in between
-- (src/db/import.rs). While its row is here the conversation is hidden from
-- every list, search and lookup; when the last part is written the row goes,
-- and a failed or crashed import is removed: the user sees it whole or not at all.
CREATE TABLE conversation_import (
    conversation_id TEXT PRIMARY KEY NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL
) STRICT;

-- What a provider said when an answer failed (its error body, a host name, a
-- TLS reason): for administrators only (the status page's last error per
-- connection). The message's own `error` is what its user is told, without
-- any of the provider's text, which can hold internal URLs, keys echoed back
-- or stack traces.
CREATE TABLE message_error_detail (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    detail     TEXT NOT NULL
) STRICT;
