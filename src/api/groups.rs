//! `/admin/groups`: groups of users (issue 21), the models they grant, the
//! plan they give and whether their chats are temporary; their members.
//! Administrators only; every change audited (`service::groups`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::group::{Group, GroupRef, Member};
use crate::service::groups::{self as service, GroupChange};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, add_members, remove_member),
    components(schemas(Group, GroupList, GroupWithMembers, Member, GroupRef, GroupBody,
        MembersBody, MembersAdded)),
    tags((name = "admin", description = "Administrators only (403 otherwise)"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let admin = || admin(state.clone());
    // GET /api/v1/admin/groups
    let list = warp::path!("admin" / "groups")
        .and(warp::get())
        .and(st())
        .and(admin())
        .then(list)
        .map(respond);
    // POST /api/v1/admin/groups
    let create = warp::path!("admin" / "groups")
        .and(warp::post())
        .and(st())
        .and(admin())
        .and(json_body())
        .then(create)
        .map(respond);
    // GET /api/v1/admin/groups/{id}
    let get = warp::path!("admin" / "groups" / String)
        .and(warp::get())
        .and(st())
        .and(admin())
        .then(get)
        .map(respond);
    // PATCH /api/v1/admin/groups/{id}
    let update = warp::path!("admin" / "groups" / String)
        .and(warp::patch())
        .and(st())
        .and(admin())
        .and(json_body())
        .then(update)
        .map(respond);
    // DELETE /api/v1/admin/groups/{id}
    let delete = warp::path!("admin" / "groups" / String)
        .and(warp::delete())
        .and(st())
        .and(admin())
        .then(delete)
        .map(respond);
    // POST /api/v1/admin/groups/{id}/members
    let add_members = warp::path!("admin" / "groups" / String / "members")
        .and(warp::post())
        .and(st())
        .and(admin())
        .and(json_body())
        .then(add_members)
        .map(respond);
    // DELETE /api/v1/admin/groups/{id}/members/{user_id}
    let remove_member = warp::path!("admin" / "groups" / String / "members" / String)
        .and(warp::delete())
        .and(st())
        .and(admin())
        .then(remove_member)
        .map(respond);
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(add_members)
        .unify()
        .or(remove_member)
        .unify()
}

/// `GET /admin/groups`: every group, by name.
#[derive(Serialize, ToSchema)]
pub struct GroupList {
    groups: Vec<Group>,
}

/// `GET /admin/groups/{id}`: the group and its members.
#[derive(Serialize, ToSchema)]
pub struct GroupWithMembers {
    #[serde(flatten)]
    group: Group,
    members: Vec<Member>,
}

/// A group; on PATCH, absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// 1–64 characters, unique (case-insensitive); required for a new group.
    name: Option<String>,
    /// At most 1000 characters.
    description: Option<String>,
    /// The plan its members get when they have none of their own; `null`
    /// clears it.
    #[serde(default, deserialize_with = "super::filters::double_option")]
    plan_id: Option<Option<String>>,
    /// Every conversation its members create is temporary.
    temporary_chats: Option<bool>,
    /// The models it grants (replaces the set; at most 500). A model some
    /// group grants is for those groups' members and admins only.
    model_ids: Option<Vec<String>>,
    /// The directory groups whose members become its members at each
    /// directory sign-in (LDAP group DNs such as
    /// `CN=AI-Users,OU=Groups,DC=corp,DC=example`, OIDC group claim values,
    /// proxy header groups; case-insensitive; replaces the set; at most 50).
    directory_groups: Option<Vec<String>>,
}

impl From<GroupBody> for GroupChange {
    fn from(b: GroupBody) -> Self {
        GroupChange {
            name: b.name,
            description: b.description,
            plan_id: b.plan_id,
            temporary_chats: b.temporary_chats,
            model_ids: b.model_ids,
            directory_groups: b.directory_groups,
        }
    }
}

/// `POST /admin/groups/{id}/members`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    /// 1 to 1000 user ids (found with `GET /users?q=`).
    user_ids: Vec<String>,
}

/// How many of the users were not members yet.
#[derive(Serialize, ToSchema)]
pub struct MembersAdded {
    added: usize,
}

#[utoipa::path(get, path = "/admin/groups", tag = "admin",
    responses((status = 200, body = GroupList), (status = 401, body = Error),
        (status = 403, body = Error)))]
async fn list(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let groups = service::list(&state.db).await?;
    Ok(json_response(StatusCode::OK, &GroupList { groups }))
}

#[utoipa::path(post, path = "/admin/groups", tag = "admin", request_body = GroupBody,
    responses((status = 201, body = Group), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error),
        (status = 409, description = "`name_taken`", body = Error),
        (status = 422, body = Error)))]
async fn create(
    state: AppState,
    admin: CurrentUser,
    body: GroupBody,
) -> Result<Response, ApiError> {
    let saved = service::save(&state.db, admin.actor(), None, body.into()).await?;
    Ok(json_response(StatusCode::CREATED, &saved))
}

#[utoipa::path(get, path = "/admin/groups/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = GroupWithMembers), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn get(id: String, state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let detail = service::get(&state.db, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &GroupWithMembers {
            group: detail.group,
            members: detail.members,
        },
    ))
}

#[utoipa::path(patch, path = "/admin/groups/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = GroupBody,
    responses((status = 200, body = Group), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, description = "`name_taken`", body = Error),
        (status = 422, body = Error)))]
async fn update(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: GroupBody,
) -> Result<Response, ApiError> {
    let saved = service::save(&state.db, admin.actor(), Some(id), body.into()).await?;
    Ok(json_response(StatusCode::OK, &saved))
}

#[utoipa::path(delete, path = "/admin/groups/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    service::delete(&state.db, admin.actor(), id).await?;
    Ok(super::no_content())
}

#[utoipa::path(post, path = "/admin/groups/{id}/members", tag = "admin",
    params(("id" = String, Path)), request_body = MembersBody,
    responses((status = 200, body = MembersAdded), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 422, description = "an unknown user id (`fields.user_ids`)", body = Error)))]
async fn add_members(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: MembersBody,
) -> Result<Response, ApiError> {
    let added = service::add_members(&state.db, admin.actor(), id, body.user_ids).await?;
    Ok(json_response(StatusCode::OK, &MembersAdded { added }))
}

#[utoipa::path(delete, path = "/admin/groups/{id}/members/{user_id}", tag = "admin",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "removed"), (status = 401, body = Error),
        (status = 403, body = Error),
        (status = 404, description = "no such group, or the user is not in it", body = Error)))]
async fn remove_member(
    id: String,
    user_id: String,
    state: AppState,
    admin: CurrentUser,
) -> Result<Response, ApiError> {
    service::remove_member(&state.db, admin.actor(), id, user_id).await?;
    Ok(super::no_content())
}
