//! Starting the real server for a test and talking to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use daehwa::app::App;
use daehwa::config::ServeArgs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server, its database directory and a client.
pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` plus the base path, no trailing slash.
    pub root: String,
    pub client: reqwest::Client,
    pub db_path: PathBuf,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Logs go to the test output when `TEST_LOG=1`.
fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = daehwa::logging::init(None);
    }
}

/// A server on 127.0.0.1:0 with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// A server whose options `adjust` may change (base path, …).
pub async fn spawn_with(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("daehwa.db");
    spawn_in(dir, db, adjust).await
}

/// A server on an existing directory and database file (restarts, upgrades).
pub async fn spawn_in(
    dir: tempfile::TempDir,
    db: PathBuf,
    adjust: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    init_logs();
    let mut args = ServeArgs::for_tests(db.clone());
    args.secret = Some(TEST_SECRET.to_string());
    adjust(&mut args);
    let app = App::build(&args).await.expect("server starts");
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        root: format!("http://{addr}{}", args.base_path),
        client: reqwest::Client::new(),
        db_path: db,
        dir,
        stop: Some(stop),
        task,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Stops the server gracefully and hands back its directory.
    pub async fn stop(mut self) -> (tempfile::TempDir, PathBuf) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task");
        (self.dir, self.db_path)
    }
}

/// A raw HTTP/1.1 GET with the path sent byte for byte (HTTP clients normalize
/// `..` and `%2e%2e` away, which is exactly what must be tested).
pub async fn raw_get(addr: SocketAddr, raw_path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {raw_path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// The user_version of a database file.
pub fn user_version(path: &Path) -> u32 {
    let conn = rusqlite::Connection::open(path).expect("open db");
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version")
}

/// The text of the last answer in `conversation` as the database file holds
/// it, read beside the running server (`None` until there is one).
#[cfg(unix)] // the crash tests, which stop the server with a signal
pub fn saved_answer(db: &Path, conversation: &str) -> Option<String> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(db, flags).ok()?;
    conn.query_row(
        "SELECT content FROM message WHERE conversation_id = ?1 AND role = 'assistant'
          ORDER BY idx DESC LIMIT 1",
        [conversation],
        |r| r.get(0),
    )
    .ok()
}

/// The password every `signup` uses.
pub const PASSWORD: &str = "correct-horse-42";
/// The signing secret test servers use, so tests can mint their own tokens.
pub const TEST_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn as_user(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// Signs in an existing account with [`PASSWORD`].
    pub async fn sign_in(&self, username: &str) -> Session {
        let res = self.login(username, PASSWORD).await;
        assert_eq!(res.status(), 200, "login of {username}");
        let body: serde_json::Value = res.json().await.unwrap();
        Session {
            id: body["user"]["id"].as_str().unwrap().to_string(),
            access: body["access_token"].as_str().unwrap().to_string(),
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
        }
    }

    /// Registers `username` with [`PASSWORD`] and signs in.
    pub async fn signup(&self, username: &str) -> Session {
        let res = self.register(username, PASSWORD).await;
        assert_eq!(res.status(), 201, "register {username}");
        self.sign_in(username).await
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: serde_json::Value,
}

/// Parses an SSE body (`event:`, `id:`, `data:` lines, blank-line separated;
/// comments skipped).
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
        let mut any = false;
        for line in block.lines() {
            if line.starts_with(':') || line.is_empty() {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            any = true;
            match field {
                "event" => event = value.to_string(),
                "id" => id = Some(value.to_string()),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {}
            }
        }
        if any {
            let data = serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
            events.push(SseEvent { event, id, data });
        }
    }
    events
}

/// Reads a streamed response until `stop` says so (or it ends); returns the
/// events read. The connection is dropped when the response is dropped.
pub async fn read_sse_until(
    res: &mut reqwest::Response,
    mut stop: impl FnMut(&[SseEvent]) -> bool,
) -> Vec<SseEvent> {
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("the stream went silent for 20 s")
            .expect("read");
        let Some(chunk) = chunk else {
            return parse_sse(&buffer);
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        // Only whole events count.
        let complete = match buffer.rfind("\n\n") {
            Some(end) => &buffer[..end + 2],
            None => "",
        };
        let events = parse_sse(complete);
        if stop(&events) {
            return events;
        }
    }
}

/// The text of the deltas in a list of events.
pub fn delta_text(events: &[SseEvent]) -> String {
    events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.data["content"].as_str().unwrap_or_default())
        .collect()
}

impl TestApp {
    /// Adds a connection (as `admin`) and returns its JSON.
    pub async fn add_connection(
        &self,
        admin: &Session,
        kind: &str,
        base_url: &str,
        api_key: Option<&str>,
    ) -> serde_json::Value {
        let mut body =
            serde_json::json!({"name": format!("{kind} test"), "kind": kind, "base_url": base_url});
        if let Some(key) = api_key {
            body["api_key"] = key.into();
        }
        let res = self
            .as_user(
                reqwest::Method::POST,
                "/api/v1/admin/connections",
                &admin.access,
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "add connection");
        res.json().await.unwrap()
    }

    /// Creates a conversation and returns its id.
    pub async fn new_conversation(&self, user: &Session) -> String {
        let res = self
            .as_user(reqwest::Method::POST, "/api/v1/conversations", &user.access)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        body["id"].as_str().unwrap().to_string()
    }

    /// Asks a question and reads the whole SSE answer.
    pub async fn ask_streamed(
        &self,
        user: &Session,
        conversation: &str,
        content: &str,
    ) -> Vec<SseEvent> {
        let res = self
            .as_user(
                reqwest::Method::POST,
                &format!("/api/v1/conversations/{conversation}/messages"),
                &user.access,
            )
            .json(&serde_json::json!({"content": content, "stream": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        parse_sse(&res.text().await.unwrap())
    }

    /// Asks a question without streaming; returns status and body.
    pub async fn ask(
        &self,
        user: &Session,
        conversation: &str,
        content: &str,
    ) -> (u16, serde_json::Value) {
        let res = self
            .as_user(
                reqwest::Method::POST,
                &format!("/api/v1/conversations/{conversation}/messages"),
                &user.access,
            )
            .json(&serde_json::json!({"content": content}))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    pub async fn conversation(&self, user: &Session, id: &str) -> serde_json::Value {
        let res = self
            .as_user(
                reqwest::Method::GET,
                &format!("/api/v1/conversations/{id}"),
                &user.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// Asserts that `actual` has the documented shape of `seed`: the same field
/// names (plus only `extra`), the same JSON types, RFC 3339 times where the
/// seed has times, and each array item shaped like the seed's first item.
pub fn assert_shape(
    seed: &serde_json::Value,
    actual: &serde_json::Value,
    extra: &[&str],
    at: &str,
) {
    match (seed, actual) {
        (serde_json::Value::Object(s), serde_json::Value::Object(a)) => {
            for key in s.keys() {
                assert!(
                    a.contains_key(key),
                    "{at}: missing field {key:?} in {actual}"
                );
                assert_shape(&s[key], &a[key], extra, &format!("{at}.{key}"));
            }
            for key in a.keys() {
                assert!(
                    s.contains_key(key) || extra.contains(&key.as_str()),
                    "{at}: field {key:?} is not in the seed"
                );
            }
        }
        (serde_json::Value::Array(s), serde_json::Value::Array(a)) => {
            if let Some(first) = s.first() {
                for (i, item) in a.iter().enumerate() {
                    assert_shape(first, item, extra, &format!("{at}[{i}]"));
                }
            }
        }
        (serde_json::Value::String(s), serde_json::Value::String(a)) => {
            if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                assert!(
                    chrono::DateTime::parse_from_rfc3339(a).is_ok(),
                    "{at}: {a:?} is not an RFC 3339 time"
                );
            }
        }
        (serde_json::Value::Number(_), serde_json::Value::Number(_))
        | (serde_json::Value::Bool(_), serde_json::Value::Bool(_))
        | (serde_json::Value::Null, serde_json::Value::Null) => {}
        _ => panic!("{at}: the seed has {seed}, the server answered {actual}"),
    }
}

impl TestApp {
    /// Any request as `user` (None: signed out) with an optional JSON body;
    /// returns the status and the JSON body (`Null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: Option<&Session>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.request(method, path);
        if let Some(user) = user {
            req = req.bearer_auth(&user.access);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

/// A server with a fake upstream connected, an admin (`admin`) and a user
/// (`minji` unless [`WorldBuilder::user`] names another).
pub struct World {
    pub app: TestApp,
    pub fake: fake_llm::FakeLlm,
    pub admin: Session,
    pub user: Session,
    /// The discovered model ids.
    pub models: Vec<String>,
    /// The connection as the server answered it when it was added.
    pub connection: serde_json::Value,
}

impl World {
    /// A world to adjust: the fake's behavior, the server's options, the
    /// connection's kind and key, the user's name.
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            behavior: fake_llm::Behavior {
                tokens: 3,
                ..fake_llm::Behavior::default()
            },
            kind: "openai",
            api_key: Some("k"),
            user: "minji",
            app: None,
        }
    }

    /// The first discovered model.
    pub fn model(&self) -> String {
        self.models.first().expect("a discovered model").clone()
    }
}

/// How [`World::builder`] builds a world.
pub struct WorldBuilder {
    behavior: fake_llm::Behavior,
    kind: &'static str,
    api_key: Option<&'static str>,
    user: &'static str,
    app: Option<TestApp>,
}

impl WorldBuilder {
    /// How the fake upstream answers (default: three tokens, no delay).
    pub fn fake(mut self, behavior: fake_llm::Behavior) -> Self {
        self.behavior = behavior;
        self
    }

    /// The connection's kind (`openai`, `ollama`, …; default `openai`).
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// The connection's API key (default `k`; `None`: no key).
    pub fn api_key(mut self, key: Option<&'static str>) -> Self {
        self.api_key = key;
        self
    }

    /// The user's name (default `minji`).
    pub fn user(mut self, name: &'static str) -> Self {
        self.user = name;
        self
    }

    /// Builds on this server instead of a fresh default one.
    pub fn on(mut self, app: TestApp) -> Self {
        self.app = Some(app);
        self
    }

    /// Starts a server with `adjust`ed options, then builds.
    pub async fn serve(self, adjust: impl FnOnce(&mut ServeArgs)) -> World {
        let app = spawn_with(adjust).await;
        self.on(app).build().await
    }

    pub async fn build(self) -> World {
        let app = match self.app {
            Some(app) => app,
            None => spawn_app().await,
        };
        let fake = fake_llm::FakeLlm::start(self.behavior).await;
        let admin = app.signup("admin").await;
        let user = app.signup(self.user).await;
        let base = match self.kind {
            "openai" => fake.openai_url(),
            _ => fake.url(),
        };
        let connection = app
            .add_connection(&admin, self.kind, &base, self.api_key)
            .await;
        let models = connection["models"]
            .as_array()
            .expect("models")
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        World {
            app,
            fake,
            admin,
            user,
            models,
            connection,
        }
    }
}

/// The default [`World`]: an `openai` connection to a fake that answers
/// three tokens, `admin` and `minji`.
pub async fn world() -> World {
    World::builder().build().await
}

/// The answers (streamed chat requests; titles are asked without streaming)
/// the fake was asked for with `text` somewhere in their messages.
pub fn upstream_calls_with(fake: &fake_llm::FakeLlm, text: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions") && r.body["stream"] == true)
        .filter(|r| r.body["messages"].to_string().contains(text))
        .count()
}

/// The actions in the audit log, newest first.
pub async fn audit_actions(app: &TestApp, admin: &Session) -> Vec<(String, Option<String>)> {
    let (status, audit) = app.audit(admin, "limit=200").await;
    assert_eq!(status, 200);
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().map(String::from),
            )
        })
        .collect()
}

/// Polls `check` until it yields a value; fails the test, naming `what`, if
/// it has not after a minute (a bound against hanging, not a timing
/// assertion).
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{what} never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
