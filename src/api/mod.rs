//! The HTTP API. Every resource module exports `routes(state)`; this module
//! nests them under `/api/v1` and puts ONE `recover` on each API tree, inside
//! its prefix, so that anything under `/api/` or `/v1/` answers JSON and never
//! falls through to the web app's `index.html`.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod collector;
pub mod connections;
pub mod conversations;
pub mod error;
pub mod filters;
pub mod health;
pub mod oversight;
pub mod plans;
pub mod prompts;
pub mod samples;
pub mod settings;
pub mod shares;
pub mod user;
pub mod users;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use crate::app::AppState;
pub use filters::with_state;

/// `/api/...`: the native API (SPEC §3).
pub fn native(state: AppState) -> BoxedFilter<(Response,)> {
    let routes = health::routes(state.clone())
        .or(auth::routes(state.clone()))
        .unify()
        .or(user::routes(state.clone()))
        .unify()
        .or(users::routes(state.clone()))
        .unify()
        .or(admin::routes(state.clone()))
        .unify()
        .or(api_keys::routes(state.clone()))
        .unify()
        .or(connections::routes(state.clone()))
        .unify()
        .or(settings::routes(state.clone()))
        .unify()
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
        .or(conversations::routes(state))
        .unify();
    let v1 = warp::path("v1").and(routes);
    warp::path("api")
        .and(v1.recover(error::recover).unify())
        .boxed()
}

/// `/v1/...`: the compatibility dialects (SPEC §4). Nothing is served there
/// yet, but the prefix already answers JSON 404s rather than the web app.
pub fn compat() -> BoxedFilter<(Response,)> {
    warp::path("v1")
        .and(
            warp::any()
                .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
                .recover(error::recover)
                .unify(),
        )
        .boxed()
}

/// An empty 204 answer.
pub fn no_content() -> Response {
    let mut res = Response::default();
    *res.status_mut() = warp::http::StatusCode::NO_CONTENT;
    res
}
