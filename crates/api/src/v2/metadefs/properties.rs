//! A namespace's property definitions (`metadef_properties.py`). The list
//! is an object keyed by name; `GET …/properties/{p}?resource_type=R`
//! takes a name carrying R's prefix.

use std::sync::Arc;

use glimpse_domain::metadefs::{Namespace, Property, READ_ONLY, check_4byte, property_type};
use glimpse_http::{Request, Response};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Lookup, MetadefPolicy, first, lookup, query_params, read_body};
use crate::error::{ApiResult, forbidden, not_found};
use crate::router::Params;
use crate::v2::service::{
    ImageService, context, empty_response, json_response, param, reject_body,
};

fn missing(name: &str) -> crate::error::ApiError {
    not_found(format!("Could not find property {name}"))
}

pub(crate) async fn index(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("get_metadef_properties")?;
    let props: Map<String, Value> = repo
        .metadefs()
        .properties(&ns)
        .await?
        .iter()
        .map(|p| (p.name.clone(), p.to_json()))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({"properties": props})))
}

/// A request body through the `PropertyType` model, with its 4-byte check.
fn model(body: &Map<String, Value>, op: &str) -> ApiResult<(String, Map<String, Value>)> {
    let m = property_type(body, true)?;
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    check_4byte(
        op,
        "property",
        &[
            ("name", &Value::String(name.clone())),
            ("json_schema", &Value::Object(m.clone())),
        ],
    )?;
    Ok((name, m))
}

pub(crate) async fn create(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "property", READ_ONLY).await?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("add_metadef_property")?;
    let (name, m) = model(&body, "create")?;
    repo.metadefs().property_create(&ns, &name, &m).await?;
    Ok(json_response(StatusCode::CREATED, &Value::Object(m)))
}

/// The stored name for a requested one: with `?resource_type=R`, the
/// request's name must carry R's association prefix, which is removed.
async fn stored_name(
    svc: &ImageService,
    ctx: &crate::context::RequestContext,
    ns: &Namespace,
    name: &str,
    resource_type: Option<&str>,
) -> ApiResult<String> {
    let Some(rt) = resource_type else {
        return Ok(name.to_string());
    };
    MetadefPolicy::new(ctx, &svc.enforcer, Some(ns)).enforce("get_metadef_resource_type")?;
    let md = svc.repo().await?.metadefs();
    if !md.resource_type_exists(rt).await? {
        return Err(not_found(format!(
            "The metadata definition resource-type with name={rt}, was not found."
        )));
    }
    let assocs = md
        .associations(&[ns.id])
        .await?
        .remove(&ns.id)
        .unwrap_or_default();
    let Some(a) = assocs.iter().find(|a| a.name == rt) else {
        return Err(not_found(format!(
            "The metadata definition resource-type association of resource-type={rt} to \
             namespace={}, was not found.",
            ns.namespace
        )));
    };
    match a.prefix.as_deref().and_then(|pre| name.strip_prefix(pre)) {
        Some(rest) if a.prefix.as_deref().is_some_and(|p| !p.is_empty()) => Ok(rest.to_string()),
        _ => Err(not_found(format!(
            "Property {name} does not start with the expected resource type association \
             prefix of '{}'.",
            a.prefix.as_deref().unwrap_or("None")
        ))),
    }
}

pub(crate) async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let params = query_params(&req)?;
    let resource_type = first(&params, "resource_type").filter(|r| !r.is_empty());
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("get_metadef_property")?;
    let name = stored_name(&svc, &ctx, &ns, param(&p, "property"), resource_type).await?;
    match repo.metadefs().property_get(&ns, &name).await? {
        Some(prop) => Ok(json_response(
            StatusCode::OK,
            &prop.to_json_named(&prop.name),
        )),
        None => Err(missing(&name)),
    }
}

pub(crate) async fn update(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "property", READ_ONLY).await?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("modify_metadef_property")?;
    let old_name = param(&p, "property");
    let Some(old) = repo.metadefs().property_get(&ns, old_name).await? else {
        return Err(missing(old_name));
    };
    let (name, m) = model(&body, "update")?;
    repo.metadefs()
        .property_update(&ns, &old, &name, &m)
        .await?;
    let updated = Property { name, schema: m };
    Ok(json_response(
        StatusCode::OK,
        &updated.to_json_named(&updated.name),
    ))
}

pub(crate) async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("remove_metadef_property")?;
    let name = param(&p, "property");
    if repo.metadefs().property_get(&ns, name).await?.is_none() {
        return Err(missing(name));
    }
    if ns.is_protected() {
        return Err(forbidden(format!(
            "Metadata definition property {name} is protected and cannot be deleted."
        )));
    }
    repo.metadefs().property_delete(&ns, name).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
