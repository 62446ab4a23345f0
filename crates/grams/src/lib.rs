//! The text daehwa's bigram search index keeps of a message or title
//! (`search_grams.grams` in daehwa's `schema.sql`): the server's
//! `daehwa_grams()` SQL function, and the benchmark's bulk loader, which
//! writes a loaded database straight into the file, make it with this.
//! No dependencies: what it counts as a character is SQLite's rule, not
//! Rust's.

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
