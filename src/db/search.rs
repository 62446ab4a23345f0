//! Keyword search over one user's conversations (`GET /conversations?q=`,
//! DESIGN §2): which conversations contain every keyword, newest first, read
//! from the two FTS5 tables that schema.sql keeps in step with `message` and
//! `conversation` (`search_trigram` for keywords of three characters or more,
//! `search_bigram` for shorter ones; its comments say how).
//!
//! The tables answer "which documents contain this keyword" exactly, for any
//! length; the work here is the order. A page is the newest `limit`
//! conversations (by `updated_at`) that match, and a common word matches in
//! thousands of conversations and a hundred thousand messages, so listing
//! every match before sorting (what the first version did) cost hundreds of
//! milliseconds. What FTS5 does cheaply, measured at a million messages: read
//! a keyword's matches in rowid order (50–100 ns each); what it does dearly:
//! start a query (20–400 µs, a lookup in each of the table's ~20 segments).
//! So a search starts a few queries and reads each only as far as the page
//! needs:
//!
//! * A document's rowid is made from its conversation's rowid, newest
//!   conversation first (schema.sql), so a keyword's matches come
//!   conversation by conversation, newest first; once the read has passed
//!   conversation `r`, whether `r` has the keyword is known. Conversations
//!   are created in time order, and the recently updated ones are mostly the
//!   recently created ones: walking the list newest first walks the matches
//!   in their order too.
//! * Each keyword's newest [`Tuning::rare`] matches are read first (fewer
//!   when the first few, at their density, say it has many more). If that
//!   was all of them, the keyword is rare and its conversations are known;
//!   those every rare keyword has are the candidates, looked up and sorted.
//!   Otherwise the candidates are the user's conversations from the
//!   `conversation_user_recent` index, newest first, in growing windows, and
//!   the walk stops once the page is full, or once a keyword has been read
//!   to its end on the way (the rest of its conversations are looked up).
//! * Every common keyword gets one query, from the newest candidate on, read
//!   as the candidates need. A candidate it cannot reach cheaply (newer than
//!   where it started, or an old conversation updated lately, with more
//!   matches in between than starting a query costs) is checked alone, with
//!   a `rowid BETWEEN` query on its own documents.
//!
//! Worst case: two common keywords that rarely meet read all the matches of
//! both (about 15 ms at a million messages, `강아지,SQL`).
//!
//! The whole search reads one snapshot (a read transaction), so a message
//! written meanwhile cannot make the keywords disagree.

use std::borrow::Cow;

use rusqlite::types::Value as SqlValue;
use rusqlite::{named_params, Connection, OptionalExtension, Rows, Statement};

use super::conversation::{FolderFilter, ListFilter};
use super::DbError;

/// A document's rowid is `(NEWEST - conversation rowid) << DOC_BITS |
/// message rowid` (schema.sql, `search_source`): newest conversation first.
const DOC_BITS: u32 = 32;
const NEWEST: i64 = (1 << 31) - 1;

/// The first document rowid of a conversation.
fn first_doc(conversation: i64) -> i64 {
    (NEWEST - conversation) << DOC_BITS
}

/// The last document rowid of a conversation.
fn last_doc(conversation: i64) -> i64 {
    first_doc(conversation) | ((1 << DOC_BITS) - 1)
}

/// The conversation of a document rowid.
fn conversation_of(doc: i64) -> i64 {
    NEWEST - (doc >> DOC_BITS)
}

/// The message of a document rowid (0: the conversation's title).
fn message_of(doc: i64) -> i64 {
    doc & ((1 << DOC_BITS) - 1)
}

/// A keyword's matching documents from a conversation on to older ones,
/// per table.
const READ_TRIGRAM_SQL: &str = "SELECT rowid FROM search_trigram
    WHERE search_trigram MATCH :query AND rowid >= :low ORDER BY rowid";
const READ_BIGRAM_SQL: &str = "SELECT rowid FROM search_bigram
    WHERE search_bigram MATCH :query AND rowid >= :low ORDER BY rowid";
/// Whether one conversation has a document matching the keyword, per table.
const CONTAINS_TRIGRAM_SQL: &str = "SELECT EXISTS (SELECT 1 FROM search_trigram
    WHERE search_trigram MATCH :query AND rowid BETWEEN :low AND :high)";
const CONTAINS_BIGRAM_SQL: &str = "SELECT EXISTS (SELECT 1 FROM search_bigram
    WHERE search_bigram MATCH :query AND rowid BETWEEN :low AND :high)";
/// The rowids of the user's conversations in list order, from the index;
/// the row value comparison lets SQLite seek to the cursor instead of
/// skipping to it.
/// Conversations still being imported are left out (`NOT IN`: one cursor on
/// that nearly always empty table for the whole walk, where a correlated
/// `NOT EXISTS` opened one per row), and so are temporary chats; the folder
/// (`:folder_mode` 0 any, 1 unfiled, 2 `:folder`) and the tags (a JSON array,
/// each must be the conversation's) filter as in the plain list.
const WALK_SQL: &str = "SELECT c.rowid FROM conversation c
    WHERE c.user_id = :user
      AND (:archived IS NULL OR c.archived = :archived)
      AND (:pinned IS NULL OR c.pinned = :pinned)
      AND c.temporary = 0
      AND (:folder_mode = 0 OR (:folder_mode = 1 AND c.folder_id IS NULL)
           OR (:folder_mode = 2 AND c.folder_id = :folder))
      AND (c.updated_at, c.id) < (:updated_at, :id)
      AND c.id NOT IN (SELECT conversation_id FROM conversation_import)
      AND (:tags = '[]' OR NOT EXISTS (SELECT 1 FROM json_each(:tags) w WHERE NOT EXISTS (
          SELECT 1 FROM conversation_tag t WHERE t.conversation_id = c.id AND t.tag = w.value)))
    ORDER BY c.updated_at DESC, c.id DESC LIMIT :limit";
/// A cursor before every conversation (`updated_at` is RFC 3339, a digit first).
const START: &str = "~";
/// Those of the given conversations (a JSON array of rowids) that are the
/// user's, pass the filters and come after the cursor, in list order. CROSS
/// JOIN keeps the list the outer loop: the planner would rather scan the
/// user's index.
const LOOKUP_SQL: &str = "SELECT c.rowid
    FROM json_each(:rowids) j CROSS JOIN conversation c ON c.rowid = j.value
    WHERE c.user_id = :user
      AND (:archived IS NULL OR c.archived = :archived)
      AND (:pinned IS NULL OR c.pinned = :pinned)
      AND c.temporary = 0
      AND (:folder_mode = 0 OR (:folder_mode = 1 AND c.folder_id IS NULL)
           OR (:folder_mode = 2 AND c.folder_id = :folder))
      AND (c.updated_at, c.id) < (:updated_at, :id)
      AND c.id NOT IN (SELECT conversation_id FROM conversation_import)
      AND (:tags = '[]' OR NOT EXISTS (SELECT 1 FROM json_each(:tags) w WHERE NOT EXISTS (
          SELECT 1 FROM conversation_tag t WHERE t.conversation_id = c.id AND t.tag = w.value)))
    ORDER BY c.updated_at DESC, c.id DESC";
/// Where the list order puts a conversation: the walk's cursor after it.
const CURSOR_SQL: &str = "SELECT updated_at, id FROM conversation WHERE rowid = ?1";

/// Statements of the search's reads with a text of their own (two per
/// keyword): see [`Query::read_sql_in_slot`].
const CACHED_READS: usize = 4;

/// The knobs of the search; [`Tuning::DEFAULT`] is what the server uses, tests
/// turn them to force each path.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// The newest matches read of each keyword first; a keyword with fewer is
    /// rare. Its conversations are then looked up (about 1 µs each), so this
    /// bounds that path to about a millisecond.
    pub rare: usize,
    /// The first read stops early (after [`Tuning::step`] matches or more)
    /// once the matches read say, at their density, that the keyword has
    /// more than this many in all: a common keyword is then read only as far
    /// as the candidates need, not `rare` matches deep.
    pub common: f64,
    /// A candidate below a keyword's read is reached by reading on when about
    /// this many matches or fewer lie in between (reading one costs ~0.1 µs,
    /// starting a query for the candidate alone 20–400 µs).
    pub read_on: f64,
    /// Matches read per step when reading on.
    pub step: usize,
    /// The first window holds `limit * first_window` conversations.
    pub first_window: usize,
    /// The largest window.
    pub max_window: usize,
}

impl Tuning {
    pub const DEFAULT: Tuning = Tuning {
        rare: 1000,
        common: 4000.0,
        read_on: 2000.0,
        step: 256,
        first_window: 2,
        max_window: 4096,
    };
}

/// One keyword as an FTS5 query on one of the two tables (schema.sql).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `search_trigram` (three characters or more) or `search_bigram`.
    pub trigram: bool,
    /// The keyword as an FTS5 string: the trigram tokenizer makes it the
    /// phrase of its trigrams; in `search_bigram` it is one token.
    pub text: String,
}

impl Query {
    pub fn new(keyword: &str) -> Query {
        Query {
            trigram: keyword.chars().count() >= 3,
            text: format!("\"{}\"", keyword.replace('"', "\"\"")),
        }
    }

    fn read_sql(&self) -> &'static str {
        if self.trigram {
            READ_TRIGRAM_SQL
        } else {
            READ_BIGRAM_SQL
        }
    }

    /// [`Query::read_sql`] as the search's statement number `slot`: a text of
    /// its own (a comment tells them apart) for each of the first
    /// [`CACHED_READS`]. The statement cache hands out a statement to one
    /// user at a time, so a second read of the same text was compiled anew
    /// for every search (3% of a busy search's CPU, issue 19). More
    /// keywords share the last text: they must not push the other
    /// statements out of the connection's cache.
    fn read_sql_in_slot(&self, slot: usize) -> Cow<'static, str> {
        match slot.min(CACHED_READS - 1) {
            0 => Cow::Borrowed(self.read_sql()),
            n => Cow::Owned(
                self.read_sql()
                    .replacen("SELECT", &format!("SELECT /* {n} */"), 1),
            ),
        }
    }

    fn contains_sql(&self) -> &'static str {
        if self.trigram {
            CONTAINS_TRIGRAM_SQL
        } else {
            CONTAINS_BIGRAM_SQL
        }
    }
}

/// The keywords of `filter` as FTS5 queries. A comma separates keywords (as
/// in `?q=`), so a keyword holding one is split there; empty pieces and
/// repeats are dropped.
fn queries(keywords: &[String]) -> Vec<Query> {
    let mut out: Vec<Query> = Vec::new();
    for piece in keywords.iter().flat_map(|k| k.split(',')) {
        if piece.is_empty() {
            continue;
        }
        let query = Query::new(piece);
        if !out.contains(&query) {
            out.push(query);
        }
    }
    out
}

/// One keyword's matches, read from a conversation down (at first from the
/// top) as far as the search needs.
struct Matches<'s, 'c> {
    query: &'s Query,
    rows: Rows<'s>,
    /// A second statement, to start the read again lower down, once.
    again: Option<&'s mut Statement<'c>>,
    /// Where the read started ([`TOP`] at first): conversations above are
    /// asked one by one.
    start: i64,
    /// Conversations seen in the documents read so far, highest first (each
    /// read goes down, and a new read starts below the old one).
    seen: Vec<i64>,
    /// Beside each of `seen`: the rowid of its earliest message read with
    /// the keyword (0 while only its title was), where its snippet is.
    earliest: Vec<i64>,
    /// The conversations of the first and the last document read: every
    /// conversation from `last` up to `start` is known (`start + 1` before
    /// the first).
    first: Option<i64>,
    last: i64,
    read: usize,
    done: bool,
}

/// Above every conversation rowid (schema.sql keeps them below).
const TOP: i64 = NEWEST + 1;

impl<'s, 'c> Matches<'s, 'c> {
    fn new(
        query: &'s Query,
        first: &'s mut Statement<'c>,
        again: &'s mut Statement<'c>,
    ) -> Result<Self, DbError> {
        Ok(Matches {
            query,
            rows: first.query(named_params! {":query": query.text, ":low": i64::MIN})?,
            again: Some(again),
            start: TOP,
            seen: Vec::new(),
            earliest: Vec::new(),
            first: None,
            last: TOP + 1,
            read: 0,
            done: false,
        })
    }

    /// Reads up to `n` more documents.
    fn read(&mut self, n: usize) -> Result<(), DbError> {
        for _ in 0..n {
            let Some(row) = self.rows.next()? else {
                self.done = true;
                break;
            };
            let doc: i64 = row.get(0)?;
            let conversation = conversation_of(doc);
            if self.seen.last() != Some(&conversation) {
                self.seen.push(conversation);
                self.earliest.push(0);
            }
            // A conversation's documents come in message order, its title
            // (message 0) first.
            if let Some(earliest @ 0) = self.earliest.last_mut() {
                *earliest = message_of(doc);
            }
            self.first.get_or_insert(conversation);
            self.last = conversation;
            self.read += 1;
        }
        Ok(())
    }

    /// The first read: the newest matches, up to [`Tuning::rare`] (all of a
    /// rare keyword's), in steps, but no further once the keyword looks
    /// common. A keyword judged common wrongly is still searched right, by
    /// the walk; the guess only decides which path is cheaper. Measured on
    /// `bench/run`'s data (`?q=강아지,설사`, issue 19): the page needs the
    /// newest 713 matches of `설사`; reading 1,000 of them first cost 2% of
    /// the search's instructions.
    fn read_newest(&mut self, tuning: Tuning) -> Result<(), DbError> {
        let step = tuning.step.max(1);
        while !self.done && self.read < tuning.rare {
            if self.read >= step && self.looks_common(tuning) {
                break;
            }
            self.read(step.min(tuning.rare - self.read))?;
        }
        Ok(())
    }

    /// Reads on to [`Tuning::rare`] matches when the first read stopped
    /// short of that ([`Matches::read_newest`]) and has not been started
    /// again lower down; whether it read any.
    fn finish_first_read(&mut self, tuning: Tuning) -> Result<bool, DbError> {
        if self.start != TOP || self.done || self.read >= tuning.rare {
            return Ok(false);
        }
        self.read(tuning.rare - self.read)?;
        Ok(true)
    }

    /// Whether the matches read, at their density, say there are more than
    /// [`Tuning::common`] in all, down to the oldest conversation.
    fn looks_common(&self, tuning: Tuning) -> bool {
        self.read as f64 + self.between(0) > tuning.common
    }

    fn has_seen(&self, conversation: i64) -> bool {
        self.seen
            .binary_search_by(|seen| conversation.cmp(seen))
            .is_ok()
    }

    /// The earliest message of `conversation` read with the keyword, when
    /// the read began above the conversation (so its first one was read).
    fn earliest_of(&self, conversation: i64) -> Option<i64> {
        let at = self
            .seen
            .binary_search_by(|seen| conversation.cmp(seen))
            .ok()?;
        Some(self.earliest[at]).filter(|&m| m != 0)
    }

    /// Documents per conversation rowid in what was read.
    fn density(&self) -> f64 {
        match self.first {
            Some(first) => self.read as f64 / (first - self.last + 1) as f64,
            None => 0.0,
        }
    }

    /// Matches in between, about, when reading on from here down to
    /// `conversation`.
    fn between(&self, conversation: i64) -> f64 {
        (self.last - conversation) as f64 * self.density()
    }

    /// Starts the read again at `conversation` (what was seen stays, but only
    /// the new read's range counts as known).
    fn restart(&mut self, conversation: i64) -> Result<(), DbError> {
        if let Some(statement) = self.again.take() {
            let low = first_doc(conversation);
            self.rows = statement.query(named_params! {":query": self.query.text, ":low": low})?;
            self.start = conversation;
            self.first = None;
            self.last = conversation + 1;
            self.read = 0;
            self.done = false;
        }
        Ok(())
    }

    /// Whether the conversation contains the keyword: from the read, by
    /// reading on (when few matches lie in between), or by asking the index
    /// for that conversation alone.
    fn contains(
        &mut self,
        conn: &Connection,
        conversation: i64,
        tuning: Tuning,
    ) -> Result<bool, DbError> {
        while conversation <= self.start {
            if self.done || conversation >= self.last {
                return Ok(self.has_seen(conversation));
            }
            if self.between(conversation) > tuning.read_on {
                // A keyword that looked common after a few matches reads
                // what it would have read first ([`Tuning::rare`]) before it
                // asks conversation by conversation: its matches may have
                // been dense only at the top.
                if self.finish_first_read(tuning)? {
                    continue;
                }
                break;
            }
            self.read(tuning.step.max(1))?;
        }
        let (low, high) = (first_doc(conversation), last_doc(conversation));
        Ok(conn.prepare_cached(self.query.contains_sql())?.query_row(
            named_params! {":query": self.query.text, ":low": low, ":high": high},
            |r| r.get(0),
        )?)
    }
}

/// The rowids of the user's conversations that match every keyword of
/// `filter` (and its other filters), in list order, at most `filter.limit`.
/// Without keywords (or only empty ones) that is the plain list.
pub fn matching(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
) -> Result<Vec<i64>, DbError> {
    matching_with(conn, user_id, filter, Tuning::DEFAULT)
}

/// [`matching`] with explicit knobs.
pub fn matching_with(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    tuning: Tuning,
) -> Result<Vec<i64>, DbError> {
    Ok(found_with(conn, user_id, filter, tuning)?
        .into_iter()
        .map(|f| f.rowid)
        .collect())
}

/// A conversation the search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub rowid: i64,
    /// The rowid of its earliest message with the first keyword, when the
    /// search read it on the way (where [`snippets_of`] looks first).
    pub earliest: Option<i64>,
}

/// [`matching`], with what the search learnt on the way about where each
/// conversation's snippet is.
pub fn found(conn: &Connection, user_id: &str, filter: &ListFilter) -> Result<Vec<Found>, DbError> {
    found_with(conn, user_id, filter, Tuning::DEFAULT)
}

/// [`found`] with explicit knobs.
pub fn found_with(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    tuning: Tuning,
) -> Result<Vec<Found>, DbError> {
    // One snapshot for all the queries of the search.
    super::in_snapshot(conn, || search(conn, user_id, filter, tuning))
}

fn search(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    tuning: Tuning,
) -> Result<Vec<Found>, DbError> {
    let limit = filter.limit as usize;
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Two statements per keyword: the read from the top and, once, from lower
    // down.
    let queries = queries(&filter.keywords);
    let mut statements = queries
        .iter()
        .enumerate()
        .flat_map(|(i, q)| [q.read_sql_in_slot(2 * i), q.read_sql_in_slot(2 * i + 1)])
        .map(|sql| conn.prepare_cached(&sql))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keywords: Vec<Matches<'_, '_>> = Vec::with_capacity(queries.len());
    for (query, pair) in queries.iter().zip(statements.chunks_mut(2)) {
        let [first, again] = pair else { unreachable!() };
        let mut matches = Matches::new(query, first, again)?;
        // The newest matches: all of a rare keyword's, enough of a common
        // one's to tell how dense it is.
        matches.read_newest(tuning)?;
        if matches.done && matches.seen.is_empty() {
            return Ok(Vec::new());
        }
        keywords.push(matches);
    }
    // Fully read keywords first (a set lookup), then the sparsest: a
    // candidate that fails one keyword skips the others.
    keywords.sort_by(|a, b| (b.done.cmp(&a.done)).then(a.density().total_cmp(&b.density())));
    // The keyword a snippet is cut around (the first one).
    let snippet_keyword = first_keyword(&filter.keywords)
        .map(Query::new)
        .and_then(|first| keywords.iter().position(|k| *k.query == first));

    // The candidates: the conversations every rare keyword has, or else the
    // user's conversations, newest first, a window at a time.
    let mut cursor: (String, String) = match &filter.after {
        Some((updated_at, id)) => (updated_at.clone(), id.clone()),
        None => (START.to_string(), String::new()),
    };
    let mut size = (limit * tuning.first_window).max(1);
    let (mut window, mut walking) =
        match looked_up(conn, user_id, filter, &cursor, &keywords, tuning)? {
            Some(window) => (window, false),
            None => (walk(conn, user_id, filter, &cursor, size)?, true),
        };
    // A later page starts lower down: read from its highest candidate rather
    // than through everything above it.
    if let Some(&high) = window.iter().max() {
        for k in keywords.iter_mut().filter(|k| !k.done) {
            if k.between(high) > tuning.read_on {
                // First what the first read would have been, which may end
                // the keyword.
                k.finish_first_read(tuning)?;
            }
            if !k.done && k.between(high) > tuning.read_on {
                k.restart(high)?;
            }
        }
    }

    let mut found: Vec<Found> = Vec::with_capacity(limit);
    let mut walked = 0;
    loop {
        keep(
            conn,
            &window,
            &mut keywords,
            snippet_keyword,
            tuning,
            limit,
            &mut found,
        )?;
        if !walking || found.len() >= limit || window.len() < size {
            break;
        }
        // The window read rowids only (reading each one's two strings was a
        // third of the walk, issue 19): the cursor is its last one's.
        if let Some(&last) = window.last() {
            cursor = conn
                .prepare_cached(CURSOR_SQL)?
                .query_row([last], |r| Ok((r.get(0)?, r.get(1)?)))?;
        }
        // A keyword read to its end on the way (it looked common, but its
        // matches were dense only at the top) knows its conversations: the
        // rest of them are looked up, as a rare keyword's are, instead of
        // walking on through every conversation of the user.
        if let Some(rest) = looked_up(conn, user_id, filter, &cursor, &keywords, tuning)? {
            window = rest;
            walking = false;
            continue;
        }
        walked += window.len();
        size = next_window(size, walked, found.len(), limit, tuning);
        window = walk(conn, user_id, filter, &cursor, size)?;
    }
    Ok(found)
}

/// The candidates when some keywords have been read from the top to their
/// end (a rare keyword at the start, or one read to its end during the
/// walk): the conversations all of those have, that are the user's and come
/// after `cursor`, in list order. `None` when no keyword is read whole, or
/// the first such has more than [`Tuning::rare`] conversations (as a common
/// keyword read to its end may, most of them other users'): then the walk
/// goes on.
fn looked_up(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    cursor: &(String, String),
    keywords: &[Matches<'_, '_>],
    tuning: Tuning,
) -> Result<Option<Vec<i64>>, DbError> {
    let mut whole = keywords.iter().filter(|k| k.done && k.start == TOP);
    let Some(first) = whole.next() else {
        return Ok(None);
    };
    if first.seen.len() > tuning.rare {
        return Ok(None);
    }
    let rest: Vec<&Matches<'_, '_>> = whole.collect();
    let rowids: Vec<i64> = first
        .seen
        .iter()
        .rev()
        .copied()
        .filter(|r| rest.iter().all(|k| k.has_seen(*r)))
        .collect();
    let after = (cursor.0.as_str(), cursor.1.as_str());
    lookup(conn, user_id, filter, after, &rowids).map(Some)
}

/// The size of the walk's next window, after `walked` candidates gave
/// `found` of the `limit` wanted: what the share that matched so far says
/// the rest needs, and a quarter more, but never more than twice the last
/// window (a share measured on few candidates is a poor guess) nor
/// [`Tuning::max_window`]; rounded up to a power of two, since each size is
/// a statement of its own (`db::with_limit`) and the connection's statement
/// cache should hold them all. A common word found in one conversation of
/// eight walked about 420 candidates for a page of 50 where doubling walked
/// 700 (issue 19).
fn next_window(size: usize, walked: usize, found: usize, limit: usize, tuning: Tuning) -> usize {
    let doubled = size.saturating_mul(2);
    let guess = match found {
        0 => doubled,
        _ => (limit.saturating_sub(found).saturating_mul(walked) / found).saturating_mul(5) / 4,
    };
    guess
        .min(doubled)
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(usize::MAX)
        .min(tuning.max_window)
        .max(1)
}

/// Appends to `found` (up to `limit`) the candidates, in their order, that
/// contain every keyword, with where the snippet keyword (an index into
/// `keywords`) was read in each.
fn keep(
    conn: &Connection,
    candidates: &[i64],
    keywords: &mut [Matches<'_, '_>],
    snippet_keyword: Option<usize>,
    tuning: Tuning,
    limit: usize,
    found: &mut Vec<Found>,
) -> Result<(), DbError> {
    'candidates: for &rowid in candidates {
        if found.len() >= limit {
            break;
        }
        for k in keywords.iter_mut() {
            if !k.contains(conn, rowid, tuning)? {
                continue 'candidates;
            }
        }
        found.push(Found {
            rowid,
            earliest: snippet_keyword
                .and_then(|k| keywords.get(k))
                .and_then(|k| k.earliest_of(rowid)),
        });
    }
    Ok(())
}

fn filter_value(flag: Option<bool>) -> SqlValue {
    flag.map_or(SqlValue::Null, |b| SqlValue::Integer(b as i64))
}

/// The folder filter as `(:folder_mode, :folder)`.
fn folder_values(filter: &ListFilter) -> (i64, Option<&str>) {
    match &filter.folder {
        None => (0, None),
        Some(FolderFilter::Unfiled) => (1, None),
        Some(FolderFilter::In(id)) => (2, Some(id.as_str())),
    }
}

/// The tag filter as a JSON array.
fn tags_value(filter: &ListFilter) -> Result<String, DbError> {
    serde_json::to_string(&filter.tags).map_err(|e| DbError::Task(e.to_string()))
}

/// The next `size` of the user's conversations after `cursor`, in list order.
fn walk(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    cursor: &(String, String),
    size: usize,
) -> Result<Vec<i64>, DbError> {
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    let (folder_mode, folder) = folder_values(filter);
    let tags = tags_value(filter)?;
    let mut stmt = conn.prepare_cached(&super::with_limit(WALK_SQL, size, None))?;
    let rows = stmt.query_map(
        named_params! {
            ":user": user_id,
            ":archived": filter_value(filter.archived),
            ":pinned": filter_value(filter.pinned),
            ":folder_mode": folder_mode,
            ":folder": folder,
            ":tags": tags,
            ":updated_at": cursor.0,
            ":id": cursor.1,
        },
        |r| r.get(0),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Those of `rowids` that are the user's, pass the filters and come after
/// the cursor `after` (`(updated_at, id)`), in list order.
fn lookup(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    (updated_at, id): (&str, &str),
    rowids: &[i64],
) -> Result<Vec<i64>, DbError> {
    if rowids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(rowids).map_err(|e| DbError::Task(e.to_string()))?;
    let (folder_mode, folder) = folder_values(filter);
    let tags = tags_value(filter)?;
    let mut stmt = conn.prepare_cached(LOOKUP_SQL)?;
    let rows = stmt.query_map(
        named_params! {
            ":rowids": list,
            ":user": user_id,
            ":archived": filter_value(filter.archived),
            ":pinned": filter_value(filter.pinned),
            ":folder_mode": folder_mode,
            ":folder": folder,
            ":tags": tags,
            ":updated_at": updated_at,
            ":id": id,
        },
        |r| r.get(0),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Characters of a snippet before the match, and in all.
const SNIPPET_BEFORE: usize = 50;
const SNIPPET_CHARS: usize = 160;

/// The text around the first match of the first keyword in the
/// conversation's messages (the earliest message that has it, streaming
/// answers left out), about 160 characters with `…` where it was cut; `None`
/// when only the title matched. ASCII case is ignored, as the search does.
///
/// The index finds the conversation's matching messages (its documents are
/// one rowid range), so a snippet reads one or two messages, not every
/// message of the conversation (which cost several milliseconds a page).
pub fn snippet(
    conn: &Connection,
    conversation_id: &str,
    keywords: &[String],
) -> Result<Option<String>, DbError> {
    let Some(first) = first_keyword(keywords) else {
        return Ok(None);
    };
    match rowid_of(conn, conversation_id)? {
        Some(conversation) => snippet_in(conn, conversation, first),
        None => Ok(None),
    }
}

fn rowid_of(conn: &Connection, conversation_id: &str) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached("SELECT rowid FROM conversation WHERE id = ?1")?
        .query_row([conversation_id], |r| r.get::<_, i64>(0))
        .optional()?)
}

/// [`snippet`] of the conversation with this rowid, cut around `first`.
fn snippet_in(
    conn: &Connection,
    conversation: i64,
    first: &str,
) -> Result<Option<String>, DbError> {
    let query = Query::new(first);
    let mut docs = conn.prepare_cached(query.read_sql())?;
    // `+ 1`: the conversation's first document is its title.
    let mut rows = docs.query(named_params! {
        ":query": query.text,
        ":low": first_doc(conversation) + 1,
    })?;
    let needle = first.to_ascii_lowercase();
    while let Some(row) = rows.next()? {
        let doc: i64 = row.get(0)?;
        if conversation_of(doc) != conversation {
            break;
        }
        if let Some(snippet) = snippet_from(conn, message_of(doc), &needle)? {
            return Ok(Some(snippet));
        }
    }
    Ok(None)
}

/// The snippet from one message: `None` when it is still being written or
/// does not hold `needle` (the keyword, ASCII-lowercased) as the snippet
/// finds it. The index folds case beyond ASCII; the snippet finds what the
/// search promised, ASCII case ignored.
fn snippet_from(conn: &Connection, message: i64, needle: &str) -> Result<Option<String>, DbError> {
    // Cut from the text where SQLite holds it: no copy of the whole message.
    Ok(conn
        .prepare_cached("SELECT content FROM message WHERE rowid = ?1 AND status != 'streaming'")?
        .query_row([message], |r| {
            let content = r.get_ref(0)?.as_str()?;
            Ok(find_ignoring_ascii_case(content, needle).map(|at| window_at(content, at)))
        })
        .optional()?
        .flatten())
}

/// The keyword a snippet is cut around: the first non-empty one (a comma
/// separates keywords too, as in `?q=`).
fn first_keyword(keywords: &[String]) -> Option<&str> {
    keywords
        .iter()
        .flat_map(|k| k.split(','))
        .find(|k| !k.is_empty())
}

/// Matches a page's snippets may read from one query over the page's
/// documents before the rest are looked up one conversation at a time.
const SNIPPET_READ: usize = 20_000;

/// [`snippet`] for each conversation of a page the search found
/// ([`found`]), in its order. Where the search read a conversation's
/// earliest match, that message is read; the others are settled by one
/// query over the page's documents (starting a query costs as much as
/// reading a few thousand matches), and a conversation it did not settle
/// within [`SNIPPET_READ`] matches is looked up alone.
pub fn snippets_of(
    conn: &Connection,
    found: &[Found],
    keywords: &[String],
) -> Result<Vec<Option<String>>, DbError> {
    snippets_of_reading(conn, found, keywords, SNIPPET_READ)
}

/// [`snippets_of`] reading at most `max_read` matches in the one query.
fn snippets_of_reading(
    conn: &Connection,
    found: &[Found],
    keywords: &[String],
    max_read: usize,
) -> Result<Vec<Option<String>>, DbError> {
    let mut out = vec![None; found.len()];
    let Some(first) = first_keyword(keywords) else {
        return Ok(out);
    };
    let needle = first.to_ascii_lowercase();
    let mut wanted = std::collections::HashMap::new();
    for (i, f) in found.iter().enumerate() {
        // The earliest match may be an answer still being written, or a
        // match in case beyond ASCII: then the conversation is read below.
        if let Some(message) = f.earliest {
            out[i] = snippet_from(conn, message, &needle)?;
        }
        if out[i].is_none() {
            wanted.insert(f.rowid, i);
        }
    }
    read_snippets(conn, &wanted, first, max_read, &mut out)?;
    Ok(out)
}

/// Fills in `out` for the `wanted` conversations (rowid → place in `out`):
/// one query reads the keyword `first` from the newest of them down, up to
/// `max_read` matches; those it did not settle are looked up alone.
fn read_snippets(
    conn: &Connection,
    wanted: &std::collections::HashMap<i64, usize>,
    first: &str,
    max_read: usize,
    out: &mut [Option<String>],
) -> Result<(), DbError> {
    let (Some(&newest), Some(&oldest)) = (wanted.keys().max(), wanted.keys().min()) else {
        return Ok(());
    };
    let query = Query::new(first);
    let needle = first.to_ascii_lowercase();
    let mut settled = std::collections::HashSet::new();
    let mut read = 0;
    {
        let mut docs = conn.prepare_cached(query.read_sql())?;
        let mut rows = docs.query(named_params! {
            ":query": query.text,
            ":low": first_doc(newest),
        })?;
        while let Some(row) = rows.next()? {
            let doc: i64 = row.get(0)?;
            let conversation = conversation_of(doc);
            if conversation < oldest || settled.len() == wanted.len() {
                break;
            }
            read += 1;
            if read > max_read {
                break;
            }
            let message = message_of(doc);
            let Some(&at) = wanted.get(&conversation) else {
                continue;
            };
            // The title (rowid 0) gives no snippet.
            if message == 0 || settled.contains(&conversation) {
                continue;
            }
            if let Some(snippet) = snippet_from(conn, message, &needle)? {
                out[at] = Some(snippet);
                settled.insert(conversation);
            }
        }
    }
    if read > max_read {
        for (&conversation, &at) in wanted {
            if !settled.contains(&conversation) {
                out[at] = snippet_in(conn, conversation, first)?;
            }
        }
    }
    Ok(())
}

/// The byte where `needle` (ASCII-lowercased) first occurs in `text`, ASCII
/// case ignored.
fn find_ignoring_ascii_case(text: &str, needle: &str) -> Option<usize> {
    if !needle.bytes().any(|b| b.is_ascii_alphabetic()) {
        // No letter to fold (a Korean keyword): a plain substring search.
        return text.find(needle);
    }
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    // A match starts where a character does: UTF-8 never continues a
    // character with the byte that starts one, and the needle starts one.
    text.windows(needle.len()).position(|w| {
        w.iter()
            .zip(needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// About [`SNIPPET_CHARS`] characters of `text` around the match at byte
/// `at`, whitespace folded (a run of it is one space, none at either end):
/// [`SNIPPET_BEFORE`] of them before the match (or all there are) and the
/// rest from it on, with `…` where the text goes on. Read outwards from the
/// match, so a long message costs no more than a short one.
fn window_at(text: &str, at: usize) -> String {
    let (head, tail) = text.split_at(at);
    let mut before = folded(head.chars().rev());
    let kept: Vec<char> = before.by_ref().take(SNIPPET_BEFORE).collect();
    let mut out = String::with_capacity(4 * SNIPPET_CHARS);
    if before.next().is_some() {
        out.push('…');
    }
    out.extend(kept.iter().rev());
    let mut after = folded(tail.chars());
    out.extend(after.by_ref().take(SNIPPET_CHARS - kept.len()));
    if after.next().is_some() {
        out.push('…');
    }
    out
}

/// `chars` with each run of whitespace made one space, and none at the end
/// of `chars` (the text's end, or its start when read backwards).
fn folded(chars: impl Iterator<Item = char>) -> impl Iterator<Item = char> {
    let mut chars = chars.peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        if !c.is_whitespace() {
            return Some(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.peek().map(|_| ' ')
    })
}

pub mod grams;

#[cfg(test)]
mod tests;
