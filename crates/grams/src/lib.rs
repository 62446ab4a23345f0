//! The text daehwa's bigram search index keeps of a message or title
//! (`search_grams.grams` in daehwa's `schema.sql`), and the SQL function
//! `daehwa_grams()` that the schema's view calls. The server registers it on
//! every connection, and so does the benchmark's bulk loader, which writes
//! a loaded database straight into the file through the schema's triggers.
//! What it counts as a character is SQLite's rule, not Rust's.

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::Connection;

/// For each character, the pair it starts (the last character alone) and
/// the character itself, all joined by commas: '설사를' →
/// '설사,설,사를,사,를,를'; `None` for an empty text.
///
/// Byte for byte what the SQL of schema v2–v9 made, so that a row indexed by
/// either is deleted by the other (a contentless FTS5 table is told the
/// tokens to delete): characters are counted as SQLite's `substr` and
/// `length` count them (a byte from 0xC0 up starts a character with the
/// continuation bytes after it, any other byte is one), and the text ends at
/// its first NUL, where `length` stops.
pub fn grams(text: &[u8]) -> Option<Vec<u8>> {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    let mut starts = Vec::with_capacity(text.len() + 1);
    let mut at = 0;
    while at < text.len() {
        starts.push(at);
        let lead = text[at];
        at += 1;
        if lead >= 0xC0 {
            while at < text.len() && text[at] & 0xC0 == 0x80 {
                at += 1;
            }
        }
    }
    if starts.is_empty() {
        return None;
    }
    starts.push(text.len());
    let mut out = Vec::with_capacity(text.len() * 3 + starts.len() * 2);
    for (i, pair) in starts.windows(2).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (start, end) = (pair[0], pair[1]);
        let pair_end = starts.get(i + 2).copied().unwrap_or(end);
        out.extend_from_slice(&text[start..pair_end]);
        out.push(b',');
        out.extend_from_slice(&text[start..end]);
    }
    Some(out)
}

/// Registers `daehwa_grams(text)` on `conn`. The schema's triggers call it
/// (through the view `search_grams`) whenever a message or title is
/// written, so a connection without it cannot write them: the sqlite3 shell
/// can read a daehwa file but not change its messages.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "daehwa_grams",
        1,
        // Innocuous: a view and triggers call it, whatever `trusted_schema`.
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx: &Context<'_>| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(text) | ValueRef::Blob(text) => grams(text),
                // Never from the STRICT tables' text columns (they store
                // TEXT); formatted as Rust formats them.
                ValueRef::Integer(i) => grams(i.to_string().as_bytes()),
                ValueRef::Real(r) => grams(r.to_string().as_bytes()),
                ValueRef::Null => None,
            }
            .map(Text))
        },
    )
}

/// Bytes handed to SQLite as TEXT as they are (the grams of a text that is
/// not UTF-8 are not either, and must stay byte for byte what they were).
struct Text(Vec<u8>);

impl ToSql for Text {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(&self.0)))
    }
}
