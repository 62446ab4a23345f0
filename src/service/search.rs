//! Keyword search input: a `?q=` of comma-separated keywords, as the
//! conversation list, the collector, the prompt library and the admins'
//! oversight search all read it.

use super::Error;

/// The keywords of a `?q=` search (conversations, collector, oversight), or
/// a 400: a NUL character cannot be searched for (SQLite's full-text query
/// parser ends a string there, so it would fail as a syntax error).
pub fn search_keywords(q: Option<&str>) -> Result<Vec<String>, Error> {
    let q = q.unwrap_or_default();
    if q.contains('\0') {
        return Err(Error::BadRequest(
            "a search keyword cannot contain a NUL character (%00)".into(),
        ));
    }
    Ok(keywords(q))
}

/// Comma-separated keywords, trimmed, empty ones and duplicates dropped.
pub fn keywords(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in q.split(',') {
        // Cut to 100 characters, then trim: the cut may end in a space.
        let k: String = k.trim().chars().take(100).collect();
        let k = k.trim_end().to_string();
        if k.is_empty() {
            continue;
        }
        if !out.iter().any(|o| o.to_lowercase() == k.to_lowercase()) {
            out.push(k);
        }
    }
    out.truncate(10);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_split_on_commas_trimmed_and_deduplicated() {
        assert_eq!(
            keywords(" apple, orange ,,Apple, 강아지 "),
            ["apple", "orange", "강아지"]
        );
        assert!(keywords(" , ").is_empty());
        assert_eq!(keywords(&"a,".repeat(30)).len(), 1);
    }
}
