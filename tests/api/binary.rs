//! The shipped executable itself: its command line, its start, its log file and
//! its graceful stop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_daehwa");

#[test]
fn help_explains_every_option_with_its_environment_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--host", "DAEHWA_HOST"),
        ("--port", "DAEHWA_PORT"),
        ("--db", "DAEHWA_DB"),
        ("--log-file", "DAEHWA_LOG_FILE"),
        ("--base-path", "DAEHWA_BASE_PATH"),
        ("--open", "DAEHWA_OPEN"),
        ("--cors-origins", "DAEHWA_CORS_ORIGINS"),
        ("--body-limit", "DAEHWA_BODY_LIMIT"),
        ("--tls-cert", "DAEHWA_TLS_CERT"),
        ("--tls-key", "DAEHWA_TLS_KEY"),
        ("--metrics", "DAEHWA_METRICS"),
        ("--backup-dir", "DAEHWA_BACKUP_DIR"),
        ("--trusted-proxies", "DAEHWA_TRUSTED_PROXIES"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(help.contains(env), "--help lacks {env}:\n{help}");
    }
    assert!(help.contains("serve"), "{help}");
}

#[test]
fn version_prints_the_crate_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("daehwa {}", daehwa::VERSION)
    );
}

#[test]
fn a_bad_base_path_is_refused_with_a_clear_message() {
    let out = Command::new(BIN)
        .args(["serve", "--base-path", "/../etc", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("base path"));
}

/// Starts the binary on port 0 and returns it with the URL it printed.
pub(crate) fn start(args: &[&str], envs: &[(&str, &std::path::Path)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (child, url)
}

pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        // Polls a child process (synchronous, bounded by `limit`).
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[tokio::test]
async fn the_binary_prints_its_url_serves_and_writes_access_lines_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bin.db");
    let log = dir.path().join("logs").join("daehwa.log");
    let (mut child, url) = start(
        &["--port", "0", "--base-path", "/chat"],
        &[("DAEHWA_DB", &db), ("DAEHWA_LOG_FILE", &log)],
    );
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.ends_with("/chat/"), "{url}");

    let res = reqwest::get(format!("{url}api/v1/health")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(db.exists(), "the database file comes from DAEHWA_DB");

    stop(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("GET /chat/api/v1/health 200"),
        "no access line in the log file:\n{text}"
    );
}

#[tokio::test]
async fn the_binary_survives_requests_without_a_path_and_logs_no_secret_with_owner_only_files() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bin.db");
    let log = dir.path().join("daehwa.log");
    let (mut child, url) = start(
        &["--port", "0"],
        &[("DAEHWA_DB", &db), ("DAEHWA_LOG_FILE", &log)],
    );
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();

    // CONNECT over HTTP/1.1 and over HTTP/2 with prior knowledge: these
    // ended the process (a panic in warp's path filter, with panic=abort).
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 405");
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let connect = reqwest::Method::CONNECT;
    let request = warp::http::Request::builder()
        .method(connect.as_str())
        .uri("example.com:443")
        .body(())
        .unwrap();
    let (response, _) = send
        .ready()
        .await
        .unwrap()
        .send_request(request, true)
        .unwrap();
    assert_eq!(response.await.unwrap().status(), 405);
    assert!(child.try_wait().unwrap().is_none(), "the server died");

    // Secrets in paths: seed 004's key revocation and a share link.
    let client = reqwest::Client::new();
    let key = "dk_0123456789abcdef_secret";
    let res = client
        .delete(format!("{url}simple/api-keys/{key}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    let share = "Zq8share-id-that-is-a-capability";
    let res = client
        .get(format!("{url}api/v1/shares/{share}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        client
            .get(format!("{url}api/v1/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    stop(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("DELETE /simple/api-keys/dk_[redacted]"),
        "{text}"
    );
    assert!(text.contains("GET /api/v1/shares/[redacted] 404"), "{text}");
    assert!(!text.contains(key) && !text.contains(share), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [&db, &log] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        }
    }
}

#[cfg(unix)]
fn stop(child: &mut Child) {
    // SIGTERM, as a service manager sends it: the server must exit cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_exit(child, Duration::from_secs(15)).expect("exits after SIGTERM");
    assert!(exit.success(), "exit status {exit}");
}

#[cfg(not(unix))]
fn stop(child: &mut Child) {
    child.kill().unwrap();
    wait_exit(child, Duration::from_secs(15)).expect("exits");
}

#[test]
fn a_port_in_use_is_a_clear_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--port", &port, "--db"])
        .arg(dir.path().join("x.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

/// Runs `daehwa user …` on `db` with `stdin` piped in.
fn user_command(db: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("user")
        .args(args)
        .arg("--db")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn operators_manage_accounts_from_the_command_line_while_the_server_runs() {
    use reqwest::Method;

    let app = crate::helpers::spawn_app().await;
    let db = app.db_path.clone();
    let out = user_command(&db, &["create", "root", "--admin"], "root-password-1\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created root (admin"));

    let res = app.login("root", "root-password-1").await;
    assert_eq!(res.status(), 200);
    let root: serde_json::Value = res.json().await.unwrap();
    assert_eq!(root["user"]["role"], "admin");
    let root_token = root["access_token"].as_str().unwrap().to_string();

    let out = user_command(&db, &["set-role", "root", "user"], "");
    assert!(!out.status.success(), "the last admin keeps the role");
    assert!(String::from_utf8_lossy(&out.stderr).contains("last active administrator"));

    let bob = app.signup("bob").await;
    let out = user_command(&db, &["set-role", "bob", "admin"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app
        .as_user(Method::GET, "/api/v1/users", &bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the new role applies to bob's current token"
    );

    // A lost password: reset it; the old sessions end at once.
    let out = user_command(&db, &["reset-password", "root"], "brand-new-pass-2\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app
        .as_user(Method::GET, "/api/v1/auth/me", &root_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.login("root", "root-password-1").await.status(), 401);
    assert_eq!(app.login("root", "brand-new-pass-2").await.status(), 200);

    let out = user_command(&db, &["list"], "");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("root") && listing.contains("bob"),
        "{listing}"
    );

    for (args, stdin, why) in [
        (vec!["create", "weakling"], "short\n", "password must"),
        (vec!["create", "bob"], "another-pass-3\n", "already taken"),
        (vec!["create", "x"], "another-pass-3\n", "username must"),
        (
            vec!["reset-password", "nobody"],
            "another-pass-3\n",
            "no account named",
        ),
    ] {
        let out = user_command(&db, &args, stdin);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

/// `daehwa` killed with SIGKILL in the middle of an answer, then started again
/// on the same file: the question is there, the answer is marked with its
/// partial text.
#[cfg(unix)]
#[tokio::test]
async fn a_process_killed_during_a_stream_keeps_the_question_and_the_partial_answer() {
    use reqwest::Method;
    use serde_json::{json, Value};

    let fake = fake_llm::FakeLlm::start(fake_llm::Behavior {
        tokens: 400,
        token_delay: Duration::from_millis(20),
        ..fake_llm::Behavior::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let (mut child, url) = start(
        &["--port", "0", "--ollama-base-url", ""],
        &[("DAEHWA_DB", &db)],
    );
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{url}api/v1{path}");
    client
        .post(api("/auth/register"))
        .json(&json!({"username": "admin", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    let login: Value = client
        .post(api("/auth/login"))
        .json(&json!({"username": "admin", "password": "password-123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let res = client
        .request(Method::POST, api("/admin/connections"))
        .bearer_auth(&token)
        .json(&json!({"name": "fake", "kind": "openai", "base_url": format!("{}/v1", fake.url())}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let conv: Value = client
        .post(api("/conversations"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conv = conv["id"].as_str().unwrap().to_string();
    let mut res = client
        .post(api(&format!("/conversations/{conv}/messages")))
        .bearer_auth(&token)
        .json(&json!({"content": "긴 답을 주세요", "stream": true}))
        .send()
        .await
        .unwrap();
    crate::helpers::read_sse_until(&mut res, |ev| {
        ev.iter().filter(|e| e.event == "delta").count() >= 30
    })
    .await;
    // Until a flush (every FLUSH_INTERVAL) has put part of the answer on disk.
    crate::helpers::eventually("part of the answer on disk", async || {
        crate::helpers::saved_answer(&db, &conv).filter(|t| !t.is_empty())
    })
    .await;
    child.kill().unwrap(); // SIGKILL: no chance to save anything more
    child.wait().unwrap();
    drop(res);

    let (mut child, url) = start(
        &["--port", "0", "--ollama-base-url", ""],
        &[("DAEHWA_DB", &db)],
    );
    let full: Value = client
        .get(format!("{url}api/v1/conversations/{conv}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stop(&mut child);
    let messages = full["messages"].as_array().unwrap();
    assert_eq!(messages[0]["content"], "긴 답을 주세요");
    assert_eq!(messages[1]["status"], "error");
    assert!(messages[1]["error"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    assert!(
        !messages[1]["content"].as_str().unwrap().is_empty(),
        "the partial text is kept"
    );
}
