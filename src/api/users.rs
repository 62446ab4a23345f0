//! `/users/*`: account administration (admins only, `service::accounts`).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state, Page};
use super::openapi::Error;
use super::views::UserView;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::group::GroupRef;
use crate::db::user::Role;
use crate::service::accounts::{self, UserChange};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, get, patch, delete),
    components(schemas(UserView, UserDetail, UserList, PatchUserBody)),
    tags((name = "admin", description = "Administrators only (403 otherwise)"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/users?q=&limit=&cursor=
    let list = warp::path!("users")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // GET /api/v1/users/{id}
    let get = warp::path!("users" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(get)
        .map(respond);
    // PATCH /api/v1/users/{id}
    let patch = warp::path!("users" / String)
        .and(warp::patch())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(patch)
        .map(respond);
    // DELETE /api/v1/users/{id}
    let delete = warp::path!("users" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(delete)
        .map(respond);
    list.or(get).unify().or(patch).unify().or(delete).unify()
}

/// `?q=&limit=&cursor=` (not `#[serde(flatten)]` of [`Page`]: flattening
/// breaks number parsing in query strings).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Matches the username or display name.
    q: Option<String>,
    /// 1–200, default 50.
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /users`
#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/users", tag = "admin", params(ListQuery),
    responses((status = 200, body = UserList), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error)))]
async fn list(
    state: AppState,
    _admin: CurrentUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let users = accounts::list_users(&state.db, query.q, page.cursor.clone(), page.limit()).await?;
    let next_cursor = page.next_cursor(&users, |u| u.id.clone());
    let users = users.iter().map(UserView::from).collect();
    Ok(json_response(
        StatusCode::OK,
        &UserList { users, next_cursor },
    ))
}

/// `GET /users/{id}`: the account and the groups it is in.
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    user: UserView,
    /// The groups the user is in, by name.
    groups: Vec<GroupRef>,
}

#[utoipa::path(get, path = "/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserDetail), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn get(id: String, state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let user = accounts::get_user(&state.db, id).await?;
    let groups = crate::service::groups::groups_of(&state.db, user.id.clone()).await?;
    Ok(json_response(
        StatusCode::OK,
        &UserDetail {
            user: UserView::from(&user),
            groups,
        },
    ))
}

/// An admin's change to an account; absent fields are kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserBody {
    role: Option<Role>,
    disabled: Option<bool>,
    /// Approves a pending account.
    approve: Option<bool>,
    display_name: Option<String>,
}

#[utoipa::path(patch, path = "/users/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = PatchUserBody,
    responses((status = 200, body = UserView), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, description = "the last active administrator", body = Error),
        (status = 422, body = Error)))]
async fn patch(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: PatchUserBody,
) -> Result<Response, ApiError> {
    let change = UserChange {
        role: body.role,
        disabled: body.disabled,
        approve: body.approve,
        display_name: body.display_name,
    };
    let user = accounts::update_user(&state.db, admin.actor(), id, change).await?;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

#[utoipa::path(delete, path = "/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, description = "the last active administrator", body = Error)))]
async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    accounts::delete_user(&state.db, admin.actor(), id).await?;
    Ok(super::no_content())
}
