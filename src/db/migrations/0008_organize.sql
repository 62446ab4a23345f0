-- ==== v8: folders, tags, temporary chats, groups ====
-- (issue 21; this block is also the migration src/db/migrations/0008_organize.sql)

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

-- The folder a conversation is filed in (NULL: unfiled), and whether it is a
-- temporary chat (never listed or searched, gone when its tab closes or 24 h
-- after it was created). Added with ALTER TABLE, so schema.sql's text of the
-- table is what SQLite writes for that (the columns after the last one).
ALTER TABLE conversation ADD COLUMN folder_id TEXT REFERENCES folder (id) ON DELETE SET NULL;
ALTER TABLE conversation ADD COLUMN temporary INTEGER NOT NULL DEFAULT 0 CHECK (temporary IN (0, 1));
-- The list's index carries the two new filters too, so listing still reads
-- the index alone.
DROP INDEX conversation_user_recent;
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
    added_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
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
