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
