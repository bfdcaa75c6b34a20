//! `/v2/images/{id}/members` (`glance/api/v2/image_members.py`): sharing
//! an image with other projects. Only `shared` images have members; the
//! owner adds and removes them, the member project alone accepts or
//! rejects; a non-admin sees the rows of images it owns plus its own
//! membership rows (`image_member_find`).

use std::sync::Arc;

use glimpse_db::DbError;
use glimpse_domain::{Image, Member, MemberStatus, props, py};
use glimpse_http::{Request, Response};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::images::get_image;
use super::service::{
    ImageService, context, handler, json_response, param, read_json, reject_body, require_body,
};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult, bad_request, forbidden, not_found, too_large};
use crate::policy::MemberPolicy;
use crate::router::{Params, Router};

pub fn add_routes(router: &mut Router, svc: &Arc<ImageService>) {
    router.route(
        Method::GET,
        "/images/{image_id}/members",
        handler(svc.clone(), index),
    );
    router.route(
        Method::POST,
        "/images/{image_id}/members",
        handler(svc.clone(), create),
    );
    router.route(
        Method::GET,
        "/images/{image_id}/members/{member_id}",
        handler(svc.clone(), show),
    );
    router.route(
        Method::PUT,
        "/images/{image_id}/members/{member_id}",
        handler(svc.clone(), update),
    );
    router.route(
        Method::DELETE,
        "/images/{image_id}/members/{member_id}",
        handler(svc.clone(), delete),
    );
}

/// `_lookup_image`: the members controller's own 404 text.
async fn lookup_image(svc: &ImageService, ctx: &RequestContext, id: &str) -> ApiResult<Image> {
    match get_image(svc, ctx, id).await {
        Err(ApiError::Db(DbError::NotFound(_))) => Err(not_found(format!("Image {id} not found."))),
        other => other,
    }
}

/// Why `_check_visibility_and_ownership` refuses, if it does (the caller
/// words the 403).
fn visibility_and_ownership(
    svc: &ImageService,
    ctx: &RequestContext,
    image: &Image,
    check: Option<&str>,
) -> Option<&'static str> {
    if image.visibility != glimpse_domain::Visibility::Shared {
        return Some("Only shared images have members.");
    }
    if svc.enforcer.enforce_new_defaults() || ctx.is_admin {
        return None;
    }
    let owns = image.owner.is_some() && image.owner == ctx.project_id;
    match check {
        Some("create") if !owns => {
            Some("You are not permitted to create image members for the image.")
        }
        Some("update") if owns => {
            Some("You are not permitted to modify 'status' on this image member.")
        }
        Some("delete") if !owns => Some("You cannot delete image member."),
        _ => None,
    }
}

/// Whether the caller may see this membership row (`image_member_find`).
fn row_visible(ctx: &RequestContext, image: &Image, m: &Member) -> bool {
    ctx.is_admin
        || (image.owner.is_some() && image.owner == ctx.project_id)
        || ctx.project_id.as_deref() == Some(m.member_id.as_str())
}

/// `_lookup_member`: `get_member` policy, then the row.
async fn lookup_member(
    svc: &ImageService,
    ctx: &RequestContext,
    image: &Image,
    member_id: &str,
) -> ApiResult<Member> {
    MemberPolicy::new(ctx, &svc.enforcer, image).get_member()?;
    let missing = || {
        not_found(format!(
            "{member_id} not found in the member list of the image {}.",
            image.id
        ))
    };
    match svc.repo().await?.member_get(&image.id, member_id).await {
        Ok(m) if row_visible(ctx, image, &m) => Ok(m),
        Ok(_) | Err(DbError::NotFound(_)) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// Policy refusals inside a member controller keep their own status; a
/// domain `Forbidden` is reworded by the controller.
fn reword_forbidden(e: ApiError, text: impl FnOnce() -> String) -> ApiError {
    match e {
        ApiError::Domain(glimpse_domain::DomainError::Forbidden(_)) => forbidden(text()),
        e => e,
    }
}

async fn create(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let id = param(&p, "image_id").to_string();
    let body = require_body(read_json(req).await?)?;
    let member_id = match &body {
        Value::Object(o) => match o.get("member") {
            None => return Err(bad_request("Member to be added not specified")),
            Some(Value::Null | Value::Bool(false)) => {
                return Err(bad_request("Member can't be empty"));
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(bad_request("Member can't be empty"));
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => py::str_of(other),
        },
        _ => {
            return Err(bad_request(
                "Expected a member in the form: {\"member\": \"image_id\"}",
            ));
        }
    };
    let image = lookup_image(&svc, &ctx, &id).await?;
    let refused = || forbidden(format!("Not allowed to create members for image {id}."));
    if visibility_and_ownership(&svc, &ctx, &image, Some("create")).is_some() {
        return Err(refused());
    }
    MemberPolicy::new(&ctx, &svc.enforcer, &image).add_member()?;
    let repo = svc.repo().await?;
    let current = repo.count_members(&id).await?;
    props::check_member_quota(current.max(0) as usize, svc.settings.member_quota).map_err(|e| {
        too_large(format!(
            "Image member limit exceeded for image {id}: {}:",
            e.explanation()
        ))
    })?;
    if member_id.chars().count() > 255 {
        return Err(bad_request(format!(
            "Member {member_id} is too long (255 characters at most)."
        )));
    }
    match repo.member_create(&id, &member_id).await {
        Ok(m) => Ok(json_response(StatusCode::OK, &m.to_json())),
        Err(DbError::Duplicate(_)) => Err(crate::error::conflict(format!(
            "Member {member_id} is duplicated for image {id}"
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn index(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let id = param(&p, "image_id");
    let image = lookup_image(&svc, &ctx, id).await?;
    if let Some(why) = visibility_and_ownership(&svc, &ctx, &image, None) {
        return Err(forbidden(format!(
            "Not allowed to list members for image {id}: {why}"
        )));
    }
    let pol = MemberPolicy::new(&ctx, &svc.enforcer, &image);
    pol.get_members()?;
    // Glance checks `get_member` per row, on the same image target: one
    // answer for every row.
    let may_show = pol.get_member().is_ok();
    let rows = svc.repo().await?.member_list(id).await?;
    let members: Vec<Value> = rows
        .iter()
        .filter(|m| may_show && row_visible(&ctx, &image, m))
        .map(Member::to_json)
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"members": members, "schema": "/v2/schemas/members"}),
    ))
}

async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let image = lookup_image(&svc, &ctx, param(&p, "image_id")).await?;
    // Forbidden becomes NotFound here, to leak nothing.
    if let Some(why) = visibility_and_ownership(&svc, &ctx, &image, None) {
        return Err(not_found(why));
    }
    match lookup_member(&svc, &ctx, &image, param(&p, "member_id")).await {
        Ok(m) => Ok(json_response(StatusCode::OK, &m.to_json())),
        Err(ApiError::Http(h)) if h.status() == StatusCode::FORBIDDEN => {
            Err(not_found(h.explanation_text().to_string()))
        }
        Err(e) => Err(e),
    }
}

async fn update(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let id = param(&p, "image_id").to_string();
    let member_id = param(&p, "member_id").to_string();
    let body = require_body(read_json(req).await?)?;
    let status = match &body {
        Value::Object(o) => match o.get("status") {
            None => return Err(bad_request("Status not specified")),
            Some(v) => v.clone(),
        },
        _ => {
            return Err(bad_request(
                "Expected a status in the form: {\"status\": \"status\"}",
            ));
        }
    };
    let image = lookup_image(&svc, &ctx, &id).await?;
    let refused = || forbidden(format!("Not allowed to update members for image {id}."));
    if visibility_and_ownership(&svc, &ctx, &image, Some("update")).is_some() {
        return Err(refused());
    }
    let member = lookup_member(&svc, &ctx, &image, &member_id).await?;
    MemberPolicy::new(&ctx, &svc.enforcer, &image)
        .modify_member()
        .map_err(|e| {
            reword_forbidden(e, || {
                format!("Not allowed to update members for image {id}.")
            })
        })?;
    // Only the member project changes its own status (admins aside).
    if !ctx.is_admin && ctx.project_id.as_deref() != Some(member.member_id.as_str()) {
        return Err(refused());
    }
    let Some(status) = status.as_str().and_then(MemberStatus::from_str) else {
        return Err(bad_request(
            "Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\".",
        ));
    };
    let m = svc
        .repo()
        .await?
        .member_update(&id, &member_id, status)
        .await?;
    Ok(json_response(StatusCode::OK, &m.to_json()))
}

async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let id = param(&p, "image_id").to_string();
    let member_id = param(&p, "member_id").to_string();
    let image = lookup_image(&svc, &ctx, &id).await?;
    if visibility_and_ownership(&svc, &ctx, &image, Some("delete")).is_some() {
        return Err(forbidden(format!(
            "Not allowed to delete members for image {id}."
        )));
    }
    lookup_member(&svc, &ctx, &image, &member_id).await?;
    MemberPolicy::new(&ctx, &svc.enforcer, &image).delete_member()?;
    match svc.repo().await?.member_delete(&id, &member_id).await {
        Ok(()) => Ok(super::service::bare_response(StatusCode::NO_CONTENT)),
        Err(DbError::NotFound(_)) => Err(not_found(format!(
            "{member_id} not found in the member list of the image {id}."
        ))),
        Err(e) => Err(e.into()),
    }
}
