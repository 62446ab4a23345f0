//! The HTTP API. Every resource module exports `routes(state)`; this module
//! nests them under `/api/v1` and puts ONE `recover` on each API tree, inside
//! its prefix, so that anything under `/api/` or `/v1/` answers JSON and never
//! falls through to the web app's `index.html`.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod collector;
pub mod compat;
pub mod connections;
pub mod conversations;
pub mod error;
pub mod filters;
pub mod health;
pub mod multipart;
pub mod openapi;
pub mod oversight;
pub mod plans;
pub mod prompts;
pub mod samples;
pub mod settings;
pub mod shares;
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
    // Boxed in groups: one chain of every route is a type too deep for rustc.
    let accounts = health::routes(state.clone())
        .or(auth::routes(state.clone()))
        .unify()
        .or(user::routes(state.clone()))
        .unify()
        .or(users::routes(state.clone()))
        .unify()
        .or(admin::routes(state.clone()))
        .unify()
        .or(status::routes(state.clone()))
        .unify()
        .or(api_keys::routes(state.clone()))
        .unify()
        .or(connections::routes(state.clone()))
        .unify()
        .boxed();
    let workspace = settings::routes(state.clone())
        .or(plans::routes(state.clone()))
        .unify()
        .or(shares::routes(state.clone()))
        .unify()
        .or(samples::routes(state.clone()))
        .unify()
        .or(collector::routes(state.clone()))
        .unify()
        .or(prompts::routes(state.clone()))
        .unify()
        .or(oversight::routes(state.clone()))
        .unify()
        .boxed();
    let external = openapi::External {
        token: state.auth.trusted_issuer_secret.is_some(),
        exchange: state.auth.userinfo_url.is_some(),
    };
    let routes = accounts
        .or(workspace)
        .unify()
        .or(conversations::routes(state).boxed())
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
    let body: &'static str = Box::leak(openapi::document_for(external).into_boxed_str());
    warp::path!("openapi.json").and(warp::get()).map(move || {
        let mut res = Response::new(body.into());
        res.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("application/json"),
        );
        res
    })
}

/// A server-sent-events answer of `events` (the native stream and the
/// gateway's): a keep-alive comment every 15 s, and the headers that keep
/// caches and proxies (nginx) from holding it back.
pub fn sse_reply<S>(events: S) -> Response
where
    S: futures_util::Stream<Item = Result<warp::sse::Event, std::convert::Infallible>>
        + Send
        + 'static,
{
    use warp::http::{header, HeaderValue};
    use warp::Reply;
    // warp's body wants a Sync stream; the ones given are only Send.
    let stream = sync_wrapper::SyncStream::new(events);
    let keep_alive = warp::sse::keep_alive().interval(std::time::Duration::from_secs(15));
    let mut res = warp::sse::reply(keep_alive.stream(stream)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// An empty 204 answer.
pub fn no_content() -> Response {
    let mut res = Response::default();
    *res.status_mut() = warp::http::StatusCode::NO_CONTENT;
    res
}
