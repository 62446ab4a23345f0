//! The shipped binary stopped in the middle of 50 streamed answers: by
//! SIGKILL (a crash or power loss as far as the process knows) and by SIGTERM
//! or Ctrl-C (a service manager's stop). Started again on the same file, the
//! database opens clean, every question is there, finished answers are whole
//! and unfinished ones keep their partial text, marked as errors.

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Client;
use serde_json::{json, Value};

use crate::binary::{start, wait_exit};
use crate::helpers::{delta_text, eventually, parse_sse, saved_answer};

const STREAMS: usize = 50;
/// Bound on waiting for the process to exit; not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running binary with a signed-in administrator.
struct Server {
    child: Child,
    url: String,
    client: Client,
    token: String,
}

impl Server {
    async fn start(db: &std::path::Path, first: bool) -> Server {
        let (child, url) = start(
            &[
                "--port",
                "0",
                "--ollama-base-url",
                "",
                "--max-generations-per-user",
                "0",
            ],
            &[("DAEHWA_DB", db)],
        );
        let client = Client::new();
        let account = json!({"username": "admin", "password": "password-123"});
        if first {
            let res = client
                .post(format!("{url}api/v1/auth/register"))
                .json(&account)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
        let login: Value = client
            .post(format!("{url}api/v1/auth/login"))
            .json(&account)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_string();
        Server {
            child,
            url,
            client,
            token,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
        self.client
            .request(method, format!("{}api/v1{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Connects a fake upstream and returns the id of its one model.
    async fn connect(&self, fake: &fake_llm::FakeLlm, name: &str) -> String {
        let res = self
            .call(
                reqwest::Method::POST,
                "/admin/connections",
                json!({"name": name, "kind": "openai", "base_url": format!("{}/v1", fake.url())}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        body["models"][0]["id"].as_str().unwrap().to_string()
    }

    async fn conversation(&self, id: &str) -> Value {
        self.client
            .get(format!("{}api/v1/conversations/{id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// One streamed answer being read in the background: everything its client
/// has received so far.
struct Stream {
    conversation: String,
    question: String,
    received: Arc<Mutex<String>>,
}

impl Stream {
    async fn open(server: &Server, model: &str, i: usize) -> Stream {
        let conv: Value = server
            .call(reqwest::Method::POST, "/conversations", json!({}))
            .await
            .json()
            .await
            .unwrap();
        let conversation = conv["id"].as_str().unwrap().to_string();
        let question = format!("질문 {i}: 길게 답해 주세요");
        let mut res = server
            .call(
                reqwest::Method::POST,
                &format!("/conversations/{conversation}/messages"),
                json!({"content": question, "model_id": model, "stream": true}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let received = Arc::new(Mutex::new(String::new()));
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok(Some(chunk)) = res.chunk().await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        });
        Stream {
            conversation,
            question,
            received,
        }
    }

    /// The whole events received so far.
    fn events(&self) -> Vec<crate::helpers::SseEvent> {
        let text = self.received.lock().unwrap().clone();
        let end = text.rfind("\n\n").map_or(0, |i| i + 2);
        parse_sse(&text[..end])
    }

    fn finished(&self) -> bool {
        self.events().iter().any(|e| e.event == "done")
    }

    fn deltas(&self) -> usize {
        self.events().iter().filter(|e| e.event == "delta").count()
    }
}

/// Polls until `ready` holds for every stream.
async fn until(streams: &[Stream], ready: impl Fn(&Stream) -> bool) {
    eventually("the streams getting there", async || {
        streams.iter().all(&ready).then_some(())
    })
    .await;
}

/// Half the streams from a quick upstream (they finish), half from a slow one
/// (they are in the middle of their answer). Returns both halves once the
/// quick ones are done and the slow ones have sent 10 deltas each.
async fn fifty_streams(server: &Server) -> (Vec<Stream>, Vec<Stream>, [fake_llm::FakeLlm; 2]) {
    let quick = fake_llm::FakeLlm::start(fake_llm::Behavior {
        tokens: 30,
        models: vec!["quick".into()],
        ..fake_llm::Behavior::default()
    })
    .await;
    let slow = fake_llm::FakeLlm::start(fake_llm::Behavior {
        tokens: 5000,
        token_delay: Duration::from_millis(20),
        models: vec!["slow".into()],
        ..fake_llm::Behavior::default()
    })
    .await;
    let quick_model = server.connect(&quick, "quick").await;
    let slow_model = server.connect(&slow, "slow").await;
    let (mut finished, mut unfinished) = (Vec::new(), Vec::new());
    for i in 0..STREAMS {
        if i % 2 == 0 {
            finished.push(Stream::open(server, &quick_model, i).await);
        } else {
            unfinished.push(Stream::open(server, &slow_model, i).await);
        }
    }
    until(&finished, Stream::finished).await;
    until(&unfinished, |s| s.deltas() >= 10).await;
    (finished, unfinished, [quick, slow])
}

/// What the restarted server has for each stream: questions all there,
/// finished answers whole, unfinished ones an error with their partial text
/// (at least what their client had seen `seen` before the stop).
async fn check_after_restart(
    server: &Server,
    finished: &[Stream],
    unfinished: &[Stream],
    seen: &[String],
) {
    for stream in finished {
        let full = server.conversation(&stream.conversation).await;
        let messages = full["messages"].as_array().unwrap();
        assert_eq!(messages[0]["content"], stream.question.as_str());
        assert_eq!(messages[1]["status"], "complete", "{full}");
        assert_eq!(
            messages[1]["content"].as_str().unwrap(),
            delta_text(&stream.events()),
            "a finished answer is whole"
        );
    }
    for (stream, seen) in unfinished.iter().zip(seen) {
        let full = server.conversation(&stream.conversation).await;
        let messages = full["messages"].as_array().unwrap();
        assert_eq!(messages[0]["content"], stream.question.as_str());
        assert_eq!(messages[1]["status"], "error", "{full}");
        let saved = messages[1]["content"].as_str().unwrap();
        assert!(
            saved.starts_with(seen.as_str()),
            "the partial text is kept: saved {saved:?}, seen before the stop {seen:?}"
        );
        let received = delta_text(&stream.events());
        assert!(
            received.starts_with(saved) || saved.starts_with(&received),
            "saved and received text agree: {saved:?} / {received:?}"
        );
    }
}

fn integrity(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn killed_during_fifty_streams_the_database_opens_clean_and_loses_nothing_saved() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut server = Server::start(&db, true).await;
    let (finished, unfinished, _fakes) = fifty_streams(&server).await;
    let seen: Vec<String> = unfinished.iter().map(|s| delta_text(&s.events())).collect();
    // The engine writes streamed text every FLUSH_INTERVAL (500 ms): wait
    // until what was seen is on disk.
    eventually("what the clients saw on disk", async || {
        let on_disk = |(stream, seen): (&Stream, &String)| {
            saved_answer(&db, &stream.conversation).is_some_and(|t| t.starts_with(seen.as_str()))
        };
        unfinished.iter().zip(&seen).all(on_disk).then_some(())
    })
    .await;
    server.child.kill().unwrap(); // SIGKILL: nothing more is saved
    server.child.wait().unwrap();

    assert_eq!(integrity(&db), "ok");
    let mut again = Server::start(&db, false).await;
    check_after_restart(&again, &finished, &unfinished, &seen).await;
    signal(&again.child, "TERM");
    wait_exit(&mut again.child, PATIENCE).expect("exits");
}

#[tokio::test]
async fn sigterm_and_ctrl_c_during_fifty_streams_save_them_and_exit_cleanly() {
    for name in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("stop.db");
        let mut server = Server::start(&db, true).await;
        let (finished, unfinished, _fakes) = fifty_streams(&server).await;
        let seen: Vec<String> = unfinished.iter().map(|s| delta_text(&s.events())).collect();
        signal(&server.child, name);
        // Answers are stopped and saved within the shutdown deadline (10 s).
        let exit = wait_exit(&mut server.child, PATIENCE).expect("exits");
        assert!(exit.success(), "SIG{name}: exit status {exit}");
        // Every client's stream ended (the server closed them), with an
        // error event saying why.
        until(&unfinished, |s| {
            s.events().iter().any(|e| e.event == "error")
        })
        .await;

        assert_eq!(integrity(&db), "ok");
        let mut again = Server::start(&db, false).await;
        check_after_restart(&again, &finished, &unfinished, &seen).await;
        signal(&again.child, "TERM");
        wait_exit(&mut again.child, PATIENCE).expect("exits");
    }
}
