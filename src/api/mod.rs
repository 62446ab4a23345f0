//! The HTTP API. Every resource module exports `routes(state)`; this module
//! nests them under `/api/v1` and puts ONE `recover` on each API tree, inside
//! its prefix, so that anything under `/api/` or `/v1/` answers JSON and never
//! falls through to the web app's `index.html`.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod chatgpt;
pub mod collector;
pub mod compat;
pub mod connections;
pub mod conversations;
pub mod error;
pub mod files;
pub mod filters;
pub mod folders;
pub mod groups;
pub mod health;
pub mod ldap;
pub mod multipart;
pub mod oidc;
pub mod openapi;
pub mod oversight;
pub mod plans;
pub mod prompts;
pub mod samples;
pub mod settings;
pub mod shares;
pub mod signin;
pub mod status;
pub mod user;
pub mod users;
pub mod views;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use crate::app::AppState;
pub use filters::with_state;

/// `/api/...`: the native API (SPEC §3).
pub fn native(state: AppState) -> BoxedFilter<(Response,)> {
    // Every module's routes are boxed, and so is every group of them: one
    // chain of every route is a type too deep for rustc, and unboxed chains
    // of chains made monomorphizing this crate take 355 s of a 433 s debug
    // compilation (264 s boxed, rustc -Z time-passes, issue 19). A boxed
    // filter costs a request one small allocation for each one it tries.
    let accounts = health::routes(state.clone())
        .boxed()
        .or(auth::routes(state.clone()).boxed())
        .unify()
        .or(oidc::routes(state.clone()).boxed())
        .unify()
        .or(user::routes(state.clone()).boxed())
        .unify()
        .or(users::routes(state.clone()).boxed())
        .unify()
        .or(admin::routes(state.clone()).boxed())
        .unify()
        .or(status::routes(state.clone()).boxed())
        .unify()
        .or(api_keys::routes(state.clone()).boxed())
        .unify()
        .or(connections::routes(state.clone()).boxed())
        .unify()
        .boxed();
    let workspace = settings::routes(state.clone())
        .boxed()
        .or(plans::routes(state.clone()).boxed())
        .unify()
        .or(shares::routes(state.clone()).boxed())
        .unify()
        .or(samples::routes(state.clone()).boxed())
        .unify()
        .or(collector::routes(state.clone()).boxed())
        .unify()
        .or(files::routes(state.clone()).boxed())
        .unify()
        .or(prompts::routes(state.clone()).boxed())
        .unify()
        .or(oversight::routes(state.clone()).boxed())
        .unify()
        .or(folders::routes(state.clone()).boxed())
        .unify()
        .boxed();
    // Issue 21: groups (admin). Issue 22: directory sign-in.
    let organize = groups::routes(state.clone())
        .boxed()
        // Issue 22: LDAP sign-in and its admin tests.
        .or(ldap::routes(state.clone()).boxed())
        .unify()
        .or(signin::routes(state.clone()).boxed())
        .unify()
        .boxed();
    let external = openapi::External {
        token: state.auth.trusted_issuer_secret.is_some(),
        exchange: state.auth.userinfo_url.is_some(),
    };
    // A request tries the routes in order until one takes it, so the
    // conversations' come first: the list, the search and the questions are
    // most of the traffic, and every route tried before the one that
    // answers costs a rejection (issue 19). The ChatGPT import (issue 21)
    // goes before them: their `/conversations/{id}/…` would take its path.
    // No other route's path starts with `conversations`, so the order of
    // the groups changes nothing else.
    // The conversations' module boxes each of its routes itself: one box
    // less on the way to the busiest ones.
    let conversations = chatgpt::routes(state.clone())
        .boxed()
        .or(conversations::routes(state))
        .unify()
        .boxed();
    let routes = conversations
        .or(accounts)
        .unify()
        .or(workspace)
        .unify()
        .or(organize)
        .unify()
        .or(openapi_json(external))
        .unify();
    let v1 = warp::path("v1").and(routes);
    warp::path("api")
        .and(v1.recover(error::recover).unify())
        .boxed()
}

/// `/v1/...`: the compatibility dialects (SPEC §4): seed 002's `/v1/llm/…`
/// (native error shape), and the OpenAI-compatible gateway for the rest of
/// `/v1`, whose errors (unknown paths included) have OpenAI's shape.
pub fn compat(state: AppState) -> BoxedFilter<(Response,)> {
    let seed_002 = warp::path("llm").and(
        compat::llm_sessions::routes(state.clone())
            .recover(error::recover)
            .unify(),
    );
    let gateway = compat::gateway::routes(state)
        .recover(compat::gateway::recover)
        .unify();
    warp::path("v1").and(seed_002.or(gateway).unify()).boxed()
}

/// `/simple/...`: seed 004's simple API (SPEC §4), JSON errors throughout.
pub fn simple(state: AppState) -> BoxedFilter<(Response,)> {
    compat::simple::tree(state).boxed()
}

/// GET /api/v1/openapi.json: the document, public (it describes, it grants
/// nothing), with the external sign-ins this server has.
fn openapi_json(
    external: openapi::External,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    // Made on first request, not at start-up: building it costs more than
    // the rest of a cold start, and most servers are never asked.
    let document: std::sync::Arc<std::sync::OnceLock<bytes::Bytes>> = Default::default();
    warp::path!("openapi.json").and(warp::get()).map(move || {
        let body = document
            .get_or_init(|| bytes::Bytes::from(openapi::document_for(external)))
            .clone();
        let mut res = Response::new(body.into());
        res.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("application/json"),
        );
        res
    })
}

/// A server-sent-events answer of chunks already in the wire format (one
/// chunk may hold several events: they go out in one write): a `:` comment
/// line after 15 s of silence (the timer is set once per 15 s, not once per
/// event), and the headers that keep caches and proxies (nginx) from
/// holding it back.
pub fn sse_chunks<S>(chunks: S) -> Response
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    use warp::http::{header, HeaderValue};
    use warp::Reply;
    let body = KeepAlive {
        inner: Box::pin(chunks),
        every: SSE_KEEP_ALIVE,
        last: tokio::time::Instant::now(),
        timer: Box::pin(tokio::time::sleep(SSE_KEEP_ALIVE)),
    };
    let stream = sync_wrapper::SyncStream::new(futures_util::StreamExt::map(
        body,
        Ok::<_, std::convert::Infallible>,
    ));
    let mut res = warp::reply::stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// Silence after which a stream sends a comment line, so that proxies do
/// not close it.
const SSE_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The chunks of a stream with `:` comment lines in its silences.
struct KeepAlive {
    inner: std::pin::Pin<Box<dyn futures_util::Stream<Item = bytes::Bytes> + Send>>,
    every: std::time::Duration,
    /// When the last chunk went out.
    last: tokio::time::Instant,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl futures_util::Stream for KeepAlive {
    type Item = bytes::Bytes;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<bytes::Bytes>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(chunk)) => {
                this.last = tokio::time::Instant::now();
                return Poll::Ready(Some(chunk));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        loop {
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = this.last + this.every;
            let now = tokio::time::Instant::now();
            if now >= due {
                this.last = now;
                this.timer.as_mut().reset(now + this.every);
                return Poll::Ready(Some(bytes::Bytes::from_static(b":\n\n")));
            }
            // Chunks went out since the timer was set: wait for the rest.
            this.timer.as_mut().reset(due);
        }
    }
}

/// A server-sent-events answer of `events` (the OpenAI gateway's): warp's
/// events in their wire form, through [`sse_chunks`] (its headers and
/// keep-alive).
pub fn sse_reply<S>(events: S) -> Response
where
    S: futures_util::Stream<Item = Result<warp::sse::Event, std::convert::Infallible>>
        + Send
        + 'static,
{
    sse_chunks(futures_util::StreamExt::map(events, |event| match event {
        Ok(event) => bytes::Bytes::from(event.to_string()),
        Err(never) => match never {},
    }))
}

/// An empty 204 answer.
pub fn no_content() -> Response {
    let mut res = Response::default();
    *res.status_mut() = warp::http::StatusCode::NO_CONTENT;
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn keep_alive(
        chunks: impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
        every: std::time::Duration,
    ) -> KeepAlive {
        KeepAlive {
            inner: Box::pin(chunks),
            every,
            last: tokio::time::Instant::now(),
            timer: Box::pin(tokio::time::sleep(every)),
        }
    }

    #[tokio::test]
    async fn a_silent_stream_gets_comment_lines_and_chunks_pass_as_they_are() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<bytes::Bytes>();
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let every = std::time::Duration::from_millis(30);
        let mut stream = keep_alive(chunks, every);
        let patience = std::time::Duration::from_secs(10);

        tx.send(bytes::Bytes::from_static(b"event:delta\n\n"))
            .unwrap();
        tx.send(bytes::Bytes::from_static(b"event:done\n\n"))
            .unwrap();
        let first = tokio::time::timeout(patience, stream.next()).await.unwrap();
        assert_eq!(first.as_deref(), Some(&b"event:delta\n\n"[..]));
        let second = tokio::time::timeout(patience, stream.next()).await.unwrap();
        assert_eq!(second.as_deref(), Some(&b"event:done\n\n"[..]));

        // Nothing to send: a comment line, then another.
        for _ in 0..2 {
            let idle = tokio::time::timeout(patience, stream.next()).await.unwrap();
            assert_eq!(idle.as_deref(), Some(&b":\n\n"[..]));
        }
        tx.send(bytes::Bytes::from_static(b"x")).unwrap();
        drop(tx);
        let mut rest = Vec::new();
        while let Some(chunk) = tokio::time::timeout(patience, stream.next()).await.unwrap() {
            rest.push(chunk);
        }
        // The chunk, perhaps after a comment that fell due meanwhile; then the end.
        assert_eq!(rest.last().map(|c| &c[..]), Some(&b"x"[..]), "{rest:?}");
    }
}
