-- daehwa's whole current schema, applied to a new database file.
--
-- PRAGMA user_version holds the schema version (src/db/migrate.rs, LATEST). An
-- older file is upgraded step by step by the migrations in src/db/migrations/;
-- a shipped migration is never edited, the next one changes things.
--
-- Conventions: tables singular, primary key `id` (UUID v7 text, sorts by time),
-- foreign keys `<table>_id`, times as RFC 3339 UTC text in `created_at` /
-- `updated_at`. STRICT tables, so a wrong type is an error, not a silent cast.

-- Key/value settings kept by the server itself: the install time, later the
-- token signing secret and the settings an admin changes at run time. Values
-- are JSON so a setting can be a string, a number or an object.
CREATE TABLE setting (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL CHECK (json_valid(value)),
    updated_at TEXT NOT NULL
) STRICT;

-- Accounts. `username` is unique without regard to case (NOCASE). A user who
-- only signs in through /auth/token or /auth/exchange has no password_hash and
-- is found by (external_issuer, external_id). `session_epoch` is copied into
-- every access token; raising it (password change or reset) ends every access
-- token issued before, on the very next request.
CREATE TABLE user (
    id              TEXT PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name    TEXT NOT NULL,
    password_hash   TEXT,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    status          TEXT NOT NULL CHECK (status IN ('active', 'pending', 'disabled')),
    session_epoch   INTEGER NOT NULL DEFAULT 0,
    external_issuer TEXT,
    external_id     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL, email TEXT,
    UNIQUE (external_issuer, external_id)
) STRICT;
-- (`email` came with v9, by ALTER TABLE, which writes it after the last
-- column: see the v9 block at the end.)

-- Refresh tokens, stored as SHA-256 of the opaque token (the token itself is
-- 256 random bits, so a fast hash is enough). Every refresh marks the presented
-- token used and issues a successor in the same family; presenting a used or
-- revoked token revokes the whole family (a stolen token was replayed).
CREATE TABLE refresh_token (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    family_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX refresh_token_family ON refresh_token (family_id);
CREATE INDEX refresh_token_user ON refresh_token (user_id);

-- API keys (`dk_…`), shown once and stored as SHA-256. `prefix` is what lists
-- show. `last_used_at` is refreshed at most once a minute.
CREATE TABLE api_key (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    client_name  TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX api_key_user ON api_key (user_id);

-- What admins did: who, what, to which thing, with details as JSON. The actor
-- is kept as text so the log outlives a deleted account.
CREATE TABLE audit (
    id         TEXT PRIMARY KEY NOT NULL,
    actor_id   TEXT,
    actor_name TEXT,
    action     TEXT NOT NULL,
    target     TEXT,
    detail     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    created_at TEXT NOT NULL
) STRICT;

-- LLM connections (SPEC §3 "LLM connections"). The API key is kept as given,
-- because daehwa must send it to the provider; it is never returned by the API
-- (shown as "…last4") and never logged.
CREATE TABLE connection (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('openai', 'azure', 'anthropic')),
    base_url   TEXT NOT NULL,
    api_key    TEXT,
    no_proxy   INTEGER NOT NULL DEFAULT 0 CHECK (no_proxy IN (0, 1)),
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Models users may pick. `id` is what clients send (unique across
-- connections); `upstream_id` is the provider's name for it (an Azure
-- deployment name for azure).
CREATE TABLE model (
    id             TEXT PRIMARY KEY NOT NULL,
    connection_id  TEXT NOT NULL REFERENCES connection (id) ON DELETE CASCADE,
    upstream_id    TEXT NOT NULL,
    name           TEXT NOT NULL,
    vendor         TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    context_window INTEGER,
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    position       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (connection_id, upstream_id)
) STRICT;
CREATE INDEX model_connection ON model (connection_id);

-- Conversations. `current_message_id` is the leaf of the branch shown;
-- `message_count` is the length of that branch (the leaf's idx).
CREATE TABLE conversation (
    id                 TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    title              TEXT NOT NULL DEFAULT '',
    model_id           TEXT,
    system_prompt      TEXT NOT NULL DEFAULT '',
    pinned             INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    archived           INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    current_message_id TEXT,
    message_count      INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
, folder_id TEXT REFERENCES folder (id) ON DELETE SET NULL, temporary INTEGER NOT NULL DEFAULT 0 CHECK (temporary IN (0, 1))) STRICT;
-- (`folder_id` and `temporary` came with v8, by ALTER TABLE: see the v8 block
-- at the end.)

-- Messages form a tree: an edit or a regeneration is a sibling (same parent).
-- `idx` is the depth (1 for the first question), so a thread's messages are
-- numbered 1, 2, 3 … whichever branch is shown.
CREATE TABLE message (
    id                TEXT PRIMARY KEY NOT NULL,
    conversation_id   TEXT NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
    parent_id         TEXT REFERENCES message (id) ON DELETE CASCADE,
    idx               INTEGER NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content           TEXT NOT NULL DEFAULT '',
    model_id          TEXT,
    status            TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    error             TEXT,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX message_conversation ON message (conversation_id, parent_id);
CREATE INDEX message_parent ON message (parent_id);
CREATE INDEX message_streaming ON message (status) WHERE status = 'streaming';

-- Thumbs up/down, one per user and message; a later one replaces it.
CREATE TABLE feedback (
    id         TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment    TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (message_id, user_id)
) STRICT;

-- Keyword search (DESIGN §2, SPEC `GET /conversations?q=`): every keyword must
-- occur, case-insensitively, as a substring of the title or of a message.
-- Korean words carry particles (`강아지가`) and many are two syllables
-- (`설사`), so word tokens do not work; two FTS5 tables index substrings
-- (src/db/search.rs builds the queries):
--
-- * `search_trigram`: the text with FTS5's trigram tokenizer. A keyword of
--   three or more characters is the phrase of its trigrams.
-- * `search_bigram`: what the trigram tokenizer cannot answer, keywords of
--   one or two characters. Its text (`search_grams.grams`) is every pair of
--   neighbouring characters and every character: '설사를' → '설사,설,사를,사,를,를'.
--   A keyword is one token of it. The tokenizer keeps every character
--   (spaces and punctuation too) except the comma, which separates the grams;
--   a keyword never holds a comma (`?q=` is split on commas). `detail=none`:
--   one token needs no positions.
-- * Both fold case the same way (unicode61's folding, diacritics kept), for
--   the text and the query alike.
-- * The rowid of a document is `(2^31 - 1 - conversation rowid) << 32 |
--   message rowid` (0 for the title), so a conversation's documents are
--   adjacent and the newest conversations come first: a read in rowid order
--   meets conversation after conversation, newest first (FTS5 reads forwards
--   faster than backwards), and a match names its conversation without a
--   join. The guard triggers keep both rowids in range.
-- * The triggers below keep both tables in step in the same transaction, for
--   every writer. The grams are made by `daehwa_grams(text)`, a function the
--   server registers on each of its connections (src/db/search/grams.rs,
--   crates/grams): up to schema v9 an SQL expression made them, at about
--   0.4 µs per character written, a third of the CPU of saving a finished
--   answer. A connection without the function (the `sqlite3` shell) can read
--   everything but cannot write a message or a title: it fails with "no such
--   function", it never writes a wrong index row. The tables are
--   contentless: nothing is stored twice, and a delete passes the same text
--   and grams again, read through the views before the row changes.
-- * A streaming answer is indexed once it stops streaming, not on every flush.
CREATE VIRTUAL TABLE search_trigram USING fts5(text, content = '', tokenize = 'trigram');
CREATE VIRTUAL TABLE search_bigram USING fts5(
    grams, content = '', detail = none,
    tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M* P* S* Z* C*' separators ','"
);

-- What the search tables hold: one row per title and per message that is not
-- streaming. `kind` and `source_rowid` find a row; `doc` is its rowid in the
-- index. VACUUM and the online backup keep rowids; anything that renumbers
-- them (a restore from `.dump`) needs the index rebuilt:
--   INSERT INTO search_trigram (search_trigram) VALUES ('delete-all');
--   INSERT INTO search_bigram (search_bigram) VALUES ('delete-all');
--   INSERT INTO search_trigram (rowid, text) SELECT doc, text FROM search_source;
--   INSERT INTO search_bigram (rowid, grams) SELECT doc, grams FROM search_grams;
CREATE VIEW search_source (kind, source_rowid, doc, text) AS
SELECT 'message', m.rowid, ((2147483647 - c.rowid) << 32) | m.rowid, m.content
  FROM message m JOIN conversation c ON c.id = m.conversation_id
 WHERE m.status <> 'streaming'
UNION ALL
SELECT 'title', c.rowid, (2147483647 - c.rowid) << 32, c.title FROM conversation c;
CREATE VIEW search_grams (kind, source_rowid, doc, grams) AS
SELECT kind, source_rowid, doc, daehwa_grams(text) FROM search_source;

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

-- ── Compatibility dialects (SPEC §4) ─────────────────────────────────────────
-- Seed 004's simple API: each API key has its own current model and running
-- conversation, kept across restarts. The conversation is an ordinary one of
-- the key's user (it shows in the web app); clearing the history only detaches
-- it, so nothing is lost.
CREATE TABLE api_key_session (
    api_key_id      TEXT PRIMARY KEY NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
    model_id        TEXT,
    conversation_id TEXT REFERENCES conversation (id) ON DELETE SET NULL,
    updated_at      TEXT NOT NULL
) STRICT;

-- Tokens spent through the OpenAI-compatible gateway (/v1/chat/completions),
-- which keeps no conversation: one row per call, counted against the user
-- (and the API key) that made it.
CREATE TABLE gateway_usage (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    api_key_id        TEXT REFERENCES api_key (id) ON DELETE SET NULL,
    model_id          TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    status            TEXT NOT NULL CHECK (status IN ('complete', 'stopped', 'error')),
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX gateway_usage_user ON gateway_usage (user_id, created_at);

-- ==== v4: plans and user settings, usage, shares, samples, prompts, collector ====
-- (issue 8; this block is also the migration src/db/migrations/0004_workspace.sql)

-- Plans an admin defines (SPEC §3 "User settings"). A NULL limit is no limit;
-- an empty `allowed_models` array allows every model. The default plan (at
-- most one) applies to users who have none assigned.
CREATE TABLE plan (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL UNIQUE COLLATE NOCASE,
    daily_message_limit INTEGER CHECK (daily_message_limit IS NULL OR daily_message_limit >= 0),
    allowed_models      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_models)),
    self_service        INTEGER NOT NULL DEFAULT 0 CHECK (self_service IN (0, 1)),
    is_default          INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX plan_one_default ON plan (is_default) WHERE is_default = 1;

-- One row per user once they (or an admin) changed a setting; absent = defaults.
CREATE TABLE user_setting (
    user_id            TEXT PRIMARY KEY NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    theme              TEXT NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),
    language           TEXT NOT NULL DEFAULT 'ko' CHECK (language IN ('ko', 'en')),
    default_model_id   TEXT,
    system_prompt      TEXT NOT NULL DEFAULT '',
    notify_on_complete INTEGER NOT NULL DEFAULT 0 CHECK (notify_on_complete IN (0, 1)),
    notify_sound       INTEGER NOT NULL DEFAULT 0 CHECK (notify_sound IN (0, 1)),
    plan_id            TEXT REFERENCES plan (id) ON DELETE SET NULL,
    updated_at         TEXT NOT NULL
) STRICT;

-- One row per answer asked of a model, written before the upstream is called
-- (the daily limit counts these) and given its token counts when the answer
-- ends. Kept when the conversation is deleted, so deleting does not reset a
-- limit and usage reports stay true.
CREATE TABLE usage (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    model_id          TEXT NOT NULL,
    message_id        TEXT UNIQUE,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX usage_user_time ON usage (user_id, created_at);
CREATE INDEX usage_time ON usage (created_at);

-- Shares: a snapshot of a conversation's thread (JSON), so later messages are
-- not shared. The id is 128 random bits (base64url), not a UUID v7, because it
-- is the only secret protecting a link that works without a sign-in.
CREATE TABLE share (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    snapshot        TEXT NOT NULL CHECK (json_valid(snapshot)),
    expires_at      TEXT,
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX share_user ON share (user_id, created_at DESC);

-- Samples: example conversations admins publish, kept as a snapshot so they
-- survive the source conversation.
CREATE TABLE sample (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    snapshot    TEXT NOT NULL CHECK (json_valid(snapshot)),
    created_by  TEXT REFERENCES user (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
) STRICT;

-- Admin-managed prompts of the prompt library (the starter prompts ship in
-- assets/prompts.json and are not stored).
CREATE TABLE prompt (
    id         TEXT PRIMARY KEY NOT NULL,
    title      TEXT NOT NULL,
    content    TEXT NOT NULL,
    category   TEXT NOT NULL DEFAULT '',
    tags       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    language   TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- The collector: a user's saved reference material. `tags` is a JSON array.
CREATE TABLE collector_item (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    content           TEXT NOT NULL,
    url               TEXT,
    tags              TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    source_message_id TEXT,
    filename          TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX collector_item_user ON collector_item (user_id, updated_at DESC, id DESC);

-- Which collector items a question carried to the model (title kept so the
-- record outlives a deleted item); `truncated` when only part of it fit.
CREATE TABLE message_context (
    message_id        TEXT NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    collector_item_id TEXT NOT NULL,
    title             TEXT NOT NULL,
    truncated         INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),
    PRIMARY KEY (message_id, collector_item_id)
) STRICT;

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

-- ==== v6: why an answer was rated down ====
-- (issue 18; this block is also the migration src/db/migrations/0006_feedback_reasons.sql)

-- The categories a user picked with a thumbs-down (a JSON array of codes:
-- `style`, `too_verbose`, `not_helpful`, `incorrect`, `ignored_instructions`,
-- `refused`, `unsafe`, `other`); no row when none was picked.
CREATE TABLE feedback_reasons (
    feedback_id TEXT PRIMARY KEY NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
    reasons     TEXT NOT NULL
) STRICT;

-- ==== v7: files in conversations ====
-- (issue 20; this block is also the migration src/db/migrations/0007_files.sql)

-- A file a user uploaded: an image (sent to vision models) or a document
-- (its text extracted once, at upload, and sent as context). Unattached
-- until a message carries it; then it belongs to that conversation and goes
-- with it. `text` is NULL for images and for documents whose text could not
-- be read (`extract_error` says why; the file is kept).
CREATE TABLE file (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversation (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'document')),
    size            INTEGER NOT NULL,
    width           INTEGER,
    height          INTEGER,
    text            TEXT,
    text_truncated  INTEGER NOT NULL DEFAULT 0 CHECK (text_truncated IN (0, 1)),
    extract_error   TEXT,
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX file_user ON file (user_id, created_at DESC);
CREATE INDEX file_conversation ON file (conversation_id);

-- The bytes, apart from the metadata so that listing files never walks a
-- blob's overflow pages: `original` as uploaded, `preview` the scaled image
-- sent to models (images only). A rowid table: blobs are written and read
-- with SQLite's incremental BLOB I/O.
CREATE TABLE file_blob (
    file_id TEXT NOT NULL REFERENCES file (id) ON DELETE CASCADE,
    part    TEXT NOT NULL CHECK (part IN ('original', 'preview')),
    data    BLOB NOT NULL,
    UNIQUE (file_id, part)
) STRICT;

-- Which files a question carried, in the order attached.
CREATE TABLE message_file (
    message_id TEXT NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    file_id    TEXT NOT NULL REFERENCES file (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    PRIMARY KEY (message_id, file_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_file_file ON message_file (file_id);

-- Whether a model sees images, as an admin set it (no row: guessed from
-- the model's name).
CREATE TABLE model_vision (
    model_id TEXT PRIMARY KEY NOT NULL REFERENCES model (id) ON DELETE CASCADE,
    vision   INTEGER NOT NULL CHECK (vision IN (0, 1))
) STRICT;

-- ==== v8: folders, tags, temporary chats, groups ====
-- (issue 21; the migration src/db/migrations/0008_organize.sql, less its
-- ALTER TABLE and DROP INDEX)

-- A user's folders: one level of nesting (a folder's parent is a top-level
-- folder; the service refuses deeper nesting and cycles). Deleting a folder
-- deletes its subfolders; their conversations stay, unfiled (folder_id SET
-- NULL), unless the user asked to delete them too (the service does that
-- first, in the same transaction).
CREATE TABLE folder (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    parent_id  TEXT REFERENCES folder (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX folder_user ON folder (user_id, name);
CREATE INDEX folder_parent ON folder (parent_id);

-- `conversation.folder_id` is the folder a conversation is filed in (NULL:
-- unfiled); `conversation.temporary` marks a temporary chat (never listed or
-- searched, gone when its tab closes or 24 h after it was created). The
-- migration adds them with ALTER TABLE, which is why the table's text above
-- has them after its last line. The list's index, newest first: `archived`,
-- `pinned`, `temporary` and `folder_id` ride along so the list's filters (and
-- the keyword search's walk, src/db/search.rs) read the index alone.
CREATE INDEX conversation_user_recent
    ON conversation (user_id, updated_at DESC, id DESC, archived, pinned, temporary, folder_id);
-- A folder's conversations, newest first.
CREATE INDEX conversation_folder
    ON conversation (folder_id, updated_at DESC) WHERE folder_id IS NOT NULL;
-- The temporary chats, oldest first, for the sweep.
CREATE INDEX conversation_temporary ON conversation (created_at) WHERE temporary = 1;

-- A conversation's tags (many per conversation). `user_id` is the owner's,
-- kept here so a user's tags are listed and filtered without a join.
CREATE TABLE conversation_tag (
    conversation_id TEXT NOT NULL REFERENCES conversation (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    tag             TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (conversation_id, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX conversation_tag_user ON conversation_tag (user_id, tag);

-- Groups of users ("group" is an SQL keyword): what models their members
-- may use, the plan they get, and whether every chat of theirs is temporary.
-- Directory groups (LDAP, OIDC claims) will map onto these.
CREATE TABLE user_group (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description     TEXT NOT NULL DEFAULT '',
    plan_id         TEXT REFERENCES plan (id) ON DELETE SET NULL,
    temporary_chats INTEGER NOT NULL DEFAULT 0 CHECK (temporary_chats IN (0, 1)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE group_member (
    group_id TEXT NOT NULL REFERENCES user_group (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    added_at TEXT NOT NULL, source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'directory')),
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
-- (`source` came with v9, by ALTER TABLE: see the v9 block at the end.)
CREATE INDEX group_member_user ON group_member (user_id);

-- The models a group grants. A model no group lists is open to every user; a
-- model some group lists is for those groups' members (and admins) only.
-- `model_id` is deliberately not a foreign key: a model that leaves its
-- connection and comes back (rediscovery) must stay restricted, not lose
-- its grants to a cascade and become open to everyone.
CREATE TABLE group_model (
    group_id TEXT NOT NULL REFERENCES user_group (id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    PRIMARY KEY (group_id, model_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_model_model ON group_model (model_id);

-- ==== v9: directory sign-in (LDAP / Active Directory, OpenID Connect, proxy header) ====
-- (issue 22; the migration src/db/migrations/0009_directory.sql, less its
-- ALTER TABLE)

-- The directory groups that feed a daehwa group: an LDAP group's DN, a value
-- of the OIDC groups claim, or a name in the proxy's groups header. Matched
-- without regard to case.
CREATE TABLE group_directory (
    group_id TEXT NOT NULL REFERENCES user_group (id) ON DELETE CASCADE,
    name     TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (group_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_directory_name ON group_directory (name);
