//! The hostile client of `bench/run --soak --hostile`: beside the soak's
//! normal users, for the whole load, it keeps doing what issue 16 lists as
//! attacks, from its own loopback address (127.0.0.2, so per-address limits
//! see another client than the normal users on 127.0.0.1):
//!
//! - `connect`: `CONNECT example.com:443` over HTTP/1.1, the connection kept
//!   open after the answer (reopened when the server closes it);
//! - `h2c-idle`: HTTP/2 prior knowledge, the preface and an empty SETTINGS
//!   frame, then nothing (kept open, reopened when closed);
//! - `h2c-connect`: the same, then a `CONNECT` HEADERS frame without `:path`;
//! - `slow-body`: `POST /auth/login` with `Content-Length: 1000`, a few bytes
//!   of it, then a stall (kept open, reopened when closed);
//! - `chunked`: `POST /collector/items` (its own user's API key), chunked,
//!   streaming up to 64 MiB until the server answers;
//! - `wrong-password`: wrong passwords for the normal users' username;
//! - `register`: new accounts, one after the other;
//! - `text-plain`: logins sent as `text/plain` (a login CSRF's shape).
//!
//! Every loop is bounded in count and ends with the load. What the server
//! answered is counted per kind (statuses, connections it closed, how long
//! it let them live): evidence that it refused, and cheaply. The hostile
//! client's own failures are counted, never errors of the run.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::client::Conn;
use crate::say;
use crate::stats::{us, Summary};

/// Every kind of attack, in the order reports list them.
pub const KINDS: &[&str] = &[
    "connect",
    "h2c-idle",
    "h2c-connect",
    "slow-body",
    "chunked",
    "wrong-password",
    "register",
    "text-plain",
];
/// Connections kept open at once by each holding attack.
const HOLDERS: usize = 50;
/// Parallel loops of the floods.
const WRONG_PASSWORD_LOOPS: usize = 20;
const REGISTER_LOOPS: usize = 8;
const TEXT_PLAIN_LOOPS: usize = 2;
const H2C_CONNECT_LOOPS: usize = 4;
const CHUNKED_LOOPS: usize = 2;
/// The most a chunked body sends, and in pieces of…
const CHUNKED_MAX: usize = 64 << 20;
const CHUNK: usize = 64 << 10;
/// Requests or connections of one loop at most (besides the time bound).
const MAX_PER_LOOP: u64 = 1_000_000;
/// Longest wait for one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an answer is still awaited after the end of the load.
const AFTER_END: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before reopening a connection, and after a failed connect.
const REOPEN_PAUSE: Duration = Duration::from_millis(100);
const FAIL_PAUSE: Duration = Duration::from_millis(250);

/// The HTTP/2 connection preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const H2_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

/// What one kind of attack got back.
#[derive(Default)]
struct Kind {
    workers: usize,
    /// Requests sent or connections opened.
    attempts: u64,
    /// The server's first answer, e.g. `HTTP 415`, `h2 GOAWAY`, `no answer`.
    answers: BTreeMap<String, u64>,
    /// Connections the server closed, and how long each had lived (µs).
    closed_by_server: u64,
    held: Vec<u64>,
    /// Connections still open when the load ended.
    open_at_end: u64,
    /// Bytes of body sent before the server answered (chunked).
    sent_before_answer: Vec<u64>,
    /// The hostile client's own failures (connect refused, timeouts…).
    failures: BTreeMap<String, u64>,
}

/// The hostile client: where it connects from and to, and what it counted.
pub struct Hostile {
    server: SocketAddr,
    source: IpAddr,
    /// Whether binding to 127.0.0.2 failed (then it shares 127.0.0.1).
    fallback: bool,
    /// Its own user's API key (the chunked uploads need a signed-in user).
    key: String,
    /// The normal users' username, whose password it guesses.
    victim: String,
    end: Instant,
    kinds: Mutex<BTreeMap<&'static str, Kind>>,
}

impl Hostile {
    /// A hostile client against `server` until `end`, bound to 127.0.0.2
    /// when this system allows it.
    pub fn new(server: SocketAddr, key: String, victim: &str, end: Instant) -> Hostile {
        let wanted = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let fallback = match std::net::TcpListener::bind((wanted, 0)) {
            Ok(_) => false,
            Err(e) => {
                say(format!(
                    "warning: cannot bind to {wanted} ({e}); the hostile client shares \
                     127.0.0.1 with the normal users"
                ));
                true
            }
        };
        Hostile {
            server,
            source: if fallback {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                wanted
            },
            fallback,
            key,
            victim: victim.to_string(),
            end,
            kinds: Mutex::new(BTreeMap::new()),
        }
    }

    /// The address it connects from.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    fn with<R>(&self, kind: &'static str, f: impl FnOnce(&mut Kind) -> R) -> R {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        f(kinds.entry(kind).or_default())
    }

    fn answer(&self, kind: &'static str, what: impl Into<String>) {
        let what = what.into();
        self.with(kind, |k| *k.answers.entry(what).or_default() += 1);
    }

    fn failure(&self, kind: &'static str, what: impl Into<String>) {
        let what = what.into();
        self.with(kind, |k| *k.failures.entry(what).or_default() += 1);
    }

    /// The longest wait for one answer: `ANSWER_TIMEOUT`, and not much
    /// past the end of the load.
    fn deadline(&self) -> tokio::time::Instant {
        (tokio::time::Instant::now() + ANSWER_TIMEOUT)
            .min(tokio::time::Instant::from_std(self.end) + AFTER_END)
    }

    fn over(&self) -> bool {
        Instant::now() >= self.end
    }

    /// A TCP connection to the server from the hostile client's address.
    async fn connect(&self) -> Result<TcpStream, String> {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        socket
            .bind(SocketAddr::new(self.source, 0))
            .map_err(|e| format!("bind: {e}"))?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(self.server))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Runs every attack not in `without` until the end of the load; the
    /// report. A panic in one attack ends that attack only.
    pub async fn run(self: Arc<Self>, without: Vec<String>) -> Value {
        let on = |kind: &str| !without.iter().any(|w| w == kind);
        let mut tasks = tokio::task::JoinSet::new();
        let mut spawn = |kind: &'static str, workers: usize| {
            if !on(kind) {
                return;
            }
            self.with(kind, |k| k.workers = workers);
            for w in 0..workers {
                let h = self.clone();
                tasks.spawn(async move { h.attack(kind, w).await });
            }
        };
        spawn("connect", HOLDERS);
        spawn("h2c-idle", HOLDERS);
        spawn("h2c-connect", H2C_CONNECT_LOOPS);
        spawn("slow-body", HOLDERS);
        spawn("chunked", CHUNKED_LOOPS);
        spawn("wrong-password", WRONG_PASSWORD_LOOPS);
        spawn("register", REGISTER_LOOPS);
        spawn("text-plain", TEXT_PLAIN_LOOPS);
        let mut crashed = 0;
        while let Some(done) = tasks.join_next().await {
            if done.is_err() {
                crashed += 1;
            }
        }
        self.report(crashed)
    }

    async fn attack(&self, kind: &'static str, worker: usize) {
        let mut n = 0u64;
        while !self.over() && n < MAX_PER_LOOP {
            n += 1;
            match kind {
                "connect" | "h2c-idle" | "slow-body" => self.hold(kind).await,
                "h2c-connect" => self.h2c_connect().await,
                "chunked" => self.chunked().await,
                _ => {
                    // The floods keep one keep-alive connection each.
                    self.flood(kind, worker).await;
                    return;
                }
            }
        }
    }

    /// Opens a connection, sends what `kind` sends, and keeps it open until
    /// the server closes it or the load ends.
    async fn hold(&self, kind: &'static str) {
        let mut stream = match self.connect().await {
            Ok(s) => s,
            Err(e) => {
                self.failure(kind, e);
                tokio::time::sleep(FAIL_PAUSE).await;
                return;
            }
        };
        let opening: Vec<u8> = match kind {
            "connect" => {
                b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec()
            }
            "h2c-idle" => [H2_PREFACE, &H2_SETTINGS].concat(),
            _ => format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{{\"user",
                self.server
            )
            .into_bytes(),
        };
        self.with(kind, |k| k.attempts += 1);
        let opened = Instant::now();
        if let Err(e) = stream.write_all(&opening).await {
            self.failure(kind, format!("write: {e}"));
            tokio::time::sleep(FAIL_PAUSE).await;
            return;
        }
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        let end = tokio::time::Instant::from_std(self.end);
        let closed = loop {
            match tokio::time::timeout_at(end, stream.read(&mut buf)).await {
                Err(_) => break false,
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(got)) => {
                    // Only the beginning tells what the server answered.
                    if seen.len() < 4096 {
                        seen.extend_from_slice(&buf[..got]);
                    }
                }
            }
        };
        let answer = if !closed && seen.is_empty() {
            "no answer (open at the end)".to_string()
        } else if kind == "h2c-idle" {
            h2_summary(&seen)
        } else {
            http1_status(&seen)
        };
        self.answer(kind, answer);
        let held = us(opened.elapsed());
        self.with(kind, |k| {
            if closed {
                k.closed_by_server += 1;
                k.held.push(held);
            } else {
                k.open_at_end += 1;
            }
        });
        if closed {
            tokio::time::sleep(REOPEN_PAUSE).await;
        }
    }

    /// One HTTP/2 request without a path: a `CONNECT` HEADERS frame.
    async fn h2c_connect(&self) {
        let kind = "h2c-connect";
        let mut stream = match self.connect().await {
            Ok(s) => s,
            Err(e) => {
                self.failure(kind, e);
                tokio::time::sleep(FAIL_PAUSE).await;
                return;
            }
        };
        self.with(kind, |k| k.attempts += 1);
        // HPACK, literal without indexing, indexed names: 0x02 `:method`,
        // 0x01 `:authority`. Flags END_STREAM | END_HEADERS, stream 1.
        let mut block = vec![0x02, 7];
        block.extend_from_slice(b"CONNECT");
        block.extend_from_slice(&[0x01, 15]);
        block.extend_from_slice(b"example.com:443");
        let mut bytes = [H2_PREFACE, &H2_SETTINGS].concat();
        bytes.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
        bytes.extend_from_slice(&block);
        if let Err(e) = stream.write_all(&bytes).await {
            self.failure(kind, format!("write: {e}"));
            tokio::time::sleep(FAIL_PAUSE).await;
            return;
        }
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        let deadline = self.deadline();
        let answer = loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => break "no answer".to_string(),
                Ok(Ok(0)) | Ok(Err(_)) => break h2_summary(&seen),
                Ok(Ok(got)) => {
                    seen.extend_from_slice(&buf[..got]);
                    if let Some(a) = h2_stream_answer(&seen) {
                        break a;
                    }
                    if seen.len() > 1 << 20 {
                        break "too much".to_string();
                    }
                }
            }
        };
        self.answer(kind, answer);
        tokio::time::sleep(REOPEN_PAUSE).await;
    }

    /// One chunked upload of up to 64 MiB, sent until the server answers.
    async fn chunked(&self) {
        let kind = "chunked";
        let stream = match self.connect().await {
            Ok(s) => s,
            Err(e) => {
                self.failure(kind, e);
                tokio::time::sleep(FAIL_PAUSE).await;
                return;
            }
        };
        self.with(kind, |k| k.attempts += 1);
        let (mut rd, mut wr) = stream.into_split();
        let head = format!(
            "POST /api/v1/collector/items HTTP/1.1\r\nHost: {}\r\nx-api-key: {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            self.server, self.key
        );
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = {
            let sent = sent.clone();
            async move {
                wr.write_all(head.as_bytes()).await?;
                let mut piece = format!("{CHUNK:x}\r\n").into_bytes();
                let start = piece.len();
                piece.resize(start + CHUNK, b'a');
                piece[start..start + 9].copy_from_slice(b"{\"text\":\"");
                piece.extend_from_slice(b"\r\n");
                let mut total = 0;
                while total < CHUNKED_MAX {
                    wr.write_all(&piece).await?;
                    if total == 0 {
                        // Only the first piece opens the JSON.
                        piece[start..start + 9].fill(b'a');
                    }
                    total += CHUNK;
                    sent.store(total as u64, std::sync::atomic::Ordering::Relaxed);
                }
                wr.write_all(b"0\r\n\r\n").await?;
                // Sent whole: wait for the answer.
                std::future::pending::<()>().await;
                Ok::<(), std::io::Error>(())
            }
        };
        let reader = async {
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 4096];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return (seen, true),
                    Ok(got) => {
                        seen.extend_from_slice(&buf[..got]);
                        if seen.windows(2).any(|w| w == b"\r\n") {
                            return (seen, false);
                        }
                    }
                }
            }
        };
        let deadline = self.deadline();
        let answer = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                (seen, _) = reader => http1_status(&seen),
                written = writer => match written {
                    Err(_) => "closed while sending".to_string(),
                    Ok(()) => "no answer".to_string(),
                },
            }
        })
        .await
        .unwrap_or_else(|_| "no answer".to_string());
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        self.answer(kind, answer);
        self.with(kind, |k| k.sent_before_answer.push(sent));
        tokio::time::sleep(REOPEN_PAUSE).await;
    }

    /// One flood loop on a keep-alive connection, opened again when closed.
    async fn flood(&self, kind: &'static str, worker: usize) {
        let mut conn: Option<Conn> = None;
        let mut n = 0u64;
        while !self.over() && n < MAX_PER_LOOP {
            n += 1;
            if let Some(c) = conn.as_mut() {
                if c.ready().await.is_err() {
                    conn = None;
                    self.with(kind, |k| k.closed_by_server += 1);
                }
            }
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match self.connect().await {
                    Ok(s) => match Conn::over(s, self.server).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            self.failure(kind, e);
                            tokio::time::sleep(FAIL_PAUSE).await;
                            continue;
                        }
                    },
                    Err(e) => {
                        self.failure(kind, e);
                        tokio::time::sleep(FAIL_PAUSE).await;
                        continue;
                    }
                },
            };
            let (path, headers, body) = match kind {
                "wrong-password" => (
                    "/api/v1/auth/login",
                    vec![],
                    json!({ "username": self.victim, "password": format!("wrong-{worker}-{n}") }),
                ),
                "register" => (
                    "/api/v1/auth/register",
                    vec![],
                    json!({
                        "username": format!("flood{worker}x{n}x{}", std::process::id()),
                        "password": "flood-password-1",
                    }),
                ),
                _ => (
                    "/api/v1/auth/login",
                    vec![("content-type".to_string(), "text/plain".to_string())],
                    json!({ "username": self.victim, "password": "guess" }),
                ),
            };
            self.with(kind, |k| k.attempts += 1);
            let body = Bytes::from(body.to_string());
            let call = c.call(Method::POST, path, &headers, Some(body));
            match tokio::time::timeout_at(self.deadline(), call).await {
                Ok(Ok((status, _))) => self.answer(kind, format!("HTTP {status}")),
                Ok(Err(_)) => {
                    conn = None;
                    self.with(kind, |k| k.closed_by_server += 1);
                    self.answer(kind, "closed, no answer");
                }
                Err(_) => {
                    conn = None;
                    self.answer(kind, "no answer");
                }
            }
        }
    }

    fn report(&self, crashed: usize) -> Value {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = serde_json::Map::new();
        for &kind in KINDS {
            let Some(k) = kinds.get_mut(kind) else {
                continue;
            };
            let held = Summary::of(&mut k.held);
            let mut sent = k.sent_before_answer.clone();
            sent.sort_unstable();
            out.insert(
                kind.to_string(),
                json!({
                    "workers": k.workers,
                    "attempts": k.attempts,
                    "answers": k.answers,
                    "closed_by_server": k.closed_by_server,
                    "held_ms": if held.count > 0 { held.json() } else { Value::Null },
                    "open_at_end": k.open_at_end,
                    "sent_before_answer_bytes": sent.last().map(|_| json!({
                        "min": sent[0],
                        "p50": sent[sent.len() / 2],
                        "max": sent[sent.len() - 1],
                    })),
                    "failures": k.failures,
                }),
            );
        }
        json!({
            "source": self.source.to_string(),
            "source_fallback": self.fallback,
            "crashed_tasks": crashed,
            "kinds": out,
        })
    }
}

/// `HTTP 400` from the start of an HTTP/1.1 answer; `closed, no answer` when empty.
fn http1_status(seen: &[u8]) -> String {
    if seen.is_empty() {
        return "closed, no answer".into();
    }
    let line = seen
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    match std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split(' ').nth(1))
    {
        Some(code) if line.starts_with(b"HTTP/1.") => format!("HTTP {code}"),
        _ => "not HTTP/1.1".into(),
    }
}

/// The HTTP/2 frames in `seen` (server side: no preface): `(type, flags,
/// stream, payload)`.
fn h2_frames(seen: &[u8]) -> Vec<(u8, u8, u32, &[u8])> {
    let mut frames = Vec::new();
    let mut at = 0;
    while seen.len() >= at + 9 {
        let len = u32::from_be_bytes([0, seen[at], seen[at + 1], seen[at + 2]]) as usize;
        let stream = u32::from_be_bytes([seen[at + 5], seen[at + 6], seen[at + 7], seen[at + 8]])
            & 0x7fff_ffff;
        if seen.len() < at + 9 + len {
            break;
        }
        frames.push((
            seen[at + 3],
            seen[at + 4],
            stream,
            &seen[at + 9..at + 9 + len],
        ));
        at += 9 + len;
    }
    frames
}

/// What an HTTP/2 connection got before it closed: `h2 GOAWAY`, `h2
/// SETTINGS only`, or the HTTP/1.1 answer of a server that does not speak h2.
fn h2_summary(seen: &[u8]) -> String {
    if seen.starts_with(b"HTTP/1.") {
        return http1_status(seen);
    }
    let frames = h2_frames(seen);
    if frames.is_empty() {
        return "closed, no answer".into();
    }
    if frames.iter().any(|f| f.0 == 7) {
        return "h2 GOAWAY".into();
    }
    "h2 SETTINGS only".into()
}

/// The server's answer to stream 1, once it is there: `h2 :status 400`,
/// `h2 RST_STREAM`, `h2 GOAWAY`.
fn h2_stream_answer(seen: &[u8]) -> Option<String> {
    if seen.starts_with(b"HTTP/1.") {
        return Some(http1_status(seen));
    }
    for (kind, flags, stream, payload) in h2_frames(seen) {
        match kind {
            1 if stream == 1 => {
                let payload = if flags & 0x08 != 0 {
                    // PADDED: pad length first, padding last.
                    let pad = *payload.first()? as usize;
                    payload.get(1..payload.len().checked_sub(pad)?)?
                } else {
                    payload
                };
                let payload = if flags & 0x20 != 0 {
                    payload.get(5..)?
                } else {
                    payload
                };
                return Some(match hpack_status(payload) {
                    Some(s) => format!("h2 :status {s}"),
                    None => "h2 HEADERS".into(),
                });
            }
            3 if stream == 1 => return Some("h2 RST_STREAM".into()),
            7 => return Some("h2 GOAWAY".into()),
            _ => {}
        }
    }
    None
}

/// `:status` when it is the first field of a header block (as servers send
/// it): indexed from the static table, or a literal with its name indexed
/// (8–14), plain or Huffman-coded.
fn hpack_status(block: &[u8]) -> Option<String> {
    let first = *block.first()?;
    if first & 0x80 != 0 {
        let status = match first & 0x7f {
            8 => "200",
            9 => "204",
            10 => "206",
            11 => "304",
            12 => "400",
            13 => "404",
            14 => "500",
            _ => return None,
        };
        return Some(status.into());
    }
    // Literal with incremental indexing (01xxxxxx), without or never
    // indexed (000xxxxx / 0001xxxx), name index 8–14 (`:status`).
    let index = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    if !(8..=14).contains(&index) {
        return None;
    }
    let len_byte = *block.get(1)?;
    let len = (len_byte & 0x7f) as usize;
    let value = block.get(2..2 + len)?;
    if len_byte & 0x80 == 0 {
        return String::from_utf8(value.to_vec()).ok();
    }
    huffman_digits(value)
}

/// Decodes a Huffman-coded string of digits (RFC 7541 Appendix B: `0`–`2`
/// are 5 bits, `3`–`9` are 6 bits `011001`…`011111`).
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let mut out = String::new();
    let mut at = 0;
    let take = |at: usize, n: usize| -> Option<u8> {
        bits.get(at..at + n)
            .map(|b| b.iter().fold(0u8, |v, &bit| v << 1 | bit))
    };
    while at < bits.len() {
        // The padding: fewer than 8 one bits.
        if bits.len() - at < 8 && bits[at..].iter().all(|&b| b == 1) {
            break;
        }
        let five = take(at, 5)?;
        if five <= 2 {
            out.push((b'0' + five) as char);
            at += 5;
            continue;
        }
        let six = take(at, 6)?;
        if (0x19..=0x1f).contains(&six) {
            out.push((b'3' + six - 0x19) as char);
            at += 6;
            continue;
        }
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_and_h2_answers_are_read() {
        assert_eq!(http1_status(b"HTTP/1.1 400 Bad Request\r\n"), "HTTP 400");
        assert_eq!(http1_status(b""), "closed, no answer");
        // SETTINGS, then HEADERS on stream 1 with `:status` 404 indexed.
        let mut seen = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
        seen.extend_from_slice(&[0, 0, 1, 1, 0x05, 0, 0, 0, 1, 0x8d]);
        assert_eq!(h2_stream_answer(&seen).as_deref(), Some("h2 :status 404"));
        // `:status` 405 as a Huffman-coded literal: 4 = 011010, 0 = 00000,
        // 5 = 011011, padded with ones: 01101000 00001101 1 + 1111111.
        let block = [0x48, 0x83, 0b0110_1000, 0b0000_1101, 0b1111_1111];
        assert_eq!(hpack_status(&block).as_deref(), Some("405"));
        assert_eq!(
            hpack_status(&[0x48, 0x03, b'4', b'1', b'3']).as_deref(),
            Some("413")
        );
        let goaway = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(h2_summary(&goaway), "h2 GOAWAY");
    }
}
