//! A namespace's objects (`metadef_objects.py`): named groups of property
//! definitions with a `required` list.

use std::sync::Arc;

use glimpse_domain::metadefs::{MetaObject, ObjectFields, READ_ONLY_WITH_LINKS, object_echo};
use glimpse_http::{Request, Response};
use http::StatusCode;
use serde_json::{Value, json};

use super::{
    Lookup, MetadefPolicy, check_visibility, first, lookup, parse_limit, query_params, read_body,
    sort_desc, validate_object_property,
};
use crate::error::{ApiResult, bad_request, forbidden, not_found};
use crate::router::Params;
use crate::v2::service::{
    ImageService, context, empty_response, json_response, param, reject_body,
};

fn missing(name: &str) -> crate::error::ApiError {
    not_found(format!("Could not find metadata object {name}"))
}

pub(crate) async fn create(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "object", READ_ONLY_WITH_LINKS).await?;
    if let Some(Value::Object(props)) = body.get("properties") {
        for def in props.values() {
            validate_object_property(def)?;
        }
    }
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Objects).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("add_metadef_object")?;
    let fields = ObjectFields::from_body(&body)?;
    fields.check_4byte("create")?;
    let t = repo.metadefs().object_create(&ns, &fields).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &object_echo(&ns.namespace, &body, &fields, t, Some(t)),
    ))
}

pub(crate) async fn index(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    // Checked, then unused: Glance's objects list does not page.
    let params = query_params(&req)?;
    if let Some(l) = first(&params, "limit")
        && parse_limit(l)? <= 0
    {
        return Err(bad_request("limit param must be positive"));
    }
    sort_desc(&params)?;
    check_visibility(&params, &["public", "private", "shared"])?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Objects).await?;
    let pol = MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns));
    pol.enforce("get_metadef_objects")?;
    let may_show = pol.check("get_metadef_object");
    let objects = repo.metadefs().objects(&ns).await?;
    let items: Vec<Value> = objects
        .iter()
        .filter(|_| may_show)
        .map(|o| o.to_json(&ns.namespace, None))
        .collect();
    // Glance's objects list names its schema without the leading slash.
    Ok(json_response(
        StatusCode::OK,
        &json!({"objects": items, "schema": "v2/schemas/metadefs/objects"}),
    ))
}

async fn find(
    svc: &ImageService,
    ctx: &crate::context::RequestContext,
    p: &Params,
    rule: &str,
) -> ApiResult<(glimpse_domain::metadefs::Namespace, MetaObject)> {
    let repo = svc.repo().await?;
    let ns = lookup(repo, ctx, param(p, "namespace"), Lookup::Objects).await?;
    MetadefPolicy::new(ctx, &svc.enforcer, Some(&ns)).enforce(rule)?;
    let name = param(p, "object");
    match repo.metadefs().object_get(&ns, name).await? {
        Some(o) => Ok((ns, o)),
        None => Err(missing(name)),
    }
}

pub(crate) async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let (ns, o) = find(&svc, &ctx, &p, "get_metadef_object").await?;
    Ok(json_response(
        StatusCode::OK,
        &o.to_json(&ns.namespace, None),
    ))
}

pub(crate) async fn update(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "object", READ_ONLY_WITH_LINKS).await?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Objects).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("modify_metadef_object")?;
    let name = param(&p, "object");
    let Some(old) = repo.metadefs().object_get(&ns, name).await? else {
        return Err(missing(name));
    };
    let fields = ObjectFields::from_body(&body)?;
    fields.check_4byte("update")?;
    repo.metadefs().object_update(&ns, &old, &fields).await?;
    // The timestamps read before the update, as Glance answers.
    Ok(json_response(
        StatusCode::OK,
        &object_echo(
            &ns.namespace,
            &body,
            &fields,
            old.created_at,
            old.updated_at,
        ),
    ))
}

pub(crate) async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let (ns, o) = find(&svc, &ctx, &p, "delete_metadef_object").await?;
    if ns.is_protected() {
        return Err(forbidden(format!(
            "Metadata definition object {} is protected and cannot be deleted.",
            o.name
        )));
    }
    if !svc
        .repo()
        .await?
        .metadefs()
        .object_delete(&ns, &o.name)
        .await?
    {
        return Err(missing(&o.name));
    }
    Ok(empty_response(StatusCode::NO_CONTENT))
}
