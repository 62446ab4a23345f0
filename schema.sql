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
