//! The closed-loop load generator (like wrk): N keep-alive connections, each
//! sending its next request as soon as the previous answer is read, until a
//! deadline or a request count is reached, whichever comes first. Every
//! request has a timeout, so every loop ends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::stats::{us, Summary};

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A worker that cannot connect this many times in a row gives up.
const MAX_CONNECT_FAILURES: u32 = 20;

/// The request a worker sends: `(worker, its n-th request) -> (method, path, body)`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> (Method, String, Option<Bytes>) + Send + Sync>;

/// One load run.
#[derive(Clone)]
pub struct Load {
    pub addr: SocketAddr,
    pub headers: Vec<(String, String)>,
    pub make: MakeRequest,
    /// The status that counts as success (200 for reads, 201 for created).
    pub expect: u16,
    pub concurrency: usize,
    pub duration: Duration,
    pub max_requests: u64,
}

/// What a load run measured.
pub struct LoadResult {
    pub concurrency: usize,
    pub ok: u64,
    pub errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub latency: Summary,
    pub bytes: u64,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds.max(1e-9)
    }

    pub fn json(&self) -> Value {
        json!({
            "concurrency": self.concurrency,
            "requests_ok": self.ok,
            "errors": self.errors,
            "error_statuses": self.statuses,
            "first_error": self.first_error,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "requests_per_second": (self.rps() * 10.0).round() / 10.0,
            "latency": self.latency.json(),
            "mean_body_bytes": self.bytes.checked_div(self.ok).unwrap_or(0),
        })
    }
}

#[derive(Default)]
struct WorkerOut {
    ok: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    first_error: Option<String>,
    latencies: Vec<u64>,
    bytes: u64,
}

impl WorkerOut {
    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// Runs `load` and summarises it.
pub async fn run(load: &Load) -> LoadResult {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + load.duration;
    let handles: Vec<_> = (0..load.concurrency)
        .map(|w| {
            let load = load.clone();
            let issued = issued.clone();
            tokio::spawn(async move { worker(w, &load, &issued, deadline).await })
        })
        .collect();
    let mut all = WorkerOut::default();
    for handle in handles {
        let out = match handle.await {
            Ok(out) => out,
            Err(e) => {
                all.error(format!("worker panicked: {e}"));
                continue;
            }
        };
        all.ok += out.ok;
        all.errors += out.errors;
        all.bytes += out.bytes;
        for (s, n) in out.statuses {
            *all.statuses.entry(s).or_default() += n;
        }
        if all.first_error.is_none() {
            all.first_error = out.first_error;
        }
        all.latencies.extend(out.latencies);
    }
    let seconds = started.elapsed().as_secs_f64();
    LoadResult {
        concurrency: load.concurrency,
        ok: all.ok,
        errors: all.errors,
        statuses: all.statuses,
        first_error: all.first_error,
        seconds,
        latency: Summary::of(&mut all.latencies),
        bytes: all.bytes,
    }
}

async fn worker(w: usize, load: &Load, issued: &AtomicU64, deadline: Instant) -> WorkerOut {
    let mut out = WorkerOut::default();
    let mut conn: Option<Conn> = None;
    let mut connect_failures = 0;
    let mut n = 0u64;
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < load.max_requests {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match tokio::time::timeout(Duration::from_secs(5), Conn::open(load.addr)).await
            {
                Ok(Ok(c)) => {
                    connect_failures = 0;
                    conn.insert(c)
                }
                Ok(Err(e)) => {
                    out.error(e);
                    connect_failures += 1;
                    if connect_failures >= MAX_CONNECT_FAILURES {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(_) => {
                    out.error("connect timed out".into());
                    connect_failures += 1;
                    if connect_failures >= MAX_CONNECT_FAILURES {
                        break;
                    }
                    continue;
                }
            },
        };
        let (method, path, body) = (load.make)(w, n);
        n += 1;
        let t = Instant::now();
        let answer =
            tokio::time::timeout(REQUEST_TIMEOUT, c.call(method, &path, &load.headers, body)).await;
        let took = us(t.elapsed());
        match answer {
            Ok(Ok((status, body))) if status == load.expect => {
                out.ok += 1;
                out.bytes += body.len() as u64;
                out.latencies.push(took);
            }
            Ok(Ok((status, body))) => {
                *out.statuses.entry(status).or_default() += 1;
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
                out.error(format!("{path}: {status} {text}"));
            }
            Ok(Err(e)) => {
                out.error(e);
                conn = None;
            }
            Err(_) => {
                out.error(format!("{path}: no answer in {REQUEST_TIMEOUT:?}"));
                conn = None;
            }
        }
    }
    out
}
