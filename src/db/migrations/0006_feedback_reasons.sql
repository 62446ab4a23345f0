-- ==== v6: why an answer was rated down ====
-- (issue 18; this block is also the migration src/db/migrations/0006_feedback_reasons.sql)

-- The categories a user picked with a thumbs-down (a JSON array of codes:
-- `style`, `too_verbose`, `not_helpful`, `incorrect`, `ignored_instructions`,
-- `refused`, `unsafe`, `other`); no row when none was picked.
CREATE TABLE feedback_reasons (
    feedback_id TEXT PRIMARY KEY NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
    reasons     TEXT NOT NULL
) STRICT;
