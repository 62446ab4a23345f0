-- v2 → v3: the compatibility dialects' tables (SPEC §4).
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
