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
    updated_at      TEXT NOT NULL,
    UNIQUE (external_issuer, external_id)
) STRICT;

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
) STRICT;
CREATE INDEX conversation_user_recent ON conversation (user_id, updated_at DESC, id DESC);

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

-- Keyword search (DESIGN §2): substring search for Korean and every other
-- language through FTS5's trigram tokenizer (case-insensitive), kept in sync
-- by triggers in the same transaction as the rows. External-content tables:
-- the text is stored once, in `message` and `conversation`. A streaming answer
-- is indexed once it stops streaming, not on every flush.
CREATE VIRTUAL TABLE message_fts USING fts5(
    content, content = 'message', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER message_fts_insert AFTER INSERT ON message
WHEN new.status <> 'streaming' BEGIN
    INSERT INTO message_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER message_fts_delete AFTER DELETE ON message
WHEN old.status <> 'streaming' BEGIN
    INSERT INTO message_fts (message_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER message_fts_update_old AFTER UPDATE OF content, status ON message
WHEN old.status <> 'streaming' BEGIN
    INSERT INTO message_fts (message_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER message_fts_update_new AFTER UPDATE OF content, status ON message
WHEN new.status <> 'streaming' BEGIN
    INSERT INTO message_fts (rowid, content) VALUES (new.rowid, new.content);
END;

CREATE VIRTUAL TABLE conversation_fts USING fts5(
    title, content = 'conversation', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER conversation_fts_insert AFTER INSERT ON conversation BEGIN
    INSERT INTO conversation_fts (rowid, title) VALUES (new.rowid, new.title);
END;
CREATE TRIGGER conversation_fts_delete AFTER DELETE ON conversation BEGIN
    INSERT INTO conversation_fts (conversation_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
END;
CREATE TRIGGER conversation_fts_update AFTER UPDATE OF title ON conversation BEGIN
    INSERT INTO conversation_fts (conversation_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
    INSERT INTO conversation_fts (rowid, title) VALUES (new.rowid, new.title);
END;

-- ==== v2: plans and user settings, usage, shares, samples, prompts, collector ====
-- (issue 8; this block is also the migration src/db/migrations/0002_workspace.sql)

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
