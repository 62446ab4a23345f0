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
