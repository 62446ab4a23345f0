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
