//! A namespace's tags (`metadef_tags.py`): one at a time (the name in the
//! URL, no body), in bulk (replacing every tag unless
//! `X-Openstack-Append` is true), listed newest first.

use std::sync::Arc;

use glimpse_db::metadefs::TAG_SORT_KEYS;
use glimpse_domain::metadefs::{READ_ONLY, bool_from_string, bulk_tag_names, check_4byte};
use glimpse_http::{Request, Response};
use http::StatusCode;
use serde_json::{Value, json};

use super::{
    Lookup, MetadefPolicy, check_visibility, first, lookup, parse_limit, query_params, read_body,
    sort_desc, validate,
};
use crate::error::{ApiResult, bad_request, forbidden, not_found};
use crate::router::Params;
use crate::v2::service::{
    ImageService, context, empty_response, json_response, param, reject_body,
};

fn missing(name: &str) -> crate::error::ApiError {
    not_found(format!("Could not find metadata tag {name}"))
}

pub(crate) async fn create(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    let name = param(&p, "tag");
    validate("tag", &json!({"name": name}))?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("add_metadef_tag")?;
    check_4byte(
        "create",
        "tag",
        &[("name", &Value::String(name.to_string()))],
    )?;
    let tag = repo.metadefs().tag_create(&ns, name).await?;
    Ok(json_response(StatusCode::CREATED, &tag.to_json()))
}

pub(crate) async fn create_many(
    svc: Arc<ImageService>,
    req: Request,
    p: Params,
) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let append = req
        .headers()
        .get("X-Openstack-Append")
        .and_then(|v| v.to_str().ok())
        .is_some_and(bool_from_string);
    let body = read_body(req, "tags", READ_ONLY).await?;
    let names = bulk_tag_names(&body)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("add_metadef_tags")?;
    repo.metadefs().tags_create(&ns, &names, append).await?;
    let items: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
    Ok(json_response(StatusCode::CREATED, &json!({"tags": items})))
}

pub(crate) async fn index(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let params = query_params(&req)?;
    let limit = match first(&params, "limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => {
            let n = parse_limit(l)?;
            if n < 0 {
                return Err(bad_request("limit param must be positive"));
            }
            Some(n)
        }
    };
    let marker = first(&params, "marker").filter(|m| !m.is_empty());
    let sort_key = first(&params, "sort_key").unwrap_or("created_at");
    if !TAG_SORT_KEYS.contains(&sort_key) {
        return Err(bad_request(format!("Invalid sort key: {sort_key}")));
    }
    let desc = sort_desc(&params)?;
    check_visibility(&params, &["public", "private", "shared"])?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("get_metadef_tags")?;
    let tags = repo
        .metadefs()
        .tags(&ns, marker, limit, sort_key, desc)
        .await?;
    let items: Vec<Value> = tags.iter().map(|t| json!({"name": t.name})).collect();
    Ok(json_response(StatusCode::OK, &json!({"tags": items})))
}

async fn find(
    svc: &ImageService,
    ctx: &crate::context::RequestContext,
    p: &Params,
    rule: &str,
) -> ApiResult<(
    glimpse_domain::metadefs::Namespace,
    glimpse_domain::metadefs::Tag,
)> {
    let repo = svc.repo().await?;
    let ns = lookup(repo, ctx, param(p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(ctx, &svc.enforcer, Some(&ns)).enforce(rule)?;
    let name = param(p, "tag");
    match repo.metadefs().tag_get(&ns, name).await? {
        Some(t) => Ok((ns, t)),
        None => Err(missing(name)),
    }
}

pub(crate) async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let (_, tag) = find(&svc, &ctx, &p, "get_metadef_tag").await?;
    Ok(json_response(StatusCode::OK, &tag.to_json()))
}

pub(crate) async fn update(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "tag", READ_ONLY).await?;
    let new = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("modify_metadef_tag")?;
    let old_name = param(&p, "tag");
    let Some(old) = repo.metadefs().tag_get(&ns, old_name).await? else {
        return Err(missing(old_name));
    };
    check_4byte("update", "tag", &[("name", &Value::String(new.clone()))])?;
    repo.metadefs().tag_update(&ns, &old, &new).await?;
    // The timestamps read before the update, as Glance answers.
    let renamed = glimpse_domain::metadefs::Tag { name: new, ..old };
    Ok(json_response(StatusCode::OK, &renamed.to_json()))
}

pub(crate) async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let (ns, tag) = find(&svc, &ctx, &p, "delete_metadef_tag").await?;
    if ns.is_protected() {
        return Err(forbidden(format!(
            "Metadata definition tag {} is protected and cannot be deleted.",
            tag.name
        )));
    }
    svc.repo()
        .await?
        .metadefs()
        .tag_delete(&ns, &tag.name)
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
