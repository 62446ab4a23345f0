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
