//! The text the bigram index keeps of a message or title
//! (`search_grams.grams` in `schema.sql`), made by `daehwa_grams(text)`, a
//! function every connection registers ([`register`], from `crates/grams`,
//! which the benchmark's bulk loader registers too).
//!
//! Up to schema v9 the view made it in SQL (`substr` over `json_each`
//! rows), at about 0.4 µs per character written: in a burst of 200
//! streamed answers, saving the finished answers was 31% of the server's
//! CPU, much of it in that SQL (perf, issue 19). Here it is one pass over
//! the bytes (`daehwa_grams::grams`).

pub use daehwa_grams::register;

#[cfg(test)]
mod tests {
    use super::*;
    use daehwa_grams::grams;
    use rusqlite::types::ValueRef;
    use rusqlite::Connection;

    /// The SQL of the view `search_grams` up to schema v9.
    const OLD_GRAMS: &str = "
        SELECT (SELECT group_concat(substr(chunk.s, pos.key + 1, 2) || ',' || substr(chunk.s, pos.key + 1, 1), ',')
            FROM (SELECT substr(text, part.key * 64 + 1, 65) AS s
                    FROM json_each('[' || rtrim(replace(hex(zeroblob((length(text) + 63) / 64)), '00', '0,'), ',') || ']') part
                   LIMIT -1) chunk,
                 json_each('[' || rtrim(replace(hex(zeroblob(min(64, length(chunk.s)))), '00', '0,'), ',') || ']') pos)
          FROM (SELECT CAST(?1 AS TEXT) AS text)";

    fn old(conn: &Connection, text: &[u8]) -> Option<Vec<u8>> {
        conn.query_row(OLD_GRAMS, [text], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Text(t) => Some(t.to_vec()),
                _ => None,
            })
        })
        .unwrap()
    }

    #[test]
    fn the_grams_are_what_the_old_sql_made_for_every_kind_of_text() {
        let conn = Connection::open_in_memory().unwrap();
        let mut texts: Vec<Vec<u8>> = [
            "",
            "a",
            "설",
            "설사를",
            "강아지가 설사를 해요, 어떡하죠?",
            "a,b,,c",
            "emoji 🐶🐕 and é (e + \u{301})",
            "line\nbreak\ttab",
            "NUL \0 inside",
            "\0",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        // Lengths around the old SQL's 64-character chunks.
        for n in [63, 64, 65, 127, 128, 129, 200, 1700] {
            texts.push(
                "가나다라마바사a"
                    .chars()
                    .cycle()
                    .take(n)
                    .collect::<String>()
                    .into_bytes(),
            );
        }
        // Bytes that are not UTF-8: stray continuation bytes, a lead byte
        // at the end, an over-long lead.
        texts.push(vec![0x80, 0x80, b'a', 0xBF]);
        texts.push(vec![b'a', 0xEA, 0xB0]);
        texts.push(vec![0xEA, b'a', 0xFF, 0x80, 0x80, b'b']);
        for text in texts {
            assert_eq!(
                grams(&text),
                old(&conn, &text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    /// What the sqlite3 shell meets: a connection without the function
    /// cannot write a title or message, and nothing is written.
    #[test]
    fn a_connection_without_the_function_fails_loudly_and_writes_nothing() {
        let (dir, _server, user) = crate::db::test_db();
        let shell = Connection::open(dir.path().join("daehwa.db")).unwrap();
        let err = shell
            .execute(
                "INSERT INTO conversation (id, user_id, title, created_at, updated_at)
                 VALUES ('c', ?1, '강아지', 'x', 'x')",
                [&user],
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("no such function: daehwa_grams"),
            "{err}"
        );
        let rows: i64 = shell
            .query_row("SELECT count(*) FROM conversation", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        register(&shell).unwrap();
        shell
            .execute(
                "INSERT INTO conversation (id, user_id, title, created_at, updated_at)
                 VALUES ('c', ?1, '강아지', 'x', 'x')",
                [&user],
            )
            .unwrap();
    }

    #[test]
    fn the_function_is_what_the_view_calls() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let got: Option<String> = conn
            .query_row("SELECT daehwa_grams('설사를')", [], |row| row.get(0))
            .unwrap();
        assert_eq!(got.as_deref(), Some("설사,설,사를,사,를,를"));
        let empty: Option<String> = conn
            .query_row("SELECT daehwa_grams(NULL)", [], |row| row.get(0))
            .unwrap();
        assert_eq!(empty, None);
        let empty: Option<String> = conn
            .query_row("SELECT daehwa_grams('')", [], |row| row.get(0))
            .unwrap();
        assert_eq!(empty, None);
    }
}
