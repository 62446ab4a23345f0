//! `/user/*`: the signed-in user's own account.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::session_only;
use super::filters::{authenticated, json_body, with_state};
use super::openapi::Error;
use super::views::UserView;
use crate::app::AppState;
use crate::auth::password::password_problem;
use crate::auth::tokens::ACCESS_TTL_SECS;
use crate::auth::CurrentUser;
use crate::service::accounts;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(me, change_password),
    components(schemas(UserView, PasswordBody, PasswordChanged)),
    tags((name = "auth"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/user/me
    let me = warp::path!("user" / "me")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .map(me);
    // PUT /api/v1/user/password
    let password = warp::path!("user" / "password")
        .and(warp::put())
        .and(with_state(state.clone()))
        .and(authenticated(state))
        .and(json_body())
        .then(change_password)
        .map(respond);
    me.or(password).unify()
}

#[utoipa::path(get, path = "/user/me", tag = "auth",
    responses((status = 200, body = UserView), (status = 401, body = Error),
        (status = 403, body = Error)))]
fn me(current: CurrentUser) -> Response {
    json_response(StatusCode::OK, &UserView::from(&current.user))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    /// At least 8 characters with a letter and a digit.
    new_password: String,
}

/// `PUT /user/password`: a fresh access token for this session.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    message: String,
    access_token: String,
    /// Always `bearer`.
    token_type: String,
    expires_in: i64,
}

/// Changes the password, signs every other session out, and ends every access
/// token issued before; the answer carries a fresh access token for this one.
#[utoipa::path(put, path = "/user/password", tag = "auth", request_body = PasswordBody,
    responses((status = 200, body = PasswordChanged), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "an API key, no password here, or a wrong current password",
            body = Error),
        (status = 422, body = Error)))]
async fn change_password(
    state: AppState,
    current: CurrentUser,
    body: PasswordBody,
) -> Result<Response, ApiError> {
    // A key must not be able to take the account over.
    session_only(&current, "change the password")?;
    if let Some(why) = password_problem(&body.new_password) {
        return Err(ApiError::invalid("new_password", why));
    }
    let Some(stored) = current.user.password_hash.clone() else {
        return Err(ApiError::forbidden(
            "no_password",
            "this account signs in through another system and has no password here",
        ));
    };
    let (ok, new_hash) = state
        .auth
        .with_hasher(move |hasher| {
            let ok = hasher.verify(&body.current_password, &stored);
            (ok, ok.then(|| hasher.hash(&body.new_password)))
        })
        .await?;
    let Some(new_hash) = new_hash.filter(|_| ok) else {
        return Err(ApiError::forbidden(
            "wrong_password",
            "the current password is not right",
        ));
    };
    let user = accounts::set_password(
        &state.db,
        current.user.id.clone(),
        new_hash,
        current.session.clone(),
    )
    .await?;
    log::info!("password changed for account {}", user.id);

    let access_token = state.auth.signer.issue(&user, current.session.as_deref());
    Ok(json_response(
        StatusCode::OK,
        &PasswordChanged {
            message: "password changed; other sessions are signed out".into(),
            access_token,
            token_type: "bearer".into(),
            expires_in: ACCESS_TTL_SECS,
        },
    ))
}
