-- ==== v9: directory sign-in (LDAP / Active Directory, OpenID Connect, proxy header) ====
-- (issue 22; this block is also the migration src/db/migrations/0009_directory.sql)

-- The e-mail address a directory gives for an account (LDAP `mail`, the ID
-- token's `email`); NULL for local accounts. Added with ALTER TABLE, so
-- schema.sql's text of the table is what SQLite writes for that.
ALTER TABLE user ADD COLUMN email TEXT;

-- Whether a membership was given by an admin ('manual') or by the directory
-- at sign-in ('directory'). The directory's are re-synced at every sign-in
-- (added and removed); an admin's stay whatever the directory says.
ALTER TABLE group_member ADD COLUMN source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'directory'));

-- The directory groups that feed a daehwa group: an LDAP group's DN, a value
-- of the OIDC groups claim, or a name in the proxy's groups header. Matched
-- without regard to case.
CREATE TABLE group_directory (
    group_id TEXT NOT NULL REFERENCES user_group (id) ON DELETE CASCADE,
    name     TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (group_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_directory_name ON group_directory (name);
