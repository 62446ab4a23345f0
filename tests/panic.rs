//! A panic while a request is handled: answered 500, written to the log file
//! with its message, and the server goes on serving (this connection and
//! every other). Its own test binary, because it installs the global logger
//! and the panic hook that the other tests must not share.

use std::time::Duration;

use daehwa::listen::{self, Limits};
use warp::Filter;

#[tokio::test]
async fn a_panicking_handler_gets_a_500_in_the_log_file_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daehwa.log");
    daehwa::logging::init(Some(&log)).unwrap();

    // A route with a bug in it, beside one without.
    let routes = warp::path("boom")
        .map(|| -> warp::reply::Response {
            let items: Vec<u8> = Vec::new();
            panic!("index out of range: {} items", items.len())
        })
        .or(warp::path("fine").map(|| warp::reply::Reply::into_response("fine")))
        .unify()
        .boxed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(listen::serve(
        listener,
        None,
        routes,
        Limits {
            max_connections: 0,
            header_timeout: Duration::from_secs(5),
            body_limit: 1024,
        },
        async {
            let _ = stopped.await;
        },
    ));

    let client = reqwest::Client::new();
    for _ in 0..3 {
        let res = client
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 500);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "internal");
        // The same keep-alive connection, and the server, serve on.
        let res = client
            .get(format!("http://{addr}/fine"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap();

    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("index out of range: 0 items"),
        "the panic's message is not in the log file:\n{text}"
    );
    assert!(text.contains("tests/panic.rs"), "no location:\n{text}");
    assert!(text.contains("GET /boom panicked"), "no request:\n{text}");
}
