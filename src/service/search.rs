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

/// A conversation-list `?q=` split into its `tag:<name>` tokens (each a tag
/// filter; a whitespace-separated token, `tag:` in any case) and the rest
/// (the keywords, as [`search_keywords`] reads them). A token's tag ends at
/// a comma (tags hold none): what follows is keyword text. Tag names are
/// trimmed; empty ones and case-insensitive repeats are dropped.
pub fn split_tags(q: &str) -> (String, Vec<String>) {
    let mut tags: Vec<String> = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    let mut any = false;
    for token in q.split_whitespace() {
        let is_tag = token
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("tag:"));
        if !is_tag {
            rest.push(token);
            continue;
        }
        any = true;
        let name = &token[4..];
        let (name, after) = match name.find(',') {
            Some(i) => (&name[..i], &name[i..]),
            None => (name, ""),
        };
        add_tag(&mut tags, name);
        if !after.is_empty() {
            rest.push(after);
        }
    }
    if !any {
        return (q.to_string(), tags);
    }
    (rest.join(" "), tags)
}

/// Adds a tag to a filter's list unless it is empty or already there
/// (case-insensitive).
pub fn add_tag(tags: &mut Vec<String>, name: &str) {
    let name = name.trim();
    if name.is_empty() || tags.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
        return;
    }
    if tags.len() < MAX_TAG_FILTERS {
        tags.push(name.to_string());
    }
}

/// Most tags one list request filters by (more are ignored).
pub const MAX_TAG_FILTERS: usize = 20;

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

    #[test]
    fn tag_tokens_are_taken_out_of_q_and_the_rest_stays_keywords() {
        let split = |q: &str| split_tags(q);
        assert_eq!(
            split("tag:work 강아지"),
            ("강아지".to_string(), vec!["work".to_string()])
        );
        assert_eq!(split("tag:work"), (String::new(), vec!["work".into()]));
        assert_eq!(
            split("  TAG:Work  tag:work tag:여행 a, b "),
            (
                "a, b".to_string(),
                vec!["Work".to_string(), "여행".to_string()]
            )
        );
        // Without a tag token, q is left exactly as it was.
        assert_eq!(split(" a  b, c "), (" a  b, c ".to_string(), vec![]));
        assert_eq!(split("tag: x"), ("x".to_string(), vec![]));
        assert_eq!(
            split("tag:work,cat"),
            (",cat".to_string(), vec!["work".to_string()])
        );
        assert_eq!(split("tags:work"), ("tags:work".to_string(), vec![]));
        // Multi-byte text right after the prefix position does not panic.
        assert_eq!(split("가나다라 tag"), ("가나다라 tag".to_string(), vec![]));
        let many: String = (0..50).map(|i| format!("tag:t{i} ")).collect();
        assert_eq!(split(&many).1.len(), MAX_TAG_FILTERS);
    }
}
