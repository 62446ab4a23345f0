//! The soak run (`bench/run --soak`): a bounded stretch of mixed load on one
//! server, to show it neither fails nor grows. For the whole duration
//! (30 minutes unless `--soak-minutes`):
//!
//! - `--soak-streams` (1,000) slots each keep one slow streamed answer
//!   running (30 tokens at one per 200 ms, Korean): a new question as soon
//!   as the last answer is done, ten answers per conversation, then a new
//!   conversation; the finished one is read back and every answer in it
//!   checked (complete, the fake's exact text);
//! - logins (production argon2id), conversation list pages (first page, then
//!   the next one through `next_cursor`) and keyword searches (Korean and
//!   English, some hitting the answers being written) at a steady rate.
//!
//! Every request that does not answer as expected is an error, and so is a
//! stream that ends without `done`, a streamed text that is not the fake's,
//! and a saved answer that is not complete and whole. The server's RSS and
//! the database's size are sampled every second; after the load, a short
//! settle, then the last conversations are checked. The run fails (exit
//! status 1) with any error or an RSS that does not come back down.
//!
//! Figures go to stdout, `soak.json` and a section of `RESULTS.md` between
//! two markers, which the normal run keeps when it rewrites the file.
//!
//! With `--hostile` the soak runs twice on fresh servers, the second time
//! beside the hostile client of `hostile.rs`; the normal users' figures are
//! compared with the first run's and the run fails past 2× at p99.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::{Api, Conn};
use crate::hostile::{self, Hostile};
use crate::stats::{self, fmt_mib, us, CpuWatch, Summary};
use crate::stream::{self, Target};
use crate::{procs, say, Args};

/// Tokens of each streamed answer.
const TOKENS: usize = 30;
/// The fake's pause before each token: a slow model, 5 tokens/s.
const TOKEN_DELAY_MS: u64 = 200;
/// Answers asked in one conversation before a slot starts a new one.
const ANSWERS_PER_CONVERSATION: u32 = 10;
/// One login every…
const LOGIN_EVERY: Duration = Duration::from_millis(500);
/// List workers, each asking for a page every…
const LIST_WORKERS: usize = 4;
const LIST_EVERY: Duration = Duration::from_millis(250);
/// Search workers, each searching every…
const SEARCH_WORKERS: usize = 4;
const SEARCH_EVERY: Duration = Duration::from_millis(500);
/// What the searches look for: the loaded chats' Korean and English words,
/// and `토큰…`, which only the answers written during the soak contain.
const KEYWORDS: &[&str] = &[
    "강아지",
    "설사",
    "강아지,설사",
    "양자컴퓨터",
    "puppy",
    "borrow",
    "Lisbon",
    "토큰7",
    "토큰12,토큰29",
];
/// How often the server's memory and the database's size are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// A slot or worker whose request failed waits this long before the next one.
const BACKOFF: Duration = Duration::from_secs(1);
/// Longest a single (non-streamed) request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The end RSS must be below start + this share of (peak − start).
const COME_DOWN_SHARE: f64 = 0.5;
/// Error messages kept as examples.
const EXAMPLES: usize = 10;

const USER: &str = "soak";
const PASSWORD: &str = "soak-password-1";
/// The hostile client's account.
const HOSTILE_USER: &str = "mallory";
/// The markers around the soak section of RESULTS.md.
const BEGIN: &str = "<!-- soak: written by `bench/run --soak`; kept by `bench/run` -->";
const END: &str = "<!-- /soak -->";

/// Latencies and errors of one kind of operation.
#[derive(Default)]
struct Op {
    ok: u64,
    errors: u64,
    latencies: Vec<u64>,
}

/// What a task counted; merged at the end.
#[derive(Default)]
struct Tally {
    ops: BTreeMap<&'static str, Op>,
    examples: Vec<String>,
}

impl Tally {
    fn ok(&mut self, kind: &'static str, took: Duration) {
        let op = self.ops.entry(kind).or_default();
        op.ok += 1;
        op.latencies.push(us(took));
    }

    fn counted(&mut self, kind: &'static str) {
        self.ops.entry(kind).or_default().ok += 1;
    }

    fn error(&mut self, live: &Live, kind: &'static str, what: String) {
        self.ops.entry(kind).or_default().errors += 1;
        live.errors.fetch_add(1, Ordering::Relaxed);
        if self.examples.len() < EXAMPLES {
            self.examples.push(format!("{kind}: {what}"));
        }
    }

    fn merge(&mut self, other: Tally) {
        for (kind, op) in other.ops {
            let mine = self.ops.entry(kind).or_default();
            mine.ok += op.ok;
            mine.errors += op.errors;
            mine.latencies.extend(op.latencies);
        }
        for e in other.examples {
            if self.examples.len() < EXAMPLES {
                self.examples.push(e);
            }
        }
    }

    fn errors(&self) -> u64 {
        self.ops.values().map(|o| o.errors).sum()
    }
}

/// Counters the progress line reads while the load runs.
#[derive(Default)]
struct Live {
    answers: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// What every task needs.
struct Shared {
    addr: SocketAddr,
    key_headers: Vec<(String, String)>,
    live: Live,
    end: Instant,
}

/// A keep-alive connection that is opened again after a failure.
struct Client {
    addr: SocketAddr,
    /// Sent with every request (the API key, or nothing).
    headers: Vec<(String, String)>,
    conn: Option<Conn>,
}

impl Client {
    fn new(addr: SocketAddr, headers: &[(String, String)]) -> Client {
        Client {
            addr,
            headers: headers.to_vec(),
            conn: None,
        }
    }

    /// One request: the status and body, or what went wrong.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), String> {
        // A kept connection the server has since closed (idle) fails before
        // the request is sent: a browser opens a new one, and so does this.
        if let Some(c) = self.conn.as_mut() {
            if c.ready().await.is_err() {
                self.conn = None;
            }
        }
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => {
                let c = tokio::time::timeout(Duration::from_secs(5), Conn::open(self.addr))
                    .await
                    .map_err(|_| "connect timed out".to_string())??;
                self.conn.insert(c)
            }
        };
        match tokio::time::timeout(
            REQUEST_TIMEOUT,
            conn.call(method, path, &self.headers, body),
        )
        .await
        {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(format!("no answer in {REQUEST_TIMEOUT:?}"))
            }
        }
    }

    /// A timed call that must answer `expect` with JSON: the JSON.
    async fn timed(
        &mut self,
        shared: &Shared,
        tally: &mut Tally,
        kind: &'static str,
        (method, path): (Method, &str),
        body: Option<Value>,
        expect: u16,
    ) -> Option<Value> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let t = Instant::now();
        let answer = self.call(method, path, body).await;
        let took = t.elapsed();
        shared.live.requests.fetch_add(1, Ordering::Relaxed);
        match answer {
            Ok((status, bytes)) if status == expect => match serde_json::from_slice(&bytes) {
                Ok(v) => {
                    tally.ok(kind, took);
                    Some(v)
                }
                Err(e) => {
                    tally.error(&shared.live, kind, format!("{path}: not JSON: {e}"));
                    None
                }
            },
            Ok((status, bytes)) => {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).to_string();
                tally.error(&shared.live, kind, format!("{path}: {status} {text}"));
                None
            }
            Err(e) => {
                tally.error(&shared.live, kind, format!("{path}: {e}"));
                None
            }
        }
    }
}

/// A ticker for a steady rate that does not catch up in bursts.
fn every(period: Duration, offset: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

async fn logins(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    let mut client = Client::new(shared.addr, &[]);
    let mut tick = every(LOGIN_EVERY, Duration::ZERO);
    let body = json!({ "username": USER, "password": PASSWORD });
    while Instant::now() < shared.end {
        tick.tick().await;
        let v = client
            .timed(
                &shared,
                &mut tally,
                "login",
                (Method::POST, "/api/v1/auth/login"),
                Some(body.clone()),
                200,
            )
            .await;
        if let Some(v) = v {
            if v["access_token"].as_str().is_none_or(str::is_empty) {
                tally.error(&shared.live, "login", "no access_token".into());
            }
        }
    }
    tally
}

async fn lists(shared: Arc<Shared>, worker: usize) -> Tally {
    let mut tally = Tally::default();
    let mut client = Client::new(shared.addr, &shared.key_headers);
    let offset = LIST_EVERY * worker as u32 / LIST_WORKERS as u32;
    let mut tick = every(LIST_EVERY, offset);
    let mut next: Option<String> = None;
    while Instant::now() < shared.end {
        tick.tick().await;
        // First page, then the page after it, in turn.
        let path = match next.take() {
            Some(cursor) => format!("/api/v1/conversations?cursor={}", crate::encode(&cursor)),
            None => "/api/v1/conversations".to_string(),
        };
        let page = client
            .timed(&shared, &mut tally, "list", (Method::GET, &path), None, 200)
            .await;
        let Some(page) = page else { continue };
        let items = page["conversations"].as_array().map(Vec::len).unwrap_or(0);
        if items != 50 {
            tally.error(
                &shared.live,
                "list",
                format!("{path}: {items} conversations, wanted a full page of 50"),
            );
        }
        if !path.contains("cursor") {
            next = page["next_cursor"].as_str().map(str::to_string);
        }
    }
    tally
}

async fn searches(shared: Arc<Shared>, worker: usize) -> Tally {
    let mut tally = Tally::default();
    let mut client = Client::new(shared.addr, &shared.key_headers);
    let offset = SEARCH_EVERY * worker as u32 / SEARCH_WORKERS as u32;
    let mut tick = every(SEARCH_EVERY, offset);
    let mut n = worker;
    while Instant::now() < shared.end {
        tick.tick().await;
        let q = KEYWORDS[n % KEYWORDS.len()];
        n += 1;
        let path = format!("/api/v1/conversations?q={}", crate::encode(q));
        let page = client
            .timed(
                &shared,
                &mut tally,
                "search",
                (Method::GET, &path),
                None,
                200,
            )
            .await;
        if let Some(page) = page {
            if !page["conversations"].is_array() {
                tally.error(&shared.live, "search", format!("{path}: no list"));
            }
        }
    }
    tally
}

/// Reads a conversation back: `answers` answers, each complete and whole.
async fn check_conversation(
    client: &mut Client,
    shared: &Shared,
    tally: &mut Tally,
    id: &str,
    answers: u32,
) {
    let path = format!("/api/v1/conversations/{id}/messages");
    let Some(v) = client
        .timed(shared, tally, "read", (Method::GET, &path), None, 200)
        .await
    else {
        return;
    };
    let messages = v["messages"].as_array().cloned().unwrap_or_default();
    let mut seen = 0;
    for (i, m) in messages.iter().enumerate() {
        if m["role"] != "assistant" {
            continue;
        }
        seen += 1;
        let question = i
            .checked_sub(1)
            .and_then(|q| messages[q]["content"].as_str())
            .unwrap_or_default();
        let expected = fake_llm::answer_text(question, TOKENS);
        if m["status"] != "complete" {
            tally.error(
                &shared.live,
                "saved",
                format!("{id}: answer {seen} is {}", m["status"]),
            );
        } else if m["content"].as_str() != Some(expected.as_str()) {
            tally.error(
                &shared.live,
                "saved",
                format!("{id}: answer {seen} is not the whole text"),
            );
        } else {
            tally.counted("saved");
        }
    }
    if seen != answers {
        tally.error(
            &shared.live,
            "saved",
            format!("{id}: {seen} answers saved, {answers} asked"),
        );
    }
}

/// One slot: a slow streamed answer after another until the end; returns
/// its tally and the conversation it was using (checked after the settle).
async fn slot(shared: Arc<Shared>, i: usize, n: usize) -> (Tally, Option<(String, u32)>) {
    let mut tally = Tally::default();
    let mut client = Client::new(shared.addr, &shared.key_headers);
    // Spread the first questions over two seconds.
    tokio::time::sleep(Duration::from_millis((2_000 * i / n.max(1)) as u64)).await;
    let mut current: Option<(String, u32)> = None;
    let mut k = 0u64;
    while Instant::now() < shared.end {
        if current
            .as_ref()
            .is_none_or(|(_, answers)| *answers >= ANSWERS_PER_CONVERSATION)
        {
            if let Some((id, answers)) = current.take() {
                check_conversation(&mut client, &shared, &mut tally, &id, answers).await;
            }
            let body = json!({ "title": format!("soak {i}-{k}") });
            let created = client
                .timed(
                    &shared,
                    &mut tally,
                    "create",
                    (Method::POST, "/api/v1/conversations"),
                    Some(body),
                    201,
                )
                .await;
            match created.and_then(|v| v["id"].as_str().map(str::to_string)) {
                Some(id) => current = Some((id, 0)),
                None => {
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            }
        }
        let Some((id, answers)) = current.as_mut() else {
            continue;
        };
        let question = format!(
            "느린 답변 {i}-{k}: 천천히 말해 주세요 [[tokens:{TOKENS}]] [[delay:{TOKEN_DELAY_MS}]]"
        );
        k += 1;
        let target = Target::Daehwa {
            headers: shared.key_headers.clone(),
            conversation: id.clone(),
        };
        let trace = stream::stream(shared.addr, &target, &question).await;
        *answers += 1;
        shared.live.requests.fetch_add(1, Ordering::Relaxed);
        let expected = fake_llm::answer_text(&question, TOKENS);
        match stream::verify(&trace, &expected, TOKENS, true) {
            None => {
                shared.live.answers.fetch_add(1, Ordering::Relaxed);
                if let (Some(first), Some(total)) = (trace.ttft(), trace.total()) {
                    tally.ok("stream", first);
                    tally.ok("answer", total);
                }
            }
            Some(e) => {
                tally.error(&shared.live, "stream", e);
                // A failed answer makes the conversation's count unknowable:
                // leave it unchecked (the error is counted) and start anew.
                current = None;
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
    (tally, current)
}

/// `VmRSS`, `VmHWM` and threads of the server; `None` where there is no `/proc`.
#[cfg(target_os = "linux")]
fn memory(pid: u32) -> Option<(u64, u64, u64)> {
    Some(procs::memory(pid)).filter(|m| m.0 > 0)
}

#[cfg(not(target_os = "linux"))]
fn memory(_pid: u32) -> Option<(u64, u64, u64)> {
    None
}

/// `RssAnon`, `RssFile` and `RssShmem` of the server: what its resident
/// memory is made of (heap; mapped files, the WAL index among them; shared).
#[cfg(target_os = "linux")]
fn rss_parts(pid: u32) -> Option<Value> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some(json!({
        "anon_bytes": field("RssAnon:"),
        "file_bytes": field("RssFile:"),
        "shmem_bytes": field("RssShmem:"),
    }))
}

#[cfg(not(target_os = "linux"))]
fn rss_parts(_pid: u32) -> Option<Value> {
    None
}

/// The database file and its WAL, in bytes.
fn db_size(db: &Path) -> (u64, u64) {
    let len = |p: PathBuf| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    (len(db.to_path_buf()), len(PathBuf::from(wal)))
}

/// One reading of the sampler.
#[derive(Clone, Copy)]
struct Sample {
    secs: f64,
    rss: u64,
    threads: u64,
    wal: u64,
}

/// Reads memory and database size every second until `stop`; prints progress.
fn sampler(
    pid: u32,
    db: PathBuf,
    shared: Arc<Shared>,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let mut samples = Vec::new();
        let mut tick = every(SAMPLE_EVERY, Duration::ZERO);
        let mut next_progress = started + PROGRESS_EVERY;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let (rss, _, threads) = memory(pid).unwrap_or_default();
            let (_, wal) = db_size(&db);
            let secs = started.elapsed().as_secs_f64();
            samples.push(Sample {
                secs,
                rss,
                threads,
                wal,
            });
            if Instant::now() >= next_progress {
                next_progress += PROGRESS_EVERY;
                let (file, _) = db_size(&db);
                say(format!(
                    "soak {:.0}/{:.0} s: {} answers, {} requests, {} errors; RSS {}, {threads} threads; db {} + WAL {}",
                    secs,
                    (shared.end - started).as_secs_f64(),
                    shared.live.answers.load(Ordering::Relaxed),
                    shared.live.requests.load(Ordering::Relaxed),
                    shared.live.errors.load(Ordering::Relaxed),
                    fmt_mib(rss),
                    fmt_mib(file),
                    fmt_mib(wal),
                ));
            }
        }
        samples
    })
}

/// The soak, alone or (`--hostile`) twice: without and with a hostile
/// client. Writes the figures; `Err` when anything failed.
pub async fn run(args: &Args) -> Result<(), String> {
    let minutes = args.soak_minutes;
    if !(minutes > 0.0 && minutes <= 24.0 * 60.0) {
        return Err(format!(
            "--soak-minutes {minutes}: wanted more than 0, at most a day"
        ));
    }
    for kind in &args.hostile_without {
        if !hostile::KINDS.contains(&kind.as_str()) {
            return Err(format!(
                "--hostile-without {kind}: not one of {}",
                hostile::KINDS.join(", ")
            ));
        }
    }
    if !args.hostile {
        let (results, failures) = once(args, "soak", false).await?;
        write(args, &results)?;
        return verdict(failures);
    }
    say("hostile soak, 1 of 2: the baseline, normal users alone");
    let (baseline, failures_b) = once(args, "soak-baseline", false).await?;
    say("hostile soak, 2 of 2: the same load beside a hostile client");
    let (mut results, failures_h) = once(args, "soak-hostile", true).await?;
    let (comparison, over) = compare(&baseline, &results);
    results["comparison"] = comparison;
    results["baseline"] = baseline;
    write(args, &results)?;
    let mut failures: Vec<String> = failures_b
        .into_iter()
        .map(|f| format!("baseline: {f}"))
        .collect();
    failures.extend(
        failures_h
            .into_iter()
            .map(|f| format!("with the hostile client: {f}")),
    );
    failures.extend(over);
    verdict(failures)
}

fn verdict(failures: Vec<String>) -> Result<(), String> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("soak failed: {}", failures.join("; ")))
    }
}

/// Writes `soak.json` and the soak section of RESULTS.md, and prints it.
fn write(args: &Args, results: &Value) -> Result<(), String> {
    fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    let json_path = args.out.join("soak.json");
    let pretty = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    fs::write(&json_path, pretty + "\n").map_err(|e| format!("{}: {e}", json_path.display()))?;
    let section = markdown(results);
    let md_path = args.out.join("RESULTS.md");
    let old = fs::read_to_string(&md_path).unwrap_or_default();
    fs::write(&md_path, splice(&old, &section))
        .map_err(|e| format!("{}: {e}", md_path.display()))?;
    println!("{section}");
    say(format!(
        "wrote {} and the soak section of {}",
        json_path.display(),
        md_path.display()
    ));
    Ok(())
}

/// The normal users' figures compared, baseline against hostile: `(op,
/// percentile, checked against 2×)`. First tokens and whole answers include
/// the fake's fixed waits, so their ratios are conservative.
const COMPARED: &[(&str, &str, bool)] = &[
    ("stream", "p50_ms", false),
    ("stream", "p99_ms", true),
    ("answer", "p50_ms", false),
    ("answer", "p99_ms", true),
    ("list", "p50_ms", false),
    ("list", "p99_ms", true),
    ("search", "p50_ms", false),
    ("search", "p99_ms", true),
    ("login", "p50_ms", false),
    ("login", "p99_ms", true),
];
/// A normal figure's p99 beside the hostile client may be this many times
/// the baseline's (issue 16).
const MAX_RATIO: f64 = 2.0;

/// The comparison's JSON and what exceeded it.
fn compare(base: &Value, hot: &Value) -> (Value, Vec<String>) {
    let mut rows = Vec::new();
    let mut over = Vec::new();
    for &(op, p, checked) in COMPARED {
        let b = base["ops"][op]["latency"][p].as_f64();
        let h = hot["ops"][op]["latency"][p].as_f64();
        let ratio = match (b, h) {
            (Some(b), Some(h)) if b > 0.0 => Some(h / b),
            _ => None,
        };
        let met = !checked || ratio.is_some_and(|r| r <= MAX_RATIO);
        if !met {
            over.push(match ratio {
                Some(r) => format!(
                    "{op} {}: {:.1} ms beside the hostile client, {r:.2}× the baseline's {:.1} ms",
                    &p[..3],
                    h.unwrap_or(0.0),
                    b.unwrap_or(0.0)
                ),
                None => format!("{op} {}: no figure to compare", &p[..3]),
            });
        }
        rows.push(json!({
            "op": op, "figure": &p[..3], "baseline_ms": b, "hostile_ms": h,
            "ratio": ratio, "checked": checked, "met": met,
        }));
    }
    let answers = |r: &Value| r["ops"]["answer"]["ok"].as_u64().unwrap_or(0);
    let comparison = json!({
        "max_ratio": MAX_RATIO,
        "figures": rows,
        "answers_completed": { "baseline": answers(base), "hostile": answers(hot) },
        "errors": { "baseline": base["errors"], "hostile": hot["errors"] },
        "over": over,
    });
    (comparison, over)
}

/// One soak on a fresh server (work folder `name`), with a hostile client
/// beside the normal users if `hostile`: its results and what failed.
async fn once(args: &Args, name: &str, hostile: bool) -> Result<(Value, Vec<String>), String> {
    let minutes = args.soak_minutes;
    let duration = Duration::from_secs_f64(minutes * 60.0);
    let n = args.soak_streams;
    let conversations = args.conversations.unwrap_or(1_000);
    let messages = args.messages.unwrap_or(50_000) & !1;
    let nofile = crate::raise_nofile();
    let loadavg_start = stats::loadavg();
    let work = args.work.join(name);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    for entry in fs::read_dir(&work).map_err(|e| e.to_string())?.flatten() {
        let _ = fs::remove_file(entry.path());
    }
    let work = fs::canonicalize(&work).map_err(|e| e.to_string())?;
    say(format!(
        "soak: {minutes} min, {n} streams; scratch {}; open-file limit {nofile}",
        work.display()
    ));

    let fake = procs::start_fake(&args.fake, &work.join("fake-llm.log"))?;
    let cmd = procs::DaehwaCmd {
        binary: args.daehwa.clone(),
        log: work.join("daehwa.log"),
        nofile: args.server_nofile,
    };
    let db = work.join("soak.db");

    // Setup on an empty server: the user, an API key, the fake as a connection.
    let (server, _) = cmd.start(&db)?;
    let api = Api::new(server.addr);
    let account = json!({ "username": USER, "password": PASSWORD });
    api.expect(Method::POST, "/api/v1/auth/register", Some(&account), 201)
        .await?;
    let login = api
        .expect(Method::POST, "/api/v1/auth/login", Some(&account), 200)
        .await?;
    let token = login["access_token"].as_str().ok_or("no access_token")?;
    let me = api
        .with_token(token)
        .expect(Method::GET, "/api/v1/auth/me", None, 200)
        .await?;
    let user_id = me["id"].as_str().ok_or("no user id")?.to_string();
    let key = api
        .with_token(token)
        .expect(
            Method::POST,
            "/api/v1/api-keys",
            Some(&json!({ "client_name": "soak" })),
            201,
        )
        .await?;
    let key = key["api_key"].as_str().ok_or("no api_key")?.to_string();
    api.with_key(&key)
        .expect(
            Method::POST,
            "/api/v1/admin/connections",
            Some(&json!({
                "name": "fake", "kind": "openai",
                "base_url": format!("http://{}/v1", fake.addr),
            })),
            201,
        )
        .await?;
    let models = api
        .with_key(&key)
        .expect(Method::GET, "/api/v1/models", None, 200)
        .await?;
    let model = models["models"][0]["id"]
        .as_str()
        .ok_or("the fake's models were not discovered")?
        .to_string();
    // The hostile client's own account (registration is open, as the soak
    // never sets a mode): a signed-in user, to reach the upload routes.
    // Made in both runs, so both serve the same data.
    let mallory = json!({ "username": HOSTILE_USER, "password": PASSWORD });
    api.expect(Method::POST, "/api/v1/auth/register", Some(&mallory), 201)
        .await?;
    let login = api
        .expect(Method::POST, "/api/v1/auth/login", Some(&mallory), 200)
        .await?;
    let token = login["access_token"].as_str().ok_or("no access_token")?;
    let hostile_key = api
        .with_token(token)
        .expect(
            Method::POST,
            "/api/v1/api-keys",
            Some(&json!({ "client_name": "hostile" })),
            201,
        )
        .await?;
    let hostile_key = hostile_key["api_key"]
        .as_str()
        .ok_or("no api_key")?
        .to_string();
    server.stop()?;

    say(format!(
        "loading {conversations} conversations, {messages} messages"
    ));
    let loaded = {
        let (db, user_id, model) = (db.clone(), user_id.clone(), model.clone());
        tokio::task::spawn_blocking(move || {
            crate::data::load(&db, &user_id, &model, conversations, messages, 20_240_101)
        })
        .await
        .map_err(|e| e.to_string())??
    };
    let (server, _) = cmd.start(&db)?;
    let api = Api::new(server.addr).with_key(&key);
    // A first round of each read, so "start" is a server that has served.
    for path in [
        "/api/v1/conversations".to_string(),
        format!("/api/v1/conversations?q={}", crate::encode("강아지")),
    ] {
        api.expect(Method::GET, &path, None, 200).await?;
    }
    let rss_start = memory(server.pid).map(|m| m.0);
    let parts_start = rss_parts(server.pid);
    let db_start = db_size(&db);
    say(format!(
        "start: RSS {}, db {} + WAL {}",
        rss_start.map(fmt_mib).unwrap_or_else(|| "n/a".into()),
        fmt_mib(db_start.0),
        fmt_mib(db_start.1)
    ));

    // The load.
    let started = Instant::now();
    let shared = Arc::new(Shared {
        addr: server.addr,
        key_headers: vec![("x-api-key".to_string(), key.clone())],
        live: Live::default(),
        end: started + duration,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let samples = sampler(
        server.pid,
        db.clone(),
        shared.clone(),
        started,
        stop.clone(),
    );
    let watch = CpuWatch::start(server.pid, fake.pid);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let s = shared.clone();
        tasks.spawn(async move { (logins(s).await, None) });
    }
    for w in 0..LIST_WORKERS {
        let s = shared.clone();
        tasks.spawn(async move { (lists(s, w).await, None) });
    }
    for w in 0..SEARCH_WORKERS {
        let s = shared.clone();
        tasks.spawn(async move { (searches(s, w).await, None) });
    }
    for i in 0..n {
        let s = shared.clone();
        tasks.spawn(slot(s, i, n));
    }
    let attacks = hostile.then(|| {
        let h = Arc::new(Hostile::new(
            shared.addr,
            hostile_key.clone(),
            USER,
            shared.end,
        ));
        say(format!(
            "hostile client from {} beside the normal users",
            h.source()
        ));
        tokio::spawn(h.run(args.hostile_without.clone()))
    });
    let mut tally = Tally::default();
    let mut open = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((t, conv)) => {
                tally.merge(t);
                open.extend(conv);
            }
            Err(e) => tally.error(&shared.live, "harness", format!("task failed: {e}")),
        }
    }
    let hostile_report = match attacks {
        Some(a) => Some(
            a.await
                .unwrap_or_else(|e| json!({ "crashed": e.to_string() })),
        ),
        None => None,
    };
    let load_seconds = started.elapsed().as_secs_f64();
    let cpu = watch.stop();
    let settle = Duration::from_secs(args.soak_settle);
    say(format!(
        "load over after {load_seconds:.0} s; settling {} s",
        settle.as_secs()
    ));

    // The settle (a measured quiet time, not a wait for readiness).
    tokio::time::sleep(settle).await;
    stop.store(true, Ordering::Relaxed);
    let samples = samples.await.map_err(|e| e.to_string())?;
    let end_mem = memory(server.pid);
    let parts_end = rss_parts(server.pid);
    let db_end = db_size(&db);

    // The conversations in use when the load stopped.
    say(format!("checking the last {} conversations", open.len()));
    let mut client = Client::new(shared.addr, &shared.key_headers);
    let mut check = Tally::default();
    for (id, answers) in &open {
        if *answers > 0 {
            check_conversation(&mut client, &shared, &mut check, id, *answers).await;
        }
    }
    // Reading back is not part of the load's latency figures.
    check.ops.entry("read").or_default().latencies.clear();
    tally.merge(check);

    let alive = {
        let mut server = server;
        let alive = server.alive();
        server.stop()?;
        alive
    };
    fake.stop()?;
    if !alive {
        tally.error(&shared.live, "server", "the server exited".into());
    }

    let peak = samples.iter().max_by_key(|s| s.rss).copied();
    let peak_rss = peak.map(|s| s.rss).unwrap_or(0);
    let vmhwm = end_mem.map(|m| m.1).unwrap_or(0);
    let rss_end = end_mem.map(|m| m.0);
    let came_down = match (rss_start, rss_end) {
        (Some(start), Some(end)) => Some(
            end as f64 <= start as f64 + COME_DOWN_SHARE * peak_rss.saturating_sub(start) as f64,
        ),
        _ => None,
    };
    let by_minute: Vec<u64> = (0..)
        .map(|m| m as f64 * 60.0)
        .take_while(|&t| t <= load_seconds)
        .filter_map(|t| samples.iter().find(|s| s.secs >= t).map(|s| s.rss))
        .collect();
    let ops: BTreeMap<&str, Value> = tally
        .ops
        .iter_mut()
        .map(|(kind, op)| {
            let s = Summary::of(&mut op.latencies);
            (
                *kind,
                json!({ "ok": op.ok, "errors": op.errors, "latency": s.json() }),
            )
        })
        .collect();
    let errors = tally.errors();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let results = json!({
        "meta": {
            "command": crate::command_line(),
            "date": crate::data::rfc3339(now),
            "commit": crate::commit(),
            "machine": stats::machine(),
            "note": args.note,
            "loadavg_start": loadavg_start,
            "loadavg_end": stats::loadavg(),
            "open_file_limit": nofile,
        },
        "load": {
            "minutes": minutes,
            "seconds": load_seconds.round(),
            "streams": n,
            "tokens": TOKENS,
            "token_delay_ms": TOKEN_DELAY_MS,
            "answers_per_conversation": ANSWERS_PER_CONVERSATION,
            "logins_per_second": 1.0 / LOGIN_EVERY.as_secs_f64(),
            "list_per_second": LIST_WORKERS as f64 / LIST_EVERY.as_secs_f64(),
            "search_per_second": SEARCH_WORKERS as f64 / SEARCH_EVERY.as_secs_f64(),
            "keywords": KEYWORDS,
            "settle_seconds": args.soak_settle,
            "registration": "open",
        },
        "hostile": hostile_report,
        "data": loaded.json(),
        "errors": errors,
        "error_examples": tally.examples,
        "requests": shared.live.requests.load(Ordering::Relaxed),
        "answers_ok": shared.live.answers.load(Ordering::Relaxed),
        "ops": ops,
        "rss": {
            "start_bytes": rss_start,
            "peak_bytes": peak_rss,
            "peak_at_seconds": peak.map(|s| s.secs.round()),
            "vmhwm_bytes": vmhwm,
            "end_bytes": rss_end,
            "came_down": came_down,
            "by_minute_bytes": by_minute,
            "peak_threads": samples.iter().map(|s| s.threads).max(),
            "settle_bytes": samples
                .iter()
                .filter(|s| s.secs > load_seconds)
                .map(|s| s.rss)
                .collect::<Vec<_>>(),
            "end_threads": end_mem.map(|m| m.2),
            "start_parts": parts_start,
            "end_parts": parts_end,
        },
        "db": {
            "start_bytes": db_start.0,
            "start_wal_bytes": db_start.1,
            "peak_wal_bytes": samples.iter().map(|s| s.wal).max(),
            "end_bytes": db_end.0,
            "end_wal_bytes": db_end.1,
        },
        "cpu": cpu,
    });
    if !args.keep {
        crate::remove_db(&db);
    }

    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!(
            "{errors} errors (first: {})",
            tally.examples.first().map(String::as_str).unwrap_or("?")
        ));
    }
    if came_down == Some(false) {
        failures.push(format!(
            "RSS did not come back down: start {}, peak {}, end {}",
            rss_start.map(fmt_mib).unwrap_or_default(),
            fmt_mib(peak_rss),
            rss_end.map(fmt_mib).unwrap_or_default()
        ));
    }
    Ok((results, failures))
}

/// `old` with the soak section replaced, or added at the end.
pub fn splice(old: &str, section: &str) -> String {
    let section = section.trim_end();
    if let (Some(b), Some(e)) = (old.find(BEGIN), old.find(END)) {
        if b < e {
            return format!("{}{section}{}", &old[..b], &old[e + END.len()..]);
        }
    }
    let old = old.trim_end();
    if old.is_empty() {
        format!("{section}\n")
    } else {
        format!("{old}\n\n{section}\n")
    }
}

/// The soak section from `out/soak.json` added to a freshly rendered
/// RESULTS.md (the normal run rewrites the file; the soak's figures stay).
pub fn keep_section(md: String, out: &Path) -> String {
    let Ok(text) = fs::read_to_string(out.join("soak.json")) else {
        return md;
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(results) => splice(&md, &markdown(&results)),
        Err(_) => md,
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn ms(v: &Value) -> String {
    stats::fmt_us((f(v) * 1000.0).round() as u64)
}

fn mib(v: &Value) -> String {
    v.as_u64().map(fmt_mib).unwrap_or_else(|| "n/a".into())
}

/// The soak section of RESULTS.md, between its markers.
pub fn markdown(r: &Value) -> String {
    let mut o = String::new();
    let (meta, load, rss, db) = (&r["meta"], &r["load"], &r["rss"], &r["db"]);
    let _ = writeln!(o, "{BEGIN}\n");
    let hostile = !r["comparison"].is_null();
    let _ = writeln!(
        o,
        "## Soak: {} minutes of mixed load{}\n",
        f(&load["minutes"]),
        if hostile {
            ", with a hostile client beside it"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "Produced by `{}` on {} at commit `{}` ({} × {}). {}\n",
        meta["command"].as_str().unwrap_or("bench/run --soak"),
        meta["date"].as_str().unwrap_or(""),
        meta["commit"].as_str().unwrap_or("?"),
        u(&meta["machine"]["cores"]),
        meta["machine"]["cpu"].as_str().unwrap_or("?"),
        if f(&load["minutes"]) < 30.0 {
            "Shorter than the 30-minute default."
        } else {
            ""
        }
    );
    if let Some(note) = meta["note"].as_str() {
        let _ = writeln!(o, "> {note}\n");
    }
    let _ = writeln!(
        o,
        "Load, all at once for {:.0} s: {} streamed answers always in flight ({} tokens at one \
         per {} ms, Korean; {} answers per conversation, then a new one, read back and checked), \
         {} logins/s (argon2id), {} conversation list pages/s (first page and the next), {} \
         keyword searches/s (Korean and English; `토큰…` hits the answers being written). Data \
         loaded first: {} conversations, {} messages. CPU during the load, in cores: server \
         {:.2}, fake {:.2}, harness {:.2}, others {:.2} (1-minute load average {:.2} at the \
         start, {:.2} at the end).\n",
        f(&load["seconds"]),
        u(&load["streams"]),
        u(&load["tokens"]),
        u(&load["token_delay_ms"]),
        u(&load["answers_per_conversation"]),
        f(&load["logins_per_second"]),
        f(&load["list_per_second"]),
        f(&load["search_per_second"]),
        u(&r["data"]["conversations"]),
        u(&r["data"]["messages"]),
        f(&r["cpu"]["server_cores"]),
        f(&r["cpu"]["fake_cores"]),
        f(&r["cpu"]["bench_cores"]),
        f(&r["cpu"]["others_cores"]),
        f(&meta["loadavg_start"]),
        f(&meta["loadavg_end"]),
    );
    let errors = u(&r["errors"]);
    let came_down = rss["came_down"].as_bool();
    let _ = writeln!(o, "| figure | measured | target | |\n|---|---|---|---|");
    let _ = writeln!(
        o,
        "| errors ({} requests, {} answers streamed and checked) | {errors} | 0 | {} |",
        u(&r["requests"]),
        u(&r["answers_ok"]),
        if errors == 0 { "met" } else { "**missed**" }
    );
    let _ = writeln!(
        o,
        "| server RSS: start / peak (at {:.0} s; VmHWM {}) / end, {} s after the load | {} / {} / {} | comes back down | {} |",
        f(&rss["peak_at_seconds"]),
        mib(&rss["vmhwm_bytes"]),
        u(&load["settle_seconds"]),
        mib(&rss["start_bytes"]),
        mib(&rss["peak_bytes"]),
        mib(&rss["end_bytes"]),
        match came_down {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "n/a",
        }
    );
    let _ = writeln!(
        o,
        "| database: start → end (WAL at the end; its peak) | {} → {} ({}; {}) | – | |\n",
        mib(&db["start_bytes"]),
        mib(&db["end_bytes"]),
        mib(&db["end_wal_bytes"]),
        mib(&db["peak_wal_bytes"]),
    );
    let _ = writeln!(
        o,
        "| operation | done | errors | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|"
    );
    for (kind, label) in [
        ("login", "`POST /auth/login`"),
        ("list", "`GET /conversations` (a page)"),
        ("search", "`GET /conversations?q=…`"),
        ("create", "`POST /conversations`"),
        ("read", "`GET /conversations/{id}/messages` (10 answers)"),
        (
            "stream",
            "streamed answer: first token (the fake waits 200 ms)",
        ),
        ("answer", "streamed answer: whole (30 × 200 ms)"),
        ("saved", "saved answers read back"),
    ] {
        let op = &r["ops"][kind];
        if op.is_null() {
            continue;
        }
        let l = &op["latency"];
        let timed = u(&l["count"]) > 0;
        let cell = |v: &Value| if timed { ms(v) } else { "–".into() };
        let _ = writeln!(
            o,
            "| {label} | {} | {} | {} | {} | {} |",
            u(&op["ok"]),
            u(&op["errors"]),
            cell(&l["p50_ms"]),
            cell(&l["p99_ms"]),
            cell(&l["max_ms"]),
        );
    }
    let minutes: Vec<String> = rss["by_minute_bytes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| format!("{:.0}", f(b) / 1024.0 / 1024.0))
        .collect();
    let _ = writeln!(
        o,
        "\nServer RSS at each minute of the load (MiB): {}. Up to {} threads during the load, {} \
         at the end. Resident memory at the start / end: heap {} / {}, mapped files (the binary, \
         the WAL index) {} / {}, shared memory {} / {}.",
        minutes.join(", "),
        u(&rss["peak_threads"]),
        u(&rss["end_threads"]),
        mib(&rss["start_parts"]["anon_bytes"]),
        mib(&rss["end_parts"]["anon_bytes"]),
        mib(&rss["start_parts"]["file_bytes"]),
        mib(&rss["end_parts"]["file_bytes"]),
        mib(&rss["start_parts"]["shmem_bytes"]),
        mib(&rss["end_parts"]["shmem_bytes"]),
    );
    for e in r["error_examples"].as_array().into_iter().flatten().take(3) {
        let _ = writeln!(o, "\nError: `{}`", e.as_str().unwrap_or(""));
    }
    if hostile {
        hostile_markdown(&mut o, r);
    }
    let _ = writeln!(
        o,
        "\nRaw figures: `soak.json`{}.\n\n{END}",
        if hostile {
            " (the baseline run's under `baseline`)"
        } else {
            ""
        }
    );
    o
}

/// The hostile soak's part of the section: the normal users' figures
/// against the baseline run's, and what the hostile client got back.
fn hostile_markdown(o: &mut String, r: &Value) {
    let (c, h) = (&r["comparison"], &r["hostile"]);
    let _ = writeln!(
        o,
        "\n### Normal users beside the hostile client\n\nThe figures above are the second of two \
         runs on fresh servers with the same data and load; the first ran without the hostile \
         client (the baseline). The hostile client connected from {}{}; registration was {} (the \
         soak never closes it), so its register flood created accounts. A normal figure's p99 may \
         be at most {}× the baseline's.\n",
        h["source"].as_str().unwrap_or("?"),
        if h["source_fallback"].as_bool() == Some(true) {
            " (127.0.0.2 could not be bound: the same address as the normal users)"
        } else {
            ""
        },
        r["load"]["registration"].as_str().unwrap_or("?"),
        f(&c["max_ratio"]),
    );
    let _ = writeln!(
        o,
        "| normal users' figure | baseline | beside the hostile client | ratio | |\n|---|---:|---:|---:|---|"
    );
    let _ = writeln!(
        o,
        "| errors | {} | {} | | {} |",
        u(&c["errors"]["baseline"]),
        u(&c["errors"]["hostile"]),
        if u(&c["errors"]["hostile"]) == 0 {
            "met"
        } else {
            "**missed**"
        }
    );
    let _ = writeln!(
        o,
        "| streamed answers completed | {} | {} | {:.2} | |",
        u(&c["answers_completed"]["baseline"]),
        u(&c["answers_completed"]["hostile"]),
        f(&c["answers_completed"]["hostile"]) / f(&c["answers_completed"]["baseline"]).max(1.0),
    );
    for row in c["figures"].as_array().into_iter().flatten() {
        let label = match row["op"].as_str().unwrap_or("") {
            "stream" => "stream first token",
            "answer" => "stream completion",
            "list" => "list page",
            "search" => "search",
            "login" => "login",
            other => other,
        };
        let verdict = match (row["checked"].as_bool(), row["met"].as_bool()) {
            (Some(true), Some(true)) => "met",
            (Some(true), _) => "**missed**",
            _ => "",
        };
        let _ = writeln!(
            o,
            "| {label} {} | {} | {} | {} | {verdict} |",
            row["figure"].as_str().unwrap_or(""),
            ms(&row["baseline_ms"]),
            ms(&row["hostile_ms"]),
            row["ratio"]
                .as_f64()
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "–".into()),
        );
    }
    let _ = writeln!(
        o,
        "\nWhat the hostile client got back, per attack (first answers counted per connection or \
         request; \"held\" is how long the server let a connection live before closing it):\n"
    );
    let _ = writeln!(
        o,
        "| attack | loops | sent | answers | closed by the server (held p50 / max) | open at the end | own failures |\n|---|---:|---:|---|---|---:|---:|"
    );
    let kinds = &h["kinds"];
    for &kind in hostile::KINDS {
        let k = &kinds[kind];
        if k.is_null() {
            continue;
        }
        let answers: Vec<String> = k["answers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(a, n)| format!("{a} × {}", u(n)))
            .collect();
        let held = if k["held_ms"].is_null() {
            String::new()
        } else {
            format!(
                " ({} / {})",
                ms(&k["held_ms"]["p50_ms"]),
                ms(&k["held_ms"]["max_ms"])
            )
        };
        let sent = match k["sent_before_answer_bytes"]["max"].as_u64() {
            Some(max) => format!("; body sent before the answer: at most {}", fmt_mib(max)),
            None => String::new(),
        };
        let failures: u64 = k["failures"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, n)| u(n))
            .sum();
        let _ = writeln!(
            o,
            "| {kind} | {} | {} | {}{sent} | {}{held} | {} | {failures} |",
            u(&k["workers"]),
            u(&k["attempts"]),
            answers.join(", "),
            u(&k["closed_by_server"]),
            u(&k["open_at_end"]),
        );
    }
    if u(&h["crashed_tasks"]) > 0 || !h["crashed"].is_null() {
        let _ = writeln!(
            o,
            "\nThe hostile client itself failed ({} tasks ended early).",
            u(&h["crashed_tasks"])
        );
    }
    for over in c["over"].as_array().into_iter().flatten() {
        let _ = writeln!(o, "\nOver 2×: {}", over.as_str().unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soak_section_is_replaced_or_added() {
        let section = format!("{BEGIN}\nnew\n{END}\n");
        assert_eq!(splice("", &section), section);
        let added = splice("# results\n\ntext\n", &section);
        assert_eq!(added, format!("# results\n\ntext\n\n{section}"));
        let old = format!("# results\n\n{BEGIN}\nold\n{END}\n\n## after\n");
        assert_eq!(
            splice(&old, &section),
            format!("# results\n\n{BEGIN}\nnew\n{END}\n\n## after\n")
        );
    }
}
