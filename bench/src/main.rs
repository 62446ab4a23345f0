//! `daehwa-bench`: measures daehwa's speed and memory against the release
//! binary and the fake upstream, both on loopback, and writes
//! `RESULTS.md` and `results.json`. `bench/run` builds everything and runs
//! this; `bench/README.md` says what each scenario measures and how.
//!
//! Order: cold starts on an empty database (the last one stays up to create
//! the user, an API key and the connection to the fake), bulk load (or a
//! copy of an earlier one from `--data-cache`), cold starts on the loaded
//! database, then list and search, non-streamed exchanges, one-at-a-time
//! streamed answers against the fake directly, a fresh server for 200
//! concurrent streams with no delay, another for the thousand concurrent
//! streams at 20 tokens/s, and the web app's size. Every loop is bounded in
//! count and in time.

mod assets;
mod cache;
mod client;
mod data;
mod hostile;
mod load;
mod procs;
mod report;
mod soak;
mod stats;
mod stream;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use hyper::Method;
use serde_json::{json, Value};

use client::Api;
use load::{Load, LoadResult};
use procs::{DaehwaCmd, Proc};
use stats::{us, CpuWatch, Summary};
use stream::Target;

/// Measures daehwa: start, memory, list and search, exchanges, streaming, web app size.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Small data and short runs (about two minutes): to try the harness, not to quote.
    #[arg(long)]
    quick: bool,
    /// The release daehwa binary.
    #[arg(long, default_value = "target/release/daehwa")]
    daehwa: PathBuf,
    /// The release fake-llm binary.
    #[arg(long, default_value = "target/release/fake-llm")]
    fake: PathBuf,
    /// The built web app (what the binary embeds).
    #[arg(long, default_value = "frontend/dist")]
    dist: PathBuf,
    /// Where RESULTS.md and results.json go.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// Scratch folder for databases and logs (emptied first).
    #[arg(long, default_value = "target/bench-work")]
    work: PathBuf,
    /// Keep the databases in the scratch folder afterwards (they are large).
    #[arg(long)]
    keep: bool,
    /// A line to print at the top of RESULTS.md (e.g. "measured on a busy machine").
    #[arg(long)]
    note: Option<String>,
    /// Conversations of the loaded user [10000; quick 1000].
    #[arg(long)]
    conversations: Option<usize>,
    /// Messages in those conversations, in all [1000000; quick 100000].
    #[arg(long)]
    messages: Option<usize>,
    /// Concurrent streams of scenario 5, each 200 tokens with no delay [200].
    #[arg(long, default_value_t = 200)]
    burst: usize,
    /// Concurrent streams of scenario 6, each 200 tokens at 20/s [1000; quick 200].
    #[arg(long)]
    streams: Option<usize>,
    /// Seconds each list/search run lasts [10; quick 3].
    #[arg(long)]
    seconds: Option<f64>,
    /// Start the server with this open-file limit instead of this process's
    /// (raised to its hard limit), e.g. 1024, Debian's default soft limit.
    #[arg(long)]
    server_nofile: Option<u64>,
    /// Only write RESULTS.md again from the results.json in --out (and --before).
    #[arg(long)]
    render_only: bool,
    /// The results.json of an earlier run (e.g. before a change): the targets
    /// table shows its figures in a "before" column beside this run's.
    #[arg(long)]
    before: Option<PathBuf>,
    /// Keep the loaded database in this folder and reuse it when a later run
    /// asks for the same data (counts, generator) on the same schema: no
    /// setup and bulk load then, only a copy.
    #[arg(long, conflicts_with = "soak")]
    data_cache: Option<PathBuf>,
    /// The commit the --daehwa binary was built from, for the report
    /// [default: this checkout's HEAD].
    #[arg(long)]
    commit: Option<String>,
    /// Run the soak instead (mixed load for --soak-minutes; see soak.rs):
    /// writes soak.json and the soak section of RESULTS.md; fails on any error.
    #[arg(long)]
    soak: bool,
    /// How long the soak's load lasts, in minutes.
    #[arg(long, default_value_t = 30.0)]
    soak_minutes: f64,
    /// Streamed answers the soak keeps in flight.
    #[arg(long, default_value_t = 1_000)]
    soak_streams: usize,
    /// Seconds of quiet after the soak's load before its "end" figures
    /// (longer than the 60 s a finished answer stays in the server's memory).
    #[arg(long, default_value_t = 75)]
    soak_settle: u64,
    /// With --soak: run the soak twice on fresh servers, without and then
    /// with a hostile client beside the normal users (see hostile.rs), and
    /// compare the normal users' figures; fails past 2× the baseline's p99.
    #[arg(long, requires = "soak")]
    hostile: bool,
    /// Attacks the hostile client leaves out, comma-separated (connect,
    /// h2c-idle, h2c-connect, slow-body, chunked, wrong-password, register,
    /// text-plain): e.g. those that still end an unfixed server.
    #[arg(long, value_delimiter = ',', requires = "hostile")]
    hostile_without: Vec<String>,
}

/// The counts and durations of one run.
struct Plan {
    conversations: usize,
    messages: usize,
    cold_starts: usize,
    run: Duration,
    warmup: Duration,
    max_requests: u64,
    exchanges: Vec<(usize, u64, Duration)>,
    pairs: usize,
    burst: usize,
    burst_tokens: usize,
    streams: usize,
    stream_tokens: usize,
    stream_delay_ms: u64,
}

impl Plan {
    fn new(a: &Args) -> Plan {
        let q = a.quick;
        let run = Duration::from_secs_f64(a.seconds.unwrap_or(if q { 3.0 } else { 10.0 }));
        Plan {
            conversations: a.conversations.unwrap_or(if q { 1_000 } else { 10_000 }),
            messages: a.messages.unwrap_or(if q { 100_000 } else { 1_000_000 }) & !1,
            cold_starts: if q { 5 } else { 20 },
            run,
            warmup: if q {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(2)
            },
            max_requests: if q { 50_000 } else { 1_000_000 },
            exchanges: if q {
                vec![
                    (1, 50, Duration::from_secs(10)),
                    (32, 500, Duration::from_secs(20)),
                ]
            } else {
                vec![
                    (1, 300, Duration::from_secs(30)),
                    (32, 3_000, Duration::from_secs(60)),
                ]
            },
            pairs: if q { 20 } else { 100 },
            burst: a.burst,
            burst_tokens: 200,
            streams: a.streams.unwrap_or(if q { 200 } else { 1_000 }),
            stream_tokens: 200,
            stream_delay_ms: 50,
        }
    }
}

/// The seed of the loaded data.
const SEED: u64 = 20_240_101;
/// Connection counts of the list and search runs.
const CONCURRENCY: [usize; 2] = [32, 128];
/// A search slower than this alone is run with one request per connection only
/// (a closed loop of slow queries would take minutes to drain).
const SLOW_PROBE: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daehwa-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("daehwa-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(what: impl AsRef<str>) {
    eprintln!("[bench] {}", what.as_ref());
}

/// Raises this process's open-file limit to its hard limit; the servers
/// started from here inherit it (a thousand streams need two thousand sockets).
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

fn git(args: &[&str]) -> String {
    std::process::Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn commit() -> String {
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    match (head.is_empty(), dirty) {
        (true, _) => "unknown".into(),
        (false, true) => format!("{head} + uncommitted changes"),
        (false, false) => head,
    }
}

/// This run's command line, as typed to `bench/run`.
fn command_line() -> String {
    let mut command = "bench/run".to_string();
    for a in std::env::args().skip(1) {
        command.push(' ');
        if a.contains(|c: char| c.is_whitespace() || c == '"') {
            command.push_str(&format!("{a:?}"));
        } else {
            command.push_str(&a);
        }
    }
    command
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Everything a scenario needs to reach the server.
struct Ctx {
    plan: Plan,
    cmd: DaehwaCmd,
    fake: Proc,
    db: PathBuf,
    api: Api,
    key_headers: Vec<(String, String)>,
    model: String,
    cpu: Vec<Value>,
    others_max: f64,
}

impl Ctx {
    fn note_cpu(&mut self, scenario: impl Into<String>, cpu: Value) {
        self.others_max = self
            .others_max
            .max(cpu["others_cores"].as_f64().unwrap_or(0.0));
        self.cpu
            .push(json!({ "scenario": scenario.into(), "cpu": cpu }));
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes RESULTS.md again from results.json (after editing the JSON or the renderer).
fn render_only(out: &Path, before: Option<&Value>) -> Result<(), String> {
    let results = read_json(&out.join("results.json"))?;
    let md_path = out.join("RESULTS.md");
    let md = soak::keep_section(report::markdown(&results, before), out);
    fs::write(&md_path, md).map_err(|e| format!("{}: {e}", md_path.display()))
}

async fn run(args: Args) -> Result<(), String> {
    // Read first: a wrong path should not cost a whole run.
    let before = args.before.as_deref().map(read_json).transpose()?;
    if args.render_only {
        return render_only(&args.out, before.as_ref());
    }
    if args.soak {
        return soak::run(&args).await;
    }
    let started = Instant::now();
    let plan = Plan::new(&args);
    let nofile = raise_nofile();
    let loadavg_start = stats::loadavg();
    let work = args.work.clone();
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    for entry in fs::read_dir(&work).map_err(|e| e.to_string())?.flatten() {
        let _ = fs::remove_file(entry.path());
    }
    let work = fs::canonicalize(&work).map_err(|e| e.to_string())?;
    say(format!(
        "{} mode; scratch {}; open-file limit {nofile}",
        if args.quick { "quick" } else { "full" },
        work.display()
    ));

    let binary_bytes = fs::metadata(&args.daehwa)
        .map_err(|e| {
            format!(
                "{}: {e} (run bench/run, which builds it)",
                args.daehwa.display()
            )
        })?
        .len();
    let fake = procs::start_fake(&args.fake, &work.join("fake-llm.log"))?;
    let cmd = DaehwaCmd {
        binary: args.daehwa.clone(),
        log: work.join("daehwa.log"),
        nofile: args.server_nofile,
    };

    // 1. Cold starts on a new, empty file each time; the last one stays up.
    say(format!(
        "cold start on an empty database ×{}",
        plan.cold_starts
    ));
    let mut empty_starts = Vec::new();
    let db = work.join("bench.db");
    let mut server = None;
    for i in 0..plan.cold_starts {
        remove_db(&db);
        let (proc, took) = cmd.start(&db)?;
        empty_starts.push(us(took));
        if i + 1 < plan.cold_starts {
            proc.stop()?;
        } else {
            server = Some(proc);
        }
    }
    let server = server.ok_or("no cold start was run")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_empty = server.memory().0;

    // The loaded database: from the cache, or set up and loaded now (and
    // then kept in the cache).
    let cache = match &args.data_cache {
        Some(dir) => Some(cache::Entry::new(
            dir,
            plan.conversations,
            plan.messages,
            SEED,
            cache::schema_fingerprint(&db)?,
        )),
        None => None,
    };
    let hit = match &cache {
        Some(entry) => entry.find()?,
        None => None,
    };
    let (setup, loaded, data_source) = match (hit, &cache) {
        (Some(hit), Some(entry)) => {
            server.stop()?;
            remove_db(&db);
            say(format!(
                "copying the loaded database from {}",
                entry.path().display()
            ));
            let took = entry.restore(&db)?;
            say(format!("copied in {took:.2} s"));
            let source = json!({
                "cache": entry.path(),
                "from_cache": true,
                "copy_seconds": (took * 100.0).round() / 100.0,
            });
            (hit.setup, hit.loaded, source)
        }
        _ => {
            let setup = set_up(&Api::new(server.addr), &fake).await?;
            server.stop()?;
            say(format!(
                "loading {} conversations, {} messages",
                plan.conversations, plan.messages
            ));
            let loaded = {
                let db = db.clone();
                let (user_id, model) = (setup.user_id.clone(), setup.model.clone());
                let (c, m) = (plan.conversations, plan.messages);
                tokio::task::spawn_blocking(move || data::load(&db, &user_id, &model, c, m, SEED))
                    .await
                    .map_err(|e| e.to_string())??
            };
            say(format!("loaded in {:.1} s", loaded.seconds));
            if let Some(entry) = &cache {
                say(format!("keeping a copy in {}", entry.path().display()));
                entry.save(&db, &setup, &loaded, &data_date(unix_now()))?;
            }
            let source = json!({
                "cache": cache.as_ref().map(|e| e.path()),
                "from_cache": false,
            });
            (setup, loaded, source)
        }
    };
    let key = setup.api_key.clone();

    // Cold starts on the loaded file.
    say(format!(
        "cold start on the loaded database ×{}",
        plan.cold_starts
    ));
    let mut loaded_starts = Vec::new();
    let mut server = None;
    for i in 0..plan.cold_starts {
        let (proc, took) = cmd.start(&db)?;
        loaded_starts.push(us(took));
        if i + 1 < plan.cold_starts {
            proc.stop()?;
        } else {
            server = Some(proc);
        }
    }
    let server = server.ok_or("no cold start was run")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_loaded = server.memory().0;

    let api = Api::new(server.addr);
    if data_source["from_cache"] == json!(true) {
        point_at_fake(&api.with_key(&key), &setup, &fake)
            .await
            .map_err(|e| {
                format!(
                    "the cached database does not work with this server ({e}); \
                     delete {} and its .json to load afresh",
                    cache
                        .as_ref()
                        .map(|c| c.path().display().to_string())
                        .unwrap_or_default()
                )
            })?;
    }
    let model = setup.model.clone();
    let key_headers = vec![("x-api-key".to_string(), key.clone())];
    let mut ctx = Ctx {
        plan,
        cmd,
        fake,
        db: db.clone(),
        api: api.with_key(&key),
        key_headers,
        model,
        cpu: Vec::new(),
        others_max: 0.0,
    };

    // 2. List and search.
    let (list, search) = list_and_search(&mut ctx, &server, &loaded).await?;
    // 3. Non-streamed exchanges.
    let exchanges = exchanges(&mut ctx, &server).await?;
    // 4. One streamed answer at a time, daehwa and the fake alternating.
    let ttft = ttft(&mut ctx, &server).await?;
    // 5 and 6. Many streams at once, each on a fresh server so its memory
    // peak is theirs: first with no delay (the cost per stream), then a
    // thousand at 20 tokens/s.
    server.stop()?;
    let (n, tokens) = (ctx.plan.burst, ctx.plan.burst_tokens);
    let burst = concurrent_streams(&mut ctx, n, tokens, 0, "burst").await?;
    let (n, tokens, delay) = (
        ctx.plan.streams,
        ctx.plan.stream_tokens,
        ctx.plan.stream_delay_ms,
    );
    let streams = concurrent_streams(&mut ctx, n, tokens, delay, "stream").await?;
    // 7. The web app.
    let web = assets::measure(&args.dist)?;

    let Ctx {
        fake,
        cpu,
        others_max,
        ..
    } = ctx;
    fake.stop()?;
    if !args.keep {
        remove_db(&db);
    }

    let now = unix_now();
    let mut data = loaded.json();
    if let (Some(d), Some(source)) = (data.as_object_mut(), data_source.as_object()) {
        d.extend(source.clone());
    }
    let results = json!({
        "meta": {
            "command": command_line(),
            "date": data_date(now),
            "commit": args.commit.clone().unwrap_or_else(commit),
            "machine": stats::machine(),
            "quick": args.quick,
            "note": args.note,
            "seconds": started.elapsed().as_secs_f64().round(),
            "loadavg_start": loadavg_start,
            "loadavg_end": stats::loadavg(),
            "others_cores_max": others_max,
            "open_file_limit": nofile,
            "server_open_file_limit": args.server_nofile.unwrap_or(nofile),
        },
        "binary": { "path": args.daehwa, "bytes": binary_bytes },
        "cold_start": {
            "empty": summary_with_samples(&mut empty_starts),
            "loaded": summary_with_samples(&mut loaded_starts),
        },
        "idle_rss": { "empty_bytes": idle_empty, "loaded_bytes": idle_loaded },
        "data": data,
        "list": list,
        "search": search,
        "exchanges": exchanges,
        "ttft": ttft,
        "burst": burst,
        "streams": streams,
        "web": web,
        "cpu": cpu,
    });
    fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    let json_path = args.out.join("results.json");
    let md_path = args.out.join("RESULTS.md");
    let pretty = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    fs::write(&json_path, pretty + "\n").map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md = soak::keep_section(report::markdown(&results, before.as_ref()), &args.out);
    fs::write(&md_path, &md).map_err(|e| format!("{}: {e}", md_path.display()))?;
    println!("{md}");
    say(format!(
        "wrote {} and {} in {:.0} s",
        md_path.display(),
        json_path.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Setup through the API on the empty server: the user `bench` (the first
/// account, so admin; real argon2 hash), an API key, the fake as a connection
/// (its models discovered).
async fn set_up(api: &Api, fake: &Proc) -> Result<cache::Setup, String> {
    api.expect(
        Method::POST,
        "/api/v1/auth/register",
        Some(&json!({"username": "bench", "password": "bench-password-1"})),
        201,
    )
    .await?;
    let login = api
        .expect(
            Method::POST,
            "/api/v1/auth/login",
            Some(&json!({"username": "bench", "password": "bench-password-1"})),
            200,
        )
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
            Some(&json!({"client_name": "bench"})),
            201,
        )
        .await?;
    let api_key = key["api_key"].as_str().ok_or("no api_key")?.to_string();
    let connection = api
        .with_key(&api_key)
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
    let connection_id = connection["id"]
        .as_str()
        .ok_or("no connection id")?
        .to_string();
    let models = api
        .with_key(&api_key)
        .expect(Method::GET, "/api/v1/models", None, 200)
        .await?;
    let model = models["models"][0]["id"]
        .as_str()
        .ok_or("the fake's models were not discovered")?
        .to_string();
    Ok(cache::Setup {
        user_id,
        api_key,
        model,
        connection_id,
    })
}

/// A cached database's connection points at the fake of an earlier run:
/// sets its base URL to this run's fake (`PATCH`, the models stay) and
/// checks that the model is offered.
async fn point_at_fake(api: &Api, setup: &cache::Setup, fake: &Proc) -> Result<(), String> {
    api.expect(
        Method::PATCH,
        &format!("/api/v1/admin/connections/{}", setup.connection_id),
        Some(&json!({ "base_url": format!("http://{}/v1", fake.addr) })),
        200,
    )
    .await?;
    let models = api.expect(Method::GET, "/api/v1/models", None, 200).await?;
    let offered = models["models"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["id"].as_str() == Some(setup.model.as_str()));
    if !offered {
        return Err(format!("the model {} is not offered", setup.model));
    }
    Ok(())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn data_date(unix: u64) -> String {
    data::rfc3339(unix)
}

fn summary_with_samples(samples: &mut [u64]) -> Value {
    let mut v = Summary::of(samples).json();
    v["samples_ms"] = json!(samples.iter().map(|&s| stats::ms(s)).collect::<Vec<_>>());
    v
}

/// A list of GET paths as a request maker, each worker starting elsewhere.
fn gets(paths: Vec<String>) -> load::MakeRequest {
    Arc::new(move |w, n| {
        let path = paths[(w + n as usize) % paths.len()].clone();
        (Method::GET, path, None)
    })
}

impl Ctx {
    /// A load run against `server` with the API key.
    fn load(
        &self,
        server: &Proc,
        make: load::MakeRequest,
        expect: u16,
        concurrency: usize,
        duration: Duration,
        max_requests: u64,
    ) -> Load {
        Load {
            addr: server.addr,
            headers: self.key_headers.clone(),
            make,
            expect,
            concurrency,
            duration,
            max_requests,
        }
    }
}

/// One load run, with the server's CPU time over it: the run's JSON plus
/// `server_cpu_seconds` and `server_cpu_ms_per_request` (per request answered
/// with the expected status).
async fn load_run(ctx: &mut Ctx, server: &Proc, label: &str, load: Load) -> Value {
    let concurrency = load.concurrency;
    let watch = CpuWatch::start(server.pid, ctx.fake.pid);
    let result: LoadResult = load::run(&load).await;
    let cpu = watch.stop();
    let per_request = stats::cpu_ms_per(&cpu, result.ok);
    say(format!(
        "{label}, {concurrency} connections: {:.0}/s, p50 {}, p99 {}, server CPU {} ms/request, {} errors{}",
        result.rps(),
        stats::fmt_us(result.latency.p50_us),
        stats::fmt_us(result.latency.p99_us),
        per_request,
        result.errors,
        result
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    ));
    let mut v = result.json();
    v["server_cpu_seconds"] = cpu["server_cpu_seconds"].clone();
    v["server_cpu_ms_per_request"] = per_request;
    ctx.note_cpu(format!("{label}, {concurrency} connections"), cpu);
    v
}

async fn list_and_search(
    ctx: &mut Ctx,
    server: &Proc,
    loaded: &data::Loaded,
) -> Result<(Value, Value), String> {
    let (run, warmup, max) = (ctx.plan.run, ctx.plan.warmup, ctx.plan.max_requests);
    let mut list = Vec::new();
    let make = gets(vec!["/api/v1/conversations".to_string()]);
    // Check the answer once: the first page of the loaded conversations.
    let page = ctx
        .api
        .expect(Method::GET, "/api/v1/conversations", None, 200)
        .await?;
    let n = page["conversations"].as_array().map(Vec::len).unwrap_or(0);
    if n != 50 {
        return Err(format!("the list answered {n} conversations, wanted 50"));
    }
    let l = ctx.load(server, make.clone(), 200, 32, warmup, max);
    load_run(ctx, server, "warm-up list", l).await;
    for c in CONCURRENCY {
        let l = ctx.load(server, make.clone(), 200, c, run, max);
        let mut v = load_run(ctx, server, "list", l).await;
        v["what"] = json!("list");
        list.push(v);
    }

    let mut search = Vec::new();
    for (q, what) in data::SEARCHES {
        let path = format!("/api/v1/conversations?q={}", encode(q));
        // Probe alone: checks the answer and tells a slow query.
        let t = Instant::now();
        let page = ctx.api.expect(Method::GET, &path, None, 200).await?;
        let probe = t.elapsed();
        let got = page["conversations"].as_array().map(Vec::len).unwrap_or(0);
        let want = loaded.matches.get(*q).copied().unwrap_or(0).min(50);
        if got != want {
            say(format!(
                "warning: ?q={q} answered {got} conversations, the data has {want} (first page)"
            ));
        }
        let capped = probe > SLOW_PROBE;
        let make = gets(vec![path]);
        if !capped {
            let l = ctx.load(server, make.clone(), 200, 32, warmup, max);
            load_run(ctx, server, &format!("warm-up ?q={q}"), l).await;
        }
        let mut runs = Vec::new();
        for c in CONCURRENCY {
            let max = if capped { c as u64 } else { max };
            let l = ctx.load(server, make.clone(), 200, c, run, max);
            runs.push(load_run(ctx, server, &format!("search ?q={q}"), l).await);
        }
        search.push(json!({
            "q": q,
            "what": what,
            "matching_conversations": loaded.matches.get(*q).copied().unwrap_or(0),
            "first_page_items": got,
            "probe_ms": stats::ms(us(probe)),
            "capped": capped,
            "runs": runs,
        }));
    }
    Ok((Value::Array(list), Value::Array(search)))
}

/// Creates `n` conversations with a title (so no title is generated upstream).
async fn new_conversations(api: &Api, n: usize, title: &str) -> Result<Vec<String>, String> {
    let mut set = tokio::task::JoinSet::new();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        if set.len() >= 16 {
            if let Some(r) = set.join_next().await {
                ids.push(r.map_err(|e| e.to_string())??);
            }
        }
        let api = api.clone();
        let body = json!({ "title": format!("{title} {i}") });
        set.spawn(async move {
            let v = api
                .expect(Method::POST, "/api/v1/conversations", Some(&body), 201)
                .await?;
            v["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| "no conversation id".to_string())
        });
    }
    while let Some(r) = set.join_next().await {
        ids.push(r.map_err(|e| e.to_string())??);
    }
    Ok(ids)
}

async fn exchanges(ctx: &mut Ctx, server: &Proc) -> Result<Value, String> {
    let mut out = Vec::new();
    for (c, count, limit) in ctx.plan.exchanges.clone() {
        // At most five exchanges per conversation, each worker its own ones.
        let per_worker = (count as usize).div_ceil(c * 5).max(1);
        say(format!("creating {} conversations", c * per_worker));
        let ids = Arc::new(new_conversations(&ctx.api, c * per_worker, "exchange").await?);
        let model = ctx.model.clone();
        let make: load::MakeRequest = Arc::new(move |w, n| {
            let id = &ids[w + c * (n as usize % per_worker)];
            let body = json!({
                "content": format!("벤치마크 질문 {w}-{n}: 짧게 답해 주세요."),
                "model_id": model,
            });
            (
                Method::POST,
                format!("/api/v1/conversations/{id}/messages"),
                Some(Bytes::from(body.to_string())),
            )
        });
        let l = ctx.load(server, make, 201, c, limit, count);
        out.push(load_run(ctx, server, "exchanges", l).await);
    }
    Ok(Value::Array(out))
}

async fn ttft(ctx: &mut Ctx, server: &Proc) -> Result<Value, String> {
    let pairs = ctx.plan.pairs;
    let tokens = 200;
    say(format!(
        "{pairs} streamed answers of {tokens} tokens, daehwa and direct"
    ));
    let ids = new_conversations(&ctx.api, pairs, "ttft").await?;
    let direct = Target::Direct {
        model: ctx.model.clone(),
    };
    let watch = CpuWatch::start(server.pid, ctx.fake.pid);
    let (mut d_first, mut d_total, mut f_first, mut f_total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut diff_first, mut diff_total) = (Vec::new(), Vec::new());
    let mut errors = 0;
    let mut first_error = None;
    for (i, id) in ids.iter().enumerate() {
        let question = format!("Benchmark question {i} [[tokens:{tokens}]]");
        let expected = fake_llm::answer_text(&question, tokens);
        let through = Target::Daehwa {
            headers: ctx.key_headers.clone(),
            conversation: id.clone(),
        };
        let (a, b) = if i % 2 == 0 {
            let a = stream::stream(server.addr, &through, &question).await;
            let b = stream::stream(ctx.fake.addr, &direct, &question).await;
            (a, b)
        } else {
            let b = stream::stream(ctx.fake.addr, &direct, &question).await;
            let a = stream::stream(server.addr, &through, &question).await;
            (a, b)
        };
        let bad = stream::verify(&a, &expected, tokens, true)
            .map(|e| format!("daehwa: {e}"))
            .or_else(|| {
                stream::verify(&b, &expected, tokens, false).map(|e| format!("direct: {e}"))
            });
        if let Some(e) = bad {
            errors += 1;
            first_error.get_or_insert(e);
            continue;
        }
        let (Some(af), Some(at), Some(bf), Some(bt)) = (a.ttft(), a.total(), b.ttft(), b.total())
        else {
            continue;
        };
        d_first.push(us(af));
        d_total.push(us(at));
        f_first.push(us(bf));
        f_total.push(us(bt));
        diff_first.push(us(af) as i64 - us(bf) as i64);
        diff_total.push(us(at) as i64 - us(bt) as i64);
    }
    ctx.note_cpu("streamed answers one at a time", watch.stop());
    let median = |v: &mut Vec<i64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0) as f64 / 1000.0
    };
    let (df, dt, ff, ft) = (
        Summary::of(&mut d_first),
        Summary::of(&mut d_total),
        Summary::of(&mut f_first),
        Summary::of(&mut f_total),
    );
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    say(format!(
        "first token: daehwa {} vs direct {}; whole answer {} vs {}; {errors} errors",
        stats::fmt_us(df.p50_us),
        stats::fmt_us(ff.p50_us),
        stats::fmt_us(dt.p50_us),
        stats::fmt_us(ft.p50_us)
    ));
    Ok(json!({
        "pairs": pairs,
        "tokens": tokens,
        "errors": errors,
        "first_error": first_error,
        "daehwa": { "ttft": df.json(), "total": dt.json() },
        "direct": { "ttft": ff.json(), "total": ft.json() },
        "ttft_overhead_ms": stats::ms(df.p50_us) - stats::ms(ff.p50_us),
        "ttft_ratio": ratio(df.p50_us, ff.p50_us),
        "total_overhead_ms": stats::ms(dt.p50_us) - stats::ms(ft.p50_us),
        "total_ratio": ratio(dt.p50_us, ft.p50_us),
        "ttft_paired_overhead_ms": median(&mut diff_first),
        "total_paired_overhead_ms": median(&mut diff_total),
    }))
}

/// Samples the server's memory every 20 ms until stopped: (peak RSS, peak threads).
fn sample_memory(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, u64)> {
    tokio::spawn(async move {
        let (mut rss, mut threads) = (0, 0);
        // Bounded: an hour at most, whatever happens to the flag.
        for _ in 0..180_000 {
            let (r, _, t) = procs::memory(pid);
            rss = rss.max(r);
            threads = threads.max(t);
            if stop.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (rss, threads)
    })
}

/// Runs `targets.len()` streams at once; returns traces and when each finished.
async fn many_streams(
    addr: std::net::SocketAddr,
    targets: Vec<Target>,
    question: &str,
) -> (Vec<stream::Trace>, Instant) {
    let started = Instant::now();
    let handles: Vec<_> = targets
        .into_iter()
        .map(|t| {
            let q = question.to_string();
            tokio::spawn(async move { stream::stream(addr, &t, &q).await })
        })
        .collect();
    let mut traces = Vec::with_capacity(handles.len());
    for h in handles {
        traces.push(h.await.unwrap_or_default());
    }
    (traces, started)
}

fn stream_figures(
    traces: &[stream::Trace],
    started: Instant,
    expected: &str,
    tokens: usize,
    delay_ms: u64,
    daehwa: bool,
) -> Value {
    let mut errors = 0;
    let mut first_error = None;
    let mut gaps = Vec::new();
    let mut firsts = Vec::new();
    let (mut last_first, mut last_done) = (Duration::ZERO, Duration::ZERO);
    for t in traces {
        if let Some(e) = stream::verify(t, expected, tokens, daehwa) {
            errors += 1;
            first_error.get_or_insert(e);
        }
        gaps.extend(t.gaps_us());
        if let Some(ttft) = t.ttft() {
            firsts.push(us(ttft));
        }
        if let Some(first) = t.tokens.first() {
            last_first = last_first.max(*first - started);
        }
        if let Some(done) = t.done {
            last_done = last_done.max(done - started);
        }
    }
    let g = Summary::of(&mut gaps);
    let delay_us = delay_ms * 1000;
    json!({
        "errors": errors,
        "first_error": first_error,
        "ttft": Summary::of(&mut firsts).json(),
        "all_first_token_ms": stats::ms(us(last_first)),
        "all_done_ms": stats::ms(us(last_done)),
        "gaps": g.json(),
        "added_p50_ms": stats::ms(g.p50_us.saturating_sub(delay_us)),
        "added_p99_ms": stats::ms(g.p99_us.saturating_sub(delay_us)),
    })
}

/// `a / b` of two JSON figures, rounded to 0.01; null when `b` is zero.
fn ratio(a: &Value, b: &Value) -> Value {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!((a / b * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

/// Scenarios 5 and 6: `n` streamed questions at once on a freshly started
/// server (so its memory peak is theirs), each answered with `tokens` tokens
/// at one per `delay_ms`, then the same `n` streams straight from the fake.
async fn concurrent_streams(
    ctx: &mut Ctx,
    n: usize,
    tokens: usize,
    delay_ms: u64,
    title: &str,
) -> Result<Value, String> {
    let (server, _) = ctx.cmd.start(&ctx.db)?;
    let api = Api::new(server.addr).with_key(
        &ctx.key_headers[0].1, // the API key
    );
    say(format!("creating {n} conversations"));
    let ids = new_conversations(&api, n, title).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = server.memory().0;
    let question = format!("동시 스트림 부하 시험 [[tokens:{tokens}]] [[delay:{delay_ms}]]");
    let expected = fake_llm::answer_text(&question, tokens);
    let what = if delay_ms == 0 {
        format!("{n} streams of {tokens} tokens, no delay")
    } else {
        format!("{n} streams of {tokens} tokens at one per {delay_ms} ms")
    };

    say(format!("{what}, through daehwa"));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_memory(server.pid, stop.clone());
    let watch = CpuWatch::start(server.pid, ctx.fake.pid);
    let targets = ids
        .iter()
        .map(|id| Target::Daehwa {
            headers: ctx.key_headers.clone(),
            conversation: id.clone(),
        })
        .collect();
    let (traces, started) = many_streams(server.addr, targets, &question).await;
    let cpu = watch.stop();
    stop.store(true, Ordering::Relaxed);
    let (peak_rss, peak_threads) = sampler.await.map_err(|e| e.to_string())?;
    let vmhwm = server.memory().1;
    let cpu_per_stream = stats::cpu_ms_per(&cpu, n as u64);
    let server_cpu_seconds = cpu["server_cpu_seconds"].clone();
    ctx.note_cpu(format!("{what}, through daehwa"), cpu);
    let through = stream_figures(&traces, started, &expected, tokens, delay_ms, true);
    say(format!(
        "through daehwa: {} errors, first token p50 {} ms, gap p99 {} ms, peak RSS {}, server CPU {} ms/stream",
        through["errors"],
        through["ttft"]["p50_ms"],
        through["gaps"]["p99_ms"],
        stats::fmt_mib(peak_rss),
        cpu_per_stream,
    ));
    server.stop()?;

    say(format!("{what}, straight from the fake"));
    let watch = CpuWatch::start(0, ctx.fake.pid);
    let targets = (0..n)
        .map(|_| Target::Direct {
            model: ctx.model.clone(),
        })
        .collect();
    let (traces, started) = many_streams(ctx.fake.addr, targets, &question).await;
    ctx.note_cpu(format!("{what}, straight from the fake"), watch.stop());
    let direct = stream_figures(&traces, started, &expected, tokens, delay_ms, false);
    say(format!(
        "direct: {} errors, first token p50 {} ms, gap p99 {} ms",
        direct["errors"], direct["ttft"]["p50_ms"], direct["gaps"]["p99_ms"]
    ));
    let errors = through["errors"].as_u64().unwrap_or(0);
    Ok(json!({
        "streams": n,
        "tokens": tokens,
        "delay_ms": delay_ms,
        "errors": errors,
        "rss_before_bytes": rss_before,
        "peak_rss_bytes": peak_rss,
        "vmhwm_bytes": vmhwm,
        "peak_threads": peak_threads,
        "server_cpu_seconds": server_cpu_seconds,
        "server_cpu_ms_per_stream": cpu_per_stream,
        "ttft_ratio_p50": ratio(&through["ttft"]["p50_ms"], &direct["ttft"]["p50_ms"]),
        "ttft_ratio_p99": ratio(&through["ttft"]["p99_ms"], &direct["ttft"]["p99_ms"]),
        "daehwa": through,
        "direct": direct,
    }))
}
