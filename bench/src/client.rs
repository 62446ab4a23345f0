//! A small HTTP/1.1 client on hyper's connection API: one TCP connection per
//! [`Conn`], kept alive, no pool, no redirects, no TLS — what the load loops
//! need and nothing that adds latency of its own. Also the incremental SSE
//! parser the streaming scenarios time events with.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// How long setup calls (register, create a conversation…) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// One keep-alive HTTP/1.1 connection to loopback.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    /// Connects (TCP_NODELAY) and runs the connection on its own task.
    pub async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        Conn::over(stream, addr).await
    }

    /// An HTTP/1.1 connection over a stream connected to `addr` (the hostile
    /// client's, bound to its own source address first).
    pub async fn over(stream: TcpStream, addr: SocketAddr) -> Result<Conn, String> {
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    /// Waits until the connection can take a request; `Err` once it is closed
    /// (for instance by the server, after it was idle).
    pub async fn ready(&mut self) -> Result<(), String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))
    }

    /// Sends one request; the body of the answer is left to the caller.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<Bytes>,
    ) -> Result<Response<Incoming>, String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // JSON unless the caller says otherwise (the hostile client's
        // `text/plain` logins).
        let typed = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        self.sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))
    }

    /// Sends one request and reads the whole body: `(status, body)`.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), String> {
        let response = self.send(method, path, headers, body).await?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

/// The server's API for setup calls: a fresh connection per call, JSON in and out.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub headers: Vec<(String, String)>,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            addr,
            headers: Vec::new(),
        }
    }

    /// The same server, calls authenticated with this API key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            addr: self.addr,
            headers: vec![("x-api-key".into(), key.into())],
        }
    }

    /// The same server, calls authenticated with this access token.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            addr: self.addr,
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
        }
    }

    /// One call: `(status, JSON body or Null)`.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let work = async {
            let mut conn = Conn::open(self.addr).await?;
            let body = body.map(|b| Bytes::from(b.to_string()));
            conn.call(method, path, &self.headers, body).await
        };
        let (status, bytes) = tokio::time::timeout(SETUP_TIMEOUT, work)
            .await
            .map_err(|_| format!("{path}: no answer in {SETUP_TIMEOUT:?}"))??;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// A call that must answer `expect`; its JSON body.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expect: u16,
    ) -> Result<Value, String> {
        let (status, value) = self.json(method.clone(), path, body).await?;
        if status != expect {
            return Err(format!(
                "{method} {path}: {status} (wanted {expect}): {value}"
            ));
        }
        Ok(value)
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// Splits a byte stream into events as it arrives (blank-line separated,
/// `field: value` lines, comments ignored, `\r` dropped).
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feeds a chunk; returns every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buf
            .extend(chunk.iter().copied().filter(|&b| b != b'\r'));
        let mut events = Vec::new();
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block[..end]);
            let mut event = SseEvent {
                event: String::new(),
                data: String::new(),
                id: None,
            };
            let mut any = false;
            for line in text.lines() {
                if line.is_empty() || line.starts_with(':') {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => {
                        event.event = value.to_string();
                        any = true;
                    }
                    "data" => {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                        any = true;
                    }
                    "id" => event.id = Some(value.to_string()),
                    _ => {}
                }
            }
            if any {
                if event.event.is_empty() {
                    event.event = "message".into();
                }
                events.push(event);
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_come_out_whole() {
        let mut p = SseParser::default();
        assert!(p.push(b"event:delta\nid:1\nda").is_empty());
        let got =
            p.push(b"ta:{\"content\":\"\xed\x86\xa0\"}\n\n: keep-alive\n\ndata: [DONE]\r\n\r\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].event, "delta");
        assert_eq!(got[0].id.as_deref(), Some("1"));
        assert_eq!(got[0].data, "{\"content\":\"토\"}");
        assert_eq!(got[1].event, "message");
        assert_eq!(got[1].data, "[DONE]");
    }
}
