//! The HTTP API. Every resource module exports `routes(state)`; this module
//! nests them under `/api/v1` and puts ONE `recover` on each API tree, inside
//! its prefix, so that anything under `/api/` or `/v1/` answers JSON and never
//! falls through to the web app's `index.html`.

pub mod error;
pub mod health;

use std::convert::Infallible;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use crate::app::AppState;

/// Hands a clone of the state to a handler.
pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// `/api/...`: the native API (SPEC §3).
pub fn native(state: AppState) -> BoxedFilter<(Response,)> {
    let v1 = warp::path("v1").and(health::routes(state));
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
