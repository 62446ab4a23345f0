//! `/user/*`: the signed-in user's own account.

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::user_json;
use super::error::{json_response, respond, ApiError};
use super::filters::session_only;
use super::filters::{authenticated, json_body, with_state};
use crate::app::AppState;
use crate::auth::password::password_problem;
use crate::auth::tokens::ACCESS_TTL_SECS;
use crate::auth::CurrentUser;
use crate::db;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/user/me
    let me = warp::path!("user" / "me")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .map(|current: CurrentUser| json_response(StatusCode::OK, &user_json(&current.user)));
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// Changes the password, signs every other session out, and ends every access
/// token issued before; the answer carries a fresh access token for this one.
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

    let user_id = current.user.id.clone();
    let keep = current.session.clone();
    let user = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            db::user::set_password(&tx, &user_id, &new_hash)?;
            db::token::revoke_user_refresh(&tx, &user_id, keep.as_deref())?;
            let user = db::user::by_id(&tx, &user_id)?;
            tx.commit()?;
            Ok(user)
        })
        .await?
        .ok_or_else(|| ApiError::NotFound("account not found".into()))?;
    log::info!("password changed for account {}", user.id);

    let access_token = state.auth.signer.issue(&user, current.session.as_deref());
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "message": "password changed; other sessions are signed out",
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TTL_SECS,
        }),
    ))
}
