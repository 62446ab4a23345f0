use super::*;
use crate::db::conversation::{self as repo, ConversationUpdate, NewConversation, Status, Usage};
use rusqlite::{params, OptionalExtension};

/// SplitMix64: seeded, so a failure repeats.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

fn conn() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    crate::db::migrate::migrate(&mut conn, None).unwrap();
    conn
}

fn add_user(conn: &Connection, name: &str) -> String {
    let id = crate::db::new_id();
    conn.execute(
        "INSERT INTO user (id, username, display_name, role, status, created_at, updated_at)
         VALUES (?1, ?2, ?2, 'user', 'active', 'x', 'x')",
        params![id, name],
    )
    .unwrap();
    id
}

/// Short texts from a small alphabet, so one- and two-character keywords
/// match often and longer ones now and then: Korean, ASCII in both cases,
/// Latin letters with accents, spaces, punctuation, quotes and commas.
const ALPHABET: &[&str] = &[
    "강", "아", "지", "설", "사", "가", "를", "이", "는", "털", "밥", "낙", "타", "a", "A", "b",
    "B", "c", "C", "é", "É", " ", " ", ".", ",", "\"", "1",
];
const WORDS: &[&str] = &["강아지", "설사", "Apple", "apple", "낙타", "고양이", "SQL"];

fn text(rng: &mut Rng, max: usize) -> String {
    let mut out = String::new();
    let len = rng.below(max + 1);
    while out.chars().count() < len {
        if rng.chance(0.15) {
            out.push_str(WORDS[rng.below(WORDS.len())]);
        } else {
            out.push_str(ALPHABET[rng.below(ALPHABET.len())]);
        }
    }
    out
}

/// Users with conversations built through the repository functions, then
/// edited, finished, deleted and touched at random, as the server would.
fn world(rng: &mut Rng) -> (Connection, Vec<String>) {
    let mut conn = conn();
    let users: Vec<String> = ["u1", "u2", "u3"]
        .iter()
        .map(|n| add_user(&conn, n))
        .collect();
    for (u, user) in users.iter().enumerate() {
        let conversations = if u == 0 { 70 } else { 25 };
        for _ in 0..conversations {
            let title = if rng.chance(0.3) {
                String::new()
            } else {
                text(rng, 12)
            };
            let conv = repo::create(
                &conn,
                user,
                &NewConversation {
                    title: &title,
                    model_id: None,
                    system_prompt: "",
                },
            )
            .unwrap();
            let mut parent: Option<String> = None;
            for _ in 0..rng.below(7) {
                let question = text(rng, 30);
                let (q, a) =
                    repo::add_exchange(&conn, &conv.id, parent.as_deref(), &question, "m").unwrap();
                // Some answers stay streaming (not searchable yet), with
                // a partial text flushed; the others finish.
                let answer = text(rng, 40);
                if rng.chance(0.15) {
                    repo::flush_partial(&mut conn, &[(a.id.clone(), answer)]).unwrap();
                } else {
                    let status = if rng.chance(0.1) {
                        Status::Stopped
                    } else {
                        Status::Complete
                    };
                    repo::finish(&conn, &a.id, &answer, status, None, Usage::default()).unwrap();
                }
                // Now and then a second answer to the same question.
                if rng.chance(0.1) {
                    let b = repo::add_answer(&conn, &conv.id, &q.id, "m").unwrap();
                    repo::finish(
                        &conn,
                        &b.id,
                        &text(rng, 20),
                        Status::Complete,
                        None,
                        Usage::default(),
                    )
                    .unwrap();
                }
                parent = Some(a.id);
            }
            let change = ConversationUpdate {
                title: rng.chance(0.2).then(|| text(rng, 10)),
                pinned: rng.chance(0.2).then_some(true),
                archived: rng.chance(0.2).then_some(true),
                ..Default::default()
            };
            repo::update(&conn, &conv.id, &change).unwrap();
            if rng.chance(0.1) {
                let conv = repo::get(&conn, user, &conv.id).unwrap().unwrap();
                repo::delete_last_exchange(&mut conn, &conv).unwrap();
            }
            if rng.chance(0.05) {
                repo::delete(&conn, &conv.id).unwrap();
                continue;
            }
            // Times with ties, so the id decides the order now and then.
            let at = format!("2026-01-{:02}T00:00:00Z", 1 + rng.below(20));
            conn.execute(
                "UPDATE conversation SET updated_at = ?2 WHERE id = ?1",
                params![conv.id, at],
            )
            .unwrap();
        }
    }
    // A whole subtree: a first question and everything under it.
    let first: Option<String> = conn
        .query_row(
            "SELECT id FROM message WHERE parent_id IS NULL AND idx = 1
              AND EXISTS (SELECT 1 FROM message c WHERE c.parent_id = message.id
                AND EXISTS (SELECT 1 FROM message g WHERE g.parent_id = c.id))
              ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    if let Some(id) = first {
        conn.execute("DELETE FROM message WHERE id = ?1", [id])
            .unwrap();
    }
    // A crash leaves answers streaming; the start marks them.
    repo::mark_interrupted(&conn).unwrap();
    // And answers streaming now: their questions are searchable, they not.
    let first = first_conversation(&conn, &users[0]);
    for _ in 0..3 {
        let (_, a) = repo::add_exchange(&conn, &first, None, "다시 강아지", "m").unwrap();
        repo::flush_partial(&mut conn, &[(a.id, "낙타 Apple".into())]).unwrap();
    }
    (conn, users)
}

fn first_conversation(conn: &Connection, user: &str) -> String {
    conn.query_row(
        "SELECT id FROM conversation WHERE user_id = ?1 ORDER BY rowid LIMIT 1",
        [user],
        |r| r.get(0),
    )
    .unwrap()
}

/// The meaning, spelled out: every keyword is a substring of the title or
/// of a message that is not streaming, without regard to case; newest first.
fn reference(conn: &Connection, user: &str, filter: &ListFilter) -> Vec<(String, String)> {
    let keywords: Vec<String> = filter
        .keywords
        .iter()
        .flat_map(|k| k.split(','))
        .filter(|k| !k.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut stmt = conn
        .prepare(
            "SELECT id, updated_at, title, archived, pinned FROM conversation WHERE user_id = ?1",
        )
        .unwrap();
    let conversations: Vec<(String, String, String, bool, bool)> = stmt
        .query_map([user], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out: Vec<(String, String)> = Vec::new();
    for (id, updated_at, title, archived, pinned) in conversations {
        if filter.archived.is_some_and(|a| a != archived)
            || filter.pinned.is_some_and(|p| p != pinned)
        {
            continue;
        }
        if let Some((u, i)) = &filter.after {
            if (&updated_at, &id) >= (u, i) {
                continue;
            }
        }
        let mut texts: Vec<String> = vec![title.to_lowercase()];
        let mut stmt = conn
            .prepare_cached(
                "SELECT content FROM message WHERE conversation_id = ?1 AND status <> 'streaming'",
            )
            .unwrap();
        texts.extend(
            stmt.query_map([&id], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|t| t.unwrap().to_lowercase()),
        );
        if keywords
            .iter()
            .all(|k| texts.iter().any(|t| t.contains(k.as_str())))
        {
            out.push((updated_at, id));
        }
    }
    out.sort_by(|a, b| b.cmp(a));
    out.truncate(filter.limit as usize);
    out
}

fn searched(
    conn: &Connection,
    user: &str,
    filter: &ListFilter,
    tuning: Tuning,
) -> Vec<(String, String)> {
    matching_with(conn, user, filter, tuning)
        .unwrap()
        .into_iter()
        .map(|rowid| {
            conn.query_row(
                "SELECT updated_at, id FROM conversation WHERE rowid = ?1",
                [rowid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        })
        .collect()
}

/// Every page, following the cursor, until a page is short.
fn all_pages(
    conn: &Connection,
    user: &str,
    filter: &ListFilter,
    tuning: Tuning,
) -> Vec<(String, String)> {
    let mut filter = filter.clone();
    let mut out = Vec::new();
    loop {
        let page = searched(conn, user, &filter, tuning);
        let full = page.len() == filter.limit as usize;
        out.extend(page.iter().cloned());
        match page.last() {
            Some(last) if full => filter.after = Some(last.clone()),
            _ => return out,
        }
    }
}

const TUNINGS: &[(&str, Tuning)] = &[
    ("default", Tuning::DEFAULT),
    (
        "walk, read on one match at a time, tiny windows",
        Tuning {
            rare: 1,
            common: f64::INFINITY,
            read_on: f64::INFINITY,
            step: 1,
            first_window: 1,
            max_window: 3,
        },
    ),
    (
        "walk, ask the index per conversation",
        Tuning {
            rare: 1,
            common: f64::INFINITY,
            read_on: 0.0,
            step: 1,
            first_window: 1,
            max_window: 8,
        },
    ),
    (
        "every keyword read whole",
        Tuning {
            rare: usize::MAX,
            common: f64::INFINITY,
            read_on: 0.0,
            step: 1,
            first_window: 1,
            max_window: 2,
        },
    ),
    (
        "judged common on a few matches, then read to the end on the way",
        Tuning {
            rare: 30,
            common: 5.0,
            read_on: 2.0,
            step: 4,
            first_window: 1,
            max_window: 4,
        },
    ),
    (
        "some read whole, some not, some judged common early",
        Tuning {
            rare: 40,
            common: 30.0,
            read_on: 3.0,
            step: 2,
            first_window: 1,
            max_window: 5,
        },
    ),
];

/// A keyword cut from the data (so it often matches) with its ASCII case
/// flipped now and then, or made up.
fn keyword(rng: &mut Rng, conn: &Connection) -> String {
    if rng.chance(0.15) {
        return text(rng, 4).replace(',', "");
    }
    let source: String = conn
        .query_row(
            "SELECT t FROM (SELECT content AS t FROM message UNION ALL SELECT title FROM conversation)
              WHERE length(t) > 0 ORDER BY random() LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let chars: Vec<char> = source.chars().filter(|c| *c != ',').collect();
    if chars.is_empty() {
        return "강".into();
    }
    let len = 1 + rng.below(5.min(chars.len()));
    let start = rng.below(chars.len() - len + 1);
    chars[start..start + len]
        .iter()
        .map(|c| {
            if rng.chance(0.5) {
                c.to_uppercase().next().unwrap()
            } else {
                *c
            }
        })
        .collect()
}

#[test]
fn the_search_agrees_with_a_plain_scan_on_every_page() {
    let mut rng = Rng(7);
    let (conn, users) = world(&mut rng);
    let mut checked = 0;
    for round in 0..120 {
        let user = &users[if round % 4 == 3 { 1 } else { 0 }];
        let keywords: Vec<String> = (0..1 + rng.below(3))
            .map(|_| keyword(&mut rng, &conn))
            .collect();
        let filter = ListFilter {
            keywords,
            archived: [None, Some(false), Some(true)][rng.below(3)],
            pinned: [None, None, Some(true), Some(false)][rng.below(4)],
            after: None,
            limit: [1, 3, 7, 200][rng.below(4)],
            ..Default::default()
        };
        let expected = reference(
            &conn,
            user,
            &ListFilter {
                limit: u32::MAX,
                ..filter.clone()
            },
        );
        checked += expected.len();
        for (name, tuning) in TUNINGS {
            let got = all_pages(&conn, user, &filter, *tuning);
            assert_eq!(got, expected, "{name}: {filter:?}");
            let first = searched(&conn, user, &filter, *tuning);
            assert_eq!(
                first,
                reference(&conn, user, &filter),
                "{name}: first page of {filter:?}"
            );
        }
    }
    assert!(
        checked > 200,
        "the keywords should match something ({checked})"
    );
}

#[test]
fn keywords_match_across_case_and_length_in_titles_and_messages() {
    let mut conn = conn();
    let user = add_user(&conn, "u");
    fn new(title: &str) -> NewConversation<'_> {
        NewConversation {
            title,
            model_id: None,
            system_prompt: "",
        }
    }
    let dog = repo::create(&conn, &user, &new("")).unwrap();
    repo::add_exchange(&conn, &dog.id, None, "우리 강아지가 설사를 해요", "m").unwrap();
    let apple = repo::create(&conn, &user, &new("Apple pie, \"quoted\" ÉCOLE")).unwrap();
    let streaming = repo::create(&conn, &user, &new("")).unwrap();
    let (_, answer) = repo::add_exchange(&conn, &streaming.id, None, "질문", "m").unwrap();
    repo::flush_partial(&mut conn, &[(answer.id.clone(), "낙타가 걸어요".into())]).unwrap();
    let find = |conn: &Connection, q: &str| -> Vec<String> {
        let filter = ListFilter {
            keywords: vec![q.into()],
            limit: 50,
            ..Default::default()
        };
        repo::list(conn, &user, &filter)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(find(&conn, "강아지"), vec![dog.id.clone()]);
    assert_eq!(find(&conn, "설사"), vec![dog.id.clone()]);
    assert_eq!(find(&conn, "설"), vec![dog.id.clone()]);
    assert_eq!(find(&conn, "가 설"), vec![dog.id.clone()], "spaces count");
    assert_eq!(
        find(&conn, "요"),
        vec![dog.id.clone()],
        "the last character"
    );
    assert_eq!(find(&conn, "강아지,설사"), vec![dog.id.clone()]);
    assert!(find(&conn, "강아지,pie").is_empty());
    assert_eq!(find(&conn, "APPLE"), vec![apple.id.clone()]);
    assert_eq!(find(&conn, "école"), vec![apple.id.clone()]);
    assert_eq!(find(&conn, "\"quoted\""), vec![apple.id.clone()]);
    assert_eq!(find(&conn, "\""), vec![apple.id.clone()]);
    assert_eq!(
        find(&conn, "e, \""),
        vec![apple.id.clone()],
        "a comma separates keywords"
    );
    assert!(
        find(&conn, "낙타").is_empty(),
        "streaming text is not searched yet"
    );
    repo::finish(
        &conn,
        &answer.id,
        "낙타가 걸어요",
        Status::Complete,
        None,
        Usage::default(),
    )
    .unwrap();
    assert_eq!(find(&conn, "낙타"), vec![streaming.id.clone()]);
    repo::update(
        &conn,
        &apple.id,
        &ConversationUpdate {
            title: Some("Banana".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(find(&conn, "apple").is_empty(), "the old title is gone");
    assert_eq!(find(&conn, "nan"), vec![apple.id.clone()]);
}

/// Every title and finished message is in the index exactly once, and
/// nothing else, after all the writes of `world` (cascades included).
#[test]
fn the_index_holds_exactly_the_searchable_rows() {
    let mut rng = Rng(11);
    let (conn, users) = world(&mut rng);
    // A deleted user takes their conversations along.
    conn.execute("DELETE FROM user WHERE id = ?1", [&users[2]])
        .unwrap();
    let docs = |sql: &str| -> Vec<i64> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let expected = docs("SELECT doc FROM search_source ORDER BY doc");
    assert!(expected.len() > 100);
    for table in ["search_trigram", "search_bigram"] {
        assert_eq!(
            docs(&format!("SELECT rowid FROM {table} ORDER BY rowid")),
            expected,
            "{table}"
        );
        conn.execute(
            &format!("INSERT INTO {table} ({table}) VALUES ('integrity-check')"),
            [],
        )
        .unwrap();
    }
    // The documented rebuild gives the same index.
    conn.execute_batch(
        "INSERT INTO search_trigram (search_trigram) VALUES ('delete-all');
         INSERT INTO search_bigram (search_bigram) VALUES ('delete-all');
         INSERT INTO search_trigram (rowid, text) SELECT doc, text FROM search_source;
         INSERT INTO search_bigram (rowid, grams) SELECT doc, grams FROM search_grams;",
    )
    .unwrap();
    for table in ["search_trigram", "search_bigram"] {
        assert_eq!(
            docs(&format!("SELECT rowid FROM {table} ORDER BY rowid")),
            expected
        );
    }
}

#[test]
fn long_texts_are_indexed_in_chunks_without_gaps() {
    let conn = conn();
    let user = add_user(&conn, "u");
    let conv = repo::create(
        &conn,
        &user,
        &NewConversation {
            title: "",
            model_id: None,
            system_prompt: "",
        },
    )
    .unwrap();
    // 64-character chunks: put keywords across every boundary.
    let long: String = (0..300).map(|i| ALPHABET[i % 13]).collect::<String>() + "끝말";
    repo::add_exchange(&conn, &conv.id, None, &long, "m").unwrap();
    let chars: Vec<char> = long.chars().collect();
    for at in [0, 62, 63, 64, 127, 128, 200, chars.len() - 2] {
        for len in 1..=3 {
            let k: String = chars[at..(at + len).min(chars.len())].iter().collect();
            let filter = ListFilter {
                keywords: vec![k.clone()],
                limit: 5,
                ..Default::default()
            };
            assert_eq!(
                matching(&conn, &user, &filter).unwrap().len(),
                1,
                "{k:?} at {at}"
            );
        }
    }
}

#[test]
fn short_keywords_go_to_the_bigram_table_and_quotes_are_doubled() {
    let q = Query::new("설사");
    assert_eq!((q.trigram, q.text.as_str()), (false, "\"설사\""));
    let q = Query::new("강아지");
    assert_eq!((q.trigram, q.text.as_str()), (true, "\"강아지\""));
    let q = Query::new("a\"b");
    assert_eq!((q.trigram, q.text.as_str()), (true, "\"a\"\"b\""));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;

    thread_local! {
        static WORLD: RefCell<Option<(Connection, Vec<String>)>> = const { RefCell::new(None) };
    }

    /// Keywords as people (and people pasting things) type them: Korean,
    /// both cases, digits, accents, an emoji, and everything FTS5's query
    /// syntax gives a meaning to (quotes, `*`, `^`, `:`, parentheses,
    /// `+`, `-`, `NEAR`, `AND`, `OR`, `NOT`), plus commas between keywords.
    fn keyword_text() -> impl Strategy<Value = String> {
        let pieces = proptest::sample::select(vec![
            "강",
            "아",
            "지",
            "설",
            "사",
            "낙",
            "타",
            "를",
            "a",
            "A",
            "b",
            "B",
            "c",
            "é",
            "É",
            "1",
            " ",
            "\"",
            "*",
            "^",
            ":",
            "(",
            ")",
            "+",
            "-",
            "NEAR",
            "AND",
            "OR",
            "NOT",
            "😀",
            ",",
            "'",
            "%",
            "_",
            "\\",
            "강아지",
            "Apple",
            "SQL",
        ]);
        proptest::collection::vec(pieces, 1..6).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the keywords, the search answers (no FTS5 syntax
        /// error) and finds exactly what a plain scan finds.
        #[test]
        fn any_keywords_give_what_a_plain_scan_gives(
            q in keyword_text(),
            limit in 1u32..20,
        ) {
            WORLD.with(|world| {
                let mut world = world.borrow_mut();
                let (conn, users) = world.get_or_insert_with(|| super::world(&mut Rng(3)));
                let filter = ListFilter {
                    keywords: crate::service::search::keywords(&q),
                    limit,
                    ..Default::default()
                };
                let got = searched(conn, &users[0], &filter, Tuning::DEFAULT);
                prop_assert_eq!(got, reference(conn, &users[0], &filter), "q = {:?}", q);
                Ok(())
            })?;
        }

        /// `?q=` splits into at most ten trimmed, non-empty keywords of
        /// at most 100 characters, without commas or repeats.
        #[test]
        fn the_query_string_splits_into_clean_keywords(q in ".{0,400}") {
            let keywords = crate::service::search::keywords(&q);
            prop_assert!(keywords.len() <= 10);
            for (i, k) in keywords.iter().enumerate() {
                prop_assert!(!k.is_empty() && !k.contains(','));
                prop_assert_eq!(k.trim(), k.as_str());
                prop_assert!(k.chars().count() <= 100);
                prop_assert!(q.contains(k.as_str()));
                prop_assert!(keywords[..i].iter().all(|o| o.to_lowercase() != k.to_lowercase()));
            }
        }
    }
}

/// What a snippet is, written plainly (the reference for [`window_at`]):
/// about [`SNIPPET_CHARS`] characters of `text` around the first
/// (ASCII-case-insensitive) occurrence of `keyword` in the text with its
/// whitespace folded, [`SNIPPET_BEFORE`] of them before it; the start of
/// the text when there is none.
fn window(text: &str, keyword: &str) -> String {
    let chars: Vec<char> = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    let needle: Vec<char> = keyword.chars().map(|c| c.to_ascii_lowercase()).collect();
    let at = (0..chars.len())
        .find(|&i| {
            chars.len() - i >= needle.len()
                && chars[i..i + needle.len()]
                    .iter()
                    .zip(&needle)
                    .all(|(a, b)| a.to_ascii_lowercase() == *b)
        })
        .unwrap_or(0);
    let start = at.saturating_sub(SNIPPET_BEFORE);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// The snippet of `text` as the server cuts it: [`window_at`] at the match
/// [`find_ignoring_ascii_case`] finds.
fn cut(text: &str, keyword: &str) -> Option<String> {
    find_ignoring_ascii_case(text, &keyword.to_ascii_lowercase()).map(|at| window_at(text, at))
}

#[test]
fn the_snippet_cut_from_around_the_match_is_the_snippet_of_the_whole_text() {
    use proptest::prelude::*;
    // Few distinct characters, so keywords recur; whitespace of every kind
    // and in runs, ASCII in both cases, Korean, a four-byte character.
    let text = proptest::collection::vec(
        prop::sample::select(vec![
            "a", "A", "b", "B", "c", " ", "  ", "\n", "\t", " \n ", "\u{3000}", "강", "아", "지",
            "😀", "é",
        ]),
        0..400,
    )
    .prop_map(|pieces| pieces.concat());
    let keyword = proptest::collection::vec(
        prop::sample::select(vec!["a", "B", "c", "강", "아", "😀", "é"]),
        1..4,
    )
    .prop_map(|pieces| pieces.concat());
    proptest!(ProptestConfig::with_cases(2000), |(text in text, keyword in keyword)| {
        let folded_has = text.to_ascii_lowercase().contains(&keyword.to_ascii_lowercase());
        match cut(&text, &keyword) {
            Some(snippet) => {
                prop_assert!(folded_has);
                prop_assert_eq!(snippet, window(&text, &keyword));
            }
            None => prop_assert!(!folded_has),
        }
    });
}

#[test]
fn the_match_is_found_ignoring_ascii_case_only() {
    assert_eq!(
        find_ignoring_ascii_case("Hello DEPLOY deploy", "deploy"),
        Some(6)
    );
    assert_eq!(
        find_ignoring_ascii_case("강아지와 고양이", "고양이"),
        Some(13)
    );
    assert_eq!(find_ignoring_ascii_case("x강A", "강a"), Some(1));
    // Case beyond ASCII is not folded (the index folds it; the snippet
    // then comes from elsewhere).
    assert_eq!(find_ignoring_ascii_case("ÉCOLE", "école"), None);
    assert_eq!(find_ignoring_ascii_case("ab", "abc"), None);
}

#[test]
fn a_snippet_is_the_text_around_the_first_match_cut_with_ellipses() {
    let long = format!(
        "{} 배포는 금요일에 Deploy it {}",
        "앞".repeat(100),
        "뒤".repeat(300)
    );
    let s = window(&long, "deploy");
    assert_eq!(cut(&long, "deploy").as_deref(), Some(s.as_str()));
    assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
    assert!(s.contains("배포는 금요일에 Deploy it"), "{s}");
    assert_eq!(s.chars().count(), SNIPPET_CHARS + 2);
    // Short text: whole, whitespace folded, no ellipsis.
    assert_eq!(window("a\n\n  short   text", "SHORT"), "a short text");
    assert_eq!(
        cut("\n a\n\n  short   text \n", "SHORT").unwrap(),
        "a short text"
    );
    // No match (only the title matched): the start of the text.
    assert_eq!(window("abc", "zzz"), "abc");
}

/// The keyword of a snippet test's round: each of [`WORDS`] first, then cut
/// from the data; `None` for one that `?q=` would not pass on as it is (it
/// trims keywords and drops empty ones, `search_keywords`).
fn snippet_keyword(rng: &mut Rng, conn: &Connection, round: usize) -> Option<String> {
    let keyword = match WORDS.get(round) {
        Some(word) => word.to_string(),
        None => keyword(rng, conn),
    };
    (keyword.trim() == keyword && !keyword.is_empty()).then_some(keyword)
}

/// [`snippets_of_reading`] for a page given by conversation ids, with
/// nothing known of their matches (an unknown id has no snippet).
fn snippets_reading(
    conn: &Connection,
    ids: &[String],
    keywords: &[String],
    max_read: usize,
) -> Result<Vec<Option<String>>, DbError> {
    let mut known = Vec::new();
    let mut page = Vec::new();
    for (at, id) in ids.iter().enumerate() {
        if let Some(rowid) = rowid_of(conn, id)? {
            known.push(at);
            page.push(Found {
                rowid,
                earliest: None,
            });
        }
    }
    let mut out = vec![None; ids.len()];
    for (at, snippet) in known
        .into_iter()
        .zip(snippets_of_reading(conn, &page, keywords, max_read)?)
    {
        out[at] = snippet;
    }
    Ok(out)
}

/// [`snippets_reading`] with the server's read limit.
fn snippets(
    conn: &Connection,
    ids: &[String],
    keywords: &[String],
) -> Result<Vec<Option<String>>, DbError> {
    snippets_reading(conn, ids, keywords, SNIPPET_READ)
}

#[test]
fn a_snippet_comes_from_the_first_message_written_that_has_the_keyword() {
    let mut rng = Rng(11);
    let (conn, _users) = world(&mut rng);
    let conversations: Vec<String> = conn
        .prepare("SELECT id FROM conversation")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // What the snippet must be: a plain scan of the conversation's messages
    // in the order they were written, streaming answers left out.
    let scan = |conversation: &str, keyword: &str| -> Option<String> {
        conn.query_row(
            "SELECT content FROM message
              WHERE conversation_id = ?1 AND status != 'streaming'
                AND instr(lower(content), lower(?2)) > 0
              ORDER BY rowid LIMIT 1",
            params![conversation, keyword],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .unwrap()
        .map(|content| window(&content, keyword))
    };
    let mut found = 0;
    for round in 0..60 {
        let Some(keyword) = snippet_keyword(&mut rng, &conn, round) else {
            continue;
        };
        for conversation in &conversations {
            let got = snippet(&conn, conversation, std::slice::from_ref(&keyword)).unwrap();
            assert_eq!(
                got,
                scan(conversation, &keyword),
                "{keyword:?} in {conversation}"
            );
            found += usize::from(got.is_some());
        }
    }
    assert!(
        found > 200,
        "only {found} snippets: the test data no longer matches"
    );
    // The first of several keywords (a comma separates them too).
    let two = vec!["강아지,설사".to_string()];
    for conversation in &conversations {
        assert_eq!(
            snippet(&conn, conversation, &two).unwrap(),
            scan(conversation, "강아지")
        );
    }
    assert_eq!(snippet(&conn, "no such id", &two).unwrap(), None);
    assert_eq!(snippet(&conn, &conversations[0], &[]).unwrap(), None);
}

#[test]
fn a_page_of_snippets_is_what_one_conversation_at_a_time_gives() {
    let mut rng = Rng(23);
    let (conn, _users) = world(&mut rng);
    // Newest first, as the list pages them, with an unknown id among them.
    let mut page: Vec<String> = conn
        .prepare("SELECT id FROM conversation ORDER BY rowid DESC")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    page.insert(page.len() / 2, "no such id".to_string());
    let mut found = 0;
    for round in 0..40 {
        let Some(keyword) = snippet_keyword(&mut rng, &conn, round) else {
            continue;
        };
        let keywords = vec![keyword.clone()];
        let one_by_one: Vec<Option<String>> = page
            .iter()
            .map(|id| snippet(&conn, id, &keywords).unwrap())
            .collect();
        // The one query, and the same when it must stop after three
        // matches and look the rest up one at a time.
        assert_eq!(
            snippets(&conn, &page, &keywords).unwrap(),
            one_by_one,
            "{keyword:?}"
        );
        assert_eq!(
            snippets_reading(&conn, &page, &keywords, 3).unwrap(),
            one_by_one,
            "{keyword:?}, three matches read"
        );
        // Any slice of the page (a later page, a short last page).
        let part = &page[page.len() / 3..page.len() / 3 + 5];
        assert_eq!(
            snippets(&conn, part, &keywords).unwrap(),
            one_by_one[page.len() / 3..page.len() / 3 + 5],
            "{keyword:?}, part of the page"
        );
        found += one_by_one.iter().flatten().count();
    }
    assert!(
        found > 100,
        "only {found} snippets: the test data no longer matches"
    );
    assert_eq!(snippets(&conn, &page, &[]).unwrap(), vec![None; page.len()]);
    assert!(snippets(&conn, &[], &["강아지".to_string()])
        .unwrap()
        .is_empty());
}

#[test]
fn temporary_chats_never_match_and_folders_and_tags_filter_both_search_paths() {
    let conn = conn();
    let user = add_user(&conn, "u");
    let new = NewConversation {
        title: "",
        model_id: None,
        system_prompt: "",
    };
    let kept = repo::create(&conn, &user, &new).unwrap();
    let temporary = repo::create_as(&conn, &user, &new, true).unwrap();
    let filed = repo::create(&conn, &user, &new).unwrap();
    for c in [&kept, &temporary, &filed] {
        repo::add_exchange(&conn, &c.id, None, "강아지 산책", "m").unwrap();
    }
    let folder = crate::db::folder::create(&conn, &user, "f", None).unwrap();
    repo::update(
        &conn,
        &filed.id,
        &ConversationUpdate {
            folder_id: Some(Some(folder.id.clone())),
            ..Default::default()
        },
    )
    .unwrap();
    repo::set_tags(&conn, &user, &filed.id, &["Work".into(), "여행".into()]).unwrap();
    repo::set_tags(&conn, &user, &kept.id, &["work".into()]).unwrap();
    // `rare: 0` walks the user's conversations; the default looks the rare
    // keyword's conversations up.
    for tuning in [
        Tuning::DEFAULT,
        Tuning {
            rare: 0,
            ..Tuning::DEFAULT
        },
    ] {
        let find = |folder_filter: Option<repo::FolderFilter>, tags: &[&str]| -> Vec<i64> {
            let filter = ListFilter {
                keywords: vec!["강아지".into()],
                folder: folder_filter,
                tags: tags.iter().map(|t| t.to_string()).collect(),
                limit: 50,
                ..Default::default()
            };
            let mut found = matching_with(&conn, &user, &filter, tuning).unwrap();
            found.sort();
            found
        };
        let rowid = |id: &str| -> i64 {
            conn.query_row("SELECT rowid FROM conversation WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let mut both = vec![rowid(&kept.id), rowid(&filed.id)];
        both.sort();
        assert_eq!(find(None, &[]), both, "{tuning:?}");
        assert_eq!(find(None, &["WORK"]), both, "{tuning:?}");
        assert_eq!(find(None, &["work", "여행"]), vec![rowid(&filed.id)]);
        assert_eq!(
            find(Some(repo::FolderFilter::In(folder.id.clone())), &[]),
            vec![rowid(&filed.id)]
        );
        assert_eq!(
            find(Some(repo::FolderFilter::Unfiled), &[]),
            vec![rowid(&kept.id)]
        );
        assert!(find(None, &["nothing"]).is_empty());
    }
    // The plain list agrees, and shows the tags sorted case-insensitively.
    let listed = repo::list(
        &conn,
        &user,
        &ListFilter {
            tags: vec!["work".into()],
            limit: 50,
            ..Default::default()
        },
    )
    .unwrap();
    let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [filed.id.as_str(), kept.id.as_str()]);
    assert_eq!(listed[0].tags, ["Work", "여행"]);
    assert!(!listed.iter().any(|c| c.temporary));
    assert_eq!(
        repo::list(
            &conn,
            &user,
            &ListFilter {
                limit: 50,
                ..Default::default()
            }
        )
        .unwrap()
        .len(),
        2
    );
}

#[test]
fn the_snippets_of_a_found_page_are_what_one_conversation_at_a_time_gives() {
    let mut rng = Rng(31);
    let (conn, users) = world(&mut rng);
    let (mut hinted, mut snippets_seen) = (0, 0);
    for round in 0..40 {
        let Some(first) = snippet_keyword(&mut rng, &conn, round) else {
            continue;
        };
        // Now and then a second keyword: the snippet follows the first.
        let mut keywords = vec![first];
        if rng.chance(0.3) {
            keywords.push(WORDS[rng.below(WORDS.len())].to_string());
        }
        let filter = ListFilter {
            keywords: keywords.clone(),
            limit: [3, 7, 200][rng.below(3)],
            ..Default::default()
        };
        for (name, tuning) in TUNINGS {
            let found = found_with(&conn, &users[0], &filter, *tuning).unwrap();
            let one_by_one: Vec<Option<String>> = found
                .iter()
                .map(|f| {
                    let id: String = conn
                        .query_row(
                            "SELECT id FROM conversation WHERE rowid = ?1",
                            [f.rowid],
                            |r| r.get(0),
                        )
                        .unwrap();
                    snippet(&conn, &id, &keywords).unwrap()
                })
                .collect();
            // Where the search read the conversation's earliest match, and
            // where it did not (or it must stop after three matches).
            assert_eq!(
                snippets_of(&conn, &found, &keywords).unwrap(),
                one_by_one,
                "{name}: {keywords:?}"
            );
            let unknown: Vec<Found> = found
                .iter()
                .map(|f| Found {
                    earliest: None,
                    ..*f
                })
                .collect();
            assert_eq!(
                snippets_of_reading(&conn, &unknown, &keywords, 3).unwrap(),
                one_by_one,
                "{name}: {keywords:?}, nothing known, three matches read"
            );
            hinted += found.iter().filter(|f| f.earliest.is_some()).count();
            snippets_seen += one_by_one.iter().flatten().count();
        }
    }
    assert!(
        hinted > 100 && snippets_seen > 100,
        "{hinted} earliest matches known, {snippets_seen} snippets: the test data no longer matches"
    );
}

#[test]
fn the_walk_grows_its_window_by_what_it_found_to_a_power_of_two() {
    let t = Tuning::DEFAULT;
    // Nothing found yet: twice the window (a power of two).
    assert_eq!(next_window(128, 128, 0, 50, t), 256);
    assert_eq!(next_window(100, 100, 0, 50, t), 256);
    // One in eight found: 37 more need about 300, but at most twice 100.
    assert_eq!(next_window(100, 100, 13, 50, t), 256);
    // 46 of 50 in 356: the last 4 need about 31, a quarter more.
    assert_eq!(next_window(256, 356, 46, 50, t), 64);
    // Never beyond the largest window, never empty.
    assert_eq!(next_window(4000, 10_000, 1, 50, t), t.max_window);
    assert_eq!(next_window(1, 1_000_000, 49, 50, t), 2);
    assert_eq!(next_window(usize::MAX, usize::MAX, 1, 50, t), t.max_window);
    assert_eq!(next_window(5, 5, 5, 5, Tuning { max_window: 0, ..t }), 1);
}
